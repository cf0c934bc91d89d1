#![doc = include_str!("../README.md")]

mod error;
mod id;
mod maibot;
mod model;
mod registry;
mod store;

pub use chatwire_core;
pub use error::Error;
pub use id::{StreamKey, StreamKind, legacy_stream_id, v1_session_id};
pub use maibot::{Generation, LEGACY_DDL, MAX_KNOWN_V1_VERSION, MaiBotDb};
pub use model::{
    ChatStream, GroupInfo, PlatformFilter, StreamInfo, StreamType, StreamsSummary, UserInfo,
};
pub use registry::{ConsumeReport, ListQuery, Registry, RegistryOptions};

#[cfg(test)]
mod tests {
    fn send_sync_debug<T: Send + Sync + std::fmt::Debug>() {}

    #[test]
    fn handles_options_and_errors_are_send_sync_debug() {
        use super::*;
        send_sync_debug::<Registry>();
        send_sync_debug::<RegistryOptions>();
        send_sync_debug::<StreamKey>();
        send_sync_debug::<Error>();
    }
}
