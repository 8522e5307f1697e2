//! The MIME pieces of Alertmanager's email as Go writes them: header values
//! Q-encoded (`mime.QEncoding.Encode("utf-8", v)`), canonical header names
//! (`textproto.CanonicalMIMEHeaderKey`), quoted-printable bodies
//! (`mime/quotedprintable.Writer`), `multipart.Writer`'s parts, and the
//! SMTP `DATA` dot-stuffing of `textproto.DotWriter`.

const UPPERHEX: &[u8; 16] = b"0123456789ABCDEF";

/// Go's `mime.QEncoding.Encode("utf-8", s)`: `s` unchanged when every
/// character is printable ASCII or a tab, else encoded words of at most 75
/// characters, a multi-byte character never split between two.
pub fn q_encode(s: &str) -> String {
    if !s.chars().any(|c| !(' '..='~').contains(&c) && c != '\t') {
        return s.to_owned();
    }
    // maxEncodedWordLen - len("=?UTF-8?q?") - len("?=")
    const MAX_CONTENT_LEN: usize = 75 - 10 - 2;
    let mut out = String::from("=?utf-8?q?");
    let mut current = 0;
    for c in s.chars() {
        let mut buf = [0u8; 4];
        let bytes = c.encode_utf8(&mut buf).as_bytes();
        let enc_len = if bytes.len() == 1 && is_q_literal_or_space(bytes[0]) {
            1
        } else {
            3 * bytes.len()
        };
        if current + enc_len > MAX_CONTENT_LEN {
            out.push_str("?= =?utf-8?q?");
            current = 0;
        }
        for &b in bytes {
            match b {
                b' ' => out.push('_'),
                b if is_q_literal_or_space(b) => out.push(b as char),
                b => {
                    out.push('=');
                    out.push(UPPERHEX[usize::from(b >> 4)] as char);
                    out.push(UPPERHEX[usize::from(b & 0x0f)] as char);
                }
            }
        }
        current += enc_len;
    }
    out.push_str("?=");
    out
}

fn is_q_literal_or_space(b: u8) -> bool {
    (b' '..=b'~').contains(&b) && b != b'=' && b != b'?' && b != b'_'
}

/// Whether `b` may appear in a header field name (an RFC 7230 token
/// character, as Go's `textproto` checks).
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Whether `name` can be written as a header field name.
pub fn valid_header_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(is_token_byte)
}

/// Go's `textproto.CanonicalMIMEHeaderKey`: the first letter and each
/// letter after a hyphen upper case, the rest lower case; a name with a
/// byte outside the token set is returned unchanged.
pub fn canonical_header_key(name: &str) -> String {
    if !name.bytes().all(is_token_byte) {
        return name.to_owned();
    }
    let mut upper = true;
    name.chars()
        .map(|c| {
            let out = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            upper = c == '-';
            out
        })
        .collect()
}

/// Go's `mime/quotedprintable.Writer` (not binary) writing `input` and
/// closing: lines of at most 76 characters with soft breaks, line breaks
/// as CRLF, whitespace before a break encoded.
pub fn quoted_printable(input: &[u8]) -> Vec<u8> {
    let mut w = QpWriter::default();
    for &b in input {
        let literal = (b'!'..=b'~').contains(&b) && b != b'=';
        if literal || b == b' ' || b == b'\t' || b == b'\n' || b == b'\r' {
            w.write(b);
        } else {
            w.encode(b);
        }
    }
    w.check_last_byte();
    w.flush();
    w.out
}

const LINE_MAX_LEN: usize = 76;

#[derive(Default)]
struct QpWriter {
    out: Vec<u8>,
    line: Vec<u8>,
    cr: bool,
}

impl QpWriter {
    fn write(&mut self, b: u8) {
        if b == b'\n' || b == b'\r' {
            // After a \r the CRLF is already written.
            if self.cr && b == b'\n' {
                self.cr = false;
                return;
            }
            if b == b'\r' {
                self.cr = true;
            }
            self.check_last_byte();
            self.insert_crlf();
            return;
        }
        if self.line.len() == LINE_MAX_LEN - 1 {
            self.insert_soft_line_break();
        }
        self.line.push(b);
        self.cr = false;
    }

