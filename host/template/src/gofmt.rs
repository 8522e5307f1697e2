//! Go's `fmt` as templates use it: `Sprint`, `Sprintln`, `Sprintf` (verbs, flags, width, precision and
//! the `%!verb(type=value)` error forms), `%v` of every value, `strconv.Unquote` and the float
//! formats (`%e %f %g`, shortest `%v`) digit for digit.

use crate::gotime;
use crate::value::Value;

// ---------- strconv ----------

/// Go's `unicode.IsPrint` (the one copy in `wasmetheus_model::go`).
pub(crate) use wasmetheus_model::go::is_print;

/// Go's quoting with `q` as the quote character: `strconv.QuoteRune`'s
/// rules for `'`.
fn quote_with(s: &str, q: char) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push(q);
    for c in s.chars() {
        match c {
            c if c == q || c == '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if is_print(c) => out.push(c),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push(q);
    out
}

/// Go's `strconv.CanBackquote`: no backquote, no control character but tab, no BOM.
fn can_backquote(s: &str) -> bool {
    s.chars()
        .all(|c| c != '`' && c != '\u{FEFF}' && (c == '\t' || !c.is_control()))
}

/// Go's `strconv.QuoteToASCII` (`%+q`).
fn quote_ascii(s: &str) -> String {
    let mut out = String::from("\"");
    for c in quote(s)[1..].chars() {
        if c.is_ascii() {
            out.push(c);
        } else if (c as u32) < 0x10000 {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push_str(&format!("\\U{:08x}", c as u32));
        }
    }
    out
}

/// Go's `strconv.Quote` (the one copy in `wasmetheus_model::go`).
pub use wasmetheus_model::go::quote;

/// Go's `%#U` of a character: `U+0029 ')'`, or just `U+00A0` when it does not print.
pub(crate) fn unicode_name(c: char) -> String {
    if is_print(c) {
        format!("U+{:04X} '{c}'", c as u32)
    } else {
        format!("U+{:04X}", c as u32)
    }
}

fn unescape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, quote: char) -> Option<char> {
    let c = chars.next()?;
    Some(match c {
        'a' => '\u{7}',
        'b' => '\u{8}',
        'f' => '\u{c}',
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        'v' => '\u{b}',
        '\\' => '\\',
        c if c == quote => c,
        'x' | 'u' | 'U' => {
            let n = match c {
                'x' => 2,
                'u' => 4,
                _ => 8,
            };
            let mut v = 0u32;
            for _ in 0..n {
                v = v * 16 + chars.next()?.to_digit(16)?;
            }
            char::from_u32(v)?
        }
        '0'..='7' => {
            let mut v = c.to_digit(8)?;
            for _ in 0..2 {
                v = v * 8 + chars.next()?.to_digit(8)?;
            }
            if v > 255 {
                return None;
            }
            char::from_u32(v)?
        }
        _ => return None,
    })
}

