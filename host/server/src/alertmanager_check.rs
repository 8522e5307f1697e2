//! `wasmetheus alertmanager check-config FILE…`: what `amtool
//! check-config` prints for the same Alertmanager configuration files, on
//! the same streams, with the same exit code (1 when any file fails). The
//! report of each file comes from `wasmetheus-alertmanager-config`; its
//! `templates` globs are parsed with Alertmanager's template functions, as
//! amtool's `template.FromGlobs` does (a glob matching nothing is fine).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use wasmetheus_template::alertmanager::Templates;

/// The arguments of `alertmanager check-config`, as amtool's.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckConfigArgs {
    /// The Alertmanager configuration files to check.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// Parses every file the `templates` globs of a configuration match.
fn check_templates(globs: &[String]) -> Result<(), String> {
    let mut templates = Templates::new();
    for pattern in globs {
        let paths = wasmetheus_config::glob::glob(pattern).map_err(|e| e.to_string())?;
        for path in paths {
            templates.parse_file(&path).map_err(|e| e.0)?;
        }
    }
    Ok(())
}

/// The report and outcome of one file.
pub fn check_file(path: &Path) -> (String, bool) {
    wasmetheus_alertmanager_config::check_config(path, check_templates)
}

/// Runs the command: each file's report on `out`, then amtool's summary
/// on `err` when a file failed; the exit code.
pub fn run(args: &CheckConfigArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    // amtool's flag parser refuses a missing file before anything is
    // checked (kingpin's `ExistingFiles`; its errors end with a blank line).
    if let Some(missing) = args.files.iter().find(|f| !f.exists()) {
        let _ = write!(
            err,
            "amtool: error: path '{}' does not exist\n\n",
            missing.display()
        );
        return 1;
    }
    let mut failed = 0;
    for file in &args.files {
        let (report, ok) = check_file(file);
        let _ = out.write_all(report.as_bytes());
        if !ok {
            failed += 1;
        }
    }
    let _ = out.flush();
    if failed > 0 {
        let _ = write!(
            err,
            "amtool: error: failed to validate {failed} file(s)\n\n"
        );
        return 1;
    }
    0
}

/// [`run`] on the process' standard streams.
pub fn run_command(args: &CheckConfigArgs) -> ExitCode {
    let code = run(
        args,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    ExitCode::from(code)
}
