#![doc = include_str!("../README.md")]

mod error;
mod event;
mod manager;
mod message;
pub mod proto;
mod room;
mod transport;

#[cfg(feature = "livekit")]
mod adapter;

#[cfg(feature = "livekit")]
pub use adapter::LiveKitTransport;
pub use chatwire_core;
pub use error::Error;
pub use event::{Event, Handler};
pub use livekit_protocol;
pub use manager::{ChatManager, ChatOptions, ChatStore, Events, MemoryStore, SendMode};
pub use message::{ChatMessage, Format, IdStyle, new_id};
pub use room::{InMemoryRoom, Participant, RoomOptions};
pub use transport::{
    OutgoingData, ProtoChatMessage, StreamOperation, TextStreamInfo, Transport, TransportError,
    TransportEvent, TransportFuture,
};
