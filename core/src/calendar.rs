//! Civil-date arithmetic on the proleptic Gregorian calendar in UTC, after
//! H. Hinnant's `days_from_civil` / `civil_from_days`. Providers validate
//! and parse dates with it, the simulators format them; no calendar crate,
//! because this is all either needs.

use crate::time::Millis;

/// Milliseconds in a (leap-second-free) UTC day.
pub(crate) const DAY_MS: u64 = 86_400_000;

/// Days since 1970-01-01 of a civil date.
pub(crate) const fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date `(year, month, day)` of a day number.
pub(crate) const fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The number of days of `month` (1–12) in `year`; `None` for no month.
pub(crate) const fn days_in_month(year: i64, month: i64) -> Option<i64> {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => Some(31),
        4 | 6 | 9 | 11 => Some(30),
        2 if leap => Some(29),
        2 => Some(28),
        _ => None,
    }
}

/// The day number of `now`.
pub(crate) const fn day_of(now: Millis) -> i64 {
    // u64 ms / day fits in i64 comfortably.
    (now.as_u64() / DAY_MS) as i64
}

/// The UTC wall clock of an instant, to whole seconds (rounded down).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CivilTime {
    /// Days since 1970-01-01, for the weekday.
    pub(crate) days: i64,
    pub(crate) year: i64,
    pub(crate) month: i64,
    pub(crate) day: i64,
    pub(crate) hour: u64,
    pub(crate) minute: u64,
    pub(crate) second: u64,
}

/// The UTC wall clock of `at`.
pub(crate) const fn civil_time(at: Millis) -> CivilTime {
    let days = day_of(at);
    let (year, month, day) = civil_from_days(days);
    let seconds = (at.as_u64() % DAY_MS) / 1000;
    CivilTime {
        days,
        year,
        month,
        day,
        hour: seconds / 3600,
        minute: (seconds / 60) % 60,
        second: seconds % 60,
    }
}

