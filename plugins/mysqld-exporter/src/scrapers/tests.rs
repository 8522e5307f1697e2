//! The scrapers on canned answers: families, types, HELP and labels as
//! mysqld_exporter 0.14 makes them (snapshots), and their errors.

use super::*;
use expect_test::{Expect, expect};
use wasmetheus_sdk::Value;

/// Answers from a table of canned results; unknown statements get ERR 1064.
struct Canned(Vec<(&'static str, Result<ResultSet, Error>)>, Vec<String>);

impl Source for Canned {
    fn query(&mut self, sql: &str) -> Result<ResultSet, Error> {
        self.1.push(sql.to_owned());
        self.0
            .iter()
            .find(|(q, _)| *q == sql)
            .map(|(_, r)| r.clone())
            .unwrap_or(Err(Error::Server {
                code: 1064,
                message: "syntax".into(),
            }))
    }
}

fn rs(columns: &[&str], rows: &[&[Option<&str>]]) -> Result<ResultSet, Error> {
    Ok(ResultSet {
        columns: columns.iter().map(|c| c.to_string()).collect(),
        rows: rows
            .iter()
            .map(|r| r.iter().map(|v| v.map(str::to_owned)).collect())
            .collect(),
    })
}

fn kv(rows: &[(&str, &str)]) -> Result<ResultSet, Error> {
    let rows: Vec<Vec<Option<&str>>> = rows.iter().map(|(k, v)| vec![Some(*k), Some(*v)]).collect();
    let rows: Vec<&[Option<&str>]> = rows.iter().map(|r| r.as_slice()).collect();
    rs(&["Variable_name", "Value"], &rows)
}

/// The registry in a text form close to the exposition format.
fn render(out: &Registry) -> String {
    let mut s = String::new();
    for f in out.families() {
        s += &format!(
            "# HELP {} {}\n# TYPE {} {:?}\n",
            f.name, f.help, f.name, f.kind
        );
        for m in &f.metrics {
            let labels: Vec<String> = m.labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
            let labels = if labels.is_empty() {
                String::new()
            } else {
                format!("{{{}}}", labels.join(","))
            };
            match &m.value {
                Value::Number(v) => s += &format!("{}{labels} {v}\n", f.name),
                Value::Histogram(h) => {
                    for b in &h.buckets {
                        s += &format!(
                            "{}_bucket{{le=\"{}\"}} {}\n",
                            f.name, b.upper_bound, b.cumulative_count
                        );
                    }
                    s += &format!("{}_sum {}\n{}_count {}\n", f.name, h.sum, f.name, h.count);
                }
                Value::Summary(_) => s += "summary\n",
            }
        }
    }
    s
}

fn check(scraper: Scraper, answers: Vec<(&'static str, Result<ResultSet, Error>)>, want: Expect) {
    let mut db = Canned(answers, Vec::new());
    let mut out = Registry::new();
    scraper.scrape(&mut db, &mut out).unwrap();
    want.assert_eq(&render(&out));
}

#[test]
fn global_status_groups_and_generics() {
    check(
        Scraper::GlobalStatus,
        vec![(
            "SHOW GLOBAL STATUS",
            kv(&[
                ("Aborted_clients", "3"),
                ("Com_select", "42"),
                ("Com_show_status", "7"),
                ("Handler_read_first", "5"),
                ("Connection_errors_accept", "0"),
                ("Innodb_buffer_pool_pages_data", "301"),
                ("Innodb_buffer_pool_pages_dirty", "12"),
                ("Innodb_buffer_pool_pages_total", "8192"),
                ("Innodb_buffer_pool_pages_flushed", "99"),
                ("Innodb_rows_read", "1000"),
                ("Performance_schema_mutex_classes_lost", "0"),
                ("Ssl_cipher", ""),
                ("Binlog_snapshot_file", "mysql-bin.000003"),
                ("Rpl_status", "AUTH_MASTER"),
                ("wsrep_cluster_status", "Primary"),
                ("wsrep_connected", "ON"),
                ("wsrep_local_state_uuid", "6b50600c-3c4b"),
                ("wsrep_cluster_state_uuid", "152542db-32cb"),
                ("wsrep_provider_version", "26.4.16(r)"),
                (
                    "wsrep_evs_repl_latency",
                    "0.000258/0.000565/0.0016854/0.00016/139",
                ),
                ("Uptime", "86400"),
                ("UPTIME", "1"),
            ]),
        )],
        expect![[r#"
            # HELP mysql_global_status_aborted_clients Generic metric from SHOW GLOBAL STATUS.
            # TYPE mysql_global_status_aborted_clients Untyped
            mysql_global_status_aborted_clients 3
            # HELP mysql_global_status_commands_total Total number of executed MySQL commands.
            # TYPE mysql_global_status_commands_total Counter
            mysql_global_status_commands_total{command="select"} 42
            mysql_global_status_commands_total{command="show_status"} 7
            # HELP mysql_global_status_handlers_total Total number of executed MySQL handlers.
            # TYPE mysql_global_status_handlers_total Counter
            mysql_global_status_handlers_total{handler="read_first"} 5
            # HELP mysql_global_status_connection_errors_total Total number of MySQL connection errors.
            # TYPE mysql_global_status_connection_errors_total Counter
            mysql_global_status_connection_errors_total{error="accept"} 0
            # HELP mysql_global_status_buffer_pool_pages Innodb buffer pool pages by state.
            # TYPE mysql_global_status_buffer_pool_pages Gauge
            mysql_global_status_buffer_pool_pages{state="data"} 301
            # HELP mysql_global_status_buffer_pool_dirty_pages Innodb buffer pool dirty pages.
            # TYPE mysql_global_status_buffer_pool_dirty_pages Gauge
            mysql_global_status_buffer_pool_dirty_pages 12
            # HELP mysql_global_status_buffer_pool_page_changes_total Innodb buffer pool page state changes.
            # TYPE mysql_global_status_buffer_pool_page_changes_total Counter
            mysql_global_status_buffer_pool_page_changes_total{operation="flushed"} 99
            # HELP mysql_global_status_innodb_row_ops_total Total number of MySQL InnoDB row operations.
            # TYPE mysql_global_status_innodb_row_ops_total Counter
            mysql_global_status_innodb_row_ops_total{operation="read"} 1000
            # HELP mysql_global_status_performance_schema_lost_total Total number of MySQL instrumentations that could not be loaded or created due to memory constraints.
            # TYPE mysql_global_status_performance_schema_lost_total Counter
            mysql_global_status_performance_schema_lost_total{instrumentation="mutex_classes_lost"} 0
            # HELP mysql_global_status_wsrep_cluster_status Generic metric from SHOW GLOBAL STATUS.
            # TYPE mysql_global_status_wsrep_cluster_status Untyped
            mysql_global_status_wsrep_cluster_status 1
            # HELP mysql_global_status_wsrep_connected Generic metric from SHOW GLOBAL STATUS.
            # TYPE mysql_global_status_wsrep_connected Untyped
            mysql_global_status_wsrep_connected 1
            # HELP mysql_global_status_uptime Generic metric from SHOW GLOBAL STATUS.
            # TYPE mysql_global_status_uptime Untyped
            mysql_global_status_uptime 86400
            # HELP mysql_galera_status_info PXC/Galera status information.
            # TYPE mysql_galera_status_info Gauge
            mysql_galera_status_info{wsrep_local_state_uuid="6b50600c-3c4b",wsrep_cluster_state_uuid="152542db-32cb",wsrep_provider_version="26.4.16(r)"} 1
            # HELP mysql_galera_evs_repl_latency_min_seconds PXC/Galera group communication latency. Min value.
            # TYPE mysql_galera_evs_repl_latency_min_seconds Gauge
            mysql_galera_evs_repl_latency_min_seconds 0.000258
            # HELP mysql_galera_evs_repl_latency_avg_seconds PXC/Galera group communication latency. Avg value.
            # TYPE mysql_galera_evs_repl_latency_avg_seconds Gauge
            mysql_galera_evs_repl_latency_avg_seconds 0.000565
            # HELP mysql_galera_evs_repl_latency_max_seconds PXC/Galera group communication latency. Max value.
            # TYPE mysql_galera_evs_repl_latency_max_seconds Gauge
            mysql_galera_evs_repl_latency_max_seconds 0.0016854
            # HELP mysql_galera_evs_repl_latency_stdev PXC/Galera group communication latency. Standard Deviation.
            # TYPE mysql_galera_evs_repl_latency_stdev Gauge
            mysql_galera_evs_repl_latency_stdev 0.00016
            # HELP mysql_galera_evs_repl_latency_sample_size PXC/Galera group communication latency. Sample Size.
            # TYPE mysql_galera_evs_repl_latency_sample_size Gauge
            mysql_galera_evs_repl_latency_sample_size 139
        "#]],
    );
}

#[test]
fn galera_text_items_by_cleaned_name_and_the_first_five_latencies() {
    check(
        Scraper::GlobalStatus,
        vec![(
            "SHOW GLOBAL STATUS",
            kv(&[
                ("WSREP_LOCAL_STATE_UUID", "6b50600c"),
                ("wsrep_evs_repl_latency", "0.1/0.2/0.3/0.4/5/extra"),
            ]),
        )],
        expect![[r#"
            # HELP mysql_galera_status_info PXC/Galera status information.
            # TYPE mysql_galera_status_info Gauge
            mysql_galera_status_info{wsrep_local_state_uuid="6b50600c",wsrep_cluster_state_uuid="",wsrep_provider_version=""} 1
            # HELP mysql_galera_evs_repl_latency_min_seconds PXC/Galera group communication latency. Min value.
            # TYPE mysql_galera_evs_repl_latency_min_seconds Gauge
            mysql_galera_evs_repl_latency_min_seconds 0.1
            # HELP mysql_galera_evs_repl_latency_avg_seconds PXC/Galera group communication latency. Avg value.
            # TYPE mysql_galera_evs_repl_latency_avg_seconds Gauge
            mysql_galera_evs_repl_latency_avg_seconds 0.2
            # HELP mysql_galera_evs_repl_latency_max_seconds PXC/Galera group communication latency. Max value.
            # TYPE mysql_galera_evs_repl_latency_max_seconds Gauge
            mysql_galera_evs_repl_latency_max_seconds 0.3
            # HELP mysql_galera_evs_repl_latency_stdev PXC/Galera group communication latency. Standard Deviation.
            # TYPE mysql_galera_evs_repl_latency_stdev Gauge
            mysql_galera_evs_repl_latency_stdev 0.4
            # HELP mysql_galera_evs_repl_latency_sample_size PXC/Galera group communication latency. Sample Size.
            # TYPE mysql_galera_evs_repl_latency_sample_size Gauge
            mysql_galera_evs_repl_latency_sample_size 5
        "#]],
    );
}

#[test]
fn global_variables_version_isolation_galera() {
    check(
        Scraper::GlobalVariables,
        vec![(
            "SHOW GLOBAL VARIABLES",
            kv(&[
                ("innodb_version", "8.0.36"),
                ("version", "8.0.36-28"),
                ("version_comment", "Percona Server (GPL)"),
                ("tx_isolation", "READ-COMMITTED"),
                ("max_connections", "151"),
                ("read_only", "OFF"),
                ("wsrep_cluster_name", "pxc"),
                (
                    "wsrep_provider_options",
                    "base_dir = /var/lib/mysql/; gcache.size = 128M; gcs.fc_limit = 16;",
                ),
                ("datadir", "/var/lib/mysql/"),
            ]),
        )],
        expect![[r#"
            # HELP mysql_global_variables_max_connections Generic gauge metric from SHOW GLOBAL VARIABLES.
            # TYPE mysql_global_variables_max_connections Gauge
            mysql_global_variables_max_connections 151
            # HELP mysql_global_variables_read_only Generic gauge metric from SHOW GLOBAL VARIABLES.
            # TYPE mysql_global_variables_read_only Gauge
            mysql_global_variables_read_only 0
            # HELP mysql_version_info MySQL version and distribution.
            # TYPE mysql_version_info Gauge
            mysql_version_info{innodb_version="8.0.36",version="8.0.36-28",version_comment="Percona Server (GPL)"} 1
            # HELP mysql_galera_variables_info PXC/Galera variables information.
            # TYPE mysql_galera_variables_info Gauge
            mysql_galera_variables_info{wsrep_cluster_name="pxc"} 1
            # HELP mysql_galera_gcache_size_bytes PXC/Galera gcache size.
            # TYPE mysql_galera_gcache_size_bytes Gauge
            mysql_galera_gcache_size_bytes 134217728
            # HELP mysql_transaction_isolation MySQL transaction isolation.
            # TYPE mysql_transaction_isolation Gauge
            mysql_transaction_isolation{level="READ-COMMITTED"} 1
        "#]],
    );
    assert_eq!(gcache_size("gcache.size = 2G;"), 2147483648.0);
    assert_eq!(gcache_size("gcacheXsize = 10;"), 10.0);
    assert_eq!(gcache_size("gcache.size = 10K;"), 0.0);
    assert_eq!(gcache_size("gcache"), 0.0);
}

#[test]
fn slave_status_mariadb_all_slaves() {
    let cols = [
        "Connection_name",
        "Master_Host",
        "Slave_IO_Running",
        "Slave_SQL_Running",
        "Seconds_Behind_Master",
        "Master_Log_File",
        "Last_Error",
    ];
    check(
        Scraper::SlaveStatus,
        vec![(
            "SHOW ALL SLAVES STATUS",
            rs(
                &cols,
                &[&[
                    Some("east"),
                    Some("10.0.0.1"),
                    Some("Yes"),
                    Some("Connecting"),
                    None,
                    Some("mysql-bin.000012"),
                    Some(""),
                ]],
            ),
        )],
        expect![[r#"
            # HELP mysql_slave_status_slave_io_running Generic metric from SHOW SLAVE STATUS.
            # TYPE mysql_slave_status_slave_io_running Untyped
            mysql_slave_status_slave_io_running{master_host="10.0.0.1",master_uuid="",channel_name="",connection_name="east"} 1
            # HELP mysql_slave_status_slave_sql_running Generic metric from SHOW SLAVE STATUS.
            # TYPE mysql_slave_status_slave_sql_running Untyped
            mysql_slave_status_slave_sql_running{master_host="10.0.0.1",master_uuid="",channel_name="",connection_name="east"} 0
        "#]],
    );
}

#[test]
fn slave_status_leaves_out_columns_that_make_no_metric_name() {
    check(
        Scraper::SlaveStatus,
        vec![(
            "SHOW ALL SLAVES STATUS",
            rs(
                &["Bad Col", "Ünï", "Exec-Pos", "Read_Master_Log_Pos"],
                &[&[Some("1"), Some("2"), Some("3"), Some("4")]],
            ),
        )],
        expect![[r#"
            # HELP mysql_slave_status_read_master_log_pos Generic metric from SHOW SLAVE STATUS.
            # TYPE mysql_slave_status_read_master_log_pos Untyped
            mysql_slave_status_read_master_log_pos{master_host="",master_uuid="",channel_name="",connection_name=""} 4
        "#]],
    );
}

#[test]
fn slave_status_tries_the_mysql_forms_then_fails_with_the_servers_error() {
    let mut db = Canned(
        vec![(
            "SHOW SLAVE STATUS NONBLOCKING",
            rs(
                &[
                    "Master_Host",
                    "Master_UUID",
                    "Channel_Name",
                    "Read_Master_Log_Pos",
                ],
                &[&[Some("db1"), Some("u-1"), Some(""), Some("4")]],
            ),
        )],
        Vec::new(),
    );
    let mut out = Registry::new();
    Scraper::SlaveStatus.scrape(&mut db, &mut out).unwrap();
    assert_eq!(
        db.1,
        [
            "SHOW ALL SLAVES STATUS",
            "SHOW ALL SLAVES STATUS NONBLOCKING",
            "SHOW ALL SLAVES STATUS NOLOCK",
            "SHOW SLAVE STATUS",
            "SHOW SLAVE STATUS NONBLOCKING"
        ]
    );
    let f = out.get("mysql_slave_status_read_master_log_pos").unwrap();
    assert_eq!(f.metrics[0].label("master_uuid"), Some("u-1"));
    let mut denied = Canned(
        vec![(
            "SHOW SLAVE STATUS",
            Err(Error::Server { code: 1227, message: "Access denied; you need (at least one of) the SUPER, SLAVE MONITOR privilege(s) for this operation".into() }),
        )],
        Vec::new(),
    );
    let err = Scraper::SlaveStatus
        .scrape(&mut denied, &mut Registry::new())
        .unwrap_err();
    assert!(err.to_string().contains("SLAVE MONITOR"), "{err}");
    assert_eq!(denied.1.len(), 6);
}

#[test]
fn innodb_cmp_and_cmpmem() {
    check(
        Scraper::InnodbCmpMem,
        vec![(
            "SELECT page_size, buffer_pool_instance, pages_used, pages_free, relocation_ops, relocation_time FROM information_schema.innodb_cmpmem",
            rs(
                &[
                    "page_size",
                    "buffer_pool_instance",
                    "pages_used",
                    "pages_free",
                    "relocation_ops",
                    "relocation_time",
                ],
                &[&[
                    Some("1024"),
                    Some("0"),
                    Some("3"),
                    Some("1"),
                    Some("9"),
                    Some("2500"),
                ]],
            ),
        )],
        expect![[r#"
            # HELP mysql_info_schema_innodb_cmpmem_pages_used_total Number of blocks of the size PAGE_SIZE that are currently in use.
            # TYPE mysql_info_schema_innodb_cmpmem_pages_used_total Counter
            mysql_info_schema_innodb_cmpmem_pages_used_total{page_size="1024",buffer_pool="0"} 3
            # HELP mysql_info_schema_innodb_cmpmem_pages_free_total Number of blocks of the size PAGE_SIZE that are currently available for allocation.
            # TYPE mysql_info_schema_innodb_cmpmem_pages_free_total Counter
            mysql_info_schema_innodb_cmpmem_pages_free_total{page_size="1024",buffer_pool="0"} 1
            # HELP mysql_info_schema_innodb_cmpmem_relocation_ops_total Number of times a block of the size PAGE_SIZE has been relocated.
            # TYPE mysql_info_schema_innodb_cmpmem_relocation_ops_total Counter
            mysql_info_schema_innodb_cmpmem_relocation_ops_total{page_size="1024",buffer_pool="0"} 9
            # HELP mysql_info_schema_innodb_cmpmem_relocation_time_seconds_total Total time in seconds spent in relocating blocks.
            # TYPE mysql_info_schema_innodb_cmpmem_relocation_time_seconds_total Counter
            mysql_info_schema_innodb_cmpmem_relocation_time_seconds_total{page_size="1024",buffer_pool="0"} 2.5
        "#]],
    );
    // A value that is no number fails the scraper and emits nothing.
    let q = "SELECT page_size, compress_ops, compress_ops_ok, compress_time, uncompress_ops, uncompress_time FROM information_schema.innodb_cmp";
    let bad = rs(
        &["a", "b", "c", "d", "e", "f"],
        &[
            &[
                Some("1024"),
                Some("1"),
                Some("1"),
                Some("1"),
                Some("1"),
                Some("1"),
            ],
            &[
                Some("2048"),
                Some("x"),
                Some("1"),
                Some("1"),
                Some("1"),
                Some("1"),
            ],
        ],
    );
    let mut out = Registry::new();
    let err = Scraper::InnodbCmp
        .scrape(&mut Canned(vec![(q, bad)], Vec::new()), &mut out)
        .unwrap_err();
    assert!(err.to_string().contains("innodb_cmp"), "{err}");
    assert!(out.families().is_empty());
    let short = rs(&["a"], &[&[Some("1024")]]);
    assert!(
        Scraper::InnodbCmp
            .scrape(&mut Canned(vec![(q, short)], Vec::new()), &mut out)
            .is_err()
    );
}

#[test]
fn query_response_time_histogram_or_nothing() {
    // No plugin: no families, no error.
    let mut out = Registry::new();
    Scraper::QueryResponseTime
        .scrape(&mut Canned(Vec::new(), Vec::new()), &mut out)
        .unwrap();
    assert!(out.families().is_empty());
    let off = vec![(
        "SELECT @@query_response_time_stats",
        rs(&["@@q"], &[&[Some("0")]]),
    )];
    Scraper::QueryResponseTime
        .scrape(&mut Canned(off, Vec::new()), &mut out)
        .unwrap();
    assert!(out.families().is_empty());
    check(
        Scraper::QueryResponseTime,
        vec![
            (
                "SELECT @@query_response_time_stats",
                rs(&["@@q"], &[&[Some("1")]]),
            ),
            (
                "SELECT TIME, COUNT, TOTAL FROM INFORMATION_SCHEMA.QUERY_RESPONSE_TIME",
                rs(
                    &["TIME", "COUNT", "TOTAL"],
                    &[
                        &[Some("      0.000001"), Some("124"), Some("      0.000000")],
                        &[Some("      0.000010"), Some("179"), Some("      0.000797")],
                        &[Some("      1.000000"), Some("2"), Some("      1.500000")],
                        &[Some("TOO LONG"), Some("1"), Some("TOO LONG")],
                    ],
                ),
            ),
        ],
        expect![[r#"
            # HELP mysql_info_schema_query_response_time_seconds The number of all queries by duration they took to execute.
            # TYPE mysql_info_schema_query_response_time_seconds Histogram
            mysql_info_schema_query_response_time_seconds_bucket{le="0.000001"} 124
            mysql_info_schema_query_response_time_seconds_bucket{le="0.00001"} 303
            mysql_info_schema_query_response_time_seconds_bucket{le="1"} 305
            mysql_info_schema_query_response_time_seconds_sum 1.500797
            mysql_info_schema_query_response_time_seconds_count 306
        "#]],
    );
}

#[test]
fn a_broken_connection_stops_the_scraper() {
    struct Dead;
    impl Source for Dead {
        fn query(&mut self, _: &str) -> Result<ResultSet, Error> {
            Err(Error::Broken("gone".into()))
        }
    }
    for s in Scraper::ALL {
        assert_eq!(
            s.scrape(&mut Dead, &mut Registry::new()),
            Err(Error::Broken("gone".into())),
            "{s:?}"
        );
    }
    // Answers of the wrong shape are errors, not panics.
    let odd = vec![("SHOW GLOBAL STATUS", rs(&["a"], &[&[None]]))];
    assert!(
        Scraper::GlobalStatus
            .scrape(&mut Canned(odd, Vec::new()), &mut Registry::new())
            .is_err()
    );
}

#[test]
fn binlog_size_when_binary_logging_is_on() {
    check(
        Scraper::BinlogSize,
        vec![
            ("SELECT @@log_bin", rs(&["@@log_bin"], &[&[Some("1")]])),
            (
                "SHOW BINARY LOGS",
                rs(
                    &["Log_name", "File_size"],
                    &[
                        &[Some("mysql-bin.000001"), Some("1000")],
                        &[Some("mysql-bin.000002"), Some("234")],
                    ],
                ),
            ),
        ],
        expect![[r#"
            # HELP mysql_binlog_size_bytes Combined size of all registered binlog files.
            # TYPE mysql_binlog_size_bytes Gauge
            mysql_binlog_size_bytes 1234
            # HELP mysql_binlog_files Number of registered binlog files.
            # TYPE mysql_binlog_files Gauge
            mysql_binlog_files 2
            # HELP mysql_binlog_file_number The last binlog file number.
            # TYPE mysql_binlog_file_number Gauge
            mysql_binlog_file_number 2
        "#]],
    );
    let off = vec![("SELECT @@log_bin", rs(&["@@log_bin"], &[&[Some("0")]]))];
    let mut db = Canned(off, Vec::new());
    let mut out = Registry::new();
    Scraper::BinlogSize.scrape(&mut db, &mut out).unwrap();
    assert!(out.families().is_empty());
    assert_eq!(db.1, ["SELECT @@log_bin"]);
    let odd = vec![
        ("SELECT @@log_bin", rs(&["@@log_bin"], &[&[Some("1")]])),
        ("SHOW BINARY LOGS", rs(&["a"], &[&[Some("x")]])),
    ];
    let err = Scraper::BinlogSize
        .scrape(&mut Canned(odd, Vec::new()), &mut out)
        .unwrap_err();
    assert!(
        err.to_string().contains("invalid number of columns"),
        "{err}"
    );
}
