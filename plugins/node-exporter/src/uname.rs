//! uname collector: `node_uname_info`, built from /proc/sys/kernel because
//! WASI has no uname call.

use crate::config::Config;
use crate::files;
use wasmetheus_sdk::{Error, Registry};

/// What uname(2) reports, field by field.
#[derive(Debug, PartialEq)]
pub struct Uname {
    pub sysname: String,
    pub nodename: String,
    pub release: String,
    pub version: String,
    pub machine: String,
    pub domainname: String,
}

/// The `machine` field. Recent kernels publish it as /proc/sys/kernel/arch;
/// without that file only the operator can tell us, and we say "unknown"
/// rather than guess.
pub fn machine(arch_file: Option<&str>, configured: Option<&str>) -> String {
    arch_file
        .map(str::trim)
        .filter(|arch| !arch.is_empty())
        .or(configured)
        .unwrap_or("unknown")
        .to_string()
}

pub fn collect(config: &Config, out: &mut Registry) -> Result<(), Error> {
    let kernel = |name: &str| -> Result<String, Error> {
        let text = files::read(&config.proc_path(&format!("sys/kernel/{name}")))?;
        Ok(text.trim_end_matches('\n').to_string())
    };
    let arch = files::read_optional(&config.proc_path("sys/kernel/arch"))?;
    let uname = Uname {
        sysname: kernel("ostype")?,
        nodename: kernel("hostname")?,
        release: kernel("osrelease")?,
        version: kernel("version")?,
        machine: machine(arch.as_deref(), config.machine.as_deref()),
        domainname: kernel("domainname")?,
    };
    emit(&uname, out);
    Ok(())
}

fn emit(uname: &Uname, out: &mut Registry) {
    out.info(
        "node_uname_info",
        "Labeled system information as provided by the uname system call.",
    )
    .info(&[
        ("domainname", &uname.domainname),
        ("machine", &uname.machine),
        ("nodename", &uname.nodename),
        ("release", &uname.release),
        ("sysname", &uname.sysname),
        ("version", &uname.version),
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render;
    use expect_test::expect;

    #[test]
    fn machine_comes_from_arch_then_config() {
        assert_eq!(machine(Some("x86_64\n"), Some("aarch64")), "x86_64");
        assert_eq!(machine(None, Some("aarch64")), "aarch64");
        assert_eq!(machine(Some(""), None), "unknown");
    }

    #[test]
    fn fields_from_proc_sys_kernel() {
        let proc = tempfile::tempdir().unwrap();
        let kernel = proc.path().join("sys/kernel");
        std::fs::create_dir_all(&kernel).unwrap();
        for (name, value) in [
            ("ostype", "Linux\n"),
            ("hostname", "vm\n"),
            ("osrelease", "6.18.44\n"),
            ("version", "#1 SMP PREEMPT_DYNAMIC @0\n"),
            ("domainname", "(none)\n"),
        ] {
            std::fs::write(kernel.join(name), value).unwrap();
        }
        let config = Config {
            procfs: proc.path().display().to_string(),
            machine: Some("riscv64".into()),
            ..Config::default()
        };
        let mut out = Registry::new();
        collect(&config, &mut out).unwrap();
        expect![[r##"
            # Info node_uname_info Labeled system information as provided by the uname system call.
            node_uname_info{domainname="(none)",machine="riscv64",nodename="vm",release="6.18.44",sysname="Linux",version="#1 SMP PREEMPT_DYNAMIC @0"} 1
        "##]]
        .assert_eq(&render(&out));
    }
}
