//! Alertmanager's default notification templates, built into the binary as Alertmanager embeds
//! them: `default.tmpl` (`slack.default.title`, `__subject`, …) and `email.tmpl` (the CSS-inlined
//! `email.default.html`), Alertmanager 0.34.0's files unchanged under an attribution comment.
//! [`Templates::with_defaults`] and [`Templates::with_defaults_and`] build the set every
//! notification is rendered with, as Alertmanager's `template.FromGlobs` does: the defaults first,
//! then the user's files, whose `define`s replace default ones of the same name.

use super::Templates;
use crate::TemplateError;

/// Alertmanager 0.34.0's `template/default.tmpl`.
pub const DEFAULT_TMPL: &str = include_str!("default.tmpl");

/// Alertmanager 0.34.0's `template/email.tmpl` (`email.default.subject`, `email.default.html`).
pub const EMAIL_TMPL: &str = include_str!("email.tmpl");

/// The embedded default template files, in the order Alertmanager parses them.
pub const DEFAULT_TEMPLATES: [(&str, &str); 2] =
    [("default.tmpl", DEFAULT_TMPL), ("email.tmpl", EMAIL_TMPL)];

/// The name Go's `ParseGlob` gives a template file: its base name.
fn base_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

impl Templates {
    /// The default templates with Alertmanager's functions (`template.FromGlobs` with no user
    /// files). The defaults are parsed as Go's `Parse` does: under the empty name.
    pub fn with_defaults() -> Templates {
        let mut t = Templates::new();
        for (file, text) in DEFAULT_TEMPLATES {
            if let Err(e) = t.parse("", text) {
                // The embedded files are fixed at build time; a test parses them.
                unreachable!("embedded {file} does not parse: {e}");
            }
        }
        t
    }

    /// The default templates, then the user's template files `(path, contents)` in order, each
    /// parsed under its base name as `ParseGlob` names files: a user `define` replaces a default
    /// (or an earlier file's) template of the same name. Errors name the file.
    pub fn with_defaults_and<N: AsRef<str>, T: AsRef<str>>(
        files: &[(N, T)],
    ) -> Result<Templates, TemplateError> {
        let mut t = Templates::with_defaults();
        for (path, text) in files {
            t.parse(base_name(path.as_ref()), text.as_ref())?;
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_names_are_what_parse_glob_uses() {
        assert_eq!(base_name("/etc/am/templates/slack.tmpl"), "slack.tmpl");
        assert_eq!(base_name("slack.tmpl"), "slack.tmpl");
        assert_eq!(base_name(""), "");
    }

    #[test]
    fn user_defines_replace_defaults() {
        let t = Templates::with_defaults_and(&[(
            "/x/mine.tmpl",
            r#"{{ define "slack.default.title" }}mine{{ end }}"#,
        )])
        .expect("parses");
        let data = super::super::Data {
            receiver: "r".into(),
            status: "resolved".into(),
            alerts: Vec::new(),
            group_labels: Default::default(),
            common_labels: Default::default(),
            common_annotations: Default::default(),
            external_url: String::new(),
        }
        .to_value();
        assert_eq!(
            t.execute_text(r#"{{ template "slack.default.title" . }}"#, &data)
                .expect("runs"),
            "mine"
        );
        let d = Templates::with_defaults();
        assert_eq!(
            d.execute_text(r#"{{ template "slack.default.color" . }}"#, &data)
                .expect("runs"),
            "good"
        );
    }

    #[test]
    fn a_broken_user_file_is_an_error_naming_it() {
        let e = Templates::with_defaults_and(&[("/x/bad.tmpl", "{{ define \"a\" }}")])
            .expect_err("unterminated define");
        assert!(e.0.contains("bad.tmpl"), "{e}");
    }
}
