//! Fixture replay for the chatwire protocol crates (test support; not published).
//!
//! - [`Fixture`]: the model and loader of `fixtures/<platform>/*.jsonl` (format in
//!   `docs/fixtures.md`); load errors name the file and line.
//! - [`ReplayServer`]: binds `127.0.0.1:0`, serves HTTP and WebSocket on one port, and replays
//!   one fixture: client frames and requests are expectations, server steps happen in order,
//!   `{{http_base}}`/`{{ws_base}}` point server-supplied URLs back at it, and
//!   [`ReplayServer::finish`] reports anything that did not follow the script.
//! - [`harness`]: the runner each protocol crate's `tests/replay.rs` uses (one named test per
//!   fixture, expectations compared as JSON, `REPLAY_BLESS=1` rewrites them).
//! - [`mirror`]: a client that plays the client side of any fixture from the script itself,
//!   which proves a fixture is self-consistent.
//! - [`lint`]: the secrets check of `cargo xtask fixtures-check`.
//! - [`mutate`]: the inputs, mutations and properties of the crates' hostile-input tests and
//!   of the fuzz targets.
//! - [`rng`]: the seeded generator of the crates' property and mutation tests.
//! - [`secrets`]: for the crates' secrets tests, a log capture at trace level and a TLS server
//!   no client trusts.

pub mod fixture;
pub mod harness;
pub mod lint;
pub mod mirror;
pub mod mutate;
pub mod pattern;
pub mod rng;
pub mod secrets;
mod server;
mod urlencoded;

pub use fixture::{Fixture, Header, Keepalive, LoadError, Payload, Side, Step, StepKind};
pub use server::{Action, Actions, FinishError, ReplayServer, Report};

/// The workspace README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct WorkspaceReadme;
