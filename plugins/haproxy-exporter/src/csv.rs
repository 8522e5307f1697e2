//! HAProxy's statistics CSV, read as haproxy_exporter reads it: Go's
//! `encoding/csv` with `#` comments, strict quotes, and the field count of
//! the first record required of every later one.
//!
//! The reader walks a body already in memory and hands out records whose
//! unquoted fields borrow from it. A record that breaks the rules is an
//! [`Item::Bad`] with Go's message (the caller counts it as a parse failure
//! and goes on with the next line, as the exporter does); only the limits
//! on records and fields end the reading early.

use std::borrow::Cow;

/// One field of a record: borrowed unless quotes had to be undone.
pub type Field<'a> = Cow<'a, [u8]>;

/// Bounds on what one body may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Records (good or bad) read before giving up on the body.
    pub max_records: usize,
    /// Fields of one record; a longer record is a bad one.
    pub max_fields: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_records: 1_000_000,
            max_fields: 10_000,
        }
    }
}

/// What [`Reader::next_item`] found.
#[derive(Debug, PartialEq)]
pub enum Item<'a> {
    /// A well-formed record.
    Record(Vec<Field<'a>>),
    /// A malformed record, skipped: Go's `csv.ParseError` text.
    Bad(String),
    /// More than [`Limits::max_records`] records: the rest is not read.
    TooManyRecords(usize),
}

/// A pull reader over a whole body.
#[derive(Debug)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    /// Lines consumed so far (1-based number of the last one read).
    line: usize,
    /// The field count of the first record, once read.
    fields_per_record: Option<usize>,
    records: usize,
    limits: Limits,
}

