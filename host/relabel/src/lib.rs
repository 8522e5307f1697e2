//! `wasmetheus-relabel`: Prometheus' `relabel_configs`.
