//! Time intervals (`timeinterval/timeinterval.go`): times of day
//! (`HH:MM`, end exclusive), weekday ranges, days of the month (negative
//! counts from the end), months by name or number, years, and a time
//! zone from the tz database (jiff's). Validation texts are upstream's.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One `time_intervals` entry: every listed component must contain the
/// time; an absent component contains every time.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TimeInterval {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<Vec<TimeRange>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekdays: Option<Vec<WeekdayRange>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days_of_month: Option<Vec<DayOfMonthRange>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub months: Option<Vec<MonthRange>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub years: Option<Vec<YearRange>>,
    #[serde(default, rename = "location", skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// Minutes of the day, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub start_minute: u32,
    pub end_minute: u32,
}

/// An inclusive range of integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InclusiveRange {
    pub begin: i64,
    pub end: i64,
}

/// Weekdays, 0 = Sunday.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeekdayRange(pub InclusiveRange);
/// Days of the month, negative from the end (-1 = last day).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayOfMonthRange(pub InclusiveRange);
/// Months, 1 = January.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonthRange(pub InclusiveRange);
/// Years.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YearRange(pub InclusiveRange);

/// A time zone by its tz database name (`Local` and `UTC` too).
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    pub name: String,
    pub zone: TimeZone,
}

const WEEKDAYS: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];
const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// Go's `strconv.Atoi` with its error text.
fn atoi(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "strconv.Atoi: parsing {}: invalid syntax",
            wasmetheus_model::go::quote(s)
        ));
    }
    s.parse::<i64>().map_err(|_| {
        format!(
            "strconv.Atoi: parsing {}: value out of range",
            wasmetheus_model::go::quote(s)
        )
    })
}

/// `stringableRangeFromString`: `a` or `a:b`, lower-cased, members read by
/// `member`.
fn parse_range(
    input: &str,
    member: impl Fn(&str) -> Result<i64, String>,
) -> Result<InclusiveRange, String> {
    let input = wasmetheus_model::go::to_lower(input);
    if input.contains(':') {
        let parts: Vec<&str> = input.split(':').collect();
        if parts.len() != 2 {
            return Err(format!("couldn't parse range {input}, invalid format"));
        }
        Ok(InclusiveRange {
            begin: member(parts[0])?,
            end: member(parts[1])?,
        })
    } else {
        let v = member(&input)?;
        Ok(InclusiveRange { begin: v, end: v })
    }
}

impl WeekdayRange {
    pub fn parse(s: &str) -> Result<Self, String> {
        let r = parse_range(s, |m| {
            WEEKDAYS
                .iter()
                .position(|d| *d == m)
                .map(|i| i as i64)
                .ok_or_else(|| format!("{m} is not a valid weekday"))
        })?;
        if r.begin > r.end {
            return Err("start day cannot be before end day".to_owned());
        }
        if !(0..=6).contains(&r.begin) || !(0..=6).contains(&r.end) {
            return Err(format!("{s} is not a valid day of the week: out of range"));
        }
        Ok(WeekdayRange(r))
    }
}

impl DayOfMonthRange {
    pub fn parse(s: &str) -> Result<Self, String> {
        let r = parse_range(s, atoi)?;
        for v in [r.begin, r.end] {
            if v == 0 || !(-31..=31).contains(&v) {
                return Err(format!("{v} is not a valid day of the month: out of range"));
            }
        }
        if r.begin < 0 && r.end > 0 {
            return Err("end day must be negative if start day is negative".to_owned());
        }
        let check = |v: i64| if v < 0 { 28 + v } else { v };
        if check(r.begin) > check(r.end) {
            return Err(format!(
                "end day {} is always before start day {}",
                r.end, r.begin
            ));
        }
        Ok(DayOfMonthRange(r))
    }
}

