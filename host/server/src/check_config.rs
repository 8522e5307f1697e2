//! `wasmetheus check config`: what `promtool check config` of Prometheus
//! 3.x prints for the same files, line for line, on the same streams, with
//! the same exit codes (1 for an error, 3 for lint problems under
//! `--lint-fatal`), followed by wasmetheus' own warnings (fields parsed and
//! validated that are not in effect yet, service discovery mechanisms that
//! are parsed but not run).
//!
//! As promtool, for each configuration file: the file itself; unless
//! `--syntax-only`, the rule files it names (globs expanded, explicit files
//! required), the authorization credentials and TLS client certificate and
//! key files of each scrape config and of its Kubernetes discovery (a
//! certificate without a key is an error even with `--syntax-only`), each
//! `file_sd_configs` file (a missing one is a warning, an unreadable or
//! malformed one an error) and the target groups of those files and of
//! `static_configs` through target relabeling; then the
//! `too-long-scrape-interval` lint and each rule file.
//!
//! Rule files are checked as Prometheus' `rulefmt` does (`rules.rs`, which
//! `check rules` shares): YAML shape (unknown fields rejected unless
//! `--ignore-unknown-fields`), group names, `record`/`alert`, `expr` parsed
//! as PromQL, the fields a recording rule may not have, label and
//! annotation names, alert templates, and the `duplicate-rules` lint.
//! Error texts are Prometheus'
//! with our YAML parser's own wording for YAML errors; a configuration
//! error reads `parsing YAML file FILE: LINE:COL: message`, Prometheus'
//! message with our position in front.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use wasmetheus_config::glob::glob;
use wasmetheus_config::{
    AlertmanagerConfig, Config, ConfigError, PromDuration, ScrapeConfig, TlsConfig,
};
use wasmetheus_model::Label;
use wasmetheus_model::go::clean_path as clean;
use wasmetheus_relabel::relabel;

use crate::scrape_targets::{TargetGroup, populate, scrape_options};

pub(crate) mod rules;

/// promtool's exit code for success.
pub const SUCCESS: u8 = 0;
/// promtool's exit code for an error in a file.
pub const FAILURE: u8 = 1;
/// promtool's exit code when only lint problems were found and
/// `--lint-fatal` is given.
pub const LINT_FAILURE: u8 = 3;

/// The lint options `--lint` accepts.
pub(crate) const LINT_ALL: &str = "all";
pub(crate) const LINT_DUPLICATE_RULES: &str = "duplicate-rules";
const LINT_TOO_LONG_SCRAPE_INTERVAL: &str = "too-long-scrape-interval";
pub(crate) const LINT_NONE: &str = "none";

/// The arguments of `check config`, as promtool's.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckConfigArgs {
    /// The config files to check.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Only check the config file syntax, ignoring file and content
    /// validation referenced in the config.
    #[arg(long)]
    pub syntax_only: bool,
    /// Linting checks to apply to the rules/scrape configs specified in the
    /// config. Available options are: all, duplicate-rules, none,
    /// too-long-scrape-interval. Use --lint=none to disable linting.
    #[arg(long, default_value = LINT_DUPLICATE_RULES)]
    pub lint: String,
    /// Make lint errors exit with exit code 3.
    #[arg(long)]
    pub lint_fatal: bool,
    /// Ignore unknown fields in the rule groups read by the config files
    /// (rule files extended with metadata of their own).
    #[arg(long)]
    pub ignore_unknown_fields: bool,
    /// The server's maximum query lookback duration (for the
    /// too-long-scrape-interval lint).
    #[arg(long = "query.lookback-delta", default_value = "5m", value_parser = PromDuration::parse_std)]
    pub lookback_delta: Duration,
}

/// What `--lint` asks for, read as promtool reads it.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Lint {
    pub(crate) duplicate_rules: bool,
    /// Zero: the scrape interval lint is off.
    pub(crate) lookback_delta: Duration,
    pub(crate) fatal: bool,
    /// `--ignore-unknown-fields`: rule files may carry fields of their own.
    pub(crate) ignore_unknown_fields: bool,
}

