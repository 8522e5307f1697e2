//! Prometheus durations (`1h30m`, `15s`, `500ms`) and byte sizes (`64MiB`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// A duration written the way Prometheus writes them: a sequence of
/// `<number><unit>` with units `y w d h m s ms`, largest first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct PromDuration(pub Duration);

impl PromDuration {
    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }

    /// prometheus/common's `model.ParseDuration` (the one in
    /// `wasmetheus_model::go`) with Prometheus 3's texts (an unknown unit is
    /// `unknown unit "x" in duration "1x"`; 2.x said `not a valid duration
    /// string: "1x"`).
    pub fn parse(text: &str) -> Result<Self, String> {
        match wasmetheus_model::go::parse_model_duration(text) {
            // Non-negative: no sign is read.
            Ok(ms) => Ok(PromDuration(Duration::from_millis(ms.unsigned_abs()))),
            Err(e) => Err(e.to_string()),
        }
    }

    /// [`PromDuration::parse`] as a `std::time::Duration`, for command-line
    /// flags.
    pub fn parse_std(text: &str) -> Result<Duration, String> {
        Self::parse(text).map(|d| d.0)
    }
}

impl fmt::Display for PromDuration {
    /// prometheus/common's `model.Duration.String()` (`1h30m`, `90d`, `2w`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = i64::try_from(self.0.as_millis()).unwrap_or(i64::MAX);
        f.write_str(&wasmetheus_model::go::format_model_duration(ms))
    }
}

impl Serialize for PromDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PromDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        PromDuration::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A size in bytes written as `512MiB`, `1GB`, `64KiB` or a plain number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl ByteSize {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let digits = text
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        let number: f64 = text[..digits]
            .parse()
            .map_err(|_| format!("not a valid size: {text:?} (use e.g. 64MiB)"))?;
        let multiplier: u64 = match text[digits..].trim() {
            "" | "B" => 1,
            "KB" => 1000,
            "MB" => 1000 * 1000,
            "GB" => 1000 * 1000 * 1000,
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            unit => return Err(format!("unknown size unit {unit:?} in {text:?}")),
        };
        Ok(ByteSize((number * multiplier as f64) as u64))
    }
}

impl ByteSize {
    pub fn is_zero(&self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for ByteSize {
    /// In the largest binary unit that divides it (`64MiB`, `1000B`), as
    /// Prometheus shows sizes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, size) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
            if self.0 >= size && self.0.is_multiple_of(size) {
                return write!(f, "{}{unit}", self.0 / size);
            }
        }
        write!(f, "{}B", self.0)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(ByteSize(n)),
            Raw::Text(t) => ByteSize::parse(&t).map_err(serde::de::Error::custom),
        }
    }
}

/// A size as Prometheus' YAML fields read it (Go's `units.Base2Bytes`):
/// one or more `<number><unit>` with units `B`, `KB`/`KiB`, `MB`/`MiB`,
/// … `EB`/`EiB`, all powers of 1024, an optional sign, and `0` alone. A
/// plain number other than `0` is refused, as Prometheus refuses it
/// (`units: unknown unit  in 100`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Base2Bytes(pub i64);

impl Base2Bytes {
    pub fn parse(text: &str) -> Result<Self, String> {
        parse_base2_bytes(text).map(Base2Bytes)
    }

    pub fn is_zero(&self) -> bool {
        self.0 == 0
    }

    /// The size in bytes; a negative size (which only `storage.tsdb.retention.size`
    /// checks for) counts as none.
    pub fn bytes(&self) -> u64 {
        self.0.max(0) as u64
    }
}

/// `units.ParseUnit` with the byte units, messages included.
fn parse_base2_bytes(original: &str) -> Result<i64, String> {
    let mut s = original;
    let mut negative = false;
    if let Some(rest) = s.strip_prefix(['-', '+']) {
        negative = s.starts_with('-');
        s = rest;
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(format!("units: invalid {original}"));
    }
    let mut total: f64 = 0.0;
    while !s.is_empty() {
        let digits = s
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        let number = &s[..digits];
        if number.is_empty() || number.matches('.').count() > 1 || number == "." {
            return Err(format!("units: invalid {original}"));
        }
        let value: f64 = number
            .parse()
            .map_err(|_| format!("units: invalid {original}"))?;
        s = &s[digits..];
        let unit_len = s
            .bytes()
            .take_while(|b| !(b.is_ascii_digit() || *b == b'.'))
            .count();
        let unit = &s[..unit_len];
        let scale =
            byte_unit(unit).ok_or_else(|| format!("units: unknown unit {unit} in {original}"))?;
        total += value * scale;
        s = &s[unit_len..];
    }
    if total >= i64::MAX as f64 {
        return Err(format!("units: overflow in {original}"));
    }
    let total = total as i64;
    Ok(if negative { -total } else { total })
}

