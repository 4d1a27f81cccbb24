//! The date forms the simulators speak (`YYYYMMDD`, AWS's basic ISO 8601),
//! on the crate's civil-date arithmetic ([`crate::calendar`]).

use crate::calendar::{civil_from_days, days_from_civil, days_in_month};
use crate::time::Millis;

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
    if d < 1 || d > days_in_month(y, m)? {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// Formats a day number as `YYYYMMDD`.
pub(crate) fn format_yyyymmdd(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}{m:02}{d:02}")
}

/// `now` in AWS's basic ISO 8601 form, e.g. `20240301T120000Z`.
pub(crate) fn amz_date(now: Millis) -> String {
    crate::calendar::format_iso8601_basic(now)
}

/// Parses [`amz_date`]'s form (and only it) back to milliseconds.
pub(crate) fn parse_amz_date(text: &str) -> Option<Millis> {
    if text.len() != 16 || text.get(8..9) != Some("T") || text.get(15..16) != Some("Z") {
        return None;
    }
    let seconds = u64::try_from(crate::calendar::parse_iso8601(text)?).ok()?;
    Some(Millis(seconds.checked_mul(1000)?))
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
