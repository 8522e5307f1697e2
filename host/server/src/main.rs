//! The `wasmetheus` binary: command-line interface and process wiring.

/// Scraping allocates and frees many small strings per sample; mimalloc
/// does that several times cheaper than glibc's malloc under threads.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// A Prometheus-compatible monitoring server with WebAssembly exporters.
#[derive(Debug, Parser)]
#[command(name = "wasmetheus", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size of the serve flags costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the server.
    Serve(wasmetheus::serve::ServeArgs),
    /// Checks files without running anything.
    Check {
        #[command(subcommand)]
        what: Check,
    },
    /// Runs test scripts.
    Test {
        /// File path to store JUnit XML test results (test rules; before
        /// or after the subcommand, as promtool's).
        #[arg(long, global = true)]
        junit: Option<PathBuf>,
        #[command(subcommand)]
        what: Test,
    },
    /// Works on a TSDB data directory.
    Tsdb {
        #[command(subcommand)]
        what: Tsdb,
    },
    /// Runs a query against a Prometheus-compatible server (like promtool's).
    Query(wasmetheus_query_cli::QueryArgs),
    /// Runs the Alertmanager (Alertmanager's flags), or with a subcommand
    /// its tools, as amtool's.
    #[command(args_conflicts_with_subcommands = true)]
    Alertmanager {
        #[command(subcommand)]
        what: Option<Alertmanager>,
        #[command(flatten)]
        args: wasmetheus::serve::alertmanager::AlertmanagerArgs,
    },
}

#[derive(Debug, Subcommand)]
enum Alertmanager {
    /// Validates Alertmanager configuration files, printing what `amtool
    /// check-config` prints.
    CheckConfig(wasmetheus::alertmanager_check::CheckConfigArgs),
}

