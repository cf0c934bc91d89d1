#![no_main]
//! `cargo fuzz run livekit_assembler`: see `chatwire_fuzz::livekit_assembler` and docs/fuzzing.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| chatwire_fuzz::livekit_assembler(data));
