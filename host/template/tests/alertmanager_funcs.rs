//! Alertmanager's template functions, data methods and HTML escaping: template texts of our own
//! (`tests/data/alertmanager/custom_cases.json`) compared with what Debian's amtool (Alertmanager 0.25)
//! rendered for them, where 0.34 differs the 0.34 result pinned here; and the cases of Alertmanager's
//! own `template/template_test.go` (`TestTemplateExpansion`, `TestTemplateFuncs`, the KV, Pairs and
//! Alerts tests) as data.

use std::collections::BTreeMap;

use serde_json::Value as Json;
use wasmetheus_template::alertmanager::{
    Alert, AlertStatus, Data, Templates, ZERO_TIME_NS, alerts_value, kv_value, to_json,
};
use wasmetheus_template::{Limits, Value};

#[path = "support/alertmanager.rs"]
mod common;

/// Where Alertmanager 0.34 (and the Go it is built with) prints something else than amtool 0.25.
fn differences_from_025() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([
        // 0.34's KV has a String method (`a=b, c=d`); 0.25's prints as a Go map.
        (
            "{{ range .Alerts }}{{ .Labels }};{{ end }}",
            "alertname=HighLatency, instance=a:9090, job=api, severity=warning, team=r&d <core>;alertname=HighLatency, instance=b:9090, job=api, severity=critical, team=r&d <core>;",
        ),
        // 0.34's Pairs has a String method too.
        (
            "{{ .CommonLabels.SortedPairs }}",
            "alertname=HighLatency, job=api, team=r&d <core>",
        ),
        // fmt prints nested values through their String methods too.
        (
            "{{ .Alerts.Firing }}",
            "[{firing alertname=HighLatency, instance=a:9090, job=api, severity=warning, team=r&d <core> description=p99 is \"high\" & rising, summary=Latency > 1s on a:9090 2024-03-01 10:00:00.123 +0000 UTC 0001-01-01 00:00:00 +0000 UTC http://prom:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1 0f1e2d3c4b5a6978} {firing alertname=HighLatency, instance=b:9090, job=api, severity=critical, team=r&d <core> summary=Latency > 1s on b:9090 2024-03-01 10:05:00 +0000 UTC 0001-01-01 00:00:00 +0000 UTC javascript:alert(1) 1f1e2d3c4b5a6978}]",
        ),
        (
            "{{ printf \"%v|%s|%q\" .GroupLabels .GroupLabels .GroupLabels.SortedPairs }}",
            "alertname=HighLatency, job=api|alertname=HighLatency, job=api|\"alertname=HighLatency, job=api\"",
        ),
        // html/template's JavaScript values use a value's String method: 0.34's KV is a string.
        (
            "<script>var r = {{ .Receiver }}; var n = {{ len .Alerts }}; var l = {{ .CommonLabels }};</script>",
            "<script>var r = \"team-\\u003cx\\u003e\\u0026'y' +1\"; var n =  2 ; var l = \"alertname=HighLatency, job=api, team=r\\u0026d \\u003ccore\\u003e\";</script>",
        ),
        // With KV's String method the printed value has no `:` and passes the URL filter.
        (
            "<a href=\"{{ .CommonLabels }}\">{{ .CommonLabels }}</a>",
            "<a href=\"alertname=HighLatency,%20job=api,%20team=r&amp;d%20%3ccore%3e\">alertname=HighLatency, job=api, team=r&amp;d &lt;core&gt;</a>",
        ),
        // Go 1.20.4+ (CVE-2023-29400) prints an empty unquoted attribute value as `ZgotmplZ`; the Go
        // amtool 0.25 was built with printed nothing.
        (
            "<a href=\"x\" title=\"{{ \"\\\"q\\\"\" }}\" data-x={{ \"\" }}>",
            "<a href=\"x\" title=\"&#34;q&#34;\" data-x=ZgotmplZ>",
        ),
    ])
}

