//! Compiling a component in a child process, so that a `.wasm` built to be
//! slow or huge to compile costs the server neither its memory nor CPU time
//! past the compile timeout.
//!
//! The child is the server's own executable run with a hidden subcommand
//! ([`COMPILE_SUBCOMMAND`], which calls [`compiler_main`]): it reads the
//! component on stdin and writes `Engine::precompile_component`'s output,
//! made with the server engine's compiler settings, on stdout. It starts
//! with an empty environment, in `/`, with stdin and stdout as pipes and
//! stderr on `/dev/null` (every other descriptor of the server is
//! close-on-exec), and under limits set before exec:
//!
//! - data size (`RLIMIT_DATA`): the compile memory limit. It counts what
//!   the allocator maps writable, not address space merely reserved, so
//!   wasmtime's and the allocator's reservations do not trip it; an
//!   allocation past it aborts the child;
//! - CPU time (`RLIMIT_CPU`): the compile timeout times the CPUs, a
//!   backstop should the server fail to kill the child;
//! - no core dumps, and SIGKILL when the thread that started it ends.
//!
//! The server kills (SIGKILL) and reaps the child when the compile timeout
//! passes or the runtime is dropped, and reads at most the memory limit of
//! its output.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The hidden subcommand of the server's executable that runs
/// [`compiler_main`].
pub const COMPILE_SUBCOMMAND: &str = "__compile-plugin";

/// The default of [`CompilerCommand::memory_limit`]: 2 GiB.
pub const DEFAULT_COMPILE_MEMORY_LIMIT: u64 = 2 << 30;

/// Exit code of a compiler process that refused the component; its stdout
/// holds wasmtime's error.
const EXIT_INVALID: u8 = 2;
/// Exit code of a compiler process that could not read or write its pipes.
const EXIT_IO: u8 = 3;
/// Most bytes of a compile error the server keeps.
const MAX_ERROR_LEN: usize = 4096;
/// How often the server checks the child for its end, the timeout and a
/// stop.
const POLL: Duration = Duration::from_millis(5);

/// How to start the compiler process: a program whose arguments make it
/// run [`compiler_main`], normally the server's own executable with
/// [`COMPILE_SUBCOMMAND`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompilerCommand {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// Most memory the compiler process may allocate (its data size
    /// limit); a compilation needing more fails.
    pub memory_limit: u64,
}

impl CompilerCommand {
    /// `program` [`COMPILE_SUBCOMMAND`], with the default memory limit.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        CompilerCommand {
            program: program.into(),
            args: vec![COMPILE_SUBCOMMAND.into()],
            memory_limit: DEFAULT_COMPILE_MEMORY_LIMIT,
        }
    }
}

/// Why the compiler process gave no artifact.
#[derive(Debug, thiserror::Error)]
pub enum CompilerError {
    #[error("cannot start the compiler process {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    /// wasmtime refused the component (the child's message).
    #[error("{0}")]
    Invalid(String),
    #[error(
        "compiling it needs more memory than the compile memory limit of {limit} (the compiler \
         process ended by {signal}, as it does when an allocation fails); make the component \
         smaller or raise --plugins.compile-memory-limit"
    )]
    MemoryLimit { limit: String, signal: &'static str },
    #[error(
        "compilation did not finish within {0:?} and the compiler process was killed; the \
         component is too large or too complex (split it, or build it with optimisations)"
    )]
    Timeout(Duration),
    #[error("the compiler process used up its CPU time limit of {0} s and was stopped")]
    CpuLimit(u64),
    #[error(
        "the compiler process was ended by signal {0} (a SIGKILL, 9, not sent by the server is \
         usually the kernel's out-of-memory killer: keep --plugins.compile-memory-limit below \
         the memory the machine has free)"
    )]
    Signal(i32),
    #[error("the compiler process was stopped: the plugin runtime shut down")]
    Stopped,
    #[error(
        "the compiler process failed ({0}) without an artifact; run `<server> {COMPILE_SUBCOMMAND} \
         < file.wasm > /dev/null` to see its error"
    )]
    Failed(ExitStatus),
    #[error(
        "the compiler process wrote more than the compile memory limit of {limit}; raise \
         --plugins.compile-memory-limit"
    )]
    ArtifactTooLarge { limit: String },
    #[error("exchanging data with the compiler process: {0}")]
    Io(std::io::Error),
}

