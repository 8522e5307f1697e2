//! mysqld-exporter (being written).
