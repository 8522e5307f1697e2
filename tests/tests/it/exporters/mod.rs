//! The MySQL and HAProxy exporter plugins against real servers and Debian's exporters (being written).