#[test]
fn custom_templates_render_as_amtool_does() {
    let read = |f: &str| -> Json {
        serde_json::from_str(&std::fs::read_to_string(common::data_dir().join(f)).expect("read"))
            .expect("json")
    };
    let cases = read("custom_cases.json");
    let expected = read("custom_cases.expected.json");
    let data = common::data_from_json(&read("firing.json")).to_value();
    let templates = common::default_templates();
    let overrides = differences_from_025();
    let (cases, expected) = (
        cases.as_array().expect("cases"),
        expected.as_array().expect("expected"),
    );
    assert_eq!(cases.len(), expected.len());
    assert!(cases.len() > 40);
    let mut failures = Vec::new();
    let mut overridden = 0;
    for (case, want) in cases.iter().zip(expected) {
        let text = case["text"].as_str().expect("text");
        let got = if case["html"] == Json::Bool(true) {
            templates.execute_html(text, &data)
        } else {
            templates.execute_text(text, &data)
        };
        let ok = match (&got, want, overrides.get(text)) {
            (Ok(g), _, Some(w)) => {
                overridden += 1;
                g == w
            }
            (Ok(g), Json::String(w), None) => g == w,
            (Err(e), Json::Object(o), None) => o["error"]
                .as_str()
                .is_some_and(|w| w.strip_prefix("amtool: error: ") == Some(&e.0)),
            _ => false,
        };
        if !ok {
            failures.push(format!("{text}\n  want {want}\n  got  {got:?}"));
        }
    }
    assert_eq!(overridden, overrides.len(), "every difference is a case");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn kv(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn strings(items: &[&str]) -> Value {
    Value::list(
        "[]string",
        items.iter().map(|s| Value::string(*s)).collect(),
    )
}

/// 2024-01-01T08:15:30Z.
const JAN_1_2024: i128 = 1_704_096_930 * 1_000_000_000;

/// `TestTemplateExpansion` and `TestTemplateFuncs` of Alertmanager's `template/template_test.go`.
#[test]
fn upstream_template_cases() {
    let t = Templates::new();
    let group = Data {
        receiver: String::new(),
        status: String::new(),
        alerts: vec![],
        group_labels: kv(&[
            ("key1", "key1"),
            ("key2", "key2"),
            ("key3", "key3"),
            ("key4", "key4"),
        ]),
        common_labels: BTreeMap::new(),
        common_annotations: BTreeMap::new(),
        external_url: String::new(),
    }
    .to_value();
    let floats = |v: &[f64]| Value::list("[]float64", v.iter().map(|f| Value::Float(*f)).collect());
    let ints = |v: &[i64]| Value::list("[]int", v.iter().map(|f| Value::Int(*f)).collect());
    let uints = |v: &[u64]| Value::list("[]uint", v.iter().map(|f| Value::Uint(*f)).collect());
    let hour_ago = Value::Time(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i128)
            .unwrap_or(0)
            - 3_600 * 1_000_000_000,
    );
    // (text, data, html, expected output or Err(expected error; "" for any error))
    let cases: Vec<(&str, Value, bool, Result<&str, &str>)> = vec![
        ("abc", Value::Invalid, false, Ok("abc")),
        ("{{ \"abc\" }}", Value::Invalid, false, Ok("abc")),
        ("{{ ", Value::Invalid, false, Err("")),
        ("{{ \"abc\" | toUpper }}", Value::Invalid, false, Ok("ABC")),
        ("{{ \"ABC\" | toLower }}", Value::Invalid, false, Ok("abc")),
        ("{{ \"abc\" | title }}", Value::Invalid, false, Ok("Abc")),
        (
            "{{ \" a b c \" | trimSpace }}",
            Value::Invalid,
            false,
            Ok("a b c"),
        ),
        (
            "{{ if match \"^a\" \"abc\"}}abc{{ end }}",
            Value::Invalid,
            false,
            Ok("abc"),
        ),
        (
            "{{ if match \"abcd\" \"abc\" }}abc{{ end }}",
            Value::Invalid,
            false,
            Ok(""),
        ),
        (
            "{{ . | join \",\" }}",
            strings(&["a", "b", "c"]),
            false,
            Ok("a,b,c"),
        ),
        ("{{ \"<b>\" }}", Value::Invalid, false, Ok("<b>")),
        ("{{ \"<b>\" }}", Value::Invalid, true, Ok("&lt;b&gt;")),
        ("{{ \"<b>\" | safeHtml }}", Value::Invalid, true, Ok("<b>")),
        (
            "{{ reReplaceAll \"ab\" \"AB\" \"abcdabcda\"}}",
            Value::Invalid,
            false,
            Ok("ABcdABcda"),
        ),
        (
            "{{ with .GroupLabels }}{{ with .Remove (stringSlice \"key1\" \"key3\") }}{{ .SortedPairs.Values }}{{ end }}{{ end }}",
            group,
            false,
            Ok("[key2 key4]"),
        ),
        (
            "{{ match \"[a-z]+\" \"abc\" }}",
            Value::Invalid,
            false,
            Ok("true"),
        ),
        (
            "{{ . | date \"2006-01-02\" }}",
            Value::Time(JAN_1_2024),
            false,
            Ok("2024-01-01"),
        ),
        (
            "{{ range . }}{{ humanizeDuration . }}:{{ end }}",
            floats(&[
                0.0,
                1.0,
                60.0,
                3600.0,
                86400.0,
                90000.0,
                -(86400.0 * 2.0 + 3600.0 * 3.0 + 60.0 * 4.0 + 5.0),
                899.99,
            ]),
            false,
            Ok("0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:1d 1h 0m 0s:-2d 3h 4m 5s:14m 59s:"),
        ),
        (
            "{{ range . }}{{ humanizeDuration . }}:{{ end }}",
            strings(&["0", "1", "60", "3600", "86400"]),
            false,
            Ok("0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:"),
        ),
        (
            "{{ range . }}{{ humanizeDuration . }}:{{ end }}",
            floats(&[0.1, 0.0001, 0.12345, 60.1, 60.5, 1.2345, 12.345]),
            false,
            Ok("100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s:"),
        ),
        (
            "{{ range . }}{{ humanizeDuration . }}:{{ end }}",
            strings(&[".1", ".0001", ".12345", "60.1", "60.5", "1.2345", "12.345"]),
            false,
            Ok("100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s:"),
        ),
        (
            "{{ humanizeDuration \"one\" }}",
            Value::Invalid,
            false,
            Err(
                "template: :1:3: executing \"\" at <humanizeDuration \"one\">: error calling humanizeDuration: strconv.ParseFloat: parsing \"one\": invalid syntax",
            ),
        ),
        (
            "{{ range . }}{{ humanizeDuration . }}:{{ end }}",
            ints(&[0, -1, 1, 1_234_567]),
            false,
            Ok("0s:-1s:1s:14d 6h 56m 7s:"),
        ),
        (
            "{{ range . }}{{ humanizeDuration . }}:{{ end }}",
            uints(&[0, 1, 1_234_567]),
            false,
            Ok("0s:1s:14d 6h 56m 7s:"),
        ),
        (
            "{{ . | since | humanizeDuration }}",
            hour_ago,
            false,
            Ok("1h 0m 0s"),
        ),
        (
            "{{ . | tz \"Europe/Paris\" }}",
            Value::Time(JAN_1_2024),
            false,
            Ok("2024-01-01 09:15:30 +0100 CET"),
        ),
        (
            "{{ . | tz \"Invalid/Timezone\" }}",
            Value::Time(JAN_1_2024),
            false,
            Err(
                "template: :1:7: executing \"\" at <tz \"Invalid/Timezone\">: error calling tz: unknown time zone Invalid/Timezone",
            ),
        ),
        // Beyond upstream's cases: a zone's time formatted, its fields, its JSON.
        (
            "{{ . | tz \"America/New_York\" | date \"2006-01-02 15:04 MST -0700 Z07:00\" }}",
            Value::Time(JAN_1_2024),
            false,
            Ok("2024-01-01 03:15 EST -0500 -05:00"),
        ),
        (
            "{{ (. | tz \"Asia/Kolkata\").Hour }}:{{ (. | tz \"Asia/Kolkata\").Minute }}",
            Value::Time(JAN_1_2024),
            false,
            Ok("13:45"),
        ),
        (
            "{{ . | tz \"Asia/Kolkata\" | toJson }}",
            Value::Time(JAN_1_2024),
            false,
            Ok("\"2024-01-01T13:45:30+05:30\""),
        ),
        (
            "{{ . | tz \"\" }} {{ . | tz \"UTC\" | date \"Z07:00 MST\" }}",
            Value::Time(JAN_1_2024),
            false,
            Ok("2024-01-01 08:15:30 +0000 UTC Z UTC"),
        ),
        (
            "{{ (. | tz \"Europe/Paris\").UTC }}",
            Value::Time(JAN_1_2024),
            false,
            Ok("2024-01-01 08:15:30 +0000 UTC"),
        ),
        (
            "{{ . | tz \"../etc/passwd\" }}",
            Value::Time(JAN_1_2024),
            false,
            Err(
                "template: :1:7: executing \"\" at <tz \"../etc/passwd\">: error calling tz: time: invalid location name",
            ),
        ),
        (
            "{{ \"a%20b+c\" | urlUnescape }}",
            Value::Invalid,
            false,
            Ok("a b c"),
        ),
        (
            "{{ \"%zz\" | urlUnescape }}",
            Value::Invalid,
            false,
            Err(
                "template: :1:11: executing \"\" at <urlUnescape>: error calling urlUnescape: invalid URL escape \"%zz\"",
            ),
        ),
        (
            "<a href=\"{{ \"javascript:x\" | safeUrl }}\">",
            Value::Invalid,
            true,
            Ok("<a href=\"javascript:x\">"),
        ),
        (
            "<a href=\"{{ \"a b\" | safeUrl }}\">",
            Value::Invalid,
            true,
            Ok("<a href=\"a%20b\">"),
        ),
        ("{{ \"x\" | safeUrl }}", Value::Invalid, false, Ok("x")),
        (
            "{{ toJson . }}",
            strings(&["a<b", "\"c\""]),
            false,
            Ok(r#"["a\u003cb","\"c\""]"#),
        ),
    ];
    let mut failures = Vec::new();
    for (text, data, html, want) in &cases {
        let got = if *html {
            t.execute_html(text, data)
        } else {
            t.execute_text(text, data)
        };
        let ok = match (&got, want) {
            (Ok(g), Ok(w)) => g == w,
            (Err(_), Err("")) => true,
            (Err(e), Err(w)) => e.0 == *w,
            _ => false,
        };
        if !ok {
            failures.push(format!("{text}\n  want {want:?}\n  got  {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `TestKVSortedPairs`, `TestKVRemove`, `TestPairNames`/`Values`/`String`, `TestAlertsFiring`/`Resolved`.
#[test]
fn kv_pairs_and_alerts_methods() {
    let t = Templates::new();
    let run = |text: &str, data: &Value| t.execute_text(text, data).expect(text);
    let labels = kv_value(&kv(&[
        ("d", "dVal"),
        ("b", "bVal"),
        ("c", "cVal"),
        ("alertname", "alert"),
        ("a", "aVal"),
    ]));
    assert_eq!(
        run("{{ .SortedPairs.Names }}", &labels),
        "[alertname a b c d]"
    );
    assert_eq!(run("{{ .Values }}", &labels), "[alert aVal bVal cVal dVal]");
    assert_eq!(
        run("{{ .SortedPairs }}", &labels),
        "alertname=alert, a=aVal, b=bVal, c=cVal, d=dVal"
    );
    assert_eq!(
        run("{{ (.Remove (stringSlice \"b\" \"d\")).Names }}", &labels),
        "[alertname a c]"
    );
    assert_eq!(
        run("{{ .b }}|{{ .missing }}|{{ len . }}", &labels),
        "bVal||5"
    );
    let alert = |status| Alert {
        status,
        labels: BTreeMap::new(),
        annotations: BTreeMap::new(),
        starts_at: 0,
        ends_at: ZERO_TIME_NS,
        generator_url: String::new(),
        fingerprint: String::new(),
    };
    let alerts = alerts_value(&[
        alert(AlertStatus::Firing),
        alert(AlertStatus::Resolved),
        alert(AlertStatus::Firing),
        alert(AlertStatus::Resolved),
        alert(AlertStatus::Resolved),
    ]);
    assert_eq!(
        run(
            "{{ len .Firing }} {{ len .Resolved }} {{ range .Firing }}{{ .Status }} {{ end }}",
            &alerts
        ),
        "2 3 firing firing "
    );
}

/// `TestData`: status, common labels and annotations; the receiver quoted as a regular expression.
#[test]
fn data_of_a_group() {
    let alert = |status, job: &str, desc: &str, runbook: &str| Alert {
        status,
        labels: kv(&[("severity", "warning"), ("job", job)]),
        annotations: kv(&[("description", desc), ("runbook", runbook)]),
        starts_at: 0,
        ends_at: ZERO_TIME_NS,
        generator_url: String::new(),
        fingerprint: String::new(),
    };
    let same_job = Data::new(
        "webhook",
        kv(&[("job", "foo")]),
        vec![
            alert(AlertStatus::Firing, "foo", "something happened", "foo"),
            alert(
                AlertStatus::Resolved,
                "foo",
                "something else happened",
                "foo",
            ),
        ],
        "http://example.com/",
    );
    assert_eq!(same_job.status, "firing");
    assert_eq!(
        same_job.common_labels,
        kv(&[("severity", "warning"), ("job", "foo")])
    );
    assert_eq!(same_job.common_annotations, kv(&[("runbook", "foo")]));
    let other_job = Data::new(
        "webhook",
        BTreeMap::new(),
        vec![
            alert(AlertStatus::Firing, "foo", "a", "foo"),
            alert(AlertStatus::Firing, "bar", "b", "bar"),
        ],
        "",
    );
    assert_eq!(other_job.common_labels, kv(&[("severity", "warning")]));
    assert!(other_job.common_annotations.is_empty());
    let empty = Data::new("web.hook", BTreeMap::new(), vec![], "");
    assert_eq!(
        (empty.status.as_str(), empty.receiver.as_str()),
        ("resolved", r"web\.hook")
    );
    // The webhook payload's JSON names.
    let json = to_json(&same_job.to_value()).expect("json");
    assert!(json.starts_with(r#"{"receiver":"webhook","status":"firing","alerts":[{"status":"firing","labels":{"job":"foo","severity":"warning"}"#), "{json}");
    assert!(
        json.contains(r#""startsAt":"1970-01-01T00:00:00Z","endsAt":"0001-01-01T00:00:00Z""#),
        "{json}"
    );
}

/// A set is shared by the notifiers of a dispatcher (Alertmanager renders from many goroutines).
#[test]
fn templates_are_shareable_across_threads() {
    fn shareable<T: Send + Sync + Clone>() {}
    shareable::<Templates>();
    let t = std::sync::Arc::new(Templates::new());
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let t = t.clone();
            std::thread::spawn(move || {
                t.execute_text("{{ . | toUpper }}", &Value::string(format!("t{i}")))
            })
        })
        .collect();
    for (i, th) in threads.into_iter().enumerate() {
        assert_eq!(th.join().expect("thread").expect("render"), format!("T{i}"));
    }
}

/// Hostile templates stay within the execution limits.
#[test]
fn hostile_templates_are_bounded() {
    let limits = Limits {
        max_output_bytes: 1 << 16,
        max_steps: 100_000,
        max_depth: 50,
    };
    let t = Templates::new().with_limits(limits);
    let many = Value::list("[]int", (0..1_000_000).map(Value::Int).collect());
    let e = t
        .execute_text("{{ range . }}{{ . }}{{ end }}", &many)
        .unwrap_err();
    assert!(e.0.contains("exceeds the limit"), "{e}");
    let e = t
        .execute_html(
            "{{ range . }}<b title=\"{{ . }}\">{{ . }}</b>{{ end }}",
            &many,
        )
        .unwrap_err();
    assert!(e.0.contains("exceeds the limit"), "{e}");
    let mut rec = Templates::new().with_limits(limits);
    rec.parse(
        "r.tmpl",
        "{{ define \"r\" }}x{{ template \"r\" . }}{{ end }}",
    )
    .expect("parse");
    let e = rec
        .execute_text("{{ template \"r\" . }}", &Value::Invalid)
        .unwrap_err();
    assert!(e.0.contains("exceeded maximum template depth (50)"), "{e}");
    let e = rec
        .execute_html("<a href=\"{{ template \"r\" . }}\">", &Value::Invalid)
        .unwrap_err();
    assert!(e.0.contains("exceeded maximum template depth (50)"), "{e}");
    let big = Value::string("x".repeat(40_000));
    let e = t
        .execute_text("{{ join \",\" (stringSlice . . .) }}", &big)
        .unwrap_err();
    assert!(
        e.0.contains("value exceeds the limit of 65536 bytes"),
        "{e}"
    );
    let e = t
        .execute_text("{{ toJson (stringSlice . .) }}", &big)
        .unwrap_err();
    assert!(e.0.contains("exceeds the limit"), "{e}");
    // Long texts escape in linear time: many `<` that start no tag, many attributes of a `<title>`
    // tag (whose end tag is searched once), a text node repeated by a `range`.
    let started = std::time::Instant::now();
    let big = Templates::new().with_limits(Limits {
        max_output_bytes: 8 << 20,
        ..Limits::default()
    });
    let lt = "1 < 2 ".repeat(100_000);
    let out = big.execute_html(&lt, &Value::Invalid).expect("many <");
    assert_eq!(out, "1 &lt; 2 ".repeat(100_000));
    let attrs = format!("<title {}></title>", "a=\"b\" ".repeat(100_000));
    let out = big
        .execute_html(&attrs, &Value::Invalid)
        .expect("many attributes");
    assert_eq!(out, attrs);
    let looped = format!(
        "{{{{ range . }}}}<p class=\"{{{{ . }}}}\">{}</p>{{{{ end }}}}",
        "x".repeat(1000)
    );
    let items = Value::list("[]int", (0..5_000).map(Value::Int).collect());
    let out = big.execute_html(&looped, &items).expect("range");
    assert!(
        out.ends_with(&format!("<p class=\"4999\">{}</p>", "x".repeat(1000))),
        "{}",
        &out[out.len() - 40..]
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    // An action inside a JavaScript template literal is refused rather than escaped wrongly.
    let e = t
        .execute_html("<script>var x = `{{ . }}`;</script>", &Value::string("1"))
        .unwrap_err();
    assert!(e.0.contains("html/template"), "{e}");
}
