//! mysqld_exporter 0.14's default scrapers (`global_status`,
//! `global_variables`, `slave_status`, `info_schema.innodb_cmp`,
//! `info_schema.innodb_cmpmem`, `info_schema.query_response_time`), plus
//! the optional `binlog_size` (off by default, as upstream): the
//! same queries, and the same families, types, HELP and labels from their
//! answers. They run against any [`Source`], so canned answers test them.

use crate::parse::{parse_go_float, parse_status, valid_name};
use crate::wire::{Error, ResultSet};
use std::collections::{BTreeMap, HashSet};
use wasmetheus_sdk::{Bucket, Histogram, Kind, Registry};

/// Something that answers SQL with text result sets.
pub trait Source {
    fn query(&mut self, sql: &str) -> Result<ResultSet, Error>;
}

/// The scrapers, in mysqld_exporter's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scraper {
    GlobalStatus,
    GlobalVariables,
    SlaveStatus,
    InnodbCmp,
    InnodbCmpMem,
    QueryResponseTime,
    BinlogSize,
}

impl Scraper {
    pub const ALL: [Scraper; 7] = [
        Scraper::GlobalStatus,
        Scraper::GlobalVariables,
        Scraper::SlaveStatus,
        Scraper::InnodbCmp,
        Scraper::InnodbCmpMem,
        Scraper::QueryResponseTime,
        Scraper::BinlogSize,
    ];

    /// Whether mysqld_exporter 0.14 runs it without a flag.
    pub fn default_enabled(self) -> bool {
        self != Scraper::BinlogSize
    }

    /// mysqld_exporter's name (`collect.<name>` is its flag).
    pub fn name(self) -> &'static str {
        match self {
            Scraper::GlobalStatus => "global_status",
            Scraper::GlobalVariables => "global_variables",
            Scraper::SlaveStatus => "slave_status",
            Scraper::InnodbCmp => "info_schema.innodb_cmp",
            Scraper::InnodbCmpMem => "info_schema.innodb_cmpmem",
            Scraper::QueryResponseTime => "info_schema.query_response_time",
            Scraper::BinlogSize => "binlog_size",
        }
    }

    /// Oldest MySQL version the scraper runs on.
    pub fn min_version(self) -> f64 {
        match self {
            Scraper::GlobalStatus
            | Scraper::GlobalVariables
            | Scraper::SlaveStatus
            | Scraper::BinlogSize => 5.1,
            _ => 5.5,
        }
    }

    pub fn from_name(name: &str) -> Option<Scraper> {
        Scraper::ALL.into_iter().find(|s| s.name() == name)
    }

    pub fn scrape(self, db: &mut dyn Source, out: &mut Registry) -> Result<(), Error> {
        match self {
            Scraper::GlobalStatus => global_status(db, out),
            Scraper::GlobalVariables => global_variables(db, out),
            Scraper::SlaveStatus => slave_status(db, out),
            Scraper::InnodbCmp => innodb_cmp(db, out),
            Scraper::InnodbCmpMem => innodb_cmpmem(db, out),
            Scraper::QueryResponseTime => query_response_time(db, out),
            Scraper::BinlogSize => binlog_size(db, out),
        }
    }
}

fn malformed(what: &str) -> Error {
    Error::Server {
        code: 0,
        message: format!("unexpected answer to {what}"),
    }
}

/// Rows of a two-column (name, value) answer.
fn pairs<'a>(rs: &'a ResultSet, what: &str) -> Result<Vec<(&'a str, Option<&'a str>)>, Error> {
    if rs.columns.len() != 2 {
        return Err(malformed(what));
    }
    rs.rows
        .iter()
        .map(|r| match r.as_slice() {
            [Some(k), v] => Ok((k.as_str(), v.as_deref())),
            _ => Err(malformed(what)),
        })
        .collect()
}

