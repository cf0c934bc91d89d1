#![no_main]
//! `cargo fuzz run livekit_packet`: see `chatwire_fuzz::livekit_packet` and docs/fuzzing.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| chatwire_fuzz::livekit_packet(data));
