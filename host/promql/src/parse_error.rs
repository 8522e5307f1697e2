//! The error of a query that does not parse or type-check, with its
//! position as Prometheus reports it. Its own module so that the
//! evaluation's error type can carry it without importing the parser.

/// A query that does not parse or type-check. Displays as Prometheus does:
/// `1:5: parse error: unexpected end of input` (line and column 1-based,
/// columns counting characters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: parse error: {message}")]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    /// Byte offset of the position in the query.
    pub offset: usize,
    pub message: String,
}

impl ParseError {
    /// The error at byte `offset` of `input` (clamped to its end).
    pub(crate) fn at(input: &str, offset: usize, message: String) -> Self {
        let offset = offset.min(input.len());
        let before = input.get(..offset).unwrap_or(input);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        ParseError {
            line,
            column,
            offset,
            message,
        }
    }
}