/// Go's `strconv.Unquote` of a `"…"` or `` `…` `` literal.
pub(crate) fn unquote(s: &str) -> Option<String> {
    if s.len() >= 2 && s.starts_with('`') && s.ends_with('`') {
        return Some(s[1..s.len() - 1].replace('\r', ""));
    }
    if !(s.len() >= 2 && s.starts_with('"') && s.ends_with('"')) {
        return None;
    }
    let mut out = String::new();
    let mut chars = s[1..s.len() - 1].chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(unescape(&mut chars, '"')?),
            '"' | '\n' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// A character constant `'x'`; Err(true) when a valid character is followed by more (Go's
/// "malformed character constant"), Err(false) when the first character is invalid.
pub(crate) fn unquote_char(s: &str) -> Result<char, bool> {
    let inner = s
        .strip_prefix('\'')
        .and_then(|s| s.strip_suffix('\''))
        .ok_or(false)?;
    let mut chars = inner.chars().peekable();
    let c = match chars.next().ok_or(false)? {
        '\\' => unescape(&mut chars, '\'').ok_or(false)?,
        '\'' => return Err(false),
        c => c,
    };
    if chars.next().is_some() {
        return Err(true);
    }
    Ok(c)
}

// ---------- floats ----------

/// Decimal digits (no trailing zeros, empty for zero) and the decimal point position.
fn decimal(s: &str) -> (Vec<u8>, i32) {
    let (mant, exp) = s.split_once('e').unwrap_or((s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    while digits.last() == Some(&b'0') {
        digits.pop();
    }
    if digits.is_empty() {
        return (digits, 0);
    }
    (digits, exp + 1)
}

fn fmt_e(digits: &[u8], dp: i32, prec: usize, upper: bool) -> String {
    let mut out = String::new();
    out.push(digits.first().map_or('0', |&d| d as char));
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            out.push(digits.get(i).map_or('0', |&d| d as char));
        }
    }
    out.push(if upper { 'E' } else { 'e' });
    let exp = if digits.is_empty() { 0 } else { dp - 1 };
    out.push(if exp < 0 { '-' } else { '+' });
    let a = exp.abs();
    if a < 10 {
        out.push('0');
    }
    out.push_str(&a.to_string());
    out
}

fn fmt_f(digits: &[u8], dp: i32, prec: usize) -> String {
    let mut out = String::new();
    if dp > 0 {
        let m = (dp as usize).min(digits.len());
        out.extend(digits[..m].iter().map(|&d| d as char));
        for _ in m..dp as usize {
            out.push('0');
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 1..=prec as i32 {
            let j = dp + i - 1;
            out.push(if j >= 0 && (j as usize) < digits.len() {
                digits[j as usize] as char
            } else {
                '0'
            });
        }
    }
    out
}

/// Go's `%b` of a finite, non-negative float: decimal mantissa and binary exponent (`4503599627370496p-52`).
fn fmt_b(v: f64) -> String {
    let bits = v.to_bits();
    let mut exp = ((bits >> 52) & 0x7ff) as i64;
    let mut mant = bits & ((1u64 << 52) - 1);
    if exp == 0 {
        exp += 1;
    } else {
        mant |= 1 << 52;
    }
    exp += -1023 - 52;
    if exp >= 0 {
        format!("{mant}p+{exp}")
    } else {
        format!("{mant}p{exp}")
    }
}

/// Go's `%x`/`%X` of a finite, non-negative float (`0x1.cp+01`), shortest or to `prec` hex digits.
fn fmt_hex(v: f64, upper: bool, prec: Option<usize>) -> String {
    let bits = v.to_bits();
    let mut exp = ((bits >> 52) & 0x7ff) as i64;
    let mut mant = bits & ((1u64 << 52) - 1);
    if exp == 0 {
        exp += 1;
    } else {
        mant |= 1 << 52;
    }
    exp -= 1023;
    if mant == 0 {
        exp = 0;
    }
    mant <<= 60 - 52;
    while mant != 0 && mant & (1 << 60) == 0 {
        mant <<= 1;
        exp -= 1;
    }
    if let Some(p) = prec.filter(|&p| p < 15) {
        let shift = (p * 4) as u32;
        let extra = (mant << shift) & ((1u64 << 60) - 1);
        mant >>= 60 - shift;
        if extra | (mant & 1) > 1 << 59 {
            mant += 1;
        }
        mant <<= 60 - shift;
        if mant & (1 << 61) != 0 {
            mant >>= 1;
            exp += 1;
        }
    }
    let digits: &[u8] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut out = String::from(if upper { "0X" } else { "0x" });
    out.push(char::from(b'0' + ((mant >> 60) & 1) as u8));
    mant <<= 4;
    match prec {
        None if mant != 0 => {
            out.push('.');
            while mant != 0 {
                out.push(char::from(digits[((mant >> 60) & 15) as usize]));
                mant <<= 4;
            }
        }
        Some(p) if p > 0 => {
            out.push('.');
            for _ in 0..p.min(1000) {
                out.push(char::from(digits[((mant >> 60) & 15) as usize]));
                mant <<= 4;
            }
        }
        _ => {}
    }
    out.push(if upper { 'P' } else { 'p' });
    out.push(if exp < 0 { '-' } else { '+' });
    let e = exp.abs();
    if e < 10 {
        out.push('0');
    }
    out.push_str(&e.to_string());
    out
}

/// Formats a finite, non-negative float with a `%e`/`%f`/`%g` verb and optional precision.
fn format_abs(v: f64, verb: char, prec: Option<usize>) -> String {
    match verb {
        'b' => fmt_b(v),
        'x' | 'X' => fmt_hex(v, verb == 'X', prec),
        'e' | 'E' => {
            let p = prec.unwrap_or(6).min(1000);
            let (d, dp) = decimal(&format!("{:.*e}", p, v));
            fmt_e(&d, dp, p, verb == 'E')
        }
        'f' | 'F' => format!("{:.*}", prec.unwrap_or(6).min(1000), v),
        _ => {
            let upper = verb == 'G';
            let (d, dp, p, shortest) = match prec {
                None => {
                    let (d, dp) = decimal(&format!("{v:e}"));
                    let n = d.len();
                    (d, dp, n, true)
                }
                Some(p) => {
                    let p = p.clamp(1, 1000);
                    let (d, dp) = decimal(&format!("{:.*e}", p - 1, v));
                    (d, dp, p, false)
                }
            };
            let nd = d.len();
            let mut eprec = p as i32;
            if eprec > nd as i32 && nd as i32 >= dp {
                eprec = nd as i32;
            }
            if shortest {
                eprec = 6;
            }
            let exp = dp - 1;
            if exp < -4 || exp >= eprec {
                let p2 = p.min(nd).max(1);
                fmt_e(&d, dp, p2 - 1, upper)
            } else {
                let p2 = if p as i32 > dp { nd } else { p };
                fmt_f(&d, dp, (p2 as i32 - dp).max(0) as usize)
            }
        }
    }
}

/// Go's `%v` of a float64 (`strconv.FormatFloat(v, 'g', -1, 64)` with `+Inf`; the one in
/// `wasmetheus_model::go`).
pub use wasmetheus_model::go::format_float_g as format_float;

fn float_signed(v: f64, verb: char, prec: Option<usize>, plus: bool, space: bool) -> String {
    if v.is_nan() {
        return if plus {
            "+NaN".into()
        } else if space {
            " NaN".into()
        } else {
            "NaN".into()
        };
    }
    if v.is_infinite() {
        return if v > 0.0 {
            if space && !plus {
                " Inf".into()
            } else {
                "+Inf".into()
            }
        } else {
            "-Inf".into()
        };
    }
    let body = format_abs(v.abs(), verb, prec);
    if v.is_sign_negative() {
        format!("-{body}")
    } else if plus {
        format!("+{body}")
    } else if space {
        format!(" {body}")
    } else {
        body
    }
}

/// Go's `#` flag on floats: the decimal point always, and for `%g` trailing zeros up to the precision.
fn sharp_float(s: &str, verb: char, prec: Option<usize>) -> String {
    let (mant, exp) = match s.find(['e', 'E']) {
        Some(e) => (&s[..e], &s[e..]),
        None => (s, ""),
    };
    let mut mant = mant.to_string();
    if !mant.contains('.') {
        mant.push('.');
    }
    if matches!(verb, 'g' | 'G') {
        let want = prec.unwrap_or(6).max(1);
        let digits = mant
            .chars()
            .filter(char::is_ascii_digit)
            .collect::<String>();
        let significant = digits
            .trim_start_matches('0')
            .len()
            .max(usize::from(digits.chars().all(|c| c == '0')));
        for _ in significant..want {
            mant.push('0');
        }
    }
    format!("{mant}{exp}")
}

// ---------- bounded output ----------

/// A string that never grows past `max` bytes: a push that would is dropped and marks the buffer as
/// over (what the caller reports as exceeding the limit), so nothing past the bound is allocated.
pub(crate) struct Out {
    s: String,
    max: usize,
    over: bool,
}

impl Out {
    pub(crate) fn new(max: usize) -> Self {
        Out {
            s: String::new(),
            max,
            over: false,
        }
    }

    /// Whether `n` more bytes fit; if not, the buffer is marked over. Reserves them when they fit,
    /// never beyond `max`.
    fn fits(&mut self, n: usize) -> bool {
        if self.over || n > self.max - self.s.len() {
            self.over = true;
            return false;
        }
        let need = self.s.len() + n;
        if need > self.s.capacity() {
            let target = need.max(self.s.capacity().saturating_mul(2)).min(self.max);
            self.s.reserve_exact(target - self.s.len());
        }
        true
    }

    fn push_str(&mut self, t: &str) {
        if self.fits(t.len()) {
            self.s.push_str(t);
        }
    }

    fn push(&mut self, c: char) {
        self.push_str(c.encode_utf8(&mut [0; 4]));
    }

    fn repeat(&mut self, c: char, n: usize) {
        if self.fits(n.saturating_mul(c.len_utf8())) {
            self.s.extend(std::iter::repeat_n(c, n));
        }
    }

    /// The text, or None when something did not fit.
    pub(crate) fn finish(self) -> Option<String> {
        (!self.over).then_some(self.s)
    }

    fn unbounded(self) -> String {
        self.s
    }
}

// ---------- %v ----------

/// `%v` (and `%+v` with `plus`) of a value, as fmt prints it at the given depth.
pub fn format_v(v: &Value, plus: bool, depth: usize) -> String {
    let mut out = Out::new(usize::MAX);
    write_v(&mut out, v, plus, depth);
    out.unbounded()
}

/// The text of a value whose type has a `String()` method (Go's `fmt.Stringer`, which `fmt` prints
/// through, nested values included).
fn stringer(v: &Value) -> Option<String> {
    let m = v.method("String")?;
    if !m.params.is_empty() || m.variadic {
        return None;
    }
    match (m.imp)(std::slice::from_ref(v)) {
        Ok(Value::String(s)) => Some(s.to_string()),
        _ => None,
    }
}

fn write_v(out: &mut Out, v: &Value, plus: bool, depth: usize) {
    if out.over {
        return;
    }
    if let Some(s) = stringer(v) {
        out.push_str(&s);
        return;
    }
    match v {
        Value::Invalid => out.push_str(if depth == 0 {
            "<invalid reflect.Value>"
        } else {
            "<nil>"
        }),
        Value::Nil => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Uint(u) => out.push_str(&u.to_string()),
        Value::Float(f) => out.push_str(&format_float(*f)),
        Value::String(s) | Value::Typed(_, s) => out.push_str(s),
        Value::List(l) => {
            out.push('[');
            for (i, item) in l.items.iter().enumerate() {
                if out.over {
                    return;
                }
                if i > 0 {
                    out.push(' ');
                }
                write_v(out, item, plus, depth + 1);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push_str("map[");
            for (i, (k, item)) in m.entries.iter().enumerate() {
                if out.over {
                    return;
                }
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_v(out, item, plus, depth + 1);
            }
            out.push(']');
        }
        Value::Struct(s) => {
            if s.type_name.starts_with('*') {
                out.push('&');
            }
            out.push('{');
            for (i, (name, item)) in s.fields.iter().enumerate() {
                if out.over {
                    return;
                }
                if i > 0 {
                    out.push(' ');
                }
                if plus {
                    out.push_str(name);
                    out.push(':');
                }
                write_v(out, item, plus, depth + 1);
            }
            out.push('}');
        }
        Value::Time(ns) => out.push_str(&gotime::time_string(*ns)),
        Value::TimeIn(ns, z) => out.push_str(&gotime::time_string_in(*ns, z)),
        Value::Duration(d) => out.push_str(&gotime::duration_string(*d)),
        Value::Func(_) => out.push_str("0x0"),
    }
}

/// Go's `fmt.Sprint`: operands side by side, a space between two when neither is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut out = Out::new(usize::MAX);
    write_sprint(&mut out, args);
    out.unbounded()
}

/// [`sprint`] of at most `max` bytes: None when the text would be longer (nothing longer is built).
pub(crate) fn sprint_limited(args: &[Value], max: usize) -> Option<String> {
    let mut out = Out::new(max);
    write_sprint(&mut out, args);
    out.finish()
}

fn write_sprint(out: &mut Out, args: &[Value]) {
    for (i, a) in args.iter().enumerate() {
        if out.over {
            return;
        }
        if i > 0 && !matches!(a, Value::String(_)) && !matches!(args[i - 1], Value::String(_)) {
            out.push(' ');
        }
        write_v(out, a, false, 0);
    }
}

/// Go's `fmt.Sprintln` (operands separated by spaces, then a newline) of at most `max` bytes.
pub(crate) fn sprintln_limited(args: &[Value], max: usize) -> Option<String> {
    let mut out = Out::new(max);
    write_sprintln(&mut out, args);
    out.finish()
}

fn write_sprintln(out: &mut Out, args: &[Value]) {
    for (i, a) in args.iter().enumerate() {
        if out.over {
            return;
        }
        if i > 0 {
            out.push(' ');
        }
        write_v(out, a, false, 0);
    }
    out.push('\n');
}

// ---------- Sprintf ----------

#[derive(Default, Clone, Copy)]
struct Flags {
    plus: bool,
    plus_v: bool,
    minus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// Width and precision beyond this are refused (`%!(BADWIDTH)`/`%!(BADPREC)`), as Go does past 1e6.
const MAX_WIDTH: usize = 1_000_000;

/// `s` padded to the width; the padding is checked against the bound before it is built.
fn pad(out: &mut Out, s: &str, f: &Flags) {
    let n = s.chars().count();
    let fill = match f.width {
        Some(w) if w > n => w - n,
        _ => return out.push_str(s),
    };
    if !out.fits(s.len().saturating_add(fill)) {
        return;
    }
    if f.minus {
        out.push_str(s);
        out.repeat(' ', fill);
    } else if f.zero {
        // Zeros go after the sign.
        let (sign, rest) = match s.chars().next() {
            Some('+' | '-' | ' ') => (&s[..1], &s[1..]),
            _ => ("", s),
        };
        out.push_str(sign);
        out.repeat('0', fill);
        out.push_str(rest);
    } else {
        out.repeat(' ', fill);
        out.push_str(s);
    }
}

/// Go's `badVerb`: `%!verb(type=value)`, the value printed with `%v` and the directive's flags.
fn bad_verb(out: &mut Out, verb: char, v: &Value, f: &Flags) {
    match v {
        Value::Invalid | Value::Nil => out.push_str(&format!("%!{verb}(<nil>)")),
        _ => {
            out.push_str(&format!("%!{verb}({}=", v.type_name()));
            fmt_arg(out, v, 'v', f);
            out.push(')');
        }
    }
}

/// An integer with an integer verb; false for another verb.
fn fmt_integer(out: &mut Out, neg: bool, abs: u128, verb: char, f: &Flags) -> bool {
    let mut digits = match verb {
        'd' | 'v' => abs.to_string(),
        'b' => format!("{abs:b}"),
        'o' | 'O' => format!("{abs:o}"),
        'x' => format!("{abs:x}"),
        'X' => format!("{abs:X}"),
        _ => return false,
    };
    if let Some(p) = f.prec {
        if p == 0 && abs == 0 {
            digits.clear();
        }
        if digits.len() < p {
            // Checked before the zeros are built.
            if !out.fits(p) {
                return true;
            }
            digits = "0".repeat(p - digits.len()) + &digits;
        }
    }
    let prefix = match verb {
        'O' => "0o",
        'x' if f.sharp => "0x",
        'X' if f.sharp => "0X",
        'o' if f.sharp && !digits.starts_with('0') => "0",
        'b' if f.sharp => "0b",
        _ => "",
    };
    let sign = if neg {
        "-"
    } else if f.plus {
        "+"
    } else if f.space {
        " "
    } else {
        ""
    };
    let mut flags = *f;
    if f.prec.is_some() {
        flags.zero = false;
    }
    pad(out, &format!("{sign}{prefix}{digits}"), &flags);
    true
}

fn fmt_arg(out: &mut Out, v: &Value, verb: char, f: &Flags) {
    if out.over {
        return;
    }
    if let Value::Typed(_, s) = v {
        // A named string type formats as its text.
        return fmt_arg(out, &Value::String(s.clone()), verb, f);
    }
    if matches!(verb, 'v' | 's' | 'q' | 'x' | 'X')
        && let Some(s) = stringer(v)
    {
        return fmt_arg(out, &Value::string(s), verb, f);
    }
    match v {
        Value::Bool(b) => match verb {
            't' | 'v' => pad(out, if *b { "true" } else { "false" }, f),
            _ => bad_verb(out, verb, v, f),
        },
        Value::Int(_) | Value::Uint(_) | Value::Duration(_) => {
            let (neg, abs) = match v {
                Value::Int(i) | Value::Duration(i) => (*i < 0, (*i as i128).unsigned_abs()),
                Value::Uint(u) => (false, *u as u128),
                _ => (false, 0),
            };
            if let Value::Duration(d) = v
                && matches!(verb, 'v' | 's')
            {
                return pad(out, &gotime::duration_string(*d), f);
            }
            match verb {
                'c' | 'q' | 'U' => {
                    let c = u32::try_from(abs)
                        .ok()
                        .filter(|_| !neg)
                        .and_then(char::from_u32)
                        .unwrap_or('\u{FFFD}');
                    match verb {
                        'c' => pad(out, &c.to_string(), f),
                        'q' => pad(out, &quote_with(&c.to_string(), '\''), f),
                        _ if f.sharp && is_print(c) => {
                            pad(out, &format!("U+{:04X} '{c}'", c as u32), f)
                        }
                        _ => pad(out, &format!("U+{:04X}", c as u32), f),
                    }
                }
                _ => {
                    if !fmt_integer(out, neg, abs, verb, f) {
                        bad_verb(out, verb, v, f);
                    }
                }
            }
        }
        Value::Float(x) => match verb {
            'v' | 'g' | 'G' | 'e' | 'E' | 'f' | 'F' | 'x' | 'X' | 'b' => {
                let vb = if verb == 'v' { 'g' } else { verb };
                let mut s = float_signed(*x, vb, f.prec, f.plus, f.space);
                if f.sharp && x.is_finite() {
                    s = sharp_float(&s, vb, f.prec);
                }
                let mut flags = *f;
                if !x.is_finite() {
                    flags.zero = false;
                }
                pad(out, &s, &flags);
            }
            _ => bad_verb(out, verb, v, f),
        },
        Value::String(s) => {
            let s: &str = s;
            let truncated: &str = match f.prec {
                Some(p) => match s.char_indices().nth(p) {
                    Some((i, _)) => &s[..i],
                    None => s,
                },
                None => s,
            };
            match verb {
                's' | 'v' => pad(out, truncated, f),
                'q' | 'x' | 'X' if !out.fits(truncated.len()) => {}
                'q' if f.sharp && can_backquote(truncated) => {
                    pad(out, &format!("`{truncated}`"), f)
                }
                'q' if f.plus => pad(out, &quote_ascii(truncated), f),
                'q' => pad(out, &quote(truncated), f),
                'x' | 'X' => {
                    let n = truncated.len();
                    let hex_len = 2 * n + if f.space { n.saturating_sub(1) } else { 0 };
                    if !out.fits(hex_len.saturating_add(2)) {
                        return;
                    }
                    let mut hex = String::with_capacity(hex_len + 2);
                    if f.sharp && n > 0 {
                        hex.push_str(if verb == 'x' { "0x" } else { "0X" });
                    }
                    for (i, b) in truncated.bytes().enumerate() {
                        if i > 0 && f.space {
                            hex.push(' ');
                        }
                        if verb == 'x' {
                            hex.push_str(&format!("{b:02x}"));
                        } else {
                            hex.push_str(&format!("{b:02X}"));
                        }
                    }
                    pad(out, &hex, f)
                }
                _ => bad_verb(out, verb, v, f),
            }
        }
        Value::Invalid | Value::Nil => match verb {
            'v' => pad(out, "<nil>", f),
            _ => bad_verb(out, verb, v, f),
        },
        Value::Time(ns) => match verb {
            'v' | 's' => pad(out, &gotime::time_string(*ns), f),
            'q' => pad(out, &quote(&gotime::time_string(*ns)), f),
            _ => bad_verb(out, verb, v, f),
        },
        Value::TimeIn(ns, z) => match verb {
            'v' | 's' => pad(out, &gotime::time_string_in(*ns, z), f),
            'q' => pad(out, &quote(&gotime::time_string_in(*ns, z)), f),
            _ => bad_verb(out, verb, v, f),
        },
        Value::List(l) if verb != 'v' && verb != 'T' => {
            // fmt applies the verb to each element.
            out.push('[');
            for (i, item) in l.items.iter().enumerate() {
                if out.over {
                    return;
                }
                if i > 0 {
                    out.push(' ');
                }
                fmt_arg(out, item, verb, f);
            }
            out.push(']');
        }
        Value::Map(m) if verb != 'v' => {
            out.push_str("map[");
            for (i, (k, item)) in m.entries.iter().enumerate() {
                if out.over {
                    return;
                }
                if i > 0 {
                    out.push(' ');
                }
                fmt_arg(out, &Value::string(k.as_str()), verb, f);
                out.push(':');
                fmt_arg(out, item, verb, f);
            }
            out.push(']');
        }
        _ => match verb {
            'v' => {
                let mut inner = Out::new(out.max - out.s.len());
                write_v(&mut inner, v, f.plus_v, 0);
                match inner.finish() {
                    Some(s) => pad(out, &s, f),
                    None => out.over = true,
                }
            }
            _ => bad_verb(out, verb, v, f),
        },
    }
}

/// Go's `fmt.Sprintf`.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = Out::new(usize::MAX);
    write_sprintf(&mut out, format, args);
    out.unbounded()
}

/// [`sprintf`] of at most `max` bytes: None when the text would be longer. Widths, precisions and
/// every piece are checked against the bound before they are built.
pub(crate) fn sprintf_limited(format: &str, args: &[Value], max: usize) -> Option<String> {
    let mut out = Out::new(max);
    write_sprintf(&mut out, format, args);
    out.finish()
}

fn write_sprintf(out: &mut Out, format: &str, args: &[Value]) {
    let mut argi = 0;
    let b = format.as_bytes();
    let mut i = 0;
    let mut reordered = false;
    while i < b.len() {
        if out.over {
            return;
        }
        let Some(off) = format[i..].find('%') else {
            out.push_str(&format[i..]);
            break;
        };
        out.push_str(&format[i..i + off]);
        i += off + 1;
        let mut f = Flags::default();
        let mut bad_index = false;
        // Flags.
        while i < b.len() {
            match b[i] {
                b'+' => f.plus = true,
                b'-' => {
                    f.minus = true;
                    f.zero = false;
                }
                b'#' => f.sharp = true,
                b' ' => f.space = true,
                b'0' => f.zero = !f.minus,
                _ => break,
            }
            i += 1;
        }
        // Width.
        let star_arg = |argi: &mut usize, out: &mut Out, what: &str| -> Option<usize> {
            let a = args.get(*argi);
            *argi += 1;
            match a {
                Some(Value::Int(n)) if (0..=MAX_WIDTH as i64).contains(n) => Some(*n as usize),
                _ => {
                    out.push_str(&format!("%!({what})"));
                    None
                }
            }
        };
        if i < b.len() && b[i] == b'*' {
            i += 1;
            f.width = star_arg(&mut argi, out, "BADWIDTH");
        } else {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i > start {
                match format[start..i].parse::<usize>() {
                    Ok(w) if w <= MAX_WIDTH => f.width = Some(w),
                    _ => out.push_str("%!(BADWIDTH)"),
                }
            }
        }
        // Precision.
        if i < b.len() && b[i] == b'.' {
            i += 1;
            if i < b.len() && b[i] == b'*' {
                i += 1;
                f.prec = star_arg(&mut argi, out, "BADPREC");
            } else {
                let start = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                match format[start..i].parse::<usize>() {
                    Ok(p) if p <= MAX_WIDTH => f.prec = Some(p),
                    Ok(_) => out.push_str("%!(BADPREC)"),
                    Err(_) => f.prec = Some(0),
                }
            }
        }
        if i < b.len() && b[i] == b'[' {
            // Explicit argument indexes: rarely used in templates; Go's forms kept minimal.
            if let Some(close) = format[i..].find(']') {
                match format[i + 1..i + close].parse::<usize>() {
                    Ok(n) if n >= 1 && n <= args.len() => argi = n - 1,
                    _ => bad_index = true,
                }
                reordered = true;
                i += close + 1;
            }
        }
        let Some(verb) = format[i..].chars().next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        i += verb.len_utf8();
        if verb == '%' {
            out.push('%');
            continue;
        }
        if bad_index {
            out.push_str(&format!("%!{verb}(BADINDEX)"));
            continue;
        }
        let mut sharp_v = false;
        if verb == 'v' {
            // Go: `+` and `#` with %v ask for field names and Go syntax, not signs.
            f.plus_v = f.plus;
            f.plus = false;
            sharp_v = f.sharp;
            f.sharp = false;
        }
        let Some(arg) = args.get(argi) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        argi += 1;
        match verb {
            'v' if sharp_v && matches!(arg, Value::String(_)) => {
                let s = arg.as_str().unwrap_or("");
                if out.fits(s.len().saturating_add(2)) {
                    pad(out, &quote(s), &f);
                }
            }
            'T' => pad(out, &arg.type_name(), &f),
            'p' => bad_verb(out, verb, arg, &f),
            _ => fmt_arg(out, arg, verb, &f),
        }
    }
    if !reordered && argi < args.len() {
        out.push_str("%!(EXTRA ");
        for (n, a) in args[argi..].iter().enumerate() {
            if out.over {
                return;
            }
            if n > 0 {
                out.push_str(", ");
            }
            match a {
                Value::Invalid | Value::Nil => out.push_str("<nil>"),
                _ => {
                    out.push_str(&a.type_name());
                    out.push('=');
                    write_v(out, a, false, 0);
                }
            }
        }
        out.push(')');
    }
}
