//! Durations and dates as operators write and read them: `30d`, `720h`, `1y`;
//! `364d`, `9y`; `2027-11-26 11:41 UTC`.

use std::fmt::Write as _;

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Duration, OffsetDateTime};

/// The longest duration accepted: 10000 years of 365 days, about the whole
/// range of dates a certificate can carry (X.509 dates end at 9999-12-31).
pub const LONGEST: Duration = Duration::days(10_000 * 365);

/// Parses `30d`, `720h`, `1y`, `90m`, `45s`, `2w` or sums such as `1d12h`.
///
/// A year is 365 days, as kubeadm's `8760h` default is. Negative durations and
/// sums longer than 10000 years are refused.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".into());
    }
    if text.starts_with('-') {
        return Err(format!("`{text}`: a duration cannot be negative"));
    }
    let too_long = || format!("`{text}` is too long (at most 10000y)");
    let mut total: i64 = 0;
    let mut digits = String::new();
    for ch in text.chars() {
        if ch.is_ascii_digit() {
            digits.push(ch);
            continue;
        }
        let unit: i64 = match ch {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            'y' => 365 * 86_400,
            _ => {
                return Err(format!(
                    "`{text}`: unknown unit `{ch}` (use s, m, h, d, w or y)"
                ));
            }
        };
        if digits.is_empty() {
            return Err(format!("`{text}`: expected a number before `{ch}`"));
        }
        // Only digits: parsing fails on overflow alone.
        let count: i64 = digits.parse().map_err(|_| too_long())?;
        digits.clear();
        total = count
            .checked_mul(unit)
            .and_then(|part| total.checked_add(part))
            .filter(|sum| *sum <= LONGEST.whole_seconds())
            .ok_or_else(too_long)?;
    }
    if !digits.is_empty() {
        return Err(format!(
            "`{text}`: missing unit after `{digits}` (e.g. 30d, 720h, 1y)"
        ));
    }
    Ok(Duration::seconds(total))
}

/// A duration exactly, in the units `parse_duration` reads: `1y`, `1d12h`, `0s`.
pub fn exact(duration: Duration) -> String {
    let mut rest = duration.whole_seconds().unsigned_abs();
    let mut out = String::new();
    if duration.is_negative() {
        out.push('-');
    }
    for (unit, seconds) in [
        ("y", 365 * 86_400),
        ("d", 86_400),
        ("h", 3_600),
        ("m", 60),
        ("s", 1),
    ] {
        if rest >= seconds {
            let _ = write!(out, "{}{unit}", rest / seconds);
            rest %= seconds;
        }
    }
    if out.is_empty() || out == "-" {
        out.push_str("0s");
    }
    out
}

/// Time left, as kubeadm's RESIDUAL TIME column shows it: `9y`, `364d`, `5h`, `12m`.
pub fn left(duration: Duration) -> String {
    let duration = duration.abs();
    if duration >= Duration::days(365) {
        format!("{}y", duration.whole_days() / 365)
    } else if duration >= Duration::DAY {
        format!("{}d", duration.whole_days())
    } else if duration >= Duration::HOUR {
        format!("{}h", duration.whole_hours())
    } else {
        format!("{}m", duration.whole_minutes())
    }
}

/// A date for people: `2027-11-26 11:41 UTC`.
pub fn date(when: OffsetDateTime) -> String {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    when.to_offset(time::UtcOffset::UTC)
        .format(format)
        .unwrap_or_else(|_| when.unix_timestamp().to_string())
}

/// A date for machines: RFC 3339 in UTC.
pub fn rfc3339(when: OffsetDateTime) -> String {
    when.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_else(|_| when.unix_timestamp().to_string())
}

/// Parses an RFC 3339 time (for the test clock).
pub fn parse_rfc3339(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|err| format!("`{text}` is not an RFC 3339 time ({err})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_operator_units() {
        let cases: &[(&str, Duration)] = &[
            ("45s", Duration::seconds(45)),
            ("90m", Duration::minutes(90)),
            ("720h", Duration::days(30)),
            ("30d", Duration::days(30)),
            ("2w", Duration::days(14)),
            ("1y", Duration::days(365)),
            ("8760h", Duration::days(365)),
            ("1d12h", Duration::hours(36)),
            (
                "1y1w1d1h1m1s",
                Duration::seconds(31_536_000 + 604_800 + 86_400 + 3_661),
            ),
            ("  7d  ", Duration::days(7)),
            ("0s", Duration::ZERO),
            ("007d", Duration::days(7)),
            ("10000y", LONGEST),
            ("9999y365d", LONGEST),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_duration(text), Ok(*expected), "{text}");
        }
    }

    #[test]
    fn bad_durations_say_why() {
        let cases: &[(&str, &str)] = &[
            ("", "empty duration"),
            ("   ", "empty duration"),
            ("30", "missing unit after `30`"),
            ("1d12", "missing unit after `12`"),
            ("3x", "unknown unit `x`"),
            ("1 d", "unknown unit ` `"),
            ("1.5d", "unknown unit `.`"),
            ("d", "expected a number before `d`"),
            ("1dd", "expected a number before `d`"),
            ("-5d", "cannot be negative"),
            ("+5d", "unknown unit `+`"),
            ("10001y", "too long (at most 10000y)"),
            ("100000y", "too long"),
            ("9999y366d", "too long"),
            ("99999999999y", "too long"),
            ("99999999999999999999999s", "too long"),
            ("9223372036854775807s", "too long"),
            ("5000y5000y1s", "too long"),
            ("٣d", "unknown unit `٣`"),
        ];
        for (text, why) in cases {
            let err = parse_duration(text).expect_err(text);
            assert!(err.contains(why), "{text}: {err}");
        }
    }

    #[test]
    fn exact_reads_back() {
        for text in ["0s", "45s", "1m", "1h1m1s", "1d12h", "1y", "2y3d", "10000y"] {
            let duration = parse_duration(text).unwrap();
            assert_eq!(exact(duration), text);
        }
        assert_eq!(exact(Duration::hours(8760)), "1y");
        assert_eq!(exact(Duration::seconds(-90)), "-1m30s");
        assert_eq!(exact(Duration::MAX), "292471208677y195d15h30m7s");
    }

    #[test]
    fn left_reads_like_kubeadm() {
        assert_eq!(left(Duration::days(364) + Duration::hours(23)), "364d");
        assert_eq!(left(Duration::days(3650)), "10y");
        assert_eq!(left(Duration::hours(5)), "5h");
        assert_eq!(left(Duration::minutes(-12)), "12m");
    }
}