impl Lint {
    /// promtool's `newConfigLintConfig`: unknown options are warned about
    /// (on stdout) and otherwise ignored.
    fn parse(options: &str, fatal: bool, lookback: Duration, out: &mut dyn Write) -> Lint {
        let mut lint = Lint {
            fatal,
            ..Lint::default()
        };
        let mut rules = Vec::new();
        let mut none = false;
        for option in options.split(',') {
            match option {
                LINT_ALL | LINT_TOO_LONG_SCRAPE_INTERVAL => {
                    lint.lookback_delta = lookback;
                    if option == LINT_ALL {
                        rules.push(option);
                    }
                }
                LINT_NONE => none = true,
                other => rules.push(other),
            }
        }
        if none {
            lint.lookback_delta = Duration::ZERO;
            rules.clear();
        }
        if rules.is_empty() {
            return lint;
        }
        for option in rules {
            match option {
                LINT_ALL | LINT_DUPLICATE_RULES => lint.duplicate_rules = true,
                LINT_NONE => {}
                other => {
                    let _ = writeln!(out, "WARNING: unknown lint option: {}", go_quote(other));
                }
            }
        }
        lint
    }
}

/// `wasmetheus check config`: prints to stdout and stderr and exits as
/// promtool does.
pub fn run_command(args: &CheckConfigArgs) -> std::process::ExitCode {
    let code = run(args, &mut std::io::stdout(), &mut std::io::stderr());
    std::process::ExitCode::from(code)
}

/// Checks `args.files`, printing what promtool prints to `out` (stdout)
/// and `err` (stderr); the exit code.
pub fn run(args: &CheckConfigArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    // promtool's argument parser refuses a missing file before checking any.
    for file in &args.files {
        if !file.exists() {
            let _ = writeln!(
                err,
                "wasmetheus: error: path '{}' does not exist, try --help",
                file.display()
            );
            return FAILURE;
        }
    }
    let mut lint = Lint::parse(&args.lint, args.lint_fatal, args.lookback_delta, out);
    lint.ignore_unknown_fields = args.ignore_unknown_fields;
    let (mut failed, mut has_errors) = (false, false);
    for file in &args.files {
        let (loaded, checked) = check_file(file, args.syntax_only, out);
        let mut rule_files = Vec::new();
        let passed = checked.is_ok();
        match checked {
            Err(e) => {
                let _ = writeln!(err, "  FAILED: {e}");
                failed = true;
                has_errors = true;
            }
            Ok(found) => {
                if !found.is_empty() {
                    let _ = writeln!(out, "  SUCCESS: {} rule files found", found.len());
                }
                let _ = writeln!(
                    out,
                    " SUCCESS: {} is valid prometheus config file syntax",
                    file.display()
                );
                rule_files = found;
            }
        }
        let _ = writeln!(out);
        if !args.syntax_only {
            // promtool lints the scrape configs of a file that passed only.
            let scrape_configs = match &loaded {
                Some(config) if passed => config.scrape_configs.as_slice(),
                _ => &[][..],
            };
            failed |= lint_scrape_configs(scrape_configs, &lint, err);
            let (rules_failed, rules_errors) =
                rules::check_rule_files(&rule_files, &lint, out, err);
            failed |= rules_failed;
            has_errors |= rules_errors;
        }
        // Ours, after promtool's lines: what is parsed but not in effect
        // (known once the file loaded, whether or not the files it names
        // passed).
        let ours = loaded
            .as_ref()
            .map(|config| our_warnings(file, config))
            .unwrap_or_default();
        if !ours.is_empty() {
            for warning in &ours {
                let _ = writeln!(out, "  WARNING: {warning}");
            }
            let _ = writeln!(out);
        }
    }
    if failed && has_errors {
        FAILURE
    } else if failed && lint.fatal {
        LINT_FAILURE
    } else {
        SUCCESS
    }
}

/// What wasmetheus adds to promtool's lines for `config` (loaded from
/// `file`): the fields parsed but not in effect yet (`Config::warnings`),
/// then, once per scrape job and mechanism, the service discovery that is
/// parsed but not run, so produces no targets.
pub fn our_warnings(file: &Path, config: &Config) -> Vec<String> {
    let mut warnings = config.warnings.clone();
    let mut seen = HashSet::new();
    for status in crate::discovery::discovery_statuses(config) {
        if status.state == crate::discovery::DiscoveryState::NotRunning
            && seen.insert((status.job.clone(), status.mechanism.clone()))
        {
            warnings.push(format!(
                "{}: scrape job {}: {}",
                file.display(),
                go_quote(&status.job),
                status.reason
            ));
        }
    }
    warnings
}

/// Why a configuration file failed its check: the text after `FAILED: `.
type CheckError = String;