/// Adds one series to `name` unless a series without labels of that name
/// exists (two variables can map to one name; Go would fail the scrape).
fn generic(
    out: &mut Registry,
    seen: &mut HashSet<String>,
    name: String,
    kind: Kind,
    help: &str,
    v: f64,
) {
    if seen.insert(name.clone()) {
        out.family(&name, kind, help).set(v);
    }
}

const GLOBAL_STATUS_HELP: &str = "Generic metric from SHOW GLOBAL STATUS.";

fn global_status(db: &mut dyn Source, out: &mut Registry) -> Result<(), Error> {
    let rs = db.query("SHOW GLOBAL STATUS")?;
    let rows = pairs(&rs, "SHOW GLOBAL STATUS")?;
    let mut text: BTreeMap<String, &str> = [
        ("wsrep_local_state_uuid", ""),
        ("wsrep_cluster_state_uuid", ""),
        ("wsrep_provider_version", ""),
        ("wsrep_evs_repl_latency", ""),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let mut seen = HashSet::new();
    for (raw_key, val) in rows {
        let val = val.unwrap_or("");
        // As upstream, the text items are looked up by the cleaned name.
        let key = valid_name(raw_key);
        let Some(v) = parse_status(val) else {
            if let Some(slot) = text.get_mut(&key) {
                *slot = val;
            }
            continue;
        };
        let split = [
            "com",
            "handler",
            "connection_errors",
            "innodb_buffer_pool_pages",
            "innodb_rows",
            "performance_schema",
        ]
        .into_iter()
        .find_map(|p| {
            key.strip_prefix(p)
                .and_then(|r| r.strip_prefix('_'))
                .map(|r| (p, r))
        });
        let Some((group, rest)) = split else {
            generic(
                out,
                &mut seen,
                format!("mysql_global_status_{key}"),
                Kind::Untyped,
                GLOBAL_STATUS_HELP,
                v,
            );
            continue;
        };
        match group {
            "com" => {
                out.counter(
                    "mysql_global_status_commands_total",
                    "Total number of executed MySQL commands.",
                )
                .with(&[("command", rest)], v);
            }
            "handler" => {
                out.counter(
                    "mysql_global_status_handlers_total",
                    "Total number of executed MySQL handlers.",
                )
                .with(&[("handler", rest)], v);
            }
            "connection_errors" => {
                out.counter(
                    "mysql_global_status_connection_errors_total",
                    "Total number of MySQL connection errors.",
                )
                .with(&[("error", rest)], v);
            }
            "innodb_buffer_pool_pages" => match rest {
                "data" | "free" | "misc" | "old" => {
                    out.gauge(
                        "mysql_global_status_buffer_pool_pages",
                        "Innodb buffer pool pages by state.",
                    )
                    .with(&[("state", rest)], v);
                }
                "dirty" => generic(
                    out,
                    &mut seen,
                    "mysql_global_status_buffer_pool_dirty_pages".into(),
                    Kind::Gauge,
                    "Innodb buffer pool dirty pages.",
                    v,
                ),
                "total" => {}
                _ => {
                    out.counter(
                        "mysql_global_status_buffer_pool_page_changes_total",
                        "Innodb buffer pool page state changes.",
                    )
                    .with(&[("operation", rest)], v);
                }
            },
            "innodb_rows" => {
                out.counter(
                    "mysql_global_status_innodb_row_ops_total",
                    "Total number of MySQL InnoDB row operations.",
                )
                .with(&[("operation", rest)], v);
            }
            _ => {
                out.counter(
                    "mysql_global_status_performance_schema_lost_total",
                    "Total number of MySQL instrumentations that could not be loaded or created due to memory constraints.",
                )
                .with(&[("instrumentation", rest)], v);
            }
        }
    }
    if !text["wsrep_local_state_uuid"].is_empty() {
        out.gauge("mysql_galera_status_info", "PXC/Galera status information.")
            .with(
                &[
                    ("wsrep_local_state_uuid", text["wsrep_local_state_uuid"]),
                    ("wsrep_cluster_state_uuid", text["wsrep_cluster_state_uuid"]),
                    ("wsrep_provider_version", text["wsrep_provider_version"]),
                ],
                1.0,
            );
    }
    let evs = text["wsrep_evs_repl_latency"];
    if !evs.is_empty() {
        // Upstream reads the first five parts (and crashes on fewer).
        let values: Vec<Option<f64>> = evs.split('/').take(5).map(parse_go_float).collect();
        if values.len() == 5 && values.iter().all(Option::is_some) {
            let names = [
                (
                    "min_seconds",
                    "PXC/Galera group communication latency. Min value.",
                ),
                (
                    "avg_seconds",
                    "PXC/Galera group communication latency. Avg value.",
                ),
                (
                    "max_seconds",
                    "PXC/Galera group communication latency. Max value.",
                ),
                (
                    "stdev",
                    "PXC/Galera group communication latency. Standard Deviation.",
                ),
                (
                    "sample_size",
                    "PXC/Galera group communication latency. Sample Size.",
                ),
            ];
            for ((name, help), v) in names.into_iter().zip(values) {
                out.gauge(&format!("mysql_galera_evs_repl_latency_{name}"), help)
                    .set(v.unwrap_or(0.0));
            }
        }
    }
    Ok(())
}

fn global_variables(db: &mut dyn Source, out: &mut Registry) -> Result<(), Error> {
    let rs = db.query("SHOW GLOBAL VARIABLES")?;
    let rows = pairs(&rs, "SHOW GLOBAL VARIABLES")?;
    let mut text: BTreeMap<&str, String> = [
        "innodb_version",
        "version",
        "version_comment",
        "wsrep_cluster_name",
        "wsrep_provider_options",
        "tx_isolation",
        "transaction_isolation",
    ]
    .into_iter()
    .map(|k| (k, String::new()))
    .collect();
    let mut seen = HashSet::new();
    for (raw_key, val) in rows {
        let key = valid_name(raw_key);
        let val = val.unwrap_or("");
        if let Some(v) = parse_status(val) {
            generic(
                out,
                &mut seen,
                format!("mysql_global_variables_{key}"),
                Kind::Gauge,
                "Generic gauge metric from SHOW GLOBAL VARIABLES.",
                v,
            );
        } else if let Some(slot) = text.get_mut(key.as_str()) {
            *slot = val.to_owned();
        }
    }
    out.gauge("mysql_version_info", "MySQL version and distribution.")
        .with(
            &[
                ("innodb_version", &text["innodb_version"]),
                ("version", &text["version"]),
                ("version_comment", &text["version_comment"]),
            ],
            1.0,
        );
    if !text["wsrep_cluster_name"].is_empty() {
        out.gauge(
            "mysql_galera_variables_info",
            "PXC/Galera variables information.",
        )
        .with(&[("wsrep_cluster_name", &text["wsrep_cluster_name"])], 1.0);
    }
    if !text["wsrep_provider_options"].is_empty() {
        out.gauge("mysql_galera_gcache_size_bytes", "PXC/Galera gcache size.")
            .set(gcache_size(&text["wsrep_provider_options"]));
    }
    let level = if text["transaction_isolation"].is_empty() {
        &text["tx_isolation"]
    } else {
        &text["transaction_isolation"]
    };
    if !level.is_empty() {
        out.gauge(
            "mysql_transaction_isolation",
            "MySQL transaction isolation.",
        )
        .with(&[("level", level)], 1.0);
    }
    Ok(())
}

/// `gcache.size = (\d+)([MG]?);` from wsrep_provider_options, in bytes.
fn gcache_size(opts: &str) -> f64 {
    const KEY: &str = "gcache.size = ";
    // The regexp's `.` matches any character.
    let mut from = 0;
    while let Some(pos) = opts[from..].find("gcache") {
        let start = from + pos;
        let after = &opts[start + 6..];
        let mut chars = after.chars();
        if chars.next().is_some() {
            let rest = chars.as_str();
            if let Some(rest) = rest.strip_prefix(&KEY[7..]) {
                let digits_end = rest
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(rest.len());
                if digits_end > 0 {
                    let (num, tail) = rest.split_at(digits_end);
                    let (mult, tail) = match tail.chars().next() {
                        Some('M') => (1024.0 * 1024.0, &tail[1..]),
                        Some('G') => (1024.0 * 1024.0 * 1024.0, &tail[1..]),
                        _ => (1.0, tail),
                    };
                    if tail.starts_with(';') {
                        return num.parse::<f64>().unwrap_or(0.0) * mult;
                    }
                }
            }
        }
        from = start + 6;
    }
    0.0
}

fn slave_status(db: &mut dyn Source, out: &mut Registry) -> Result<(), Error> {
    let mut last = None;
    let mut found = None;
    'outer: for query in ["SHOW ALL SLAVES STATUS", "SHOW SLAVE STATUS"] {
        for suffix in ["", " NONBLOCKING", " NOLOCK"] {
            match db.query(&format!("{query}{suffix}")) {
                Ok(rs) => {
                    found = Some(rs);
                    break 'outer;
                }
                Err(e @ Error::Broken(_)) => return Err(e),
                // The plain form's error says why (the lock-free forms
                // only fail for their syntax).
                Err(e) if suffix.is_empty() => last = Some(e),
                Err(_) => {}
            }
        }
    }
    let Some(rs) = found else {
        return Err(last.unwrap_or_else(|| malformed("SHOW SLAVE STATUS")));
    };
    let col = |row: &[Option<String>], name: &str| -> String {
        rs.columns
            .iter()
            .position(|c| c == name)
            .and_then(|i| row.get(i).cloned().flatten())
            .unwrap_or_default()
    };
    let mut seen = HashSet::new();
    for row in &rs.rows {
        let labels = [
            ("master_host", col(row, "Master_Host")),
            ("master_uuid", col(row, "Master_UUID")),
            ("channel_name", col(row, "Channel_Name")),
            ("connection_name", col(row, "Connection_name")),
        ];
        for (name, value) in rs.columns.iter().zip(row) {
            let Some(v) = value.as_deref().and_then(parse_status) else {
                continue;
            };
            let family = format!("mysql_slave_status_{}", name.to_lowercase());
            // A column name that makes no valid metric name would get the
            // whole output refused (upstream panics); leave it out.
            if !family
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b':')
            {
                continue;
            }
            let key: Vec<String> = std::iter::once(family.clone())
                .chain(labels.iter().map(|(_, v)| v.clone()))
                .collect();
            if !seen.insert(key) {
                continue;
            }
            let labels: Vec<(String, String)> = labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect();
            out.untyped(&family, "Generic metric from SHOW SLAVE STATUS.")
                .with_labels(labels, v);
        }
    }
    Ok(())
}

