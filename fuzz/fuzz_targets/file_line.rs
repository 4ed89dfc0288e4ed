//! One line of `lts submit --file`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(line) = std::str::from_utf8(data) {
        let _ = lts::jobline::parse_job_line(line);
    }
});
