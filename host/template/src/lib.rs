//! Go's text/template with Prometheus' template data and functions (alert labels and annotations; the Alertmanager's notifications).