/// Cell `i` of a row as a float (Go's Scan into float64).
fn float_cell(row: &[Option<String>], i: usize, what: &str) -> Result<f64, Error> {
    row.get(i)
        .cloned()
        .flatten()
        .and_then(|s| parse_go_float(&s))
        .ok_or_else(|| malformed(what))
}

fn text_cell<'a>(row: &'a [Option<String>], i: usize, what: &str) -> Result<&'a str, Error> {
    row.get(i)
        .and_then(|c| c.as_deref())
        .ok_or_else(|| malformed(what))
}

fn innodb_cmp(db: &mut dyn Source, out: &mut Registry) -> Result<(), Error> {
    const WHAT: &str = "information_schema.innodb_cmp";
    let rs = db.query(
        "SELECT page_size, compress_ops, compress_ops_ok, compress_time, uncompress_ops, uncompress_time FROM information_schema.innodb_cmp",
    )?;
    let families = [
        (
            "mysql_info_schema_innodb_cmp_compress_ops_total",
            "Number of times a B-tree page of the size PAGE_SIZE has been compressed.",
        ),
        (
            "mysql_info_schema_innodb_cmp_compress_ops_ok_total",
            "Number of times a B-tree page of the size PAGE_SIZE has been successfully compressed.",
        ),
        (
            "mysql_info_schema_innodb_cmp_compress_time_seconds_total",
            "Total time in seconds spent in attempts to compress B-tree pages.",
        ),
        (
            "mysql_info_schema_innodb_cmp_uncompress_ops_total",
            "Number of times a B-tree page of the size PAGE_SIZE has been uncompressed.",
        ),
        (
            "mysql_info_schema_innodb_cmp_uncompress_time_seconds_total",
            "Total time in seconds spent in uncompressing B-tree pages.",
        ),
    ];
    let mut parsed = Vec::new();
    for row in &rs.rows {
        let page = text_cell(row, 0, WHAT)?;
        let mut values = [0.0; 5];
        for (i, v) in values.iter_mut().enumerate() {
            *v = float_cell(row, i + 1, WHAT)?;
        }
        parsed.push((page, values));
    }
    for (page, values) in parsed {
        for ((name, help), v) in families.iter().zip(values) {
            out.counter(name, help).with(&[("page_size", page)], v);
        }
    }
    Ok(())
}

