//! Test guest: granted `/proc`, it reaches for the server's own process
//! (`/proc/self`, `/proc/thread-self`, the server's pid and a thread id from
//! its config, symlink detours through `/proc/net`) and for private entries
//! of another process or the kernel. Each attempt is reported as a
//! `proc_probe` series labelled with its outcome (`allowed`, `denied` or
//! `failed`) and error; `proc_probe_server_listed` says whether a listing of
//! `/proc` showed the server's pid. Reads the host must keep allowing are
//! probed too.

use std::io::ErrorKind;
use wasmetheus_sdk::{Error, Exporter, Metadata, Registry, config, export_exporter};

#[derive(serde::Deserialize)]
struct Config {
    server_pid: u32,
    server_tid: u32,
    other_pid: u32,
}

struct ProcSelf {
    config: Config,
}

#[derive(Clone, Copy)]
enum Op {
    Read,
    List,
    Readlink,
    Stat,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Read => "read",
            Op::List => "list",
            Op::Readlink => "readlink",
            Op::Stat => "stat",
        }
    }

    fn run(self, path: &str) -> std::io::Result<()> {
        match self {
            Op::Read => std::fs::read(path).map(drop),
            Op::List => std::fs::read_dir(path)?
                .try_for_each(|entry| entry.map(drop))
                .map(drop),
            Op::Readlink => std::fs::read_link(path).map(drop),
            Op::Stat => std::fs::metadata(path).map(drop),
        }
    }
}

impl Exporter for ProcSelf {
    fn metadata() -> Metadata {
        Metadata::new("proc-self", "0.1.0", "Reaches for the server's own process")
    }

    fn open(config: &str) -> Result<Self, Error> {
        Ok(ProcSelf {
            config: config::parse(config)?,
        })
    }

    fn collect(&mut self, out: &mut Registry) -> Result<(), Error> {
        let Config {
            server_pid: pid,
            server_tid: tid,
            other_pid: other,
        } = self.config;
        let probes: Vec<(Op, String)> = vec![
            (Op::Read, "/proc/self/environ".into()),
            (Op::Read, "/proc/self/maps".into()),
            (Op::Read, "/proc/self/cmdline".into()),
            (Op::Read, "/proc/thread-self/environ".into()),
            (Op::Read, format!("/proc/{pid}/environ")),
            (Op::Read, format!("/proc/{pid}/maps")),
            (Op::Read, format!("/proc/{pid}/status")),
            (Op::Read, format!("/proc/{pid}/task/{tid}/environ")),
            (Op::Read, format!("/proc/{tid}/environ")),
            (Op::Read, format!("/proc/{tid}/status")),
            (Op::Read, "/proc/net/../environ".into()),
            (Op::Read, "/proc/self/net/../environ".into()),
            (Op::Read, format!("/proc/{pid}/net/../environ")),
            (Op::Read, format!("/proc/{pid}/mem")),
            (Op::Read, format!("/proc/{pid}/fd/0")),
            (Op::Read, "/proc/self/root/etc/hostname".into()),
            (Op::Read, format!("/proc/{pid}/cwd/Cargo.toml")),
            (Op::Read, format!("/proc/{other}/environ")),
            (Op::Read, format!("/proc/{other}/root/etc/hostname")),
            (Op::List, format!("/proc/{pid}/task")),
            (Op::List, "/proc/self/fd".into()),
            (Op::List, format!("/proc/{other}/fd")),
            (Op::Readlink, "/proc/self".into()),
            (Op::Readlink, "/proc/thread-self".into()),
            (Op::Readlink, format!("/proc/{pid}/exe")),
            (Op::Readlink, format!("/proc/{other}/cwd")),
            (Op::Stat, "/proc/self/environ".into()),
            (Op::Stat, format!("/proc/{tid}")),
            // The kernel's log and memory (stat only: a read of kmsg blocks).
            (Op::Stat, "/proc/kmsg".into()),
            (Op::Stat, "/proc/kcore".into()),
            // What the node exporter reads; these must keep working.
            (Op::Read, "/proc/net/dev".into()),
            (Op::Read, "/proc/mounts".into()),
            (Op::Read, "/proc/loadavg".into()),
            (Op::Read, format!("/proc/{other}/stat")),
            (Op::List, "/proc/net".into()),
            (Op::Stat, "/proc/net/dev".into()),
        ];
        let mut family = out.gauge("proc_probe", "One attempt to reach into /proc.");
        for (op, path) in &probes {
            let (outcome, error) = match op.run(path) {
                Ok(()) => ("allowed", String::new()),
                Err(e) if e.kind() == ErrorKind::PermissionDenied => ("denied", e.to_string()),
                Err(e) => ("failed", e.to_string()),
            };
            let error: String = error.chars().take(120).collect();
            family.with(
                &[
                    ("op", op.name()),
                    ("path", path),
                    ("outcome", outcome),
                    ("error", &error),
                ],
                1.0,
            );
        }
        let listed = std::fs::read_dir("/proc")
            .map_err(|e| Error::Unavailable(format!("listing /proc: {e}")))?
            .filter_map(Result::ok)
            .any(|entry| entry.file_name().to_str() == Some(&pid.to_string()));
        out.gauge(
            "proc_probe_server_listed",
            "Whether a listing of /proc showed the server's pid.",
        )
        .set(if listed { 1.0 } else { 0.0 });
        Ok(())
    }
}

export_exporter!(ProcSelf);
