//! Times as the API shows them: RFC 3339 in UTC, whole seconds.

use jiff::SignedDuration;
use jiff::civil::DateTime;
use std::time::SystemTime;

/// Formats a time as RFC 3339 in UTC, whole seconds (`YYYY-MM-DDTHH:MM:SSZ`,
/// a fraction cut). A time before 1970 shows as the epoch; one past the
/// end of year 9999 as its last second.
pub fn rfc3339(time: SystemTime) -> String {
    let secs = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // Civil time in UTC: jiff's `Timestamp` stops short of the last day of
    // year 9999, its civil `DateTime` does not.
    let epoch = DateTime::constant(1970, 1, 1, 0, 0, 0, 0);
    let utc = i64::try_from(secs)
        .ok()
        .and_then(|secs| epoch.checked_add(SignedDuration::from_secs(secs)).ok())
        .unwrap_or(DateTime::MAX);
    utc.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64, nanos: u32) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::new(secs, nanos)
    }

    /// Whole seconds, UTC, `Z`: the text the API has always shown.
    #[test]
    fn formats_fixed_times_in_utc_whole_seconds() {
        for (secs, text) in [
            (0, "1970-01-01T00:00:00Z"),
            (1, "1970-01-01T00:00:01Z"),
            (59, "1970-01-01T00:00:59Z"),
            (86_399, "1970-01-01T23:59:59Z"),
            (86_400, "1970-01-02T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (951_868_799, "2000-02-29T23:59:59Z"),
            (1_709_251_199, "2024-02-29T23:59:59Z"),
            (1_735_689_599, "2024-12-31T23:59:59Z"),
            (1_735_689_600, "2025-01-01T00:00:00Z"),
            (4_102_444_800, "2100-01-01T00:00:00Z"),
            (253_402_300_799, "9999-12-31T23:59:59Z"),
        ] {
            assert_eq!(rfc3339(at(secs, 0)), text, "{secs}");
        }
        // Fractions of a second are cut, not rounded.
        assert_eq!(rfc3339(at(59, 999_999_999)), "1970-01-01T00:00:59Z");
        assert_eq!(
            rfc3339(at(1_735_689_599, 500_000_000)),
            "2024-12-31T23:59:59Z"
        );
    }

    /// A time before 1970 shows as the epoch.
    #[test]
    fn times_before_the_epoch_show_as_the_epoch() {
        let before = SystemTime::UNIX_EPOCH - Duration::from_secs(86_400);
        assert_eq!(rfc3339(before), "1970-01-01T00:00:00Z");
    }

    /// Past what RFC 3339 can write (year 9999), the last second it can.
    #[test]
    fn times_past_year_9999_show_as_its_last_second() {
        assert_eq!(rfc3339(at(253_402_300_800, 0)), "9999-12-31T23:59:59Z");
        assert_eq!(rfc3339(at(1 << 40, 0)), "9999-12-31T23:59:59Z");
    }
}