fn innodb_cmpmem(db: &mut dyn Source, out: &mut Registry) -> Result<(), Error> {
    const WHAT: &str = "information_schema.innodb_cmpmem";
    let rs = db.query(
        "SELECT page_size, buffer_pool_instance, pages_used, pages_free, relocation_ops, relocation_time FROM information_schema.innodb_cmpmem",
    )?;
    let families = [
        (
            "mysql_info_schema_innodb_cmpmem_pages_used_total",
            "Number of blocks of the size PAGE_SIZE that are currently in use.",
        ),
        (
            "mysql_info_schema_innodb_cmpmem_pages_free_total",
            "Number of blocks of the size PAGE_SIZE that are currently available for allocation.",
        ),
        (
            "mysql_info_schema_innodb_cmpmem_relocation_ops_total",
            "Number of times a block of the size PAGE_SIZE has been relocated.",
        ),
        (
            "mysql_info_schema_innodb_cmpmem_relocation_time_seconds_total",
            "Total time in seconds spent in relocating blocks.",
        ),
    ];
    let mut parsed = Vec::new();
    for row in &rs.rows {
        let page = text_cell(row, 0, WHAT)?;
        let pool = text_cell(row, 1, WHAT)?;
        let mut values = [0.0; 4];
        for (i, v) in values.iter_mut().enumerate() {
            *v = float_cell(row, i + 2, WHAT)?;
        }
        values[3] /= 1000.0;
        parsed.push((page, pool, values));
    }
    for (page, pool, values) in parsed {
        for ((name, help), v) in families.iter().zip(values) {
            out.counter(name, help)
                .with(&[("page_size", page), ("buffer_pool", pool)], v);
        }
    }
    Ok(())
}

