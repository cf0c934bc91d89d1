#![doc = include_str!("../README.md")]

mod config;
mod error;
mod event;
mod manager;
mod message;
#[cfg(feature = "unstable-proto")]
pub mod proto;
#[cfg(not(feature = "unstable-proto"))]
mod proto;
mod receive;
mod room;
mod store;
mod transport;

#[cfg(feature = "livekit")]
mod adapter;

#[cfg(feature = "livekit")]
pub use adapter::LiveKitTransport;
pub use chatwire_core;
pub use config::{ChatOptions, SendMode};
pub use error::Error;
pub use event::{Context, Event, Handler};
/// The LiveKit protocol types the fault-injection methods take (with `testing` only).
#[cfg(feature = "testing")]
pub use livekit_protocol;
pub use manager::{ChatManager, Events};
pub use message::{ChatMessage, Format, IdStyle, Identity, new_id};
pub use room::{InMemoryRoom, Participant, RoomOptions};
pub use store::{ChatStore, MemoryStore};
pub use transport::{
    OutgoingData, ProtoChatMessage, StreamOperation, TextStreamInfo, Transport, TransportError,
    TransportEvent, TransportFuture,
};

#[cfg(test)]
mod tests {
    fn send_sync_debug<T: Send + Sync + std::fmt::Debug>() {}

    #[test]
    fn handles_configs_events_and_errors_are_send_sync_debug() {
        use super::*;
        send_sync_debug::<ChatManager<Participant>>();
        send_sync_debug::<ChatOptions>();
        send_sync_debug::<Events>();
        send_sync_debug::<Event>();
        send_sync_debug::<ChatMessage>();
        send_sync_debug::<InMemoryRoom>();
        send_sync_debug::<RoomOptions>();
        send_sync_debug::<Error>();
        send_sync_debug::<Context<Participant>>();
        send_sync_debug::<Identity>();
    }
}