/// promtool's `checkConfig`: loads `file`, then checks the files it names.
/// The rule files found (paths as Prometheus resolves them) and the
/// configuration.
fn check_file(
    file: &Path,
    syntax_only: bool,
    out: &mut dyn Write,
) -> (Option<Config>, Result<Vec<PathBuf>, CheckError>) {
    let _ = writeln!(out, "Checking {}", file.display());
    let config = match Config::load(file) {
        Ok(config) => config,
        Err(e) => return (None, Err(describe_load_error(file, &e))),
    };
    let checked = check_named_files(&config, syntax_only, out);
    (Some(config), checked)
}

/// The files `config` (loaded from `file`) names, checked as promtool
/// checks them; the rule files found.
fn check_named_files(
    config: &Config,
    syntax_only: bool,
    out: &mut dyn Write,
) -> Result<Vec<PathBuf>, CheckError> {
    // Config::load joined every relative path with the file's directory,
    // as Prometheus' LoadFile does: the paths are used as they are.
    let mut rule_files = Vec::new();
    if !syntax_only {
        for pattern in &config.rule_files {
            let rf = pattern.0.clone();
            let found = glob(&rf).map_err(|e| e.to_string())?;
            // An explicit file must exist.
            if !pattern.0.contains('*') {
                let Some(first) = found.first() else {
                    return Err(format!(
                        "{} does not point to an existing file",
                        go_quote(&rf)
                    ));
                };
                stat(first).map_err(|e| {
                    format!(
                        "error checking rule file {}: {e}",
                        go_quote(&path_text(first))
                    )
                })?;
            }
            rule_files.extend(found);
        }
    }

    for scrape in &config.scrape_configs {
        let files = client_files(scrape);
        if !syntax_only && let Some(credentials) = &files.credentials_file {
            let path = credentials.clone();
            stat(Path::new(&path)).map_err(|e| {
                format!(
                    "error checking authorization credentials or bearer token file {}: {e}",
                    go_quote(&path)
                )
            })?;
        }
        check_tls_files(&files, syntax_only)?;
        if !syntax_only {
            for sd in &scrape.file_sd_configs {
                for pattern in &sd.files {
                    let joined = pattern.clone();
                    let found = glob(&joined).map_err(|e| e.to_string())?;
                    if found.is_empty() {
                        let _ = writeln!(
                            out,
                            "  WARNING: file {} for file_sd in scrape job {} does not exist",
                            go_quote(&joined),
                            go_quote(&scrape.job_name)
                        );
                        continue;
                    }
                    for sd_file in found {
                        let groups = check_sd_file(&sd_file)
                            .map_err(|e| format!("checking SD file {}: {e}", go_quote(&joined)))?;
                        check_target_groups(scrape, &groups)?;
                    }
                }
            }
        }
        // Kubernetes discovery's own TLS client files, as promtool checks
        // them.
        for sd in &scrape.kubernetes_sd_configs {
            check_tls_files(&tls_files(sd.tls_config.as_ref()), syntax_only)?;
        }
        let statics: Vec<TargetGroup> = scrape
            .static_configs
            .iter()
            .enumerate()
            .map(|(i, s)| TargetGroup {
                targets: s.targets.clone(),
                labels: s.labels.clone(),
                source: i.to_string(),
            })
            .collect();
        check_target_groups(scrape, &statics)?;
    }

    for alertmanager in &config.alerting.alertmanagers {
        if !syntax_only {
            for sd in &alertmanager.file_sd_configs {
                for pattern in &sd.files {
                    let joined = pattern.clone();
                    let found = glob(&joined).map_err(|e| e.to_string())?;
                    if found.is_empty() {
                        let _ = writeln!(
                            out,
                            "  WARNING: file {} for file_sd in alertmanager config does not exist",
                            go_quote(&joined)
                        );
                        continue;
                    }
                    for sd_file in found {
                        let groups = check_sd_file(&sd_file)
                            .map_err(|e| format!("checking SD file {}: {e}", go_quote(&joined)))?;
                        check_alertmanager_groups(alertmanager, &groups)?;
                    }
                }
            }
        }
        let statics: Vec<TargetGroup> = alertmanager
            .static_configs
            .iter()
            .map(|s| TargetGroup {
                targets: s.targets.clone(),
                labels: s.labels.clone(),
                source: String::new(),
            })
            .collect();
        check_alertmanager_groups(alertmanager, &statics)?;
    }
    Ok(rule_files)
}

