#![no_main]
//! `cargo fuzz run chzzk_frame`: see `chatwire_fuzz::chzzk_frame` and docs/fuzzing.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| chatwire_fuzz::chzzk_frame(data));
