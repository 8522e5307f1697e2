//! `/api/v1/rules`, `/api/v1/alerts` and `/api/v1/alertmanagers`, as
//! Prometheus 3 answers them: the rule groups (filtered by `type`,
//! `rule_name[]`, `rule_group[]`, `file[]` and `match[]`, paged by
//! `group_limit`/`group_next_token`, alerts left out with
//! `exclude_alerts`), every active alert, and the Alertmanagers.
//!
//! The parameters are read as Go's `url.ParseQuery` reads a query string,
//! so a malformed one is refused with Prometheus' text, and each error
//! names the parameter as Prometheus does.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha1::{Digest, Sha1};
use wasmetheus_model::storage::Matcher;

use crate::Backend;
use crate::params::error;
use crate::types::rules::{
    GroupView, active_alerts, write_alert_discovery, write_alertmanager_discovery,
    write_rule_discovery,
};
use crate::types::{Rule, RuleGroup};

fn bad_data(message: impl Into<String>) -> Response {
    error(StatusCode::BAD_REQUEST, "bad_data", message)
}

/// Prometheus' `invalidParamError`.
fn invalid_param(name: &str, e: impl std::fmt::Display) -> Response {
    bad_data(format!("invalid parameter \"{name}\": {e}"))
}

/// A success answer around `data`, already JSON.
fn success(data: &str) -> Response {
    let mut body = String::with_capacity(data.len() + 32);
    body.push_str(r#"{"status":"success","data":"#);
    body.push_str(data);
    body.push('}');
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// What a rules request asks for.
#[derive(Debug)]
struct RulesRequest {
    rule_names: HashSet<String>,
    rule_groups: HashSet<String>,
    files: HashSet<String>,
    matcher_sets: Vec<Vec<Matcher>>,
    alerting: bool,
    recording: bool,
    exclude_alerts: bool,
    /// `group_limit` and the token to start at; `None`: every group.
    page: Option<(usize, String)>,
}

impl RulesRequest {
    /// Reads the query string, checking the parameters in Prometheus'
    /// order.
    fn parse(raw_query: &str) -> Result<Self, Box<Response>> {
        let form = match wasmetheus_model::go::parse_query(raw_query) {
            (form, None) => form,
            (_, Some(e)) => {
                return Err(Box::new(bad_data(format!(
                    "error parsing form values: {e}"
                ))));
            }
        };
        let all = |name: &'static str| {
            form.iter()
                .filter(move |(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let first = |name: &str| {
            form.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let rule_names = all("rule_name[]").collect();
        let rule_groups = all("rule_group[]").collect();
        let files = all("file[]").collect();
        let matcher_sets = matcher_sets(&form)?;

        let kind = wasmetheus_model::go::to_lower(first("type").unwrap_or(""));
        if !matches!(kind.as_str(), "" | "alert" | "record") {
            return Err(Box::new(invalid_param(
                "type",
                format_args!("not supported value {}", go_quote(kind.as_bytes())),
            )));
        }

        let exclude = wasmetheus_model::go::to_lower(first("exclude_alerts").unwrap_or(""));
        let exclude_alerts = match exclude.as_str() {
            "" => false,
            v => wasmetheus_model::go::parse_bool(v).map_err(|e| {
                Box::new(invalid_param(
                    "exclude_alerts",
                    format_args!("error converting exclude_alerts: {e}"),
                ))
            })?,
        };

        let limit = first("group_limit").unwrap_or("");
        let token = first("group_next_token").unwrap_or("");
        if !token.is_empty() && limit.is_empty() {
            return Err(Box::new(invalid_param(
                "group_next_token",
                "group_limit needs to be present in order to paginate over the groups",
            )));
        }
        let page = if limit.is_empty() {
            None
        } else {
            let n = go_parse_int32(limit).map_err(|e| {
                Box::new(invalid_param(
                    "group_limit",
                    format_args!("group_limit needs to be a valid number: {e}"),
                ))
            })?;
            let n = usize::try_from(n).ok().filter(|&n| n > 0).ok_or_else(|| {
                Box::new(invalid_param(
                    "group_limit",
                    "group_limit needs to be greater than 0",
                ))
            })?;
            Some((n, token.to_owned()))
        };

        Ok(RulesRequest {
            rule_names,
            rule_groups,
            files,
            matcher_sets,
            alerting: kind != "record",
            recording: kind != "alert",
            exclude_alerts,
            page,
        })
    }

    /// Whether `rule` is shown (the group's own filters passed).
    fn shows(&self, rule: &Rule) -> bool {
        let kind = match rule {
            Rule::Alerting(_) => self.alerting,
            Rule::Recording(_) => self.recording,
        };
        kind && (self.rule_names.is_empty() || self.rule_names.contains(rule.name()))
            && matches_any_set(&self.matcher_sets, rule)
    }
}

/// Prometheus' `parseMatchersParam` over `match[]`: each a series
/// selector (the first that does not parse is the error, its text
/// unwrapped), and each needing a matcher that does not match the empty
/// string.
fn matcher_sets(form: &[(String, String)]) -> Result<Vec<Vec<Matcher>>, Box<Response>> {
    let sets = form
        .iter()
        .filter(|(k, _)| k == "match[]")
        .map(|(_, text)| wasmetheus_promql::parser::parse_metric_selector(text))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Box::new(bad_data(e.to_string())))?;
    if sets
        .iter()
        .any(|set| set.iter().all(Matcher::matches_empty))
    {
        return Err(Box::new(bad_data(
            "match[] must contain at least one non-empty matcher",
        )));
    }
    Ok(sets)
}

/// Whether the rule's labels match every matcher of at least one set (no
/// sets: every rule).
fn matches_any_set(sets: &[Vec<Matcher>], rule: &Rule) -> bool {
    let labels = rule.labels();
    sets.is_empty()
        || sets.iter().any(|set| {
            set.iter()
                .all(|m| m.matches(labels.get(&m.name).map_or("", String::as_str)))
        })
}

/// The token of the page starting at a group: the hex SHA-1 of
/// `<file>;<name>`, as Prometheus makes it.
fn group_token(group: &RuleGroup) -> String {
    let mut hash = Sha1::new();
    hash.update(group.file.as_bytes());
    hash.update(b";");
    hash.update(group.name.as_bytes());
    hash.finalize()
        .iter()
        .fold(String::with_capacity(40), |mut out, b| {
            use std::fmt::Write;
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// The groups in Prometheus' order: by file, then name.
fn sorted_groups(mut groups: Vec<RuleGroup>) -> Vec<RuleGroup> {
    groups.sort_by(|a, b| (&a.file, &a.name).cmp(&(&b.file, &b.name)));
    groups
}

/// The `data` of `/api/v1/rules` for `request`, or the error answer
/// for a `group_next_token` that names no group.
fn rule_discovery(groups: &[RuleGroup], request: &RulesRequest) -> Result<String, Box<Response>> {
    let mut found_token = false;
    let mut shown: Vec<GroupView<'_>> = Vec::new();
    let mut next_token = None;
    for group in groups {
        if let Some((_, token)) = &request.page
            && !token.is_empty()
            && !found_token
        {
            if *token != group_token(group) {
                continue;
            }
            found_token = true;
        }
        if !request.rule_groups.is_empty() && !request.rule_groups.contains(&group.name) {
            continue;
        }
        if !request.files.is_empty() && !request.files.contains(&group.file) {
            continue;
        }
        let rules: Vec<&Rule> = group.rules.iter().filter(|r| request.shows(r)).collect();
        // A group whose rules were all filtered out is not shown.
        if rules.is_empty() {
            continue;
        }
        if let Some((limit, _)) = &request.page
            && shown.len() == *limit
        {
            // One group more than the page holds: there is a next page.
            next_token = Some(group_token(group));
            break;
        }
        shown.push(GroupView { group, rules });
    }
    if let Some((_, token)) = &request.page
        && !token.is_empty()
        && !found_token
    {
        return Err(Box::new(invalid_param(
            "group_next_token",
            format_args!("invalid group_next_token '{token}'. were rule groups changed?"),
        )));
    }
    let mut out = String::with_capacity(1024);
    write_rule_discovery(
        &mut out,
        &shown,
        next_token.as_deref(),
        request.exclude_alerts,
    );
    Ok(out)
}

pub(crate) async fn rules(
    State(backend): State<Arc<dyn Backend>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let request = match RulesRequest::parse(raw.as_deref().unwrap_or("")) {
        Ok(r) => r,
        Err(answer) => return *answer,
    };
    let groups = sorted_groups(backend.rule_groups());
    match rule_discovery(&groups, &request) {
        Ok(data) => success(&data),
        Err(answer) => *answer,
    }
}

/// `/api/v1/alerts`: the active alerts of every alerting rule, group by
/// group in the order of `/api/v1/rules`.
pub(crate) async fn alerts(State(backend): State<Arc<dyn Backend>>) -> Response {
    let groups = sorted_groups(backend.rule_groups());
    let rules = groups
        .iter()
        .flat_map(|g| &g.rules)
        .filter_map(|r| match r {
            Rule::Alerting(rule) => Some(rule),
            Rule::Recording(_) => None,
        });
    let mut out = String::with_capacity(256);
    write_alert_discovery(&mut out, active_alerts(rules));
    success(&out)
}

pub(crate) async fn alertmanagers(State(backend): State<Arc<dyn Backend>>) -> Response {
    let mut out = String::with_capacity(256);
    write_alertmanager_discovery(&mut out, &backend.alertmanagers_status());
    success(&out)
}

// ---- Go's readings of parameters ----

/// Go's `strconv.ParseInt(s, 10, 32)`, with its error texts: digits after
/// an optional sign, checked digit by digit as Go checks them (a value
/// past 32 unsigned bits is out of range before a later bad character is
/// seen).
fn go_parse_int32(s: &str) -> Result<i64, String> {
    let fail = |why: &str| {
        format!(
            "strconv.ParseInt: parsing {}: {why}",
            go_quote(s.as_bytes())
        )
    };
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return Err(fail("invalid syntax"));
    }
    // Go's `ParseUint(digits, 10, 32)`.
    const MAX_UINT32: u64 = u32::MAX as u64;
    let mut n: u64 = 0;
    for b in digits.bytes() {
        if !b.is_ascii_digit() {
            return Err(fail("invalid syntax"));
        }
        n = n * 10 + u64::from(b - b'0');
        if n > MAX_UINT32 {
            return Err(fail("value out of range"));
        }
    }
    let cutoff: u64 = 1 << 31;
    match negative {
        false if n >= cutoff => Err(fail("value out of range")),
        true if n > cutoff => Err(fail("value out of range")),
        false => Ok(n as i64),
        true => Ok(-(n as i64)),
    }
}

use wasmetheus_model::go::quote_bytes as go_quote;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_parse_as_go_parses_them() {
        for (s, want) in [
            ("10", Ok(10)),
            ("+7", Ok(7)),
            ("-3", Ok(-3)),
            ("2147483647", Ok(2_147_483_647)),
            ("-2147483648", Ok(-2_147_483_648)),
            ("2147483648", Err("value out of range")),
            ("-2147483649", Err("value out of range")),
            ("3000000000x", Err("invalid syntax")),
            ("5000000000x", Err("value out of range")),
            ("99999999999999999999999999", Err("value out of range")),
            ("1_000", Err("invalid syntax")),
            ("0x10", Err("invalid syntax")),
            ("", Err("invalid syntax")),
            ("+", Err("invalid syntax")),
            (" 1", Err("invalid syntax")),
        ] {
            let got = go_parse_int32(s);
            match want {
                Ok(n) => assert_eq!(got, Ok(n), "{s:?}"),
                Err(why) => assert_eq!(
                    got,
                    Err(format!(
                        "strconv.ParseInt: parsing {}: {why}",
                        go_quote(s.as_bytes())
                    )),
                    "{s:?}"
                ),
            }
        }
    }

    #[test]
    fn quotes_as_go() {
        assert_eq!(
            go_quote(b"a\"b\\\n\x01\x7f\xff"),
            r#""a\"b\\\n\x01\x7f\xff""#
        );
        assert_eq!(
            go_quote("é\u{200b}\u{a0} \u{e000}\u{1f600}".as_bytes()),
            "\"é\\u200b\\u00a0 \\ue000\u{1f600}\""
        );
    }

    /// A query string longer than the HTTP layer lets through: 10,000
    /// `rule_name[]` and 1,000 `match[]`, over 1,000 groups.
    #[test]
    fn many_parameters_over_many_groups() {
        let mut query = String::new();
        for i in 0..10_000 {
            query.push_str(&format!("rule_name[]=r{}&", i * 7));
        }
        for i in 0..1_000 {
            query.push_str(&format!("match[]=%7Bn%3D%22{}%22%7D&", i * 3));
        }
        let request = RulesRequest::parse(&query).unwrap();
        let groups: Vec<RuleGroup> = (0..1_000)
            .map(|i| RuleGroup {
                name: format!("g{i}"),
                file: "f".into(),
                rules: vec![Rule::Recording(crate::types::RecordingRule {
                    name: format!("r{i}"),
                    query: "vector(1)".into(),
                    labels: [("n".to_owned(), i.to_string())].into(),
                    health: crate::types::RuleHealth::Ok,
                    last_error: None,
                    evaluation_time: std::time::Duration::ZERO,
                    last_evaluation: None,
                })],
                ..RuleGroup::default()
            })
            .collect();
        let started = std::time::Instant::now();
        let data = rule_discovery(&sorted_groups(groups), &request).unwrap();
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        // Rules whose number is a multiple of both 7 and 3 (below 1,000).
        let shown = data.matches("\"type\":\"recording\"").count();
        assert_eq!(shown, (0..1_000).filter(|i| i % 21 == 0).count());
    }

    /// Checked against `printf '<file>;<name>' | sha1sum`.
    #[test]
    fn tokens_are_sha1_of_file_and_name() {
        for (file, name, want) in [
            (
                "/rules.yaml",
                "example",
                "2e3a58372a4d346316928d940802e33f3e81366a",
            ),
            (
                "rules/b.yml",
                "g2",
                "4907a82fe2747437edfb5b433a6d244e5628c01b",
            ),
        ] {
            let group = RuleGroup {
                file: file.into(),
                name: name.into(),
                ..RuleGroup::default()
            };
            assert_eq!(group_token(&group), want);
        }
    }
}
