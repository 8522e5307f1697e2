//! The message Alertmanager 0.34's Slack notifier POSTs (`notify/slack/slack.go`): every
//! templated field rendered with Alertmanager's template data and functions (the first failing
//! template fails the notification), the title cut to 1024 runes, one attachment with
//! `mrkdwn_in` (`fallback`, `pretext`, `text` unless configured), fields with `short` from
//! `short_fields` unless set, actions; written as Go's `json.Encoder` writes it (struct field
//! order, `omitempty`, HTML-safe escapes, a final newline).

use serde::Serialize;
use std::collections::BTreeMap;
use wasmetheus_sdk::receiver::Notification;
use wasmetheus_template::alertmanager::{Alert, AlertStatus, Data, Templates, ZERO_TIME_NS};

use crate::config::SlackConfig;

/// Slack's limit on an attachment's title, in runes (upstream's `maxTitleLenRunes`).
pub const MAX_TITLE_RUNES: usize = 1024;

#[derive(Debug, Serialize)]
pub struct Request {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub channel: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub username: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub icon_emoji: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub icon_url: String,
    #[serde(skip_serializing_if = "is_false")]
    pub link_names: bool,
    pub attachments: Vec<Attachment>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ts: String,
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Serialize)]
pub struct Attachment {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub title: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub title_link: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pretext: String,
    pub text: String,
    pub fallback: String,
    pub callback_id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<Field>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Action>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub image_url: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub thumb_url: String,
    pub footer: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub color: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mrkdwn_in: Vec<String>,
}

/// `config.SlackField` as JSON.
#[derive(Debug, Serialize)]
pub struct Field {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub title: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub value: String,
    pub short: bool,
}

/// `config.SlackAction` as JSON.
#[derive(Debug, Serialize)]
pub struct Action {
    #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub text: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub url: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub style: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub value: String,
    #[serde(rename = "confirm", skip_serializing_if = "Option::is_none")]
    pub confirm: Option<Confirm>,
}

#[derive(Debug, Serialize)]
pub struct Confirm {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub text: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub title: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ok_text: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub dismiss_text: String,
}

fn map(pairs: &[(String, String)]) -> BTreeMap<String, String> {
    pairs.iter().cloned().collect()
}

/// An RFC 3339 time in nanoseconds since the epoch; empty is Go's zero time.
fn time_ns(what: &str, t: &str) -> Result<i128, String> {
    if t.is_empty() {
        return Ok(ZERO_TIME_NS);
    }
    t.parse::<jiff::Timestamp>()
        .map(|ts| ts.as_nanosecond())
        .map_err(|e| format!("{what} {t:?}: {e}"))
}