fn query_response_time(db: &mut dyn Source, out: &mut Registry) -> Result<(), Error> {
    // Not available (no plugin, no variable): nothing, and no error.
    let enabled = match db.query("SELECT @@query_response_time_stats") {
        Ok(rs) => rs
            .rows
            .first()
            .and_then(|r| r.first().cloned().flatten())
            .and_then(|v| v.parse::<u8>().ok()),
        Err(e @ Error::Broken(_)) => return Err(e),
        Err(Error::Server { .. }) => None,
    };
    if !matches!(enabled, Some(n) if n != 0) {
        return Ok(());
    }
    let tables = [
        (
            "QUERY_RESPONSE_TIME",
            "mysql_info_schema_query_response_time_seconds",
            "The number of all queries by duration they took to execute.",
        ),
        (
            "QUERY_RESPONSE_TIME_READ",
            "mysql_info_schema_read_query_response_time_seconds",
            "The number of read queries by duration they took to execute.",
        ),
        (
            "QUERY_RESPONSE_TIME_WRITE",
            "mysql_info_schema_write_query_response_time_seconds",
            "The number of write queries by duration they took to execute.",
        ),
    ];
    for (i, (table, name, help)) in tables.into_iter().enumerate() {
        let result = db
            .query(&format!(
                "SELECT TIME, COUNT, TOTAL FROM INFORMATION_SCHEMA.{table}"
            ))
            .and_then(|rs| response_time_histogram(&rs));
        match result {
            Ok(h) => {
                out.histogram(name, help).observe_histogram(&[], h);
            }
            Err(e @ Error::Broken(_)) => return Err(e),
            // Only Percona 5.6/5.7 has the read/write tables.
            Err(e) if i == 0 => return Err(e),
            Err(_) => {}
        }
    }
    Ok(())
}

