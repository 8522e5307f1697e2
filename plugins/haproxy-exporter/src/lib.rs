//! haproxy-exporter (being written).
