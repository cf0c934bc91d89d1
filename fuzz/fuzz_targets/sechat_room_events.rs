#![no_main]
//! `cargo fuzz run sechat_room_events`: see `chatwire_fuzz::sechat_room_events` and docs/fuzzing.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| chatwire_fuzz::sechat_room_events(data));
