//! The functions of time: the evaluation and query times (`time`,
//! `start`, `end`, `range`, `step`), `timestamp` and `start_timestamp`,
//! and the calendar parts of a Unix time in UTC (`year`, `month`,
//! `day_of_month`, `day_of_week`, `day_of_year`, `days_in_month`, `hour`,
//! `minute`), computed with `jiff` as Prometheus computes them with Go's
//! `time` package.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::Offset;

use super::Context;
use crate::ast::{Call, Expr};
use crate::eval_types::{Result, Sample, Val};
use crate::labels::Labels;

fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

pub(super) fn time(_: &mut dyn Context, _: &Call, t: i64) -> Result<Val> {
    Ok(Val::Scalar(secs(t)))
}

pub(super) fn start(ctx: &mut dyn Context, _: &Call, _: i64) -> Result<Val> {
    Ok(Val::Scalar(secs(ctx.query_start())))
}

pub(super) fn end(ctx: &mut dyn Context, _: &Call, _: i64) -> Result<Val> {
    Ok(Val::Scalar(secs(ctx.query_end())))
}

pub(super) fn range(ctx: &mut dyn Context, _: &Call, _: i64) -> Result<Val> {
    Ok(Val::Scalar(secs(ctx.query_end() - ctx.query_start())))
}

pub(super) fn step(ctx: &mut dyn Context, _: &Call, _: i64) -> Result<Val> {
    Ok(Val::Scalar(secs(ctx.query_step())))
}

/// The argument with its parentheses taken off.
fn unparenthesized(mut arg: &Expr) -> &Expr {
    while let Expr::Paren(p) = arg {
        arg = &p.expr;
    }
    arg
}

/// `timestamp(v)`: a selector argument reports its samples' own
/// timestamps, anything else the evaluation time.
pub(super) fn timestamp(ctx: &mut dyn Context, c: &Call, t: i64) -> Result<Val> {
    let arg = unparenthesized(&c.args[0]);
    let own = matches!(arg, Expr::VectorSelector(_));
    let mut v = ctx.eval_vector(arg, t)?;
    for s in &mut v {
        s.v = secs(if own { s.t } else { t });
        s.h = None;
        s.drop_name = true;
    }
    Ok(Val::Vector(v))
}

/// `start_timestamp(v)`: only a selector's samples carry start
/// timestamps; anything computed has none and gives nothing.
pub(super) fn start_timestamp(ctx: &mut dyn Context, c: &Call, t: i64) -> Result<Val> {
    let arg = unparenthesized(&c.args[0]);
    if let Expr::VectorSelector(vs) = arg {
        return Ok(Val::Vector(ctx.start_timestamps(vs, t)?));
    }
    ctx.eval_vector(arg, t)?;
    Ok(Val::Vector(Vec::new()))
}

/// A calendar function: `f` of each sample's value as a Unix time in
/// seconds, or of the evaluation time without an argument. The metric
/// name is dropped.
pub(super) fn date_part(ctx: &mut dyn Context, c: &Call, t: i64, f: fn(f64) -> f64) -> Result<Val> {
    let mut v = match c.args.first() {
        Some(arg) => ctx.eval_vector(arg, t)?,
        None => vec![Sample {
            h: None,
            labels: Labels::default(),
            t,
            v: secs(t),
            drop_name: false,
        }],
    };
    for s in &mut v {
        s.v = f(s.v);
        s.drop_name = true;
    }
    Ok(Val::Vector(v))
}

/// Seconds in 400 Gregorian years: the calendar (weekdays included)
/// repeats after them.
const GREGORIAN_CYCLE_SECS: i64 = 146_097 * 86_400;

/// The UTC date and time of a Unix time in seconds, and how many years to
/// add to its year.
///
/// `jiff` represents the years -9999 to 9999; Go's `time` (and so
/// Prometheus) goes on far beyond, and so does this: a time outside
/// `jiff`'s range is moved by whole 400-year cycles to one inside it
/// (1970 to 2369), which changes nothing but the year, and the cycles are
/// added back to the year.
fn utc(secs: i64) -> (DateTime, i64) {
    match Timestamp::from_second(secs) {
        Ok(ts) => (Offset::UTC.to_datetime(ts), 0),
        Err(_) => {
            let cycles = secs.div_euclid(GREGORIAN_CYCLE_SECS);
            let inside = Timestamp::from_second(secs.rem_euclid(GREGORIAN_CYCLE_SECS))
                .expect("the first 400 years after 1970 are in jiff's range");
            (Offset::UTC.to_datetime(inside), cycles * 400)
        }
    }
}

