//! `wasmetheus-promqltest`: Prometheus' scripted PromQL tests (`*.test` files).
