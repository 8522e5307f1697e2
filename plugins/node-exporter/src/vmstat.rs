//! vmstat collector: the paging, swapping and OOM-kill fields of /proc/vmstat.

use crate::config::Config;
use crate::files;
use wasmetheus_sdk::{Error, Registry};

/// node_exporter 1.5's default `--collector.vmstat.fields`,
/// `^(oom_kill|pgpg|pswp|pg.*fault).*`, written out by hand to keep a regex
/// engine out of the plugin.
pub fn field_wanted(name: &str) -> bool {
    name.starts_with("oom_kill")
        || name.starts_with("pgpg")
        || name.starts_with("pswp")
        || name
            .strip_prefix("pg")
            .is_some_and(|rest| rest.contains("fault"))
}

/// The `name value` lines of /proc/vmstat that [`field_wanted`] selects.
/// Every value must be a number, wanted or not, as node_exporter insists.
pub fn parse(text: &str) -> Result<Vec<(&str, f64)>, Error> {
    let mut fields = Vec::new();
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        let (Some(name), Some(value)) = (parts.next(), parts.next()) else {
            continue;
        };
        let value = files::number(value, &format!("value of {name} in /proc/vmstat"))?;
        if field_wanted(name) {
            fields.push((name, value));
        }
    }
    Ok(fields)
}

pub fn collect(config: &Config, out: &mut Registry) -> Result<(), Error> {
    let text = files::read(&config.proc_path("vmstat"))?;
    emit(&parse(&text)?, out);
    Ok(())
}

fn emit(fields: &[(&str, f64)], out: &mut Registry) {
    for (name, value) in fields {
        out.untyped(
            &format!("node_vmstat_{name}"),
            &format!("/proc/vmstat information field {name}."),
        )
        .set(*value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render;
    use expect_test::{Expect, expect};

    fn check(vmstat: &str, expect: Expect) {
        let mut out = Registry::new();
        match parse(vmstat) {
            Ok(fields) => {
                emit(&fields, &mut out);
                expect.assert_eq(&render(&out));
            }
            Err(err) => expect.assert_eq(&err.to_string()),
        }
    }

    #[test]
    fn only_the_default_fields() {
        check(
            "nr_free_pages 1688075\n\
             pgpgin 1615528\n\
             pgpgout 1436648\n\
             pswpin 0\n\
             pswpout 0\n\
             pgfault 4000000\n\
             pgmajfault 1200\n\
             pgfree 42\n\
             thp_fault_alloc 3\n\
             oom_kill 1\n",
            expect![[r#"
                # Untyped node_vmstat_pgpgin /proc/vmstat information field pgpgin.
                node_vmstat_pgpgin 1615528
                # Untyped node_vmstat_pgpgout /proc/vmstat information field pgpgout.
                node_vmstat_pgpgout 1436648
                # Untyped node_vmstat_pswpin /proc/vmstat information field pswpin.
                node_vmstat_pswpin 0
                # Untyped node_vmstat_pswpout /proc/vmstat information field pswpout.
                node_vmstat_pswpout 0
                # Untyped node_vmstat_pgfault /proc/vmstat information field pgfault.
                node_vmstat_pgfault 4000000
                # Untyped node_vmstat_pgmajfault /proc/vmstat information field pgmajfault.
                node_vmstat_pgmajfault 1200
                # Untyped node_vmstat_oom_kill /proc/vmstat information field oom_kill.
                node_vmstat_oom_kill 1
            "#]],
        );
        check(
            "pgfree many\n",
            expect![[r#"invalid value of pgfree in /proc/vmstat: "many""#]],
        );
    }

    #[test]
    fn field_filter_matches_the_regex() {
        let wanted: Vec<&str> = [
            "oom_kill",
            "oom_kill_extra",
            "pgpgin",
            "pswpout",
            "pgfault",
            "pgmajfault",
            "pgfault_extra",
            "pg_fault",
            "pgfaul",
            "pfault",
            "thp_fault_alloc",
            "nr_oom",
            "pgfree",
        ]
        .into_iter()
        .filter(|name| field_wanted(name))
        .collect();
        assert_eq!(
            wanted,
            [
                "oom_kill",
                "oom_kill_extra",
                "pgpgin",
                "pswpout",
                "pgfault",
                "pgmajfault",
                "pgfault_extra",
                "pg_fault"
            ]
        );
    }
}
