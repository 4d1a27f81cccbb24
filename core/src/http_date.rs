//! HTTP dates (Yandex's `X-RateLimit-Resource-Until`, MWS's
//! `x-mws-quota-resetsOn` in its documented form): a small strict parser of
//! the RFC 822 / RFC 1123 form and its formatter, on the crate's civil-date
//! arithmetic ([`crate::calendar`]).

use crate::calendar::{civil_time, days_from_civil, days_in_month};
use crate::time::Millis;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

fn number(text: &str, min_len: usize, max_len: usize) -> Option<i64> {
    (text.len() >= min_len && text.len() <= max_len && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// Parses an RFC 822 / RFC 1123 date-time, e.g. `Thu, 10 Jul 2018 00:42:42 GMT`.
///
/// Strict in form: an optional day name with its comma, a 1–2 digit day, an
/// English month abbreviation, a 4-digit year (or RFC 822's 2-digit one),
/// `HH:MM[:SS]` and a zone (`GMT`, `UT`, `UTC`, `Z`, `±hhmm` or one of the
/// US zones RFC 822 names). Fields out of range and impossible dates are
/// refused. The day name is checked for spelling only, not against the
/// date: Yandex's own documented example (`Thu, 10 Jul 2018`) names the
/// wrong weekday.
pub(crate) fn parse_http_date(text: &str) -> Option<Millis> {
    let text = text.trim();
    let rest = match text.split_once(',') {
        Some((day_name, rest)) => {
            let day_name = day_name.trim();
            if !DAYS.iter().any(|d| d.eq_ignore_ascii_case(day_name)) {
                return None;
            }
            rest
        }
        None => text,
    };
    let mut parts = rest.split_ascii_whitespace();
    let day = number(parts.next()?, 1, 2)?;
    let month_name = parts.next()?;
    let month = MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(month_name))? as i64
        + 1;
    let year_text = parts.next()?;
    let year = match year_text.len() {
        4 => number(year_text, 4, 4)?,
        2 => {
            let y = number(year_text, 2, 2)?;
            if y < 50 {
                2000 + y
            } else {
                1900 + y
            }
        }
        _ => return None,
    };
    let time = parts.next()?;
    let mut clock = time.split(':');
    let hour = number(clock.next()?, 2, 2)?;
    let minute = number(clock.next()?, 2, 2)?;
    let second = match clock.next() {
        Some(s) => number(s, 2, 2)?,
        None => 0,
    };
    if clock.next().is_some() || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let zone = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    let offset_minutes: i64 = match zone.to_ascii_uppercase().as_str() {
        "GMT" | "UT" | "UTC" | "Z" => 0,
        "EST" => -5 * 60,
        "EDT" => -4 * 60,
        "CST" => -6 * 60,
        "CDT" => -5 * 60,
        "MST" => -7 * 60,
        "MDT" => -6 * 60,
        "PST" => -8 * 60,
        "PDT" => -7 * 60,
        other => {
            let (sign, digits) = match other.split_at_checked(1)? {
                ("+", d) => (1, d),
                ("-", d) => (-1, d),
                _ => return None,
            };
            let value = number(digits, 4, 4)?;
            let (h, m) = (value / 100, value % 100);
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 60 + m)
        }
    };
    if day < 1 || day > days_in_month(year, month)? || year < 1970 {
        return None;
    }
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second
        - offset_minutes * 60;
    u64::try_from(seconds)
        .ok()
        .map(|s| Millis(s.saturating_mul(1000)))
}

/// Formats `at` as an RFC 1123 date in GMT (whole seconds, rounded down).
pub(crate) fn format_http_date(at: Millis) -> String {
    let at = civil_time(at);
    let weekday = DAYS
        .get(usize::try_from(at.days.rem_euclid(7)).unwrap_or(0))
        .copied()
        .unwrap_or("Thu");
    let month = MONTHS
        .get(usize::try_from(at.month - 1).unwrap_or(0))
        .copied()
        .unwrap_or("Jan");
    format!(
        "{weekday}, {:02} {month} {:04} {:02}:{:02}:{:02} GMT",
        at.day, at.year, at.hour, at.minute, at.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        // The docs' example (whose weekday is wrong: 10 Jul 2018 was a Tuesday).
        assert_eq!(
            parse_http_date("Thu, 10 Jul 2018 00:42:42 GMT"),
            Some(Millis(1_531_183_362_000))
        );
        // A recorded header (lower-case names, right weekday).
        assert_eq!(
            parse_http_date("Tue, 09 Jan 2024 14:05:00 GMT"),
            Some(Millis(1_704_809_100_000))
        );
        assert_eq!(
            parse_http_date("9 Jan 2024 14:05 +0300"),
            Some(Millis(1_704_809_100_000 - 3 * 3_600_000))
        );
        assert_eq!(
            parse_http_date("Tue, 09 Jan 24 09:05:00 EST"),
            Some(Millis(1_704_809_100_000))
        );
        assert_eq!(
            parse_http_date("Thu, 29 Feb 2024 00:00:00 GMT"),
            Some(Millis(1_709_164_800_000))
        );
    }

    #[test]
    fn refuses_everything_else() {
        for text in [
            "",
            "Tue, 09 Jan 2024 14:05:00",
            "Tue, 30 Feb 2024 14:05:00 GMT",
            "Tue, 09 Foo 2024 14:05:00 GMT",
            "Tue 09 Jan 2024 14:05:00 GMT extra",
            "Tuesday, 09-Jan-24 14:05:00 GMT",
            "Tue, 09 Jan 2024 24:00:00 GMT",
            "Tue, 09 Jan 2024 14:05:00 +9999",
            "Xyz, 09 Jan 2024 14:05:00 GMT",
            "Tue, 009 Jan 2024 14:05:00 GMT",
            "2024-01-09T14:05:00Z",
            "Tue, 09 Jan 1969 14:05:00 GMT",
        ] {
            assert_eq!(parse_http_date(text), None, "{text}");
        }
    }

    #[test]
    fn formats_round_trip() {
        for ms in [
            0u64,
            1_531_183_362_000,
            1_709_164_800_000,
            4_102_444_799_000,
        ] {
            let text = format_http_date(Millis(ms));
            assert_eq!(parse_http_date(&text), Some(Millis(ms)), "{text}");
        }
        assert_eq!(
            format_http_date(Millis(1_704_809_100_999)),
            "Tue, 09 Jan 2024 14:05:00 GMT"
        );
    }
}
