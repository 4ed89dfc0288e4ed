//! Durations, time zones and RFC 3339 times as a user writes them.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(d) = lts::model::parse_duration(text) {
        let _ = lts::model::format_duration(d);
    }
    let _ = lts::schedule::parse_zone(text);
    let line = serde_json::json!({"group": "g", "at": text}).to_string();
    let _ = lts::jobline::parse_job_line(&line);
});
