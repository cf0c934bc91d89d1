#![no_main]
//! `cargo fuzz run sechat_frame`: see `chatwire_fuzz::sechat_frame` and docs/fuzzing.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| chatwire_fuzz::sechat_frame(data));