/// A load error as promtool words it (`parsing YAML file FILE: …`), with
/// our position in front of Prometheus' message. An error in a file `scrape_config_files` names reads as promtool's
/// `error loading scrape configs: "ABSOLUTE PATH": …`.
fn describe_load_error(file: &Path, error: &ConfigError) -> String {
    match error {
        ConfigError::Invalid {
            path,
            line,
            column,
            message,
        } if path != file => {
            let shown = std::path::absolute(path).unwrap_or_else(|_| path.clone());
            format!(
                "error loading scrape configs: {}: {line}:{column}: {message}",
                go_quote(&path_text(&shown))
            )
        }
        ConfigError::Invalid {
            line,
            column,
            message,
            ..
        } => format!(
            "parsing YAML file {}: {line}:{column}: {message}",
            file.display()
        ),
        other => format!("parsing YAML file {}: {other}", file.display()),
    }
}

/// The files of a scrape config's HTTP client that promtool checks.
#[derive(Debug, Default)]
struct ClientFiles {
    credentials_file: Option<String>,
    cert_file: Option<String>,
    key_file: Option<String>,
}

fn client_files(scrape: &ScrapeConfig) -> ClientFiles {
    ClientFiles {
        credentials_file: scrape
            .authorization
            .as_ref()
            .and_then(|a| a.credentials_file.clone())
            .filter(|f| !f.is_empty()),
        ..tls_files(scrape.tls_config.as_ref())
    }
}

/// The client certificate and key files of a TLS config.
fn tls_files(tls: Option<&TlsConfig>) -> ClientFiles {
    ClientFiles {
        credentials_file: None,
        cert_file: tls
            .and_then(|t| t.cert_file.clone())
            .filter(|f| !f.is_empty()),
        key_file: tls
            .and_then(|t| t.key_file.clone())
            .filter(|f| !f.is_empty()),
    }
}

/// promtool's `checkTLSConfig`.
fn check_tls_files(files: &ClientFiles, syntax_only: bool) -> Result<(), CheckError> {
    let cert = files.cert_file.clone();
    let key = files.key_file.clone();
    match (&cert, &key) {
        (Some(cert), None) => {
            return Err(format!(
                "client cert file {} specified without client key file",
                go_quote(cert)
            ));
        }
        (None, Some(key)) => {
            return Err(format!(
                "client key file {} specified without client cert file",
                go_quote(key)
            ));
        }
        _ => {}
    }
    if syntax_only {
        return Ok(());
    }
    if let Some(cert) = &cert {
        stat(Path::new(cert))
            .map_err(|e| format!("error checking client cert file {}: {e}", go_quote(cert)))?;
    }
    if let Some(key) = &key {
        stat(Path::new(key))
            .map_err(|e| format!("error checking client key file {}: {e}", go_quote(key)))?;
    }
    Ok(())
}

/// promtool's `checkTargetGroupsForScrapeConfig`: the first target that
/// cannot be turned into a scrape target.
fn check_target_groups(scrape: &ScrapeConfig, groups: &[TargetGroup]) -> Result<(), CheckError> {
    let options = Arc::new(scrape_options(scrape));
    for group in groups {
        for (i, address) in group.targets.iter().enumerate() {
            if let Err(e) = populate(scrape, &options, address, &group.labels) {
                return Err(format!("instance {i} in group {}: {e}", group.source));
            }
        }
    }
    Ok(())
}

