//! `amtool check-config`'s report for one file: `Checking 'F'  SUCCESS`
//! (or `  FAILED: <error>`), then what was found and whether the templates
//! load. The templates are checked by a caller-supplied function (the
//! template engine lives in another crate).

use std::path::Path;

use crate::config::Config;

/// The report `amtool check-config FILE` prints for `path` and whether the
/// file passed. `check_templates` loads the template globs and returns
/// upstream's error text when they do not parse.
pub fn check_config(
    path: &Path,
    check_templates: impl Fn(&[String]) -> Result<(), String>,
) -> (String, bool) {
    let mut out = format!("Checking '{}'", path.display());
    let config = match Config::load(path) {
        Ok(c) => {
            out.push_str("  SUCCESS\n");
            c
        }
        Err(e) => {
            out.push_str(&format!("  FAILED: {}\n\n", e.message()));
            return (out, false);
        }
    };
    let mut ok = true;
    out.push_str("Found:\n");
    out.push_str(" - global config\n");
    out.push_str(" - route\n");
    out.push_str(&format!(
        " - {} inhibit rules\n",
        config.inhibit_rules.len()
    ));
    out.push_str(&format!(" - {} receivers\n", config.receivers.len()));
    out.push_str(&format!(" - {} templates\n", config.templates.len()));
    if !config.templates.is_empty() {
        match check_templates(&config.templates) {
            Ok(()) => out.push_str("  SUCCESS\n"),
            Err(e) => {
                out.push_str(&format!("  FAILED: {e}\n"));
                ok = false;
            }
        }
    }
    out.push('\n');
    (out, ok)
}
