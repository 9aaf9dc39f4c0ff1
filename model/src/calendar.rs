//! Unix time to UTC calendar fields (proleptic Gregorian, Howard Hinnant's days-from-civil
//! inverse): one conversion for the screens, the CLI and the store's file names.

/// Days since 1970-01-01 to (year, month, day).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
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

/// Unix seconds to (year, month, day, hour, minute, second) UTC.
pub fn utc(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    (
        y,
        m,
        d,
        (sod / 3600) as u32,
        (sod % 3600 / 60) as u32,
        (sod % 60) as u32,
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn calendar_dates() {
        assert_eq!(super::utc(0), (1970, 1, 1, 0, 0, 0));
        // 2026-11-23 18:43:58 UTC
        assert_eq!(super::utc(1_795_459_438), (2026, 11, 23, 18, 43, 58));
        assert_eq!(super::utc(951_782_400), (2000, 2, 29, 0, 0, 0));
        assert_eq!(super::utc(-1), (1969, 12, 31, 23, 59, 59));
    }
}
