//! Prometheus' notifier: alerts queued, batched and sent to Alertmanagers (API v2).
