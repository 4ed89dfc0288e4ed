//! The accepting side of a handshake, fed what a peer sends.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| lts::protocol::fuzzing::handshake(data));