/// `at` as UTC wall-clock time for people, e.g. `2024-03-01 09:30:00 UTC`.
pub(crate) fn human_time(at: &Millis) -> String {
    let t = civil_time(*at);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// `at` in RFC 3339 / ISO 8601 UTC to whole seconds, e.g.
/// `2024-03-01T09:30:00Z` (MWS's `Timestamp`, the simulators' dates).
pub(crate) fn rfc3339(at: Millis) -> String {
    let t = civil_time(at);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// The day number of a `YYYY-MM-DD` date; `None` for anything else.
pub(crate) fn parse_date(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
        return None;
    }
    let (year, month, day) = (
        digits(text, 0..4)?,
        digits(text, 5..7)?,
        digits(text, 8..10)?,
    );
    if day < 1 || day > days_in_month(year, month)? {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// Seconds since the epoch of an RFC 3339 `date-time`
/// (`YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`, `T` and `Z` in either case, a
/// leap second allowed); `None` for anything else.
pub(crate) fn parse_rfc3339(text: &str) -> Option<i64> {
    let days = parse_date(text.get(..10)?)?;
    let rest = text.get(10..)?.strip_prefix(['T', 't'])?;
    let time = rest.as_bytes();
    if time.get(2) != Some(&b':') || time.get(5) != Some(&b':') {
        return None;
    }
    let (hour, minute, second) = (
        digits(rest, 0..2)?,
        digits(rest, 3..5)?,
        digits(rest, 6..8)?,
    );
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut zone = rest.get(8..)?;
    if let Some(fraction) = zone.strip_prefix('.') {
        let count = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if count == 0 {
            return None;
        }
        zone = fraction.get(count..)?;
    }
    let offset = match zone.as_bytes() {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (h, m) = (digits(zone, 1..3)?, digits(zone, 4..6)?);
            if h > 23 || m > 59 {
                return None;
            }
            if *sign == b'+' {
                h * 3600 + m * 60
            } else {
                -(h * 3600 + m * 60)
            }
        }
        _ => return None,
    };
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// Seconds since the epoch of an ISO 8601 UTC date-time in the basic format
/// (`YYYYMMDDTHHMMSSZ`, Amazon Pay's `x-amz-pay-date` and report times) or
/// the extended one (RFC 3339, see [`parse_rfc3339`]); `None` for anything
/// else.
pub(crate) fn parse_iso8601(text: &str) -> Option<i64> {
    if text.len() != 16 {
        return parse_rfc3339(text);
    }
    let rest = text.get(8..)?;
    if !rest.starts_with(['T', 't']) || !rest.ends_with(['Z', 'z']) {
        return None;
    }
    let date = format!("{}-{}-{}", text.get(..4)?, text.get(4..6)?, text.get(6..8)?);
    let days = parse_date(&date)?;
    let (hour, minute, second) = (
        digits(text, 9..11)?,
        digits(text, 11..13)?,
        digits(text, 13..15)?,
    );
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
}

/// `at` as an ISO 8601 basic UTC date-time, `YYYYMMDDTHHMMSSZ`.
pub(crate) fn format_iso8601_basic(at: Millis) -> String {
    let t = civil_time(at);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// The number written with ASCII digits only at `range` of `text`.
fn digits(text: &str, range: std::ops::Range<usize>) -> Option<i64> {
    let part = text.get(range)?;
    if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    part.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_date_times_parse_to_epoch_seconds() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2024-03-01T00:00:00Z"), Some(19_783 * 86_400));
        assert_eq!(
            parse_rfc3339("2024-03-01T08:00:00.123+08:00"),
            Some(19_783 * 86_400)
        );
        assert_eq!(
            parse_rfc3339("2024-02-29t23:59:60z"),
            Some(19_782 * 86_400 + 86_400)
        );
        for bad in [
            "2024-02-30T00:00:00Z",
            "2024-03-01 00:00:00Z",
            "2024-03-01T24:00:00Z",
            "2024-03-01T00:00:00",
            "2024-03-01T00:00:00.Z",
            "2024-03-01T00:00:00+8:00",
            "2024-03-01T00:00:00+08:60",
            "２024-03-01T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn iso8601_basic_and_extended_forms_parse_alike() {
        let basic = parse_iso8601("20221114T074550Z").unwrap();
        assert_eq!(Some(basic), parse_iso8601("2022-11-14T07:45:50Z"));
        assert_eq!(
            format_iso8601_basic(Millis(basic as u64 * 1000)),
            "20221114T074550Z"
        );
        for bad in [
            "20221314T074550Z",
            "20221114T244550Z",
            "20221114 074550Z",
            "20221114T074550+",
            "2022-08-04T00-00-00Z",
            "2022111T0745500Z",
            "",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
    }

    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2024, 3, 1), 19_783);
        assert_eq!(civil_from_days(19_783), (2024, 3, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        for days in -800_000..800_000 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn months_have_their_lengths() {
        assert_eq!(days_in_month(2024, 2), Some(29));
        assert_eq!(days_in_month(2023, 2), Some(28));
        assert_eq!(days_in_month(1900, 2), Some(28));
        assert_eq!(days_in_month(2000, 2), Some(29));
        assert_eq!(days_in_month(2024, 4), Some(30));
        assert_eq!(days_in_month(2024, 12), Some(31));
        assert_eq!(days_in_month(2024, 0), None);
        assert_eq!(days_in_month(2024, 13), None);
    }

    #[test]
    fn instants_have_their_wall_clock() {
        let at = civil_time(Millis(1_709_294_645_999)); // 2024-03-01T12:04:05.999Z
        assert_eq!(
            at,
            CivilTime {
                days: 19_783,
                year: 2024,
                month: 3,
                day: 1,
                hour: 12,
                minute: 4,
                second: 5,
            }
        );
    }
}
