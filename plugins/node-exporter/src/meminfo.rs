//! meminfo collector: every field of /proc/meminfo as `node_memory_<field>`.

use crate::config::Config;
use crate::files;
use std::collections::BTreeMap;
use wasmetheus_sdk::{Error, Kind, Registry};

/// The fields of /proc/meminfo under node_exporter's names: `Active(anon)`
/// becomes `Active_anon`, and fields in kB are converted to bytes and get
/// a `_bytes` suffix (the `HugePages_*` counts have no unit and keep their
/// name).
pub fn parse(text: &str) -> Result<BTreeMap<String, f64>, Error> {
    let mut fields = BTreeMap::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        // Some kernels (CentOS 6) print empty lines.
        let Some(key) = parts.first() else {
            continue;
        };
        let malformed = || Error::Other(format!("invalid line in meminfo: {line:?}"));
        let key = key.strip_suffix(':').ok_or_else(malformed)?;
        let value: f64 = files::number(parts.get(1).ok_or_else(malformed)?, "value in meminfo")?;
        let key = unparenthesize(key);
        match parts.len() {
            2 => fields.insert(key, value),
            // The only unit the kernel prints is kB.
            3 => fields.insert(key + "_bytes", value * 1024.0),
            _ => return Err(malformed()),
        };
    }
    Ok(fields)
}

/// `Active(anon)` → `Active_anon`: node_exporter's `\((.*)\)` → `_$1`.
fn unparenthesize(key: &str) -> String {
    match (key.find('('), key.rfind(')')) {
        (Some(open), Some(close)) if open < close => {
            format!(
                "{}_{}{}",
                &key[..open],
                &key[open + 1..close],
                &key[close + 1..]
            )
        }
        _ => key.to_string(),
    }
}

pub fn collect(config: &Config, out: &mut Registry) -> Result<(), Error> {
    let fields = parse(&files::read(&config.proc_path("meminfo"))?)?;
    emit(&fields, out);
    Ok(())
}

fn emit(fields: &BTreeMap<String, f64>, out: &mut Registry) {
    for (key, value) in fields {
        // node_exporter's rule; no current kernel field ends in _total.
        let kind = if key.ends_with("_total") {
            Kind::Counter
        } else {
            Kind::Gauge
        };
        out.family(
            &format!("node_memory_{key}"),
            kind,
            &format!("Memory information field {key}."),
        )
        .set(*value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render;
    use expect_test::{Expect, expect};

    fn check(meminfo: &str, expect: Expect) {
        let mut out = Registry::new();
        match parse(meminfo) {
            Ok(fields) => {
                emit(&fields, &mut out);
                expect.assert_eq(&render(&out));
            }
            Err(err) => expect.assert_eq(&err.to_string()),
        }
    }

    #[test]
    fn fields_get_node_exporters_names() {
        check(
            "MemTotal:       24684096 kB\n\
             Active(anon):       1085 kB\n\
             HugePages_Total:       0\n\
             \n\
             Hugepagesize:       2048 kB\n",
            expect![[r#"
                # Gauge node_memory_Active_anon_bytes Memory information field Active_anon_bytes.
                node_memory_Active_anon_bytes 1111040
                # Gauge node_memory_HugePages_Total Memory information field HugePages_Total.
                node_memory_HugePages_Total 0
                # Gauge node_memory_Hugepagesize_bytes Memory information field Hugepagesize_bytes.
                node_memory_Hugepagesize_bytes 2097152
                # Gauge node_memory_MemTotal_bytes Memory information field MemTotal_bytes.
                node_memory_MemTotal_bytes 25276514304
            "#]],
        );
    }

    #[test]
    fn malformed_lines_are_errors() {
        check(
            "MemTotal: lots kB\n",
            expect![[r#"invalid value in meminfo: "lots""#]],
        );
        check(
            "MemTotal: 1 kB extra\n",
            expect![[r#"invalid line in meminfo: "MemTotal: 1 kB extra""#]],
        );
        check(
            "MemTotal\n",
            expect![[r#"invalid line in meminfo: "MemTotal""#]],
        );
    }
}