/// The template data of a notification (`template.Data`), as the host computed it: the
/// receiver's name already quoted as Alertmanager quotes it, the status, the common labels.
pub fn data(n: &Notification) -> Result<Data, String> {
    let alerts = n
        .alerts
        .iter()
        .map(|a| {
            Ok(Alert {
                status: if a.status == "firing" {
                    AlertStatus::Firing
                } else {
                    AlertStatus::Resolved
                },
                labels: map(&a.labels),
                annotations: map(&a.annotations),
                starts_at: time_ns("startsAt", &a.starts_at)?,
                ends_at: time_ns("endsAt", &a.ends_at)?,
                generator_url: a.generator_url.clone(),
                fingerprint: a.fingerprint.clone(),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Data {
        receiver: n.receiver.clone(),
        status: n.status.clone(),
        alerts,
        group_labels: map(&n.group_labels),
        common_labels: map(&n.common_labels),
        common_annotations: map(&n.common_annotations),
        external_url: n.external_url.clone(),
    })
}

/// Upstream's `notify.TruncateInRunes`: at most `n` runes, the last one `…` when cut.
pub fn truncate_runes(s: &str, n: usize) -> (String, bool) {
    if s.chars().count() <= n {
        return (s.to_owned(), false);
    }
    if n <= 3 {
        return (s.chars().take(n).collect(), true);
    }
    let mut out: String = s.chars().take(n - 1).collect();
    out.push('…');
    (out, true)
}

/// Renders templates, keeping the first error as upstream's `tmplText` does.
struct Render<'a> {
    templates: &'a Templates,
    data: wasmetheus_template::Value,
    error: Option<String>,
}

impl Render<'_> {
    fn text(&mut self, what: &str, template: &str) -> String {
        if self.error.is_some() {
            return String::new();
        }
        match self.templates.execute_text(template, &self.data) {
            Ok(s) => s,
            Err(e) => {
                self.error = Some(format!("{what}: {e}"));
                String::new()
            }
        }
    }
}

/// The request for `notification`; `ts` is the message to update (`update_message`), if any.
/// Errors are template errors (they do not go away on a retry).
pub fn request(
    config: &SlackConfig,
    templates: &Templates,
    notification: &Notification,
    ts: Option<&str>,
) -> Result<Request, String> {
    let data = data(notification)?;
    let mut r = Render {
        templates,
        data: data.to_value(),
        error: None,
    };
    let c = config;
    let channel = r.text("channel", c.template("channel", &c.channel));
    let mrkdwn_in = match &c.mrkdwn_in {
        Some(m) if !m.is_empty() => m.clone(),
        _ => ["fallback", "pretext", "text"].map(String::from).to_vec(),
    };
    let (title, _) = truncate_runes(
        &r.text("title", c.template("title", &c.title)),
        MAX_TITLE_RUNES,
    );
    let mut attachment = Attachment {
        title,
        title_link: r.text("title_link", c.template("title_link", &c.title_link)),
        pretext: r.text("pretext", c.template("pretext", &c.pretext)),
        text: r.text("text", c.template("text", &c.text)),
        fallback: r.text("fallback", c.template("fallback", &c.fallback)),
        callback_id: r.text("callback_id", c.template("callback_id", &c.callback_id)),
        fields: Vec::new(),
        actions: Vec::new(),
        image_url: r.text("image_url", c.template("image_url", &c.image_url)),
        thumb_url: r.text("thumb_url", c.template("thumb_url", &c.thumb_url)),
        footer: r.text("footer", c.template("footer", &c.footer)),
        color: r.text("color", c.template("color", &c.color)),
        mrkdwn_in,
    };
    let short_fields = c.short_fields.unwrap_or(false);
    for (i, f) in c.fields.iter().flatten().enumerate() {
        attachment.fields.push(Field {
            title: r.text(&format!("fields[{i}].title"), &f.title),
            value: r.text(&format!("fields[{i}].value"), &f.value),
            short: f.short.unwrap_or(short_fields),
        });
    }
    for (i, a) in c.actions.iter().flatten().enumerate() {
        let mut t =
            |field: &str, template: &str| r.text(&format!("actions[{i}].{field}"), template);
        // Upstream clears a URL button's message-action fields when it reads the config.
        let url_button = !a.url.is_empty();
        let confirm = a
            .confirm
            .as_ref()
            .filter(|_| !url_button)
            .map(|cf| Confirm {
                title: t("confirm.title", &cf.title),
                text: t("confirm.text", &cf.text),
                ok_text: t("confirm.ok_text", &cf.ok_text),
                dismiss_text: t("confirm.dismiss_text", &cf.dismiss_text),
            });
        let action = Action {
            kind: t("type", &a.kind),
            text: t("text", &a.text),
            url: t("url", &a.url),
            style: t("style", &a.style),
            name: if url_button {
                String::new()
            } else {
                t("name", &a.name)
            },
            value: if url_button {
                String::new()
            } else {
                t("value", &a.value)
            },
            confirm,
        };
        attachment.actions.push(action);
    }
    let request = Request {
        channel,
        username: r.text("username", c.template("username", &c.username)),
        icon_emoji: r.text("icon_emoji", c.template("icon_emoji", &c.icon_emoji)),
        icon_url: r.text("icon_url", c.template("icon_url", &c.icon_url)),
        link_names: c.link_names.unwrap_or(false),
        attachments: vec![attachment],
        ts: ts.unwrap_or_default().to_owned(),
    };
    match r.error {
        Some(e) => Err(e),
        None => Ok(request),
    }
}

/// serde_json's compact output with Go's HTML-safe string escapes.
struct GoFormatter;

impl serde_json::ser::Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let escape = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            writer.write_all(&fragment.as_bytes()[start..i])?;
            writer.write_all(escape.as_bytes())?;
            start = i + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    fn write_char_escape<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        escape: serde_json::ser::CharEscape,
    ) -> std::io::Result<()> {
        use serde_json::ser::CharEscape;
        // Go writes backspace and form feed as `\u0008` and `\u000c`.
        match escape {
            CharEscape::Backspace => writer.write_all(b"\\u0008"),
            CharEscape::FormFeed => writer.write_all(b"\\u000c"),
            other => serde_json::ser::CompactFormatter.write_char_escape(writer, other),
        }
    }
}

