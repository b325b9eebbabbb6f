//! Durations and dates as operators write and read them: `30d`, `720h`, `1y`;
//! `364d`, `9y`; `2027-11-26 11:41 UTC`.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Duration, OffsetDateTime};

/// Parses `30d`, `720h`, `1y`, `90m`, `45s`, `2w` or sums such as `1d12h`.
///
/// A year is 365 days, as kubeadm's `8760h` default is.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".into());
    }
    let mut total = Duration::ZERO;
    let mut digits = String::new();
    for ch in text.chars() {
        if ch.is_ascii_digit() {
            digits.push(ch);
            continue;
        }
        let unit = match ch {
            's' => Duration::SECOND,
            'm' => Duration::MINUTE,
            'h' => Duration::HOUR,
            'd' => Duration::DAY,
            'w' => Duration::WEEK,
            'y' => Duration::days(365),
            _ => {
                return Err(format!(
                    "`{text}`: unknown unit `{ch}` (use s, m, h, d, w or y)"
                ));
            }
        };
        let count: i32 = digits
            .parse()
            .map_err(|_| format!("`{text}`: expected a number before `{ch}`"))?;
        digits.clear();
        total = unit
            .checked_mul(count)
            .and_then(|part| total.checked_add(part))
            .ok_or_else(|| format!("`{text}` is too long"))?;
    }
    if !digits.is_empty() {
        return Err(format!(
            "`{text}`: missing unit after `{digits}` (e.g. 30d, 720h, 1y)"
        ));
    }
    Ok(total)
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
        assert_eq!(parse_duration("30d").unwrap(), Duration::days(30));
        assert_eq!(parse_duration("720h").unwrap(), Duration::days(30));
        assert_eq!(parse_duration("1y").unwrap(), Duration::days(365));
        assert_eq!(parse_duration("1d12h").unwrap(), Duration::hours(36));
        assert_eq!(parse_duration("8760h").unwrap(), Duration::days(365));
    }

    #[test]
    fn bad_durations_say_why() {
        assert!(parse_duration("30").unwrap_err().contains("missing unit"));
        assert!(parse_duration("3x").unwrap_err().contains("unknown unit"));
        assert!(
            parse_duration("d")
                .unwrap_err()
                .contains("expected a number")
        );
        assert!(parse_duration("").is_err());
        assert!(parse_duration("99999999999y").is_err());
    }

    #[test]
    fn left_reads_like_kubeadm() {
        assert_eq!(left(Duration::days(364) + Duration::hours(23)), "364d");
        assert_eq!(left(Duration::days(3650)), "10y");
        assert_eq!(left(Duration::hours(5)), "5h");
        assert_eq!(left(Duration::minutes(-12)), "12m");
    }
}