/// The CPU seconds a compilation may use: the timeout on every CPU, and one
/// more second, so the limit only catches a child the server failed to
/// kill.
fn cpu_limit(timeout: Duration) -> u64 {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    timeout
        .as_secs()
        .saturating_add(1)
        .saturating_mul(cpus)
        .saturating_add(1)
}

/// Sets `resource`'s soft and hard limits to `value`, or to the hard limit
/// already in force when that is lower. Runs between fork and exec: system
/// calls only, no allocation.
fn limit(resource: rustix::process::Resource, value: u64) -> std::io::Result<()> {
    let hard = rustix::process::getrlimit(resource).maximum;
    let value = hard.map_or(value, |hard| hard.min(value));
    rustix::process::setrlimit(
        resource,
        rustix::process::Rlimit {
            current: Some(value),
            maximum: Some(value),
        },
    )?;
    Ok(())
}

impl CompilerCommand {
    /// The compiled form of `bytes`, from a child process, which is killed
    /// at `deadline`, `timeout` after it started at the latest, or when
    /// `stop` is set.
    pub(crate) fn compile(
        &self,
        bytes: &[u8],
        timeout: Duration,
        deadline: Instant,
        stop: &AtomicBool,
    ) -> Result<Vec<u8>, CompilerError> {
        let deadline = deadline.min(Instant::now() + timeout);
        let memory = self.memory_limit;
        let cpu = cpu_limit(timeout);
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .env_clear()
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        // SAFETY: the closure runs in the forked child before exec; it
        // makes system calls only (no allocation, no locks).
        unsafe {
            command.pre_exec(move || {
                use rustix::process::{Resource, Signal, set_parent_process_death_signal};
                limit(Resource::Data, memory)?;
                limit(Resource::Cpu, cpu)?;
                limit(Resource::Core, 0)?;
                // The thread that starts the child waits for it: when that
                // thread is gone (the server died), so is the child.
                set_parent_process_death_signal(Some(Signal::KILL))?;
                Ok(())
            });
        }
        let mut child = command.spawn().map_err(|source| CompilerError::Spawn {
            program: self.program.display().to_string(),
            source,
        })?;
        let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            kill(&mut child);
            return Err(CompilerError::Io(std::io::Error::other(
                "the compiler process has no pipes",
            )));
        };
        std::thread::scope(|scope| {
            // Both pipes are served by threads of their own, so a child that
            // neither reads nor writes holds up nothing but them; killing
            // it ends both.
            let writer = std::thread::Builder::new()
                .name("compiler-stdin".into())
                .spawn_scoped(scope, move || {
                    // A child that dies early closes the pipe: its status
                    // says why, not this write's error.
                    let _ = stdin.write_all(bytes);
                });
            let reader = std::thread::Builder::new()
                .name("compiler-stdout".into())
                .spawn_scoped(scope, move || {
                    let mut output = Vec::new();
                    // Past the limit the pipe is closed; the child's next
                    // write fails and it exits.
                    stdout
                        .take(memory.saturating_add(1))
                        .read_to_end(&mut output)
                        .map(|_| output)
                });
            let (writer, reader) = match (writer, reader) {
                (Ok(writer), Ok(reader)) => (writer, reader),
                (Err(e), _) | (_, Err(e)) => {
                    kill(&mut child);
                    return Err(CompilerError::Io(e));
                }
            };
            let status = loop {
                match child.try_wait() {
                    Ok(Some(status)) => break status,
                    Ok(None) => {}
                    Err(e) => {
                        kill(&mut child);
                        return Err(CompilerError::Io(e));
                    }
                }
                if stop.load(Ordering::Relaxed) {
                    kill(&mut child);
                    return Err(CompilerError::Stopped);
                }
                if Instant::now() >= deadline {
                    kill(&mut child);
                    return Err(CompilerError::Timeout(timeout));
                }
                std::thread::sleep(POLL);
            };
            let _ = writer.join();
            let output = match reader.join() {
                Ok(Ok(output)) => output,
                Ok(Err(e)) => return Err(CompilerError::Io(e)),
                Err(_) => return Err(CompilerError::Io(std::io::Error::other("reader failed"))),
            };
            self.outcome(status, output, cpu)
        })
    }

    fn outcome(
        &self,
        status: ExitStatus,
        mut output: Vec<u8>,
        cpu: u64,
    ) -> Result<Vec<u8>, CompilerError> {
        let limit = || wasmetheus_config::ByteSize(self.memory_limit).to_string();
        if output.len() as u64 > self.memory_limit {
            return Err(CompilerError::ArtifactTooLarge { limit: limit() });
        }
        match (status.code(), status.signal()) {
            (Some(0), _) => Ok(output),
            (Some(code), _) if code == i32::from(EXIT_INVALID) => {
                output.truncate(MAX_ERROR_LEN);
                Err(CompilerError::Invalid(
                    String::from_utf8_lossy(&output).into_owned(),
                ))
            }
            // An allocation past RLIMIT_DATA fails, and Rust aborts; a
            // mapping the loader or a thread's stack needs faults.
            (_, Some(signal)) if signal == rustix::process::Signal::ABORT.as_raw() => {
                Err(CompilerError::MemoryLimit {
                    limit: limit(),
                    signal: "SIGABRT",
                })
            }
            (_, Some(signal)) if signal == rustix::process::Signal::SEGV.as_raw() => {
                Err(CompilerError::MemoryLimit {
                    limit: limit(),
                    signal: "SIGSEGV",
                })
            }
            (_, Some(signal)) if signal == rustix::process::Signal::XCPU.as_raw() => {
                Err(CompilerError::CpuLimit(cpu))
            }
            (_, Some(signal)) => Err(CompilerError::Signal(signal)),
            _ => Err(CompilerError::Failed(status)),
        }
    }
}

