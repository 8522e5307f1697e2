//! The routing tree as upstream's `dispatch/route_test.go` exercises it:
//! which receivers an alert reaches (depth-first, `continue`), inherited
//! options, and route keys and ids.

use std::collections::BTreeMap;
use std::path::Path;

use wasmetheus_alertmanager_config::{Config, Route};

const TREE: &str = r#"
receivers: [{name: notify-def}, {name: notify-A}, {name: notify-B}, {name: notify-BC}, {name: notify-productionA}, {name: notify-productionB}, {name: notify-testing}]
route:
  receiver: 'notify-def'
  routes:
  - matchers: ['owner="team-A"']
    receiver: 'notify-A'
    routes:
    - matchers: ['env="testing"']
      receiver: 'notify-testing'
      group_by: [...]
  - matchers: ['owner="team-B"']
    receiver: 'notify-B'
  - match:
      owner: 'team-C'
    receiver: 'notify-BC'
    group_wait: 2m
    continue: true
  - match_re:
      env: 'production|staging'
    receiver: 'notify-productionA'
    group_wait: 1m
    continue: true
    routes:
    - match: {owner: team-X}
      receiver: notify-productionB
  - match:
      group_by: 'role'
    group_by: ['role']
    receiver: notify-BC
    routes:
    - match: {env: testing}
      receiver: notify-testing
"#;

/// An alert's labels.
type Alert<'a> = &'a [(&'a str, &'a str)];

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn alerts_reach_the_receivers_upstream_sends_them_to() {
    let config = Config::parse(TREE, Path::new("t.yml")).unwrap();
    let tree = Route::new(&config.route);
    let cases: &[(Alert, &[&str])] = &[
        (&[("owner", "team-A")], &["notify-A"]),
        (&[("owner", "team-A"), ("env", "unset")], &["notify-A"]),
        (
            &[("owner", "team-A"), ("env", "testing")],
            &["notify-testing"],
        ),
        (&[("owner", "team-C")], &["notify-BC"]),
        // `continue` on team-C's route: the production route matches too.
        (
            &[("owner", "team-C"), ("env", "production")],
            &["notify-BC", "notify-productionA"],
        ),
        (
            &[("owner", "team-X"), ("env", "staging")],
            &["notify-productionB"],
        ),
        // team-B's route has no continue: the first match wins.
        (&[("owner", "team-B"), ("env", "production")], &["notify-B"]),
        (&[("owner", "team-Z")], &["notify-def"]),
        (&[], &["notify-def"]),
        (
            &[("group_by", "role"), ("env", "testing")],
            &["notify-testing"],
        ),
    ];
    for (alert, want) in cases {
        let ls = labels(alert);
        let got: Vec<&str> = tree
            .match_labels(&ls)
            .iter()
            .map(|r| r.opts.receiver.as_str())
            .collect();
        assert_eq!(&got, want, "{alert:?}");
    }
}

#[test]
fn options_are_inherited_and_overridden() {
    let config = Config::parse(TREE, Path::new("t.yml")).unwrap();
    let tree = Route::new(&config.route);
    let ls = labels(&[("owner", "team-A"), ("env", "testing")]);
    let m = tree.match_labels(&ls);
    assert!(m[0].opts.group_by_all);
    assert_eq!(m[0].opts.group_wait_ms, 30_000);
    let ls = labels(&[("owner", "team-X"), ("env", "production")]);
    let m = tree.match_labels(&ls);
    // group_wait 1m inherited from the production route.
    assert_eq!(m[0].opts.group_wait_ms, 60_000);
    let ls = labels(&[("group_by", "role"), ("env", "testing")]);
    let m = tree.match_labels(&ls);
    assert_eq!(
        m[0].opts.group_by.iter().cloned().collect::<Vec<_>>(),
        ["role"]
    );
}

#[test]
fn keys_and_ids_as_upstream() {
    let config = Config::parse(TREE, Path::new("t.yml")).unwrap();
    let tree = Route::new(&config.route);
    let got: Vec<(String, String)> = tree
        .walk()
        .iter()
        .map(|r| (r.key().to_owned(), r.id().to_owned()))
        .collect();
    let want: Vec<(String, String)> = [
        ("{}", "{}"),
        ("{}/{owner=\"team-A\"}", "{}/{owner=\"team-A\"}/0"),
        (
            "{}/{owner=\"team-A\"}/{env=\"testing\"}",
            "{}/{owner=\"team-A\"}/0/{env=\"testing\"}/0",
        ),
        ("{}/{owner=\"team-B\"}", "{}/{owner=\"team-B\"}/1"),
        ("{}/{owner=\"team-C\"}", "{}/{owner=\"team-C\"}/2"),
        (
            "{}/{env=~\"^(?:production|staging)$\"}",
            "{}/{env=~\"^(?:production|staging)$\"}/3",
        ),
        (
            "{}/{env=~\"^(?:production|staging)$\"}/{owner=\"team-X\"}",
            "{}/{env=~\"^(?:production|staging)$\"}/3/{owner=\"team-X\"}/0",
        ),
        ("{}/{group_by=\"role\"}", "{}/{group_by=\"role\"}/4"),
        (
            "{}/{group_by=\"role\"}/{env=\"testing\"}",
            "{}/{group_by=\"role\"}/4/{env=\"testing\"}/0",
        ),
    ]
    .iter()
    .map(|(k, i)| (k.to_string(), i.to_string()))
    .collect();
    assert_eq!(got, want);
}
