//! Times as people type and read them: `now`, `-15m`, `-2h`, `-1d`, `2026-11-28 14:05`,
//! `2026-11-28T14:05:00+08:00`, or Unix milliseconds; shown in local time.

use anyhow::{bail, Context};
use chrono::{DateTime, Local, NaiveDateTime, TimeZone};

/// Parses a time given on the command line into Unix ms, relative to `now_ms`.
pub fn parse(text: &str, now_ms: i64) -> anyhow::Result<i64> {
    let t = text.trim();
    if t == "now" {
        return Ok(now_ms);
    }
    if let Some(rel) = t.strip_prefix('-') {
        if let Some(unit) = rel.chars().last().filter(|c| c.is_ascii_alphabetic()) {
            let n: i64 = rel[..rel.len() - 1]
                .parse()
                .with_context(|| format!("bad relative time {text:?}"))?;
            let ms = match unit {
                's' => 1_000,
                'm' => 60_000,
                'h' => 3_600_000,
                'd' => 86_400_000,
                _ => bail!("bad relative time {text:?}: unit must be s, m, h or d"),
            };
            return Ok(now_ms - n * ms);
        }
    }
    if let Ok(ms) = t.parse::<i64>() {
        return Ok(ms);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt.timestamp_millis());
    }
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(t, f) {
            if let Some(dt) = Local.from_local_datetime(&naive).earliest() {
                return Ok(dt.timestamp_millis());
            }
        }
    }
    bail!(
        "cannot read time {text:?}: use now, -15m, -2h, -1d, \"2026-11-28 14:05\", RFC 3339, or Unix ms"
    )
}

/// `HH:MM:SS` in local time.
pub fn clock(ms: i64) -> String {
    Local
        .timestamp_millis_opt(ms)
        .single()
        .map(|d| d.format("%H:%M:%S").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// `YYYY-MM-DD HH:MM:SS` in local time.
pub fn datetime(ms: i64) -> String {
    Local
        .timestamp_millis_opt(ms)
        .single()
        .map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_and_absolute_times() {
        let now = 10_000_000_000;
        assert_eq!(parse("now", now).unwrap(), now);
        assert_eq!(parse("-15m", now).unwrap(), now - 900_000);
        assert_eq!(parse("-2h", now).unwrap(), now - 7_200_000);
        assert_eq!(parse("1700000000000", now).unwrap(), 1_700_000_000_000);
        assert_eq!(
            parse("2023-11-14T22:13:20Z", now).unwrap(),
            1_700_000_000_000
        );
        assert!(parse("-3w", now).unwrap_err().to_string().contains("unit"));
        assert!(parse("yesterday", now).is_err());
    }
}