impl MonthRange {
    pub fn parse(s: &str) -> Result<Self, String> {
        let r = parse_range(s, |m| match MONTHS.iter().position(|n| *n == m) {
            Some(i) => Ok(i as i64 + 1),
            None => atoi(m).map_err(|_| format!("{m} is not a valid month")),
        })?;
        if r.begin > r.end {
            let name = |v: i64| {
                usize::try_from(v - 1)
                    .ok()
                    .and_then(|i| MONTHS.get(i))
                    .copied()
                    .unwrap_or("")
            };
            return Err(format!(
                "end month {} is before start month {}",
                name(r.end),
                name(r.begin)
            ));
        }
        Ok(MonthRange(r))
    }
}

impl YearRange {
    pub fn parse(s: &str) -> Result<Self, String> {
        let r = parse_range(s, atoi)?;
        if r.begin > r.end {
            return Err(format!(
                "end year {} is before start year {}",
                r.end, r.begin
            ));
        }
        Ok(YearRange(r))
    }
}

/// `HH:MM` (or `24:00`) to minutes of the day.
fn parse_time(s: &str) -> Result<u32, String> {
    let b = s.as_bytes();
    let valid = s == "24:00"
        || (b.len() == 5
            && b[2] == b':'
            && ((matches!(b[0], b'0' | b'1') && b[1].is_ascii_digit())
                || (b[0] == b'2' && (b'0'..=b'3').contains(&b[1])))
            && (b'0'..=b'5').contains(&b[3])
            && b[4].is_ascii_digit());
    if !valid {
        return Err(format!("couldn't parse timestamp {s}, invalid format"));
    }
    let hours: u32 = s[..2]
        .parse()
        .map_err(|_| format!("invalid timestamp format: {s}"))?;
    let minutes: u32 = s[3..]
        .parse()
        .map_err(|_| format!("invalid timestamp format: {s}"))?;
    Ok(hours * 60 + minutes)
}

impl TimeRange {
    pub fn parse(start: &str, end: &str) -> Result<Self, String> {
        if start.is_empty() || end.is_empty() {
            return Err("both start and end times must be provided".to_owned());
        }
        let start_minute = parse_time(start)?;
        let end_minute = parse_time(end)?;
        if start_minute >= end_minute {
            return Err("start time cannot be equal or greater than end time".to_owned());
        }
        Ok(TimeRange {
            start_minute,
            end_minute,
        })
    }
}

impl Location {
    /// `time.LoadLocation`: `""` and `UTC` are UTC, `Local` the system's
    /// zone, anything else a tz database name.
    pub fn load(name: &str) -> Result<Self, String> {
        let zone = match name {
            "" | "UTC" => TimeZone::UTC,
            "Local" => TimeZone::system(),
            _ => {
                // Go refuses names that could escape the zoneinfo tree.
                if name.starts_with('/') || name.split('/').any(|p| p == "..") {
                    return Err(format!("time: invalid location name {}", name));
                }
                // The tz database is looked up case-insensitively by
                // jiff; Go opens the zoneinfo file, so case matters.
                TimeZone::get(name)
                    .ok()
                    .filter(|tz| tz.iana_name() == Some(name))
                    .ok_or_else(|| format!("unknown time zone {name}"))?
            }
        };
        Ok(Location {
            name: if name.is_empty() {
                "UTC".to_owned()
            } else {
                name.to_owned()
            },
            zone,
        })
    }
}

macro_rules! string_serde {
    ($ty:ty, $parse:expr, $print:expr) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $parse(&s).map_err(serde::de::Error::custom)
            }
        }
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                #[allow(clippy::redundant_closure_call)]
                s.serialize_str(&$print(self))
            }
        }
    };
}

fn print_inclusive(r: &InclusiveRange) -> String {
    if r.begin == r.end {
        r.begin.to_string()
    } else {
        format!("{}:{}", r.begin, r.end)
    }
}