/// The scale of a byte unit: `B`, and `K`…`E` followed by `B` or `iB`.
fn byte_unit(unit: &str) -> Option<f64> {
    if unit == "B" {
        return Some(1.0);
    }
    let prefix = unit.strip_suffix("iB").or_else(|| unit.strip_suffix('B'))?;
    let power = ["K", "M", "G", "T", "P", "E"]
        .iter()
        .position(|p| *p == prefix)?;
    Some(1024f64.powi(power as i32 + 1))
}

impl fmt::Display for Base2Bytes {
    /// As Go prints a `units.Base2Bytes`: `15MiB`, `1GiB512MiB`, `100B`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 < 0 {
            f.write_str("-")?;
        }
        let mut n = self.0.unsigned_abs();
        if n == 0 {
            return f.write_str("0B");
        }
        for (unit, size) in [
            ("EiB", 1u64 << 60),
            ("PiB", 1 << 50),
            ("TiB", 1 << 40),
            ("GiB", 1 << 30),
            ("MiB", 1 << 20),
            ("KiB", 1 << 10),
            ("B", 1),
        ] {
            if n >= size {
                write!(f, "{}{unit}", n / size)?;
                n %= size;
            }
        }
        Ok(())
    }
}

impl Serialize for Base2Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Base2Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A YAML number reaches Go's parser as its text.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Float(f64),
            Text(String),
        }
        let text = match Raw::deserialize(d)? {
            Raw::Int(n) => n.to_string(),
            Raw::Float(n) => n.to_string(),
            Raw::Text(t) => t,
        };
        Base2Bytes::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_prometheus() {
        let ok = |s: &str| PromDuration::parse(s).unwrap().0.as_millis();
        assert_eq!(ok("15s"), 15_000);
        assert_eq!(ok("1h30m"), 5_400_000);
        assert_eq!(ok("500ms"), 500);
        assert_eq!(ok("1m500ms"), 60_500);
        assert_eq!(ok("2d"), 172_800_000);
        assert_eq!(ok("0"), 0);
        for bad in ["", "15", "s", "1m1h", "1.5s", "1s1s", "-1s", "1x"] {
            assert!(PromDuration::parse(bad).is_err(), "{bad} should fail");
        }
        assert_eq!(PromDuration::parse("1h30m").unwrap().to_string(), "1h30m");
        let shown = |s: &str| PromDuration::parse(s).unwrap().to_string();
        assert_eq!(shown("30d"), "30d");
        assert_eq!(shown("90d"), "90d");
        assert_eq!(shown("14d"), "2w");
        assert_eq!(shown("365d"), "1y");
        assert_eq!(shown("1y1d"), "366d");
    }

    #[test]
    fn base2_bytes_read_as_go_units() {
        let ok = |s: &str| Base2Bytes::parse(s).unwrap().0;
        assert_eq!(ok("15MB"), 15 << 20);
        assert_eq!(ok("15MiB"), 15 << 20);
        assert_eq!(ok("1GB512MB"), (1 << 30) + (512 << 20));
        assert_eq!(ok("0"), 0);
        assert_eq!(ok("-1GB"), -(1 << 30));
        assert_eq!(ok("1.5KB"), 1536);
        assert_eq!(
            Base2Bytes::parse("100").unwrap_err(),
            "units: unknown unit  in 100"
        );
        assert!(Base2Bytes::parse("12 parsecs").is_err());
        assert!(Base2Bytes::parse("").is_err());
        assert!(Base2Bytes::parse("99999999999EB").is_err());
        assert_eq!(Base2Bytes(15 << 20).to_string(), "15MiB");
        assert_eq!(Base2Bytes((1 << 30) + 100).to_string(), "1GiB100B");
    }

    #[test]
    fn sizes() {
        assert_eq!(ByteSize::parse("64MiB").unwrap().0, 64 << 20);
        assert_eq!(ByteSize::parse("1GB").unwrap().0, 1_000_000_000);
        assert_eq!(ByteSize::parse("4096").unwrap().0, 4096);
        assert!(ByteSize::parse("12 parsecs").is_err());
    }
}
