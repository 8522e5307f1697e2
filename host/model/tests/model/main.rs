//! Tests of the exposition formats and validation, in one binary to keep
//! linking cheap.

mod conformance;
mod openmetrics;
mod support;
mod text;
mod validate;