string_serde!(WeekdayRange, WeekdayRange::parse, |r: &WeekdayRange| {
    let name = |v: i64| WEEKDAYS.get(v as usize).copied().unwrap_or("");
    if r.0.begin == r.0.end {
        name(r.0.begin).to_owned()
    } else {
        format!("{}:{}", name(r.0.begin), name(r.0.end))
    }
});
string_serde!(
    DayOfMonthRange,
    DayOfMonthRange::parse,
    |r: &DayOfMonthRange| { print_inclusive(&r.0) }
);
string_serde!(MonthRange, MonthRange::parse, |r: &MonthRange| {
    print_inclusive(&r.0)
});
string_serde!(
    YearRange,
    YearRange::parse,
    |r: &YearRange| print_inclusive(&r.0)
);
string_serde!(Location, Location::load, |l: &Location| l.name.clone());

impl<'de> Deserialize<'de> for TimeRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            #[serde(default)]
            start_time: Option<String>,
            #[serde(default)]
            end_time: Option<String>,
        }
        let raw = Raw::deserialize(d)?;
        TimeRange::parse(
            raw.start_time.as_deref().unwrap_or(""),
            raw.end_time.as_deref().unwrap_or(""),
        )
        .map_err(serde::de::Error::custom)
    }
}

impl Serialize for TimeRange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let hm = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("start_time", &hm(self.start_minute))?;
        map.serialize_entry("end_time", &hm(self.end_minute))?;
        map.end()
    }
}

fn days_in_month(year: i16, month: i8) -> i64 {
    jiff::civil::date(year, month, 1).days_in_month().into()
}

