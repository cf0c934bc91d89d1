#![no_main]
//! `cargo fuzz run chat_streams_key`: see `chatwire_fuzz::chat_streams_key` and docs/fuzzing.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| chatwire_fuzz::chat_streams_key(data));