/// SIGKILL, then reap, so that no process is left behind, not even a
/// zombie.
fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// The compiler process: reads a component on stdin, writes its compiled
/// form on stdout (exit 0), or wasmtime's error on stdout (exit 2).
pub fn compiler_main() -> ExitCode {
    let mut bytes = Vec::new();
    if std::io::stdin().lock().read_to_end(&mut bytes).is_err() {
        return ExitCode::from(EXIT_IO);
    }
    let compiled = crate::engine::build_compiler().and_then(|e| e.precompile_component(&bytes));
    drop(bytes);
    let mut stdout = std::io::stdout().lock();
    let (written, code) = match compiled {
        Ok(artifact) => (stdout.write_all(&artifact), ExitCode::SUCCESS),
        Err(e) => (
            stdout.write_all(format!("{e:#}").as_bytes()),
            ExitCode::from(EXIT_INVALID),
        ),
    };
    match written.and_then(|()| stdout.flush()) {
        Ok(()) => code,
        Err(_) => ExitCode::from(EXIT_IO),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A "compiler" that is a shell script.
    fn sh(script: &str, memory_limit: u64) -> CompilerCommand {
        CompilerCommand {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            memory_limit,
        }
    }

    fn run(script: &str, timeout: Duration) -> Result<Vec<u8>, CompilerError> {
        let far = Instant::now() + Duration::from_secs(3600);
        sh(script, 64 << 20).compile(b"input", timeout, far, &AtomicBool::new(false))
    }

    #[test]
    fn the_child_gets_the_bytes_and_no_environment_and_its_limits() {
        let out = run(
            "cat; echo; env; echo; ulimit -d; ulimit -c; pwd",
            Duration::from_secs(10),
        )
        .unwrap();
        let out = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "input");
        // Only what the shell sets itself, nothing inherited.
        assert!(!out.contains("PATH=/"), "{out}");
        assert!(!out.contains("HOME="), "{out}");
        assert!(!out.contains("CARGO"), "{out}");
        let n = lines.len();
        assert_eq!(
            lines[n - 3],
            (64 << 10).to_string(),
            "data size in KiB: {out}"
        );
        assert_eq!(lines[n - 2], "0", "core size: {out}");
        assert_eq!(lines[n - 1], "/");
    }

    /// Whether a process `pid` exists (zombies included).
    fn exists(pid: u32) -> bool {
        std::path::Path::new(&format!("/proc/{pid}")).exists()
    }

    #[test]
    fn a_slow_child_is_killed_and_reaped_at_the_timeout() {
        let pid_file = tempfile::NamedTempFile::new().unwrap();
        let script = format!("echo $$ > {}; exec sleep 60", pid_file.path().display());
        let started = Instant::now();
        let error = run(&script, Duration::from_millis(300)).unwrap_err();
        assert!(matches!(error, CompilerError::Timeout(_)), "{error}");
        assert!(started.elapsed() < Duration::from_secs(30));
        let pid: u32 = std::fs::read_to_string(pid_file.path())
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(!exists(pid), "the compiler process {pid} is still there");
    }

    #[test]
    fn a_child_is_killed_at_the_loads_deadline_if_that_comes_first() {
        let started = Instant::now();
        let error = sh("exec sleep 60", 1 << 20)
            .compile(
                b"",
                Duration::from_secs(60),
                started + Duration::from_millis(200),
                &AtomicBool::new(false),
            )
            .unwrap_err();
        assert!(matches!(error, CompilerError::Timeout(_)), "{error}");
        assert!(started.elapsed() < Duration::from_secs(30));
    }

    #[test]
    fn a_stop_kills_the_child() {
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let stopping = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            stopping.store(true, Ordering::Relaxed);
        });
        let error = sh("exec sleep 60", 1 << 20)
            .compile(
                b"",
                Duration::from_secs(60),
                Instant::now() + Duration::from_secs(60),
                &stop,
            )
            .unwrap_err();
        assert!(matches!(error, CompilerError::Stopped), "{error}");
    }

    #[test]
    fn how_the_child_ended_is_reported() {
        let secs = Duration::from_secs(10);
        let invalid = run("cat > /dev/null; printf 'bad magic'; exit 2", secs).unwrap_err();
        assert_eq!(invalid.to_string(), "bad magic");
        for signal in ["ABRT", "SEGV"] {
            let oom = run(&format!("kill -{signal} $$"), secs)
                .unwrap_err()
                .to_string();
            assert!(
                oom.contains("compile memory limit of 64MiB")
                    && oom.contains(&format!("ended by SIG{signal}"))
                    && oom.contains("--plugins.compile-memory-limit"),
                "{oom}"
            );
        }
        let cpu = run("kill -XCPU $$", secs).unwrap_err();
        assert!(matches!(cpu, CompilerError::CpuLimit(_)), "{cpu}");
        let killed = run("kill -KILL $$", secs).unwrap_err();
        assert!(matches!(killed, CompilerError::Signal(9)), "{killed}");
        let failed = run("exit 101", secs).unwrap_err();
        assert!(matches!(failed, CompilerError::Failed(_)), "{failed}");
        let missing = CompilerCommand::new("/nonexistent/wasmetheus")
            .compile(b"", secs, Instant::now() + secs, &AtomicBool::new(false))
            .unwrap_err();
        assert!(matches!(missing, CompilerError::Spawn { .. }), "{missing}");
    }

    #[test]
    fn output_past_the_memory_limit_is_not_read() {
        let error = sh("head -c 40000000 /dev/zero", 32 << 20)
            .compile(
                b"",
                Duration::from_secs(10),
                Instant::now() + Duration::from_secs(10),
                &AtomicBool::new(false),
            )
            .unwrap_err();
        assert!(
            matches!(error, CompilerError::ArtifactTooLarge { .. }),
            "{error}"
        );
    }
}
