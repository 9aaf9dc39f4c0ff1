//! Text formats shared by the screens and the CLI: times, percentages, durations.

/// Unix ms as `YYYY-MM-DD HH:MM` UTC.
pub fn time(ms: i64) -> String {
    let (y, m, d, h, mi, _) = model::calendar::utc(ms.div_euclid(1000));
    format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}")
}

pub fn opt_time(ms: Option<i64>) -> String {
    ms.map(time).unwrap_or_else(|| "-".into())
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

/// Counts as a one-line bar chart, one character each: `·` for 0, else a block from `▁`
/// to `█` scaled to the largest count.
pub fn sparkline(values: &[u32]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().copied().max().unwrap_or(0);
    values
        .iter()
        .map(|&v| {
            if v == 0 {
                '·'
            } else {
                let level = ((v as u64 * 8).div_ceil(max as u64)).clamp(1, 8) as usize;
                BARS[level - 1]
            }
        })
        .collect()
}

/// "promoted to Stable by alice at 2026-11-26 14:00: reason".
pub fn decision_text(c: &store::LifecycleChange) -> String {
    let mut t = format!("{} at {}", c.describe(), time(c.ts_ms));
    if !c.reason.is_empty() {
        t.push_str(&format!(": {}", c.reason));
    }
    t
}

/// "merged, 12th of 200" / "kept, not merged (the profile was Stable)" / "merged before reset #3".
pub fn snapshot_state(d: &store::SnapshotDetail) -> String {
    match (d.snapshot.merged, d.snapshot.reset_id, d.position) {
        (true, Some(r), _) => format!("merged before reset #{r} (archived generation)"),
        (true, None, Some(pos)) => format!("merged, #{pos} in ingest order"),
        (true, None, None) => "merged".into(),
        (false, Some(r), _) => format!("kept, not merged; before reset #{r}"),
        (false, None, _) => "kept, not merged (the profile was Stable)".into(),
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
        assert_eq!(sparkline(&[0, 1, 8, 4, 0]), "·▁█▄·");
        assert_eq!(sparkline(&[0, 0]), "··");
        assert_eq!(sparkline(&[3]), "█");
    }
}
