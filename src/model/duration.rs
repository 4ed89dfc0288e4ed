//! Durations as users type them (`90s`, `15m`, `3d`, `1h30m`, `250ms`) and as
//! the CLI prints them.

use std::time::Duration;

/// Parse a duration such as `90s`, `1h30m`, `3d` or `250ms`. A bare number
/// is refused: the unit is the part people get wrong.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("empty duration (expected something like 90s, 15m, 1h30m, 3d)".into());
    }
    let shown = super::cut(trimmed, 40);
    if trimmed.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "duration '{shown}' has no unit (expected something like {shown}s or {shown}ms)"
        ));
    }
    humantime::parse_duration(trimmed).map_err(|e| {
        let e = super::cut(&e.to_string(), 80);
        format!("invalid duration '{shown}': {e} (expected something like 90s, 15m, 1h30m, 3d)")
    })
}

/// Print a duration compactly (`1h30m`, `2s`, `250ms`).
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let mut secs = ms / 1000;
    let mut out = String::new();
    for (unit, size) in [("d", 86_400u128), ("h", 3_600), ("m", 60), ("s", 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("3d"), Ok(Duration::from_secs(3 * 86_400)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
    }

    #[test]
    fn refuses_bad_forms() {
        assert!(parse_duration("").is_err());
        assert!(parse_duration("10").unwrap_err().contains("no unit"));
        assert!(parse_duration("ten seconds").is_err());
    }

    #[test]
    fn formats_round_trip() {
        for s in ["1h30m", "2s", "250ms", "3d"] {
            assert_eq!(format_duration(parse_duration(s).unwrap()), s);
        }
    }
}
