//! Self-test fixtures (`platform: "replay"`): the mirror client plays each one against the
//! replay server. Runs under `cargo test`, nextest, and `cargo xtask test-fixtures`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures");
    chat_replay::harness::Harness::new("replay", dir)
        .run(|server| async move { chat_replay::mirror::play(&server).await })
}
