//! The MySQL and HAProxy exporter plugins against real servers started
//! from Debian's packages (MariaDB, HAProxy) and against Debian's own
//! exporters reading the same servers (`prometheus-mysqld-exporter`,
//! `prometheus-haproxy-exporter`, 0.14): families, values, failure paths
//! and recovery, in the runtime and through the whole server.

pub(crate) mod compare;
mod haproxy;
mod mysql;
mod serve;
pub(crate) mod servers;