#[derive(Debug, Subcommand)]
enum Test {
    /// Runs PromQL test scripts in Prometheus' `promqltest` format (as in
    /// ../shared/conformance/promql/*.test).
    Promql {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Unit tests for rules, in promtool's format (`promtool test rules`).
    Rules(TestRulesArgs),
}

/// `test rules`' flags, as promtool's.
#[derive(Debug, clap::Args)]
struct TestRulesArgs {
    /// The unit test files.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// If set, will only run test groups whose names match the regular
    /// expression. Can be specified multiple times.
    #[arg(long)]
    run: Vec<String>,
    /// [Experimental] Print colored differential output between expected &
    /// received output.
    #[arg(long)]
    diff: bool,
    /// Ignore unknown fields in the rule files read by the test files.
    #[arg(long)]
    ignore_unknown_fields: bool,
    /// Enable unit test debugging.
    #[arg(long)]
    debug: bool,
}

#[derive(Debug, Subcommand)]
enum Tsdb {
    /// Imports samples into a data directory (like promtool's).
    CreateBlocksFrom {
        #[command(subcommand)]
        format: ImportFormat,
    },
}

#[derive(Debug, Subcommand)]
enum ImportFormat {
    /// An OpenMetrics text file in which every sample has a timestamp.
    Openmetrics {
        /// The OpenMetrics file.
        file: PathBuf,
        /// The data directory (a server's --storage.tsdb.path).
        #[arg(default_value = "data/")]
        data_dir: PathBuf,
        /// Widest block to write: as promtool, the widest of 2h, 6h, 18h,
        /// 54h, … (tripling) that fits, and at least 2h.
        #[arg(long = "max-block-duration", default_value = "2h", value_parser = wasmetheus_config::PromDuration::parse_std)]
        block_duration: std::time::Duration,
    },
}

#[derive(Debug, Subcommand)]
enum Check {
    /// Checks configuration files (prometheus.yml with a `plugins` section),
    /// printing what `promtool check config` prints.
    Config(wasmetheus::check_config::CheckConfigArgs),
    /// Checks rule files (standard input without files), printing what
    /// `promtool check rules` prints.
    Rules(wasmetheus::check_rules::CheckRulesArgs),
    /// Loads plugins in the real runtime and checks their metadata, that
    /// collect works within limits, and that their output is valid.
    Plugins(wasmetheus::check_plugins::CheckPluginsArgs),
    /// Checks web configuration files (--web.config.file), as promtool's
    /// `check web-config`: YAML, headers, bcrypt hashes, certificates.
    WebConfig {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    // The plugin compiler process the server starts (hidden: not for
    // people); nothing else of the server runs in it.
    if std::env::args_os().nth(1).as_deref()
        == Some(std::ffi::OsStr::new(
            wasmetheus_plugin_runtime::COMPILE_SUBCOMMAND,
        ))
    {
        return wasmetheus_plugin_runtime::compiler_main();
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => wasmetheus::serve::run(args),
        // Prints its own errors, worded and formatted as promtool's.
        Command::Query(args) => return wasmetheus_query_cli::run_command(args),
        Command::Alertmanager {
            what: Some(Alertmanager::CheckConfig(args)),
            ..
        } => return wasmetheus::alertmanager_check::run_command(&args),
        Command::Alertmanager { what: None, args } => wasmetheus::serve::alertmanager::run(args),
        // Prints and exits as promtool's `check config`.
        Command::Check {
            what: Check::Config(args),
        } => return wasmetheus::check_config::run_command(&args),
        // Prints and exits as promtool's `check rules`.
        Command::Check {
            what: Check::Rules(args),
        } => return wasmetheus::check_rules::run_command(&args),
        Command::Check {
            what: Check::Plugins(args),
        } => check_plugins(&args),
        // promtool's lines, on standard error.
        Command::Check {
            what: Check::WebConfig { files },
        } => return check_web_config(&files),
        Command::Test {
            what: Test::Promql { files },
            junit,
        } => match junit {
            Some(_) => Err(anyhow::anyhow!("--junit is for test rules only")),
            None => test_promql(&files),
        },
        // promtool's report and exit status.
        Command::Test {
            what: Test::Rules(args),
            junit,
        } => return test_rules(args, junit),
        Command::Tsdb {
            what:
                Tsdb::CreateBlocksFrom {
                    format:
                        ImportFormat::Openmetrics {
                            file,
                            data_dir,
                            block_duration,
                        },
                },
        } => wasmetheus::backfill::run(&file, &data_dir, block_duration),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn test_promql(files: &[PathBuf]) -> anyhow::Result<()> {
    let counts = wasmetheus::test_promql::run(files)?;
    if counts.failed > 0 {
        anyhow::bail!("{} PromQL test cases failed", counts.failed);
    }
    Ok(())
}

fn test_rules(args: TestRulesArgs, junit: Option<PathBuf>) -> ExitCode {
    let args = wasmetheus_ruletest::TestRulesArgs {
        files: args.files,
        run: args.run,
        junit,
        diff: args.diff,
        ignore_unknown_fields: args.ignore_unknown_fields,
        debug: args.debug,
    };
    let code = wasmetheus_ruletest::run(&args, &mut std::io::stdout(), &mut std::io::stderr());
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn check_plugins(args: &wasmetheus::check_plugins::CheckPluginsArgs) -> anyhow::Result<()> {
    let failed = wasmetheus::check_plugins::run(args)?;
    if failed > 0 {
        anyhow::bail!(
            "{failed} of {} plugins failed their checks",
            args.files.len()
        );
    }
    Ok(())
}

/// `check web-config`: `<file> SUCCESS` or `<file> FAILED: <error>` per
/// file on standard error, as promtool; fails if any failed.
fn check_web_config(files: &[PathBuf]) -> ExitCode {
    if wasmetheus_web::check_files(files, &mut std::io::stderr()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `test rules`' flags as promtool takes them: `--junit` before or
    /// after `rules`, `--run` repeated.
    #[test]
    fn test_rules_flags() {
        for argv in [
            &[
                "wasmetheus",
                "test",
                "--junit",
                "j.xml",
                "rules",
                "--run",
                "a",
                "--run",
                "b",
                "t.yml",
            ][..],
            &[
                "wasmetheus",
                "test",
                "rules",
                "t.yml",
                "--junit=j.xml",
                "--run=a",
                "--run=b",
            ][..],
        ] {
            let cli = Cli::try_parse_from(argv).unwrap();
            let Command::Test {
                junit,
                what: Test::Rules(args),
            } = cli.command
            else {
                panic!("not test rules: {argv:?}");
            };
            assert_eq!(junit, Some(PathBuf::from("j.xml")), "{argv:?}");
            assert_eq!(args.run, ["a", "b"], "{argv:?}");
            assert_eq!(args.files, [PathBuf::from("t.yml")], "{argv:?}");
            assert!(!args.diff && !args.ignore_unknown_fields && !args.debug);
        }
        let cli = Cli::try_parse_from([
            "wasmetheus",
            "test",
            "rules",
            "--diff",
            "--ignore-unknown-fields",
            "--debug",
            "t.yml",
        ])
        .unwrap();
        let Command::Test {
            what: Test::Rules(args),
            ..
        } = cli.command
        else {
            panic!("not test rules");
        };
        assert!(args.diff && args.ignore_unknown_fields && args.debug);
        assert!(Cli::try_parse_from(["wasmetheus", "test", "rules"]).is_err());
    }

    /// `alertmanager` runs the server with Alertmanager's flags;
    /// `alertmanager check-config` stays amtool's check.
    #[test]
    fn alertmanager_runs_or_checks() {
        let cli = Cli::try_parse_from([
            "wasmetheus",
            "alertmanager",
            "--config.file=am.yml",
            "--cluster.listen-address=",
            "--web.listen-address=127.0.0.1:9093",
        ])
        .unwrap();
        let Command::Alertmanager { what: None, args } = cli.command else {
            panic!("not the Alertmanager server");
        };
        assert_eq!(args.config_file, PathBuf::from("am.yml"));
        assert_eq!(args.listen_address, "127.0.0.1:9093");
        let cli = Cli::try_parse_from([
            "wasmetheus",
            "alertmanager",
            "check-config",
            "a.yml",
            "b.yml",
        ])
        .unwrap();
        let Command::Alertmanager {
            what: Some(Alertmanager::CheckConfig(args)),
            ..
        } = cli.command
        else {
            panic!("not check-config");
        };
        assert_eq!(args.files.len(), 2);
    }

    /// `check rules` takes no file to read standard input.
    #[test]
    fn check_rules_flags() {
        let cli =
            Cli::try_parse_from(["wasmetheus", "check", "rules", "--lint=all", "--lint-fatal"])
                .unwrap();
        let Command::Check {
            what: Check::Rules(args),
        } = cli.command
        else {
            panic!("not check rules");
        };
        assert!(args.files.is_empty() && args.lint_fatal && !args.ignore_unknown_fields);
        assert_eq!(args.lint, "all");
    }
}