fn response_time_histogram(rs: &ResultSet) -> Result<Histogram, Error> {
    const WHAT: &str = "INFORMATION_SCHEMA.QUERY_RESPONSE_TIME";
    let mut count = 0u64;
    let mut sum = 0.0;
    let mut buckets: BTreeMap<u64, (f64, u64)> = BTreeMap::new();
    for row in &rs.rows {
        let time = text_cell(row, 0, WHAT)?;
        let n: u64 = text_cell(row, 1, WHAT)?
            .parse()
            .map_err(|_| malformed(WHAT))?;
        let total = text_cell(row, 2, WHAT)?;
        let length = parse_go_float(time.trim()).unwrap_or(0.0);
        let total = parse_go_float(total.trim()).unwrap_or(0.0);
        count = count.saturating_add(n);
        sum += total;
        // The "TOO LONG" row counts but is no bucket.
        if length == 0.0 {
            continue;
        }
        buckets.insert(length.to_bits(), (length, count));
    }
    let mut buckets: Vec<Bucket> = buckets
        .into_values()
        .map(|(upper_bound, cumulative_count)| Bucket {
            upper_bound,
            cumulative_count,
        })
        .collect();
    buckets.sort_by(|a, b| a.upper_bound.total_cmp(&b.upper_bound));
    Ok(Histogram {
        buckets,
        count,
        sum,
    })
}

fn binlog_size(db: &mut dyn Source, out: &mut Registry) -> Result<(), Error> {
    const WHAT: &str = "SELECT @@log_bin";
    let rs = db.query(WHAT)?;
    let log_bin: u8 = rs
        .rows
        .first()
        .and_then(|r| r.first().cloned().flatten())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| malformed(WHAT))?;
    // With binary logging off, SHOW BINARY LOGS is an error: skip it.
    if log_bin == 0 {
        return Ok(());
    }
    let rs = db.query("SHOW BINARY LOGS")?;
    if !matches!(rs.columns.len(), 2 | 3) {
        return Err(Error::Server {
            code: 0,
            message: format!("invalid number of columns: {}", rs.columns.len()),
        });
    }
    let (mut size, mut count, mut last) = (0u64, 0u64, None);
    for row in &rs.rows {
        let name = row.first().cloned().flatten();
        let file_size = row
            .get(1)
            .cloned()
            .flatten()
            .and_then(|v| v.parse::<u64>().ok());
        // Upstream stops without metrics on a row it cannot read.
        let (Some(name), Some(file_size)) = (name, file_size) else {
            return Ok(());
        };
        size = size.saturating_add(file_size);
        count += 1;
        last = Some(name);
    }
    out.gauge(
        "mysql_binlog_size_bytes",
        "Combined size of all registered binlog files.",
    )
    .set(size as f64);
    out.gauge("mysql_binlog_files", "Number of registered binlog files.")
        .set(count as f64);
    // The last file's number: the part after the first '.'.
    if let Some(last) = last {
        let number = last
            .split('.')
            .nth(1)
            .and_then(parse_go_float)
            .unwrap_or(0.0);
        out.gauge("mysql_binlog_file_number", "The last binlog file number.")
            .set(number);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