impl TimeInterval {
    /// Whether the instant falls in the interval (`ContainsTime`), read in
    /// the interval's location (UTC when none is given).
    pub fn contains(&self, t: Timestamp) -> bool {
        let zone = self
            .location
            .as_ref()
            .map_or(TimeZone::UTC, |l| l.zone.clone());
        let dt = t.to_zoned(zone).datetime();
        if let Some(times) = &self.times {
            let minute = u32::from(dt.hour() as u8) * 60 + u32::from(dt.minute() as u8);
            if !times
                .iter()
                .any(|r| minute >= r.start_minute && minute < r.end_minute)
            {
                return false;
            }
        }
        if let Some(days) = &self.days_of_month {
            let dim = days_in_month(dt.year(), dt.month());
            let day = i64::from(dt.day());
            let inside = days.iter().any(|r| {
                let resolve = |v: i64| if v < 0 { dim + v + 1 } else { v };
                let begin = resolve(r.0.begin);
                if begin > dim {
                    return false;
                }
                let begin = begin.clamp(-dim, dim);
                let end = resolve(r.0.end).clamp(-dim, dim);
                day >= begin && day <= end
            });
            if !inside {
                return false;
            }
        }
        if let Some(months) = &self.months {
            let month = i64::from(dt.month());
            if !months
                .iter()
                .any(|r| month >= r.0.begin && month <= r.0.end)
            {
                return false;
            }
        }
        if let Some(weekdays) = &self.weekdays {
            let wd = i64::from(dt.weekday().to_sunday_zero_offset());
            if !weekdays.iter().any(|r| wd >= r.0.begin && wd <= r.0.end) {
                return false;
            }
        }
        if let Some(years) = &self.years {
            let year = i64::from(dt.year());
            if !years.iter().any(|r| year >= r.0.begin && year <= r.0.end) {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Upstream's validation cases: input → error text.
    #[test]
    fn range_validation_as_upstream() {
        let cases: &[(&str, Result<(), &str>)] = &[
            ("weekdays:monday:friday", Ok(())),
            ("weekdays:Saturday", Ok(())),
            (
                "weekdays:friday:monday",
                Err("start day cannot be before end day"),
            ),
            (
                "weekdays:blurgsday",
                Err("blurgsday is not a valid weekday"),
            ),
            (
                "weekdays:a:b:c",
                Err("couldn't parse range a:b:c, invalid format"),
            ),
            ("days:1:5", Ok(())),
            ("days:-3:-1", Ok(())),
            (
                "days:0",
                Err("0 is not a valid day of the month: out of range"),
            ),
            (
                "days:1:32",
                Err("32 is not a valid day of the month: out of range"),
            ),
            (
                "days:-1:5",
                Err("end day must be negative if start day is negative"),
            ),
            (
                "days:10:-25",
                Err("end day -25 is always before start day 10"),
            ),
            ("days:x", Err("strconv.Atoi: parsing \"x\": invalid syntax")),
            ("months:january:march", Ok(())),
            ("months:1:3", Ok(())),
            (
                "months:march:january",
                Err("end month january is before start month march"),
            ),
            ("months:foo", Err("foo is not a valid month")),
            ("years:2020:2022", Ok(())),
            (
                "years:2022:2020",
                Err("end year 2020 is before start year 2022"),
            ),
        ];
        for (input, want) in cases {
            let (kind, value) = input.split_once(':').unwrap();
            let got = match kind {
                "weekdays" => WeekdayRange::parse(value).map(|_| ()),
                "days" => DayOfMonthRange::parse(value).map(|_| ()),
                "months" => MonthRange::parse(value).map(|_| ()),
                _ => YearRange::parse(value).map(|_| ()),
            };
            assert_eq!(
                got.as_ref().map(|_| ()).map_err(String::as_str),
                *want,
                "{input}"
            );
        }
    }

    #[test]
    fn times_as_upstream() {
        assert_eq!(TimeRange::parse("09:00", "17:00").unwrap().end_minute, 1020);
        assert_eq!(TimeRange::parse("00:00", "24:00").unwrap().end_minute, 1440);
        let errors = [
            ("", "17:00", "both start and end times must be provided"),
            (
                "17:00",
                "09:00",
                "start time cannot be equal or greater than end time",
            ),
            (
                "9:00",
                "17:00",
                "couldn't parse timestamp 9:00, invalid format",
            ),
            (
                "24:01",
                "24:00",
                "couldn't parse timestamp 24:01, invalid format",
            ),
        ];
        for (start, end, want) in errors {
            assert_eq!(TimeRange::parse(start, end).unwrap_err(), want);
        }
    }

    fn interval(yaml: &str) -> TimeInterval {
        serde_saphyr::from_str(yaml).unwrap()
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn contains_as_upstream() {
        let business = interval(
            "times: [{start_time: '09:00', end_time: '17:00'}]\nweekdays: ['monday:friday']\n",
        );
        // 2021-04-05 is a Monday.
        assert!(business.contains(at("2021-04-05T09:00:00Z")));
        assert!(business.contains(at("2021-04-05T16:59:59Z")));
        assert!(!business.contains(at("2021-04-05T17:00:00Z")));
        assert!(!business.contains(at("2021-04-04T12:00:00Z")));

        let last_days = interval("days_of_month: ['-3:-1']\n");
        assert!(last_days.contains(at("2021-02-26T00:00:00Z")));
        assert!(!last_days.contains(at("2021-02-25T23:59:59Z")));
        assert!(last_days.contains(at("2021-01-29T00:00:00Z")));

        // Day 31 in a 30-day month is skipped, not clamped.
        let day31 = interval("days_of_month: ['31']\n");
        assert!(!day31.contains(at("2021-04-30T00:00:00Z")));
        // A range past the month's end is clamped to its last day.
        let late = interval("days_of_month: ['28:31']\n");
        assert!(late.contains(at("2021-02-28T00:00:00Z")));

        let months = interval("months: ['may:august']\nyears: ['2020:2021']\n");
        assert!(months.contains(at("2021-06-01T00:00:00Z")));
        assert!(!months.contains(at("2022-06-01T00:00:00Z")));
        assert!(!months.contains(at("2021-09-01T00:00:00Z")));

        // 01:00 UTC is 10:00 in Tokyo.
        let tokyo =
            interval("times: [{start_time: '09:00', end_time: '17:00'}]\nlocation: Asia/Tokyo\n");
        assert!(tokyo.contains(at("2021-04-05T01:00:00Z")));
        assert!(!tokyo.contains(at("2021-04-05T09:00:00Z")));
    }

    #[test]
    fn unknown_location_is_refused() {
        let err = serde_saphyr::from_str::<TimeInterval>("location: Mars/Olympus\n").unwrap_err();
        assert!(
            err.to_string().contains("unknown time zone Mars/Olympus"),
            "{err}"
        );
    }
}