/// The body Go's `json.NewEncoder(&buf).Encode(req)` writes.
pub fn body(request: &Request) -> Vec<u8> {
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, GoFormatter);
    // Serialising strings, booleans and lists into a Vec cannot fail.
    if request.serialize(&mut serializer).is_err() {
        out.clear();
    }
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PluginConfig;
    use expect_test::expect;
    use wasmetheus_sdk::receiver::Alert as SdkAlert;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn notification(resolved: bool) -> Notification {
        let alert = |i: usize| SdkAlert {
            status: if resolved { "resolved" } else { "firing" }.into(),
            labels: pairs(&[
                ("alertname", "Down"),
                ("instance", &format!("host{i}:9100")),
                ("severity", "page"),
            ]),
            annotations: pairs(&[("summary", &format!("host{i} <down> & out"))]),
            starts_at: "2026-12-07T01:02:03.456Z".into(),
            ends_at: if resolved {
                "2026-12-07T02:00:00Z".into()
            } else {
                String::new()
            },
            generator_url: "http://prom:9090/graph?g0.expr=up".into(),
            fingerprint: format!("{i:016x}"),
        };
        Notification {
            receiver: "team\\-x".into(),
            status: if resolved { "resolved" } else { "firing" }.into(),
            alerts: vec![alert(0), alert(1)],
            group_labels: pairs(&[("alertname", "Down")]),
            common_labels: pairs(&[("alertname", "Down"), ("severity", "page")]),
            common_annotations: Vec::new(),
            external_url: "http://am:9093".into(),
            group_key: "{}:{alertname=\"Down\"}".into(),
            truncated_alerts: 0,
        }
    }

    fn render(
        config: &str,
        templates: &[(&str, &str)],
        n: &Notification,
    ) -> Result<String, String> {
        let c: PluginConfig = serde_json::from_str(&format!(r#"{{"config":{config}}}"#))
            .map_err(|e| e.to_string())?;
        let t = Templates::with_defaults_and(templates).map_err(|e| e.0)?;
        let r = request(&c.config, &t, n, None)?;
        Ok(String::from_utf8(body(&r)).expect("utf-8"))
    }

    #[test]
    fn defaults_as_upstream() {
        let got = render(r#"{"api_url":"http://h/"}"#, &[], &notification(false)).unwrap();
        expect![[r#"
            {"username":"Alertmanager","attachments":[{"title":"[FIRING:2] Down (page)","title_link":"http://am:9093/#/alerts?receiver=team%5C-x","text":"","fallback":"[FIRING:2] Down (page) | http://am:9093/#/alerts?receiver=team%5C-x","callback_id":"","footer":"","color":"danger","mrkdwn_in":["fallback","pretext","text"]}]}
        "#]]
        .assert_eq(&got);
        let got = render(r#"{"api_url":"http://h/"}"#, &[], &notification(true)).unwrap();
        expect![[r#"
            {"username":"Alertmanager","attachments":[{"title":"[RESOLVED] Down (page)","title_link":"http://am:9093/#/alerts?receiver=team%5C-x","text":"","fallback":"[RESOLVED] Down (page) | http://am:9093/#/alerts?receiver=team%5C-x","callback_id":"","footer":"","color":"good","mrkdwn_in":["fallback","pretext","text"]}]}
        "#]]
        .assert_eq(&got);
    }

    #[test]
    fn every_templated_field() {
        let config = r##"{
            "api_url": "http://h/",
            "channel": "#{{ .CommonLabels.severity }}",
            "username": "am-{{ .Receiver }}",
            "color": "{{ if eq .Status \"firing\" }}#ff0000{{ end }}",
            "title": "{{ template \"my.title\" . }}",
            "title_link": "{{ .ExternalURL }}/x",
            "pretext": "pre {{ len .Alerts }}",
            "text": "{{ range .Alerts }}{{ .Annotations.summary }} since {{ .StartsAt.Format \"15:04:05\" }}\n{{ end }}",
            "fields": [
                {"title": "Severity", "value": "{{ .CommonLabels.severity }}"},
                {"title": "Hosts", "value": "{{ range .Alerts }}{{ .Labels.instance }} {{ end }}", "short": false}
            ],
            "short_fields": true,
            "footer": "{{ .GroupLabels.alertname }}",
            "fallback": "fb",
            "callback_id": "cb-{{ .Status }}",
            "icon_emoji": ":fire:",
            "icon_url": "http://icons/{{ .Status }}.png",
            "image_url": "http://img/{{ .Status }}",
            "thumb_url": "http://thumb/{{ .Status }}",
            "link_names": true,
            "mrkdwn_in": ["text"],
            "actions": [
                {"type": "button", "text": "Runbook {{ .CommonLabels.alertname }}", "url": "http://rb/{{ .CommonLabels.alertname }}", "style": "primary",
                 "name": "dropped", "value": "dropped"},
                {"type": "button", "text": "Ack", "name": "ack", "value": "{{ .Status }}", "style": "danger",
                 "confirm": {"text": "Sure {{ len .Alerts }}?", "title": "Ack", "ok_text": "Yes", "dismiss_text": "No"}}
            ]
        }"##;
        let templates = [(
            "/etc/am/my.tmpl",
            r#"{{ define "my.title" }}{{ .Status | toUpper }} <{{ .CommonLabels.alertname }}>{{ end }}"#,
        )];
        let got = render(config, &templates, &notification(false)).unwrap();
        expect![[r##"
            {"channel":"#page","username":"am-team\\-x","icon_emoji":":fire:","icon_url":"http://icons/firing.png","link_names":true,"attachments":[{"title":"FIRING \u003cDown\u003e","title_link":"http://am:9093/x","pretext":"pre 2","text":"host0 \u003cdown\u003e \u0026 out since 01:02:03\nhost1 \u003cdown\u003e \u0026 out since 01:02:03\n","fallback":"fb","callback_id":"cb-firing","fields":[{"title":"Severity","value":"page","short":true},{"title":"Hosts","value":"host0:9100 host1:9100 ","short":false}],"actions":[{"type":"button","text":"Runbook Down","url":"http://rb/Down","style":"primary"},{"type":"button","text":"Ack","style":"danger","name":"ack","value":"firing","confirm":{"text":"Sure 2?","title":"Ack","ok_text":"Yes","dismiss_text":"No"}}],"image_url":"http://img/firing","thumb_url":"http://thumb/firing","footer":"Down","color":"#ff0000","mrkdwn_in":["text"]}]}
        "##]]
        .assert_eq(&got);
    }

    #[test]
    fn titles_are_cut_to_1024_runes() {
        let got = render(
            r#"{"api_url":"http://h/","title":"{{ range $i, $e := until 3 }}{{ end }}"}"#,
            &[],
            &notification(false),
        );
        // `until` is not an Alertmanager function: a template error names the field.
        let e = got.unwrap_err();
        assert!(e.starts_with("title: "), "{e}");
        let long = "é".repeat(1030);
        let r = render(
            &format!(r#"{{"api_url":"http://h/","title":"{long}"}}"#),
            &[],
            &notification(false),
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&r).unwrap();
        let title = v["attachments"][0]["title"].as_str().unwrap();
        assert_eq!(title.chars().count(), 1024);
        assert!(title.ends_with("é…"));
        assert_eq!(truncate_runes("abcdef", 3), ("abc".to_owned(), true));
        assert_eq!(truncate_runes("abc", 3), ("abc".to_owned(), false));
    }

    #[test]
    fn template_errors_and_bounds() {
        let n = notification(false);
        let e = render(
            r#"{"api_url":"http://h/","fields":[{"title":"a","value":"{{ .Nope.Deeper }}"}]}"#,
            &[],
            &n,
        )
        .unwrap_err();
        assert!(e.starts_with("fields[0].value: "), "{e}");
        // A runaway template stops at the template crate's limits.
        let e = render(
            r#"{"api_url":"http://h/","text":"{{ define \"loop\" }}{{ template \"loop\" . }}{{ end }}{{ template \"loop\" . }}"}"#,
            &[],
            &n,
        )
        .unwrap_err();
        assert!(e.starts_with("text: "), "{e}");
        let e = render(
            r#"{"api_url":"http://h/"}"#,
            &[("bad.tmpl", "{{ end }}")],
            &n,
        )
        .unwrap_err();
        assert!(e.contains("bad.tmpl"), "{e}");
    }

    #[test]
    fn update_message_sends_the_ts() {
        let c: PluginConfig = serde_json::from_str(r#"{"config":{"app_token":"x"}}"#).unwrap();
        let t = Templates::with_defaults();
        let r = request(&c.config, &t, &notification(false), Some("123.456")).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body(&r)).unwrap();
        assert_eq!(v["ts"], "123.456");
    }

    #[test]
    fn bad_times_are_errors() {
        let mut n = notification(false);
        n.alerts[0].starts_at = "yesterday".into();
        let e = data(&n).unwrap_err();
        assert!(e.contains("startsAt \"yesterday\""), "{e}");
    }
}