/// promtool's `checkTargetGroupsForAlertmanager` (Prometheus'
/// `AlertmanagerFromGroup`): each target with `__scheme__` and
/// `__alerts_path__` through the Alertmanager's `relabel_configs`; what is
/// kept must have a host name for its address.
fn check_alertmanager_groups(
    alertmanager: &AlertmanagerConfig,
    groups: &[TargetGroup],
) -> Result<(), CheckError> {
    let path = clean(&format!("/{}/api/v2/alerts", alertmanager.path_prefix));
    for group in groups {
        for address in &group.targets {
            // The target's address, the scheme and path, then the group's
            // labels (over the scheme and path too, as in Prometheus).
            let mut labels: BTreeMap<&str, &str> = BTreeMap::new();
            labels.insert("__scheme__", &alertmanager.scheme);
            labels.insert("__alerts_path__", &path);
            labels.extend(group.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            labels.insert("__address__", address);
            let labels: Vec<Label> = labels
                .into_iter()
                .map(|(name, value)| Label::new(name, value))
                .collect();
            let Some(kept) = relabel(&labels, &alertmanager.relabel_configs) else {
                continue;
            };
            let address = kept
                .iter()
                .find(|l| l.name == "__address__")
                .map_or("", |l| l.value.as_str());
            if address.contains('/') {
                return Err(format!("{} is not a valid hostname", go_quote(address)));
            }
        }
    }
    Ok(())
}

/// One element of a file SD document, as Prometheus' `targetgroup.Group`
/// reads it: JSON ignores unknown fields, YAML refuses them.
#[derive(Debug, Deserialize)]
struct JsonGroup {
    #[serde(default)]
    targets: Option<Vec<String>>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct YamlGroup {
    #[serde(default)]
    targets: Option<Vec<String>>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

/// A file SD group's targets and labels.
type SdGroup = (Vec<String>, BTreeMap<String, String>);

/// promtool's `checkSDFile`: the groups of one file SD file.
fn check_sd_file(path: &Path) -> Result<Vec<TargetGroup>, String> {
    let text = read_regular(path)?;
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    let raw: Vec<Option<SdGroup>> = match ext.to_ascii_lowercase().as_str() {
        ".json" => serde_json::from_slice::<Vec<Option<JsonGroup>>>(&text)
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|g| g.map(|g| (g.targets.unwrap_or_default(), g.labels.unwrap_or_default())))
            .collect(),
        ".yml" | ".yaml" => {
            let text = String::from_utf8_lossy(&text);
            if text.trim().is_empty() {
                Vec::new()
            } else {
                serde_saphyr::from_str::<Vec<Option<YamlGroup>>>(&text)
                    .map_err(|e| e.to_string())?
                    .into_iter()
                    .map(|g| {
                        g.map(|g| (g.targets.unwrap_or_default(), g.labels.unwrap_or_default()))
                    })
                    .collect()
            }
        }
        _ => return Err(format!("invalid file extension: {}", go_quote(&ext))),
    };
    let mut groups = Vec::with_capacity(raw.len());
    for (i, group) in raw.into_iter().enumerate() {
        let Some((targets, labels)) = group else {
            return Err(format!("nil target group item found (index {i})"));
        };
        if let Some(name) = labels.keys().find(|name| name.is_empty()) {
            return Err(format!("{} is not a valid label name", go_quote(name)));
        }
        groups.push(TargetGroup {
            targets,
            labels,
            source: format!("{}:{i}", path_text(path)),
        });
    }
    Ok(groups)
}

/// promtool's `lintScrapeConfigs`: a scrape interval at or over the lookback
/// delta makes every sample stale between scrapes.
fn lint_scrape_configs(scrape_configs: &[ScrapeConfig], lint: &Lint, err: &mut dyn Write) -> bool {
    if lint.lookback_delta.is_zero() {
        return false;
    }
    for scrape in scrape_configs {
        if scrape.scrape_interval.0 >= lint.lookback_delta {
            let _ = writeln!(
                err,
                "  FAILED: too long scrape interval found, data point will be marked as stale - job: {}, interval: {}",
                scrape.job_name, scrape.scrape_interval
            );
            return true;
        }
    }
    false
}

/// A string quoted as Go's `%q` quotes it (the one `strconv.Quote`, in
/// `wasmetheus_model::go`).
pub(crate) use wasmetheus_model::go::quote as go_quote;

fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// An IO error as Go's `os` package words it: `op path: message` (the one
/// in `wasmetheus_model::go`).
use wasmetheus_model::go::path_error as go_io_error;

/// The bytes of a file a configuration names. Only a regular file is
/// read: a FIFO or a device matched by a glob would block the check or
/// never end (promtool would wait), so it is an error here.
fn read_regular(path: &Path) -> Result<Vec<u8>, String> {
    let metadata = std::fs::metadata(path).map_err(|e| go_io_error("open", path, &e))?;
    if !metadata.is_file() {
        return Err(format!("read {}: not a regular file", path.display()));
    }
    std::fs::read(path).map_err(|e| go_io_error("read", path, &e))
}

/// Go's `os.Stat`, its error worded as Go's.
fn stat(path: &Path) -> Result<(), String> {
    std::fs::metadata(path)
        .map(|_| ())
        .map_err(|e| go_io_error("stat", path, &e))
}
