//! Text formats shared by the screens and the CLI: times, percentages, durations.

/// Unix ms as `YYYY-MM-DD HH:MM` UTC.
pub fn time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        sod / 3600,
        (sod % 3600) / 60
    )
}

pub fn opt_time(ms: Option<i64>) -> String {
    ms.map(time).unwrap_or_else(|| "-".into())
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

pub fn percent(c: f64) -> String {
    format!("{:>3.0}%", c * 100.0)
}

/// `12` -> `12`, long strings cut with an ellipsis to `max` chars.
pub fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// Parse a duration like `30m`, `12h`, `7d`, `90s` into ms.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (e.g. 30m, 12h, 7d)"))?;
    let mul = match unit {
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("`{s}` is not a duration (e.g. 30m, 12h, 7d)")),
    };
    n.checked_mul(mul)
        .ok_or_else(|| format!("`{s}` is too long a duration"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(time(0), "1970-01-01 00:00");
        assert_eq!(time(1_795_651_200_000), "2026-11-26 00:00");
        assert_eq!(time(951_782_400_000 + 3_660_000), "2000-02-29 01:01");
        assert_eq!(percent(0.125), " 12%");
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(parse_duration("12h").unwrap(), 43_200_000);
        assert!(parse_duration("12x").is_err());
        assert!(parse_duration("999999999999999999d").is_err());
    }
}
