//! Civil-date arithmetic on `Millis` for the simulators (UTC, proleptic
//! Gregorian; H. Hinnant's `days_from_civil` / `civil_from_days`).

use crate::time::Millis;

const DAY_MS: u64 = 86_400_000;

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

/// The day number of `now`.
pub(crate) const fn day_of(now: Millis) -> i64 {
    // u64 ms / day fits in i64 comfortably.
    (now.as_u64() / DAY_MS) as i64
}

fn digits(text: &str, range: std::ops::Range<usize>) -> Option<i64> {
    let part = text.get(range)?;
    if part.bytes().all(|b| b.is_ascii_digit()) {
        part.parse().ok()
    } else {
        None
    }
}

/// Parses `YYYYMMDD` into a day number, rejecting impossible dates.
pub(crate) fn parse_yyyymmdd(text: &str) -> Option<i64> {
    if text.len() != 8 {
        return None;
    }
    let (y, m, d) = (
        digits(text, 0..4)?,
        digits(text, 4..6)?,
        digits(text, 6..8)?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(y, m, d);
    (civil_from_days(days) == (y, m, d)).then_some(days)
}

/// Formats a day number as `YYYYMMDD`.
pub(crate) fn format_yyyymmdd(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}{m:02}{d:02}")
}

/// `now` in AWS's basic ISO 8601 form, e.g. `20240301T120000Z`.
pub(crate) fn amz_date(now: Millis) -> String {
    let days = day_of(now);
    let seconds = (now.as_u64() % DAY_MS) / 1000;
    format!(
        "{}T{:02}{:02}{:02}Z",
        format_yyyymmdd(days),
        seconds / 3600,
        (seconds / 60) % 60,
        seconds % 60
    )
}

/// Parses [`amz_date`]'s form back to milliseconds (whole seconds).
pub(crate) fn parse_amz_date(text: &str) -> Option<Millis> {
    if text.len() != 16 || text.get(8..9) != Some("T") || text.get(15..16) != Some("Z") {
        return None;
    }
    let days = u64::try_from(parse_yyyymmdd(text.get(0..8)?)?).ok()?;
    let (h, m, s) = (
        digits(text, 9..11)?,
        digits(text, 11..13)?,
        digits(text, 13..15)?,
    );
    if h > 23 || m > 59 || s > 59 {
        return None;
    }
    let seconds = u64::try_from(h * 3600 + m * 60 + s).ok()?;
    Some(Millis(
        days.checked_mul(DAY_MS)?.checked_add(seconds * 1000)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(parse_yyyymmdd("20240301"), Some(19_783));
        assert_eq!(format_yyyymmdd(19_783), "20240301");
        assert_eq!(
            parse_yyyymmdd("20240229").map(format_yyyymmdd).as_deref(),
            Some("20240229")
        );
        assert_eq!(parse_yyyymmdd("20230229"), None);
        assert_eq!(parse_yyyymmdd("2024-3-1"), None);
        assert_eq!(parse_yyyymmdd("2024+301"), None);
        let now = Millis(1_709_294_645_000); // 2024-03-01T12:04:05Z
        assert_eq!(amz_date(now), "20240301T120405Z");
        assert_eq!(parse_amz_date("20240301T120405Z"), Some(now));
        assert_eq!(parse_amz_date("20240301T250405Z"), None);
    }
}
