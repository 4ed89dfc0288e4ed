//! Text the pages show: relative and absolute times, short durations, a
//! command line quoted as a shell would take it, and the reverse: a command
//! line typed in the submit form split into arguments.

use crate::model::Millis;
use chrono_tz::Tz;

/// `now` to `at` in words: "just now", "42s ago", "3m ago", "in 2h".
pub fn relative(now: Millis, at: Millis) -> String {
    let delta = at - now;
    let abs = delta.unsigned_abs() / 1000;
    if abs < 2 {
        return "just now".into();
    }
    let amount = if abs < 60 {
        format!("{abs}s")
    } else if abs < 3_600 {
        format!("{}m", abs / 60)
    } else if abs < 86_400 * 2 {
        format!("{}h", abs / 3_600)
    } else if abs < 86_400 * 365 {
        format!("{}d", abs / 86_400)
    } else {
        format!("{}y", abs / (86_400 * 365))
    };
    if delta < 0 {
        format!("{amount} ago")
    } else {
        format!("in {amount}")
    }
}

/// An instant in `zone`, to the second, with the zone's abbreviation.
pub fn absolute(at: Millis, zone: Tz) -> String {
    match chrono::DateTime::from_timestamp_millis(at) {
        Some(t) => t
            .with_timezone(&zone)
            .format("%Y-%m-%d %H:%M:%S %Z")
            .to_string(),
        None => at.to_string(),
    }
}

/// The time of day in `zone`, for log lines.
pub fn clock(at: Millis, zone: Tz) -> String {
    match chrono::DateTime::from_timestamp_millis(at) {
        Some(t) => t.with_timezone(&zone).format("%H:%M:%S").to_string(),
        None => at.to_string(),
    }
}

/// A duration as people read it: "350ms", "4.2s", "3m 4s", "2h 5m", "3d 4h".
pub fn duration(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 1_000 {
        return format!("{ms}ms");
    }
    if ms < 10_000 {
        return format!("{:.1}s", ms as f64 / 1000.0);
    }
    let s = ms / 1000;
    if s < 60 {
        format!("{s}s")
    } else if s < 3_600 {
        format!("{}m {}s", s / 60, s % 60)
    } else if s < 86_400 {
        format!("{}h {}m", s / 3_600, s % 3_600 / 60)
    } else {
        format!("{}d {}h", s / 86_400, s % 86_400 / 3_600)
    }
}

/// A command line as a POSIX shell would take it back: arguments that need
/// it in single quotes.
pub fn shell_join(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            let plain = !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c));
            if plain {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Split a command line into arguments as a POSIX shell does for words:
/// blanks separate, single quotes keep everything, double quotes keep all
/// but `\"` and `\\`, a backslash outside quotes keeps the next character.
/// No expansion of any kind.
pub fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("a single quote is not closed".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("a double quote is not closed".into()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("a double quote is not closed".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err("the line ends with a backslash".into()),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// Decode `%XX` escapes and `+` (a form's space); bad escapes stay as they are.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (escaped, bytes[i]) {
            (Some(b), _) => {
                out.push(b);
                i += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                i += 1;
            }
            (None, b) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_read_like_people_say_them() {
        let now = 1_000_000_000;
        assert_eq!(relative(now, now), "just now");
        assert_eq!(relative(now, now - 42_000), "42s ago");
        assert_eq!(relative(now, now - 3 * 60_000 - 5_000), "3m ago");
        assert_eq!(relative(now, now + 2 * 3_600_000), "in 2h");
        assert_eq!(relative(now, now - 3 * 86_400_000), "3d ago");
    }

    #[test]
    fn durations_are_short() {
        assert_eq!(duration(350), "350ms");
        assert_eq!(duration(4_200), "4.2s");
        assert_eq!(duration(184_000), "3m 4s");
        assert_eq!(duration(7_500_000), "2h 5m");
    }

    #[test]
    fn commands_round_trip_through_the_shell_form() {
        let args: Vec<String> = ["sh", "-c", "sleep 3; echo 'it''s'", ""]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let line = shell_join(&args);
        assert_eq!(split_words(&line).unwrap(), args);
        assert_eq!(
            split_words(r#"echo "a \"b\" c" d\ e  'f g'"#).unwrap(),
            vec!["echo", r#"a "b" c"#, "d e", "f g"]
        );
        assert!(split_words("echo 'open").is_err());
        assert_eq!(split_words("  ").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn percent_decoding_keeps_bad_escapes() {
        assert_eq!(percent_decode("a%20b+c%2F"), "a b c/");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4%+1"), "%zz%4% 1");
    }
}
