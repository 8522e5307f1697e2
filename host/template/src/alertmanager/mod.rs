//! Alertmanager's notification templates (Alertmanager's `template` package): the data
//! ([`data`]), the functions ([`funcs`]) and [`Templates`], the set of the default templates and the
//! user's template files that notifications are rendered with, as text (`text/template`) or as HTML
//! (`html/template`'s contextual escaping, [`crate::html`]). Both run on this crate's engine with
//! `missingkey=zero`, as Alertmanager's do.
//!
//! Alertmanager 0.34 is followed where it differs from 0.25: `trimSpace`, `safeUrl`, `urlUnescape`,
//! `date`, `tz`, `since`, `humanizeDuration` and `toJson` exist (0.25 lacks them). Times are UTC:
//! `tz` accepts only the zones that are UTC and refuses others with an error.

pub mod data;
pub mod defaults;
pub mod funcs;

use std::path::Path;

pub use data::{Alert, AlertStatus, Data, ZERO_TIME_NS, alerts_value, kv_value, quote_meta};
pub use defaults::{DEFAULT_TEMPLATES, DEFAULT_TMPL, EMAIL_TMPL};
pub use funcs::{HTML_TYPE, URL_TYPE, alertmanager_funcs, am_title, query_unescape, to_json};

use crate::value::Value;
use crate::{Limits, MissingKey, Template, TemplateError, exec};

/// The largest template file read (Alertmanager reads whole files; this bounds memory).
pub const MAX_TEMPLATE_FILE_BYTES: u64 = 8 << 20;

impl Template<'_> {
    /// Runs the named template of the set on `data` as Go's `html/template` does: values printed by
    /// actions are escaped for where they land in the HTML document, comments are removed.
    pub fn execute_template_html(
        &self,
        name: &str,
        data: &Value,
        limits: Limits,
    ) -> Result<String, TemplateError> {
        let Some(tree) = self.trees.get(name) else {
            return Err(TemplateError(format!(
                "html/template: {} is undefined",
                crate::quote(name)
            )));
        };
        let mut state = exec::State::new(self, &self.funcs, tree, data.clone(), limits);
        state.html = Some(crate::html::Context::default());
        state.run(data).map_err(TemplateError)?;
        if let Some(c) = state.html.filter(|c| !c.is_text()) {
            let at = if name.is_empty() {
                String::new()
            } else {
                format!("{name}:")
            };
            return Err(TemplateError(format!(
                "html/template:{at} ends in a non-text context: {c}"
            )));
        }
        Ok(std::mem::take(&mut state.out))
    }
}

/// A set of notification templates: Alertmanager's `template.Template` (its text and HTML sets share
/// one parse here).
#[derive(Debug, Clone)]
pub struct Templates {
    set: Template<'static>,
    limits: Limits,
}

impl Default for Templates {
    fn default() -> Self {
        Templates::new()
    }
}

impl Templates {
    /// An empty set with Alertmanager's functions (`template.New`).
    pub fn new() -> Templates {
        let set = Template {
            name: String::new(),
            trees: Default::default(),
            funcs: alertmanager_funcs(),
            missing_key: MissingKey::Zero,
        };
        Templates {
            set,
            limits: Limits::default(),
        }
    }

    /// The same set with other execution bounds.
    pub fn with_limits(mut self, limits: Limits) -> Templates {
        self.limits = limits;
        self
    }

    /// Parses template text into the set under `name` (Go's `Parse` for the default templates, whose
    /// name is empty; a file's base name for `ParseGlob`): its `{{define}}`s join the set, replacing
    /// earlier ones of the same name. Errors read `template: NAME:LINE: …`.
    pub fn parse(&mut self, name: &str, text: &str) -> Result<(), TemplateError> {
        self.set.add(name, text)
    }

    /// Reads and parses one template file, named by its base name as Go's `ParseGlob` does. Files
    /// larger than [`MAX_TEMPLATE_FILE_BYTES`] are refused.
    pub fn parse_file(&mut self, path: &Path) -> Result<(), TemplateError> {
        use std::io::Read;
        let shown = path.display();
        let f =
            std::fs::File::open(path).map_err(|e| TemplateError(format!("open {shown}: {e}")))?;
        let mut text = String::new();
        let n = f
            .take(MAX_TEMPLATE_FILE_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|e| TemplateError(format!("read {shown}: {e}")))?;
        if n as u64 > MAX_TEMPLATE_FILE_BYTES {
            return Err(TemplateError(format!(
                "read {shown}: file is larger than {MAX_TEMPLATE_FILE_BYTES} bytes"
            )));
        }
        let base = path
            .file_name()
            .map(|b| b.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.parse(&base, &text)
    }

    /// Whether the set defines a template of this name.
    pub fn has(&self, name: &str) -> bool {
        self.set.lookup(name)
    }

    fn with_text(&self, text: &str) -> Result<Template<'static>, TemplateError> {
        let mut t = self.set.clone();
        t.add("", text)?;
        Ok(t)
    }

    /// Alertmanager's `ExecuteTextString`: `text` parsed as a template of the set (so it may call
    /// `{{ template "slack.default.title" . }}`) and run on `data`. An empty text gives an empty
    /// string.
    pub fn execute_text(&self, text: &str, data: &Value) -> Result<String, TemplateError> {
        if text.is_empty() {
            return Ok(String::new());
        }
        self.with_text(text)?
            .execute_template("", data, self.limits)
    }

    /// Alertmanager's `ExecuteHTMLString`: as [`Templates::execute_text`], with `html/template`'s
    /// escaping.
    pub fn execute_html(&self, text: &str, data: &Value) -> Result<String, TemplateError> {
        if text.is_empty() {
            return Ok(String::new());
        }
        self.with_text(text)?
            .execute_template_html("", data, self.limits)
    }
}
