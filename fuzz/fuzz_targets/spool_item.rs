//! What a spool file holds: a worker's items and a client's jobs, as JSON.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(item) = serde_json::from_slice::<lts::protocol::Upstream>(data) {
        let _ = serde_json::to_string(&item);
    }
    if let Ok(job) = serde_json::from_slice::<lts::model::JobSpec>(data) {
        let _ = lts::model::validate_job(&job);
    }
});
