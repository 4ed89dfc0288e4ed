//! Cron expressions: parsed, and when valid, their next fire times.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(cron) = lts::schedule::CronExpr::parse(text) {
        let start = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        let _ = cron.next_after(start, &chrono_tz::Europe::Berlin);
        let _ = cron.next_after(start, &chrono_tz::UTC);
    }
});
