//! The remote write sender: one queue per `remote_write` entry, tailing the WAL.