    fn encode(&mut self, b: u8) {
        if LINE_MAX_LEN - 1 - self.line.len() < 3 {
            self.insert_soft_line_break();
        }
        self.line.push(b'=');
        self.line.push(UPPERHEX[usize::from(b >> 4)]);
        self.line.push(UPPERHEX[usize::from(b & 0x0f)]);
    }

    fn check_last_byte(&mut self) {
        if let Some(&b) = self.line.last()
            && (b == b' ' || b == b'\t')
        {
            self.line.pop();
            self.encode(b);
        }
    }

    fn insert_soft_line_break(&mut self) {
        self.line.push(b'=');
        self.insert_crlf();
    }

    fn insert_crlf(&mut self) {
        self.line.extend_from_slice(b"\r\n");
        self.flush();
    }

    fn flush(&mut self) {
        self.out.append(&mut self.line);
    }
}

/// Go's `multipart.Writer` over a buffer with a given boundary.
pub struct Multipart {
    boundary: String,
    out: Vec<u8>,
    parts: usize,
}

impl Multipart {
    pub fn new(boundary: String) -> Multipart {
        Multipart {
            boundary,
            out: Vec::new(),
            parts: 0,
        }
    }

    /// Starts a part with these headers (written sorted by name, as Go
    /// does) and writes its body.
    pub fn part(&mut self, headers: &[(&str, &str)], body: &[u8]) {
        if self.parts > 0 {
            self.out.extend_from_slice(b"\r\n");
        }
        self.out.extend_from_slice(b"--");
        self.out.extend_from_slice(self.boundary.as_bytes());
        self.out.extend_from_slice(b"\r\n");
        let mut headers = headers.to_vec();
        headers.sort_unstable();
        for (k, v) in headers {
            self.out
                .extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
        }
        self.out.extend_from_slice(b"\r\n");
        self.out.extend_from_slice(body);
        self.parts += 1;
    }

    /// The parts and the closing boundary.
    pub fn finish(mut self) -> Vec<u8> {
        self.out
            .extend_from_slice(format!("\r\n--{}--\r\n", self.boundary).as_bytes());
        self.out
    }
}

