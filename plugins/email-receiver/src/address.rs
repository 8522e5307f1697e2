//! Address lists as Go's `net/mail.ParseAddressList` reads them (RFC 5322
//! `address-list`: `a@example.com`, `Name <a@example.com>`,
//! `"Quoted, Name" <a@example.com>`, comments, groups `team: a@x, b@y;`,
//! empty entries skipped): only the addresses are kept, which is what
//! `MAIL FROM` and `RCPT TO` need.

/// The most addresses one list may hold.
pub const MAX_ADDRESSES: usize = 1000;

/// The addresses of `list`, or Go's error text (`mail: …`).
pub fn parse_address_list(list: &str) -> Result<Vec<String>, String> {
    let mut p = Parser {
        s: list.as_bytes(),
        i: 0,
    };
    let mut out = Vec::new();
    loop {
        p.skip_cfws()?;
        if p.consume(b',') {
            continue;
        }
        if p.empty() {
            break;
        }
        p.address(true, &mut out)?;
        if out.len() > MAX_ADDRESSES {
            return Err(format!("mail: more than {MAX_ADDRESSES} addresses"));
        }
        p.skip_cfws()?;
        if p.empty() {
            break;
        }
        if !p.consume(b',') {
            return Err("mail: expected comma".into());
        }
    }
    if out.is_empty() {
        return Err("mail: no address".into());
    }
    Ok(out)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

fn is_atext(b: u8, dot: bool) -> bool {
    b.is_ascii_alphanumeric()
        || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
        || b >= 0x80
        || (dot && b == b'.')
}

impl Parser<'_> {
    fn empty(&self) -> bool {
        self.i >= self.s.len()
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn consume(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Skips folding white space and (nested) comments.
    fn skip_cfws(&mut self) -> Result<(), String> {
        loop {
            while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
                self.i += 1;
            }
            if self.peek() != Some(b'(') {
                return Ok(());
            }
            let mut depth = 0usize;
            loop {
                match self.peek() {
                    None => return Err("mail: misformatted parenthetical comment".into()),
                    Some(b'\\') => self.i += 1,
                    Some(b'(') => depth += 1,
                    Some(b')') => depth -= 1,
                    _ => {}
                }
                self.i += 1;
                if depth == 0 {
                    break;
                }
            }
        }
    }

    fn address(&mut self, group: bool, out: &mut Vec<String>) -> Result<(), String> {
        // As Go: an addr-spec first (whatever follows it), else a name-addr.
        let start = self.i;
        if let Ok(spec) = self.addr_spec() {
            out.push(spec);
            return Ok(());
        }
        self.i = start;
        let mut phrase_atext = true;
        if self.peek() != Some(b'<') {
            phrase_atext = self.phrase()?;
        }
        self.skip_cfws()?;
        if group && self.consume(b':') {
            return self.group(out);
        }
        if !self.consume(b'<') {
            return Err(if phrase_atext {
                "mail: missing '@' or angle-addr".into()
            } else {
                "mail: no angle-addr".into()
            });
        }
        self.skip_cfws()?;
        let spec = self.addr_spec()?;
        self.skip_cfws()?;
        if !self.consume(b'>') {
            return Err("mail: unclosed angle-addr".into());
        }
        out.push(spec);
        Ok(())
    }

    fn group(&mut self, out: &mut Vec<String>) -> Result<(), String> {
        loop {
            self.skip_cfws()?;
            if self.consume(b';') {
                return Ok(());
            }
            if self.empty() {
                return Err("mail: unclosed group".into());
            }
            if self.consume(b',') {
                continue;
            }
            self.address(false, out)?;
            if out.len() > MAX_ADDRESSES {
                return Err(format!("mail: more than {MAX_ADDRESSES} addresses"));
            }
            self.skip_cfws()?;
            if !matches!(self.peek(), Some(b',' | b';')) {
                return Err("mail: expected comma".into());
            }
        }
    }

    /// A display name: words (atoms, dots, quoted strings). Whether it was
    /// all atom text.
    fn phrase(&mut self) -> Result<bool, String> {
        let mut words = 0;
        let mut atext = true;
        loop {
            self.skip_cfws()?;
            match self.peek() {
                Some(b'"') => {
                    self.quoted_string()?;
                    atext = false;
                }
                Some(b) if is_atext(b, true) => {
                    while self.peek().is_some_and(|b| is_atext(b, true)) {
                        self.i += 1;
                    }
                }
                _ => break,
            }
            words += 1;
        }
        if words == 0 {
            return Err("mail: missing word in phrase".into());
        }
        Ok(atext && words == 1)
    }

    fn quoted_string(&mut self) -> Result<String, String> {
        self.i += 1; // the opening quote
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err("mail: unclosed quoted-string".into()),
                Some(b'"') => {
                    self.i += 1;
                    return String::from_utf8(out)
                        .map_err(|_| "mail: invalid utf-8 in quoted-string".to_owned());
                }
                Some(b'\\') => {
                    self.i += 1;
                    match self.peek() {
                        Some(b) => out.push(b),
                        None => return Err("mail: unclosed quoted-string".into()),
                    }
                }
                Some(b'\r' | b'\n') => {
                    return Err("mail: bad character in quoted-string".into());
                }
                Some(b) => out.push(b),
            }
            self.i += 1;
        }
    }

    fn dot_atom(&mut self) -> Result<String, String> {
        let start = self.i;
        while self.peek().is_some_and(|b| is_atext(b, true)) {
            self.i += 1;
        }
        let atom = &self.s[start..self.i];
        if atom.is_empty() {
            return Err("mail: invalid string".into());
        }
        if atom.starts_with(b".") || atom.ends_with(b".") || atom.windows(2).any(|w| w == b"..") {
            return Err("mail: dot-atom has dots in the wrong places".into());
        }
        String::from_utf8(atom.to_vec()).map_err(|_| "mail: invalid utf-8 in address".to_owned())
    }

    fn addr_spec(&mut self) -> Result<String, String> {
        let local = if self.peek() == Some(b'"') {
            self.quoted_string()?
        } else {
            self.dot_atom()?
        };
        if !self.consume(b'@') {
            return Err("mail: missing @ in addr-spec".into());
        }
        let domain = if self.peek() == Some(b'[') {
            let start = self.i;
            while let Some(b) = self.peek() {
                self.i += 1;
                if b == b']' {
                    break;
                }
                if b == b'[' && self.i - 1 != start || b <= b' ' {
                    return Err("mail: invalid domain literal".into());
                }
            }
            if self.s.get(self.i.wrapping_sub(1)) != Some(&b']') || self.i - start < 2 {
                return Err("mail: unclosed domain-literal".into());
            }
            String::from_utf8(self.s[start..self.i].to_vec())
                .map_err(|_| "mail: invalid utf-8 in address".to_owned())?
        } else {
            self.dot_atom()
                .map_err(|_| "mail: invalid domain in addr-spec".to_owned())?
        };
        Ok(format!("{local}@{domain}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_lists_as_go_reads_them() {
        let cases: &[(&str, Result<&[&str], &str>)] = &[
            ("a@example.com", Ok(&["a@example.com"])),
            (
                "a@example.com, Bob <b@example.com>",
                Ok(&["a@example.com", "b@example.com"]),
            ),
            (
                r#""Ops, Team" <ops@example.com>,,c@x.org"#,
                Ok(&["ops@example.com", "c@x.org"]),
            ),
            ("x@y (comment)", Ok(&["x@y"])),
            ("Dr. J. Doe <jd@example.com>", Ok(&["jd@example.com"])),
            (
                "team: a@x.org, b@y.org;, c@z.org",
                Ok(&["a@x.org", "b@y.org", "c@z.org"]),
            ),
            (r#""odd local"@example.com"#, Ok(&["odd local@example.com"])),
            ("root@[127.0.0.1]", Ok(&["root@[127.0.0.1]"])),
            ("", Err("mail: no address")),
            (" , ", Err("mail: no address")),
            ("plain", Err("mail: missing '@' or angle-addr")),
            ("Full Name", Err("mail: no angle-addr")),
            ("Name <a@b", Err("mail: unclosed angle-addr")),
            ("a@b c@d", Err("mail: expected comma")),
            ("a..b@c", Err("mail: missing '@' or angle-addr")),
            ("\"unclosed", Err("mail: unclosed quoted-string")),
            (
                "(never ends",
                Err("mail: misformatted parenthetical comment"),
            ),
            ("g: a@b", Err("mail: expected comma")),
        ];
        for (input, want) in cases {
            let got = parse_address_list(input);
            match want {
                Ok(addrs) => assert_eq!(
                    got,
                    Ok(addrs.iter().map(|a| (*a).to_owned()).collect()),
                    "{input:?}"
                ),
                Err(e) => assert_eq!(got, Err((*e).to_owned()), "{input:?}"),
            }
        }
    }

    #[test]
    fn hostile_lists_are_bounded() {
        let many = "a@b,".repeat(MAX_ADDRESSES + 1);
        assert!(parse_address_list(&many).is_err());
        let nested = "(".repeat(100_000);
        assert!(parse_address_list(&nested).is_err());
        assert!(parse_address_list("a@b\r\nRCPT TO:<c@d>").is_err());
    }
}
