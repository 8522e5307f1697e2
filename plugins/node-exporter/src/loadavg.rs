//! loadavg collector: the 1, 5 and 15 minute load averages of /proc/loadavg.

use crate::config::Config;
use crate::files;
use wasmetheus_sdk::{Error, Registry};

/// The three load averages at the start of /proc/loadavg.
pub fn parse(text: &str) -> Result<[f64; 3], Error> {
    let mut fields = text.split_whitespace();
    let mut loads = [0.0; 3];
    for load in &mut loads {
        let field = fields
            .next()
            .ok_or_else(|| Error::Other(format!("unexpected content in loadavg: {text:?}")))?;
        *load = files::number(field, "load average")?;
    }
    Ok(loads)
}

pub fn collect(config: &Config, out: &mut Registry) -> Result<(), Error> {
    let loads = parse(&files::read(&config.proc_path("loadavg"))?)?;
    emit(loads, out);
    Ok(())
}

fn emit(loads: [f64; 3], out: &mut Registry) {
    for ((name, help), load) in [
        ("node_load1", "1m load average."),
        ("node_load5", "5m load average."),
        ("node_load15", "15m load average."),
    ]
    .into_iter()
    .zip(loads)
    {
        out.gauge(name, help).set(load);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render;
    use expect_test::{Expect, expect};

    fn check(loadavg: &str, expect: Expect) {
        let mut out = Registry::new();
        match parse(loadavg) {
            Ok(loads) => {
                emit(loads, &mut out);
                expect.assert_eq(&render(&out));
            }
            Err(err) => expect.assert_eq(&err.to_string()),
        }
    }

    #[test]
    fn three_averages() {
        check(
            "0.03 0.36 0.29 1/83 9855\n",
            expect![[r#"
                # Gauge node_load1 1m load average.
                node_load1 0.03
                # Gauge node_load5 5m load average.
                node_load5 0.36
                # Gauge node_load15 15m load average.
                node_load15 0.29
            "#]],
        );
        check(
            "0.03 0.36\n",
            expect![[r#"unexpected content in loadavg: "0.03 0.36\n""#]],
        );
        check("0.03 x 1\n", expect![[r#"invalid load average: "x""#]]);
    }
}