/// `f` of the UTC date and time of `v` seconds (truncated towards zero,
/// saturating at the ends of `i64`); NaN for NaN and the infinities.
fn with_date(v: f64, f: impl FnOnce(DateTime, i64) -> f64) -> f64 {
    if !v.is_finite() {
        return f64::NAN;
    }
    let (dt, extra_years) = utc(v as i64);
    f(dt, extra_years)
}

pub(super) fn year(v: f64) -> f64 {
    with_date(v, |dt, extra| (i64::from(dt.year()) + extra) as f64)
}

pub(super) fn month(v: f64) -> f64 {
    with_date(v, |dt, _| f64::from(dt.month()))
}

pub(super) fn day_of_month(v: f64) -> f64 {
    with_date(v, |dt, _| f64::from(dt.day()))
}

/// 0 for Sunday to 6 for Saturday.
pub(super) fn day_of_week(v: f64) -> f64 {
    with_date(v, |dt, _| f64::from(dt.weekday().to_sunday_zero_offset()))
}

pub(super) fn day_of_year(v: f64) -> f64 {
    with_date(v, |dt, _| f64::from(dt.day_of_year()))
}

pub(super) fn days_in_month(v: f64) -> f64 {
    with_date(v, |dt, _| f64::from(dt.days_in_month()))
}

pub(super) fn hour(v: f64) -> f64 {
    with_date(v, |dt, _| f64::from(dt.hour()))
}

pub(super) fn minute(v: f64) -> f64 {
    with_date(v, |dt, _| f64::from(dt.minute()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The civil-date conversion this engine used before `jiff` (Howard
    /// Hinnant's days-to-civil), kept as the reference the calendar
    /// functions must still agree with: (year, month, day, hour, minute,
    /// weekday with 0 = Sunday, day of year, days in the month).
    fn reference(secs: i64) -> [i64; 8] {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let mut y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        if m <= 2 {
            y += 1;
        }
        let weekday = (days + 4).rem_euclid(7);
        let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
        let cum = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
        let yday = cum[(m - 1) as usize] + d + i64::from(leap && m > 2);
        let month_days = match m {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        [
            y,
            m,
            d,
            rem / 3600,
            (rem % 3600) / 60,
            weekday,
            yday,
            month_days,
        ]
    }

    fn computed(v: f64) -> [f64; 8] {
        [
            year(v),
            month(v),
            day_of_month(v),
            hour(v),
            minute(v),
            day_of_week(v),
            day_of_year(v),
            days_in_month(v),
        ]
    }

    fn check(v: f64) {
        let want = reference(v as i64).map(|x| x as f64);
        assert_eq!(computed(v), want, "at {v} s");
    }

    #[test]
    fn calendar_parts_agree_with_the_reference_everywhere() {
        // Around the epoch, every ~37 hours over ±60 years, and the
        // edges of days, leap days and centuries.
        let mut s = -1_900_000_000i64;
        while s < 1_900_000_000 {
            check(s as f64);
            s += 133_337;
        }
        for day in [
            -719_468i64, // 0000-03-01
            -719_469,
            -25_567, // 1900-01-01
            -1,
            0,
            11_016, // 2000-02-29
            11_017,
            47_540, // 2100-03-01
        ] {
            for secs in [0, 1, 59, 60, 3_599, 3_600, 86_399] {
                check((day * 86_400 + secs) as f64);
            }
        }
        check(-0.5);
        check(0.999);
    }

    #[test]
    fn times_beyond_jiffs_years_keep_their_calendar() {
        let edge = Timestamp::MAX.as_second();
        let low = Timestamp::MIN.as_second();
        for s in [
            edge - 1,
            edge,
            edge + 1,
            edge + 86_400 * 400,
            low - 1,
            low,
            low + 1,
            -377_705_116_801,
            1e15 as i64,
            -1e15 as i64,
            1e17 as i64,
            -1e17 as i64,
            i64::MAX / 2,
            i64::MIN / 2,
            i64::MAX - 86_400 * 146_097,
            i64::MIN + 86_400 * 146_097,
        ] {
            check(s as f64);
        }
        // Beyond i64 the seconds saturate, as they always have.
        check(1e300);
        check(-1e300);
        check(9.3e18);
        check(-9.3e18);
        for f in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(computed(f).iter().all(|v| v.is_nan()));
        }
    }
}