/// How a record ended when it was malformed.
enum RecordError {
    BareQuote { line: usize, column: usize },
    Quote { line: usize, column: usize },
    TooManyFields { line: usize },
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8], limits: Limits) -> Self {
        Reader {
            data,
            pos: 0,
            line: 0,
            fields_per_record: None,
            records: 0,
            limits,
        }
    }

    /// The next line with its newline (`\r\n` counted as `\n`), or `None`
    /// at the end. A `\r` before the end of the data is dropped, as Go does.
    fn read_line(&mut self) -> Option<&'a [u8]> {
        if self.pos >= self.data.len() {
            return None;
        }
        let rest = &self.data[self.pos..];
        let (mut line, used) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..=i], i + 1),
            None => (rest, rest.len()),
        };
        self.pos += used;
        self.line += 1;
        if line.ends_with(b"\r\n") {
            // Reported without the `\r`: the field ends before it.
            line = &line[..line.len() - 2];
            return Some(line);
        }
        if let Some(stripped) = line.strip_suffix(b"\n") {
            return Some(stripped);
        }
        if let Some(stripped) = line.strip_suffix(b"\r") {
            line = stripped;
        }
        Some(line)
    }

    /// The next record, bad record, or the end.
    pub fn next_item(&mut self) -> Option<Item<'a>> {
        // Skip comments and empty lines.
        let line = loop {
            let line = self.read_line()?;
            if line.first() == Some(&b'#') || line.is_empty() {
                continue;
            }
            break line;
        };
        self.records += 1;
        if self.records > self.limits.max_records {
            self.pos = self.data.len();
            return Some(Item::TooManyRecords(self.limits.max_records));
        }
        let start_line = self.line;
        let mut fields = Vec::new();
        let result = self.parse_record(line, &mut fields);
        // Go's reader takes the count of the first record, even a bad one,
        // unless it has no field at all.
        if self.fields_per_record.is_none() && !fields.is_empty() {
            self.fields_per_record = Some(fields.len());
        }
        match result {
            Err(RecordError::BareQuote { line, column }) => Some(Item::Bad(format!(
                "parse error on line {line}, column {column}: bare \" in non-quoted-field"
            ))),
            Err(RecordError::Quote { line, column }) => {
                let at = if line == start_line {
                    format!("parse error on line {line}, column {column}")
                } else {
                    format!(
                        "parse error on line {line}, column {column} (record starting on line {start_line})"
                    )
                };
                Some(Item::Bad(format!(
                    "{at}: extraneous or missing \" in quoted-field"
                )))
            }
            Err(RecordError::TooManyFields { line }) => Some(Item::Bad(format!(
                "record on line {line}: more than {} fields",
                self.limits.max_fields
            ))),
            Ok(()) => match self.fields_per_record {
                Some(expected) if expected != fields.len() => Some(Item::Bad(format!(
                    "record on line {start_line}: wrong number of fields ({} instead of {expected})",
                    fields.len()
                ))),
                _ => Some(Item::Record(fields)),
            },
        }
    }

    fn push(&self, fields: &mut Vec<Field<'a>>, field: Field<'a>) -> Result<(), RecordError> {
        if fields.len() >= self.limits.max_fields {
            return Err(RecordError::TooManyFields { line: self.line });
        }
        fields.push(field);
        Ok(())
    }

    fn parse_record(
        &mut self,
        mut line: &'a [u8],
        fields: &mut Vec<Field<'a>>,
    ) -> Result<(), RecordError> {
        // Byte column of `line[0]`, 1-based, as Go counts.
        let mut column = 1;
        loop {
            if line.first() != Some(&b'"') {
                let comma = line.iter().position(|&b| b == b',');
                let field = &line[..comma.unwrap_or(line.len())];
                if let Some(j) = field.iter().position(|&b| b == b'"') {
                    return Err(RecordError::BareQuote {
                        line: self.line,
                        column: column + j,
                    });
                }
                self.push(fields, Cow::Borrowed(field))?;
                match comma {
                    Some(i) => {
                        line = &line[i + 1..];
                        column += i + 1;
                    }
                    None => return Ok(()),
                }
                continue;
            }
            // A quoted field, possibly over several lines.
            line = &line[1..];
            column += 1;
            let mut value = Vec::new();
            loop {
                match line.iter().position(|&b| b == b'"') {
                    Some(i) => {
                        value.extend_from_slice(&line[..i]);
                        line = &line[i + 1..];
                        column += i + 1;
                        match line.first() {
                            Some(b'"') => {
                                value.push(b'"');
                                line = &line[1..];
                                column += 1;
                            }
                            Some(b',') => {
                                line = &line[1..];
                                column += 1;
                                self.push(fields, Cow::Owned(value))?;
                                break;
                            }
                            None => {
                                self.push(fields, Cow::Owned(value))?;
                                return Ok(());
                            }
                            Some(_) => {
                                return Err(RecordError::Quote {
                                    line: self.line,
                                    column: column - 1,
                                });
                            }
                        }
                    }
                    None => {
                        // The field goes on after the line's newline.
                        value.extend_from_slice(line);
                        column += line.len();
                        match self.read_line() {
                            Some(next) => {
                                value.push(b'\n');
                                line = next;
                                column = 1;
                            }
                            None => {
                                return Err(RecordError::Quote {
                                    line: self.line,
                                    column,
                                });
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(data: &[u8], limits: Limits) -> Vec<String> {
        let mut reader = Reader::new(data, limits);
        let mut out = Vec::new();
        while let Some(item) = reader.next_item() {
            out.push(match item {
                Item::Record(fields) => fields
                    .iter()
                    .map(|f| format!("{:?}", String::from_utf8_lossy(f)))
                    .collect::<Vec<_>>()
                    .join("|"),
                Item::Bad(why) => format!("BAD {why}"),
                Item::TooManyRecords(n) => format!("STOP {n}"),
            });
        }
        out
    }

    #[test]
    fn comments_empty_lines_and_line_endings() {
        let got = items(b"# a,b,c\na,b,\r\n\n#x\nc,\"d\",e\r", Limits::default());
        assert_eq!(got, [r#""a"|"b"|"""#, r#""c"|"d"|"e""#]);
    }

    #[test]
    fn quotes_as_go_reads_them() {
        let got = items(
            b"\"a,\"\"b\"\"\",x\n\"multi\r\nline\",y\nba\"re,z\n\"q\"junk,w\nok,\"open\n",
            Limits::default(),
        );
        assert_eq!(
            got,
            [
                r#""a,\"b\""|"x""#,
                r#""multi\nline"|"y""#,
                "BAD parse error on line 4, column 3: bare \" in non-quoted-field",
                "BAD parse error on line 5, column 3: extraneous or missing \" in quoted-field",
                "BAD parse error on line 6, column 9: extraneous or missing \" in quoted-field",
            ]
        );
    }

    #[test]
    fn the_first_record_sets_the_field_count() {
        let got = items(b"a,b\nc\nd,e\nf,g,h\n", Limits::default());
        assert_eq!(
            got,
            [
                r#""a"|"b""#,
                "BAD record on line 2: wrong number of fields (1 instead of 2)",
                r#""d"|"e""#,
                "BAD record on line 4: wrong number of fields (3 instead of 2)",
            ]
        );
    }

    #[test]
    fn limits_end_the_reading() {
        let limits = Limits {
            max_records: 2,
            max_fields: 3,
        };
        let got = items(b"a,b,c\na,b,c,d\na\nnot read\n", limits);
        assert_eq!(
            got,
            [
                r#""a"|"b"|"c""#,
                "BAD record on line 2: more than 3 fields",
                "STOP 2",
            ]
        );
    }

    #[test]
    fn nul_bytes_and_invalid_utf8_are_just_bytes() {
        let mut reader = Reader::new(b"a\0b,\xff\xfe\n", Limits::default());
        assert_eq!(
            reader.next_item(),
            Some(Item::Record(vec![
                Cow::Borrowed(&b"a\0b"[..]),
                Cow::Borrowed(&b"\xff\xfe"[..])
            ]))
        );
        assert_eq!(reader.next_item(), None);
    }

    #[test]
    fn a_huge_line_of_commas_is_bounded() {
        let line = vec![b','; 5_000_000];
        let got = items(&line, Limits::default());
        assert_eq!(got, ["BAD record on line 1: more than 10000 fields"]);
    }
}
