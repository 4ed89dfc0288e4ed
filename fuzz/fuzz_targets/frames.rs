//! The tarpc frame decoder and the requests in its frames.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| lts::protocol::fuzzing::frames(data));