/// Go's `textproto.DotWriter` writing `data` and closing: a dot opening a
/// line doubled, a lone LF written as CRLF, and the message ended with
/// `CRLF.CRLF` (a CRLF added when the data does not end a line).
pub fn dot_stuff(data: &[u8]) -> Vec<u8> {
    #[derive(PartialEq)]
    enum State {
        BeginLine,
        Cr,
        Data,
    }
    let mut out = Vec::with_capacity(data.len() + data.len() / 64 + 5);
    let mut state = State::BeginLine;
    for &c in data {
        match state {
            State::BeginLine | State::Data => {
                if state == State::BeginLine && c == b'.' {
                    out.push(b'.');
                }
                state = State::Data;
                if c == b'\r' {
                    state = State::Cr;
                }
                if c == b'\n' {
                    out.push(b'\r');
                    state = State::BeginLine;
                }
            }
            State::Cr => {
                state = if c == b'\n' {
                    State::BeginLine
                } else {
                    State::Data
                };
            }
        }
        out.push(c);
    }
    match state {
        State::Data => out.extend_from_slice(b"\r\n"),
        State::Cr => out.push(b'\n'),
        State::BeginLine => {}
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q_encoding_as_go() {
        // Expected texts from Go 1.22's mime.QEncoding.Encode("utf-8", s).
        let cases = [
            ("plain text", "plain text"),
            ("tab\there", "tab\there"),
            (
                "[FIRING:1] Dönerladen",
                "=?utf-8?q?[FIRING:1]_D=C3=B6nerladen?=",
            ),
            (
                "a=b?c_d\r\nX-Evil: 1",
                "=?utf-8?q?a=3Db=3Fc=5Fd=0D=0AX-Evil:_1?=",
            ),
            (
                "ééééééééééééééééééééééé",
                "=?utf-8?q?=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9?= \
                 =?utf-8?q?=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9=C3=A9?= \
                 =?utf-8?q?=C3=A9=C3=A9=C3=A9?=",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(q_encode(input), want, "{input:?}");
        }
        // No encoded word is longer than 75 characters.
        let long = "ü".repeat(200);
        for word in q_encode(&long).split(' ') {
            assert!(word.len() <= 75, "{word}");
        }
    }

    #[test]
    fn canonical_keys() {
        for (input, want) in [
            ("subject", "Subject"),
            ("x-PRIORITY-level", "X-Priority-Level"),
            ("Message-Id", "Message-Id"),
            ("with space", "with space"),
        ] {
            assert_eq!(canonical_header_key(input), want);
        }
        assert!(valid_header_name("X-Team"));
        assert!(!valid_header_name("X-Team:\r\nBcc"));
        assert!(!valid_header_name(""));
    }

    #[test]
    fn quoted_printable_as_go() {
        // Expected texts from Go's mime/quotedprintable.Writer.
        let cases: [(&str, &str); 8] = [
            ("hello", "hello"),
            ("a=b", "a=3Db"),
            ("trailing space \nnext", "trailing space=20\r\nnext"),
            ("tab\t\r\nx", "tab=09\r\nx"),
            ("lf\nonly", "lf\r\nonly"),
            ("end space ", "end space=20"),
            ("Dönerladen", "D=C3=B6nerladen"),
            ("bare\rcr", "bare\r\ncr"),
        ];
        for (input, want) in cases {
            assert_eq!(
                String::from_utf8(quoted_printable(input.as_bytes())).unwrap(),
                want,
                "{input:?}"
            );
        }
        // Soft breaks keep lines at 76 characters at most, and an encoded
        // byte is never split by one.
        let long = format!("{}é{}", "x".repeat(73), "y".repeat(100));
        let out = String::from_utf8(quoted_printable(long.as_bytes())).unwrap();
        expect_test::expect![[r#"
            xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx=
            =C3=A9yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy=
            yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"#]]
        .assert_eq(&out.replace("\r\n", "\n"));
        for line in out.split("\r\n") {
            assert!(line.len() <= 76, "{line}");
        }
    }

    #[test]
    fn multipart_as_go() {
        let mut m = Multipart::new("b0undary".into());
        m.part(
            &[
                ("Content-Type", "text/plain; charset=UTF-8"),
                ("Content-Transfer-Encoding", "quoted-printable"),
            ],
            b"text",
        );
        m.part(&[("Content-Type", "text/html; charset=UTF-8")], b"<p>x</p>");
        expect_test::expect![[r#"
            --b0undary
            Content-Transfer-Encoding: quoted-printable
            Content-Type: text/plain; charset=UTF-8

            text
            --b0undary
            Content-Type: text/html; charset=UTF-8

            <p>x</p>
            --b0undary--
        "#]]
        .assert_eq(&String::from_utf8(m.finish()).unwrap().replace("\r\n", "\n"));
        assert_eq!(
            Multipart::new("e".into()).finish(),
            b"\r\n--e--\r\n".to_vec()
        );
    }

    #[test]
    fn dot_stuffing_as_go() {
        let cases: [(&str, &str); 7] = [
            ("", ".\r\n"),
            ("a\r\n", "a\r\n.\r\n"),
            ("a", "a\r\n.\r\n"),
            (".a\r\n..b\r\nc.\r\n", "..a\r\n...b\r\nc.\r\n.\r\n"),
            (".\r\n", "..\r\n.\r\n"),
            ("lone\nlf\n.x", "lone\r\nlf\r\n..x\r\n.\r\n"),
            ("ends in cr\r", "ends in cr\r\n.\r\n"),
        ];
        for (input, want) in cases {
            assert_eq!(
                String::from_utf8(dot_stuff(input.as_bytes())).unwrap(),
                want,
                "{input:?}"
            );
        }
    }
}
