//! `wasmetheus-query-cli`: the promtool-compatible `wasmetheus query …` client.
