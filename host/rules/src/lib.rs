//! Prometheus' rule files and rule manager: recording and alerting rules, their evaluation, state and self-metrics.
