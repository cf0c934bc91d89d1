//! The transport: what a LiveKit room offers at the level of the SDK primitives. Implement it
//! for any room; [`InMemoryRoom`](crate::InMemoryRoom) implements it for tests and demos, and
//! the `livekit` feature for a real `livekit::Room`.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use futures_core::Stream;
use serde::Serialize;

/// A failure of the transport.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The packet is larger than the transport accepts.
    #[error("packet of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Encoded size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The room is gone or this participant left it.
    #[error("not connected to the room")]
    Disconnected,
    /// Anything else the SDK reports.
    #[error("{0}")]
    Other(String),
}

/// A data packet to publish (`LocalParticipant::publish_data`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutgoingData {
    /// The payload.
    pub payload: Vec<u8>,
    /// The topic.
    pub topic: String,
    /// Reliable (ordered) delivery. Chat always uses it.
    pub reliable: bool,
    /// Recipients by identity; empty means everyone.
    pub destinations: Vec<String>,
}

impl OutgoingData {
    /// A reliable packet on `topic` for `destinations` (empty = everyone).
    pub fn reliable(payload: Vec<u8>, topic: &str, destinations: Vec<String>) -> Self {
        Self {
            payload,
            topic: topic.to_owned(),
            reliable: true,
            destinations,
        }
    }
}

/// What a text stream's header says (`DataStream.OperationType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StreamOperation {
    /// A new message.
    Create,
    /// A new version of a message (same stream id).
    Update,
    /// Deletion of a message.
    Delete,
    /// A reaction.
    Reaction,
    /// A value this version does not know.
    Other(i32),
}

impl StreamOperation {
    /// From the wire value.
    pub fn from_i32(v: i32) -> Self {
        match v {
            0 => Self::Create,
            1 => Self::Update,
            2 => Self::Delete,
            3 => Self::Reaction,
            other => Self::Other(other),
        }
    }

    /// The wire value.
    pub fn as_i32(self) -> i32 {
        match self {
            Self::Create => 0,
            Self::Update => 1,
            Self::Delete => 2,
            Self::Reaction => 3,
            Self::Other(v) => v,
        }
    }
}

/// A text stream's header (`SendTextOptions` when sending, `TextStreamInfo` when receiving).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TextStreamInfo {
    /// The stream id (UUID v4; a chat message's id).
    pub id: String,
    /// The topic (`lk.chat`).
    pub topic: String,
    /// Unix milliseconds.
    pub timestamp: i64,
    /// User attributes.
    pub attributes: BTreeMap<String, String>,
    /// Create, update, ...
    pub operation: StreamOperation,
    /// The version of an updated message.
    pub version: i32,
    /// The stream this one answers.
    pub reply_to: Option<String>,
    /// UTF-8 length of the whole text, when the sender said.
    pub total_length: Option<u64>,
    /// Recipients by identity; empty means everyone (sending only).
    pub destinations: Vec<String>,
    /// An agent transcription.
    pub generated: bool,
}

impl TextStreamInfo {
    /// A header for a new stream `id` on `topic`.
    pub fn new(id: impl Into<String>, topic: &str, timestamp: i64) -> Self {
        Self {
            id: id.into(),
            topic: topic.to_owned(),
            timestamp,
            attributes: BTreeMap::new(),
            operation: StreamOperation::Create,
            version: 0,
            reply_to: None,
            total_length: None,
            destinations: Vec::new(),
            generated: false,
        }
    }
}

/// The protobuf `ChatMessage` (`DataPacket.chat_message`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ProtoChatMessage {
    /// Id.
    pub id: String,
    /// Unix milliseconds.
    pub timestamp: i64,
    /// Set on edits.
    pub edit_timestamp: Option<i64>,
    /// Text.
    pub message: String,
    /// Deleted.
    pub deleted: bool,
    /// An agent transcription.
    pub generated: bool,
}

impl ProtoChatMessage {
    /// A new (not edited, not deleted) message.
    pub fn new(id: impl Into<String>, message: impl Into<String>, timestamp: i64) -> Self {
        Self {
            id: id.into(),
            timestamp,
            edit_timestamp: None,
            message: message.into(),
            deleted: false,
            generated: false,
        }
    }
}

/// What arrives from the room.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TransportEvent {
    /// A user data packet (`RoomEvent::DataReceived`).
    Data {
        /// Payload.
        payload: Vec<u8>,
        /// Topic.
        topic: Option<String>,
        /// The sender's identity (`None` when a server API sent it).
        from: Option<String>,
    },
    /// A whole text stream (`RoomEvent::TextStreamOpened`, read to its end).
    TextStream {
        /// Its header.
        info: TextStreamInfo,
        /// The text.
        text: String,
        /// The sender.
        from: Option<String>,
    },
    /// A protobuf chat message (`RoomEvent::ChatMessage`).
    Chat {
        /// The message.
        message: ProtoChatMessage,
        /// The sender.
        from: Option<String>,
    },
    /// Something arrived that could not be decoded (kept for the error).
    Malformed {
        /// What was wrong.
        why: String,
        /// The raw bytes, when there are some.
        raw: Vec<u8>,
        /// The sender, when known.
        from: Option<String>,
    },
}

/// A boxed future of the transport.
pub type TransportFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, TransportError>> + Send + 'a>>;

/// A LiveKit room as the chat needs it.
pub trait Transport: Send + Sync + 'static {
    /// This participant's identity.
    fn local_identity(&self) -> String;

    /// Whether the server forwards data streams (LiveKit Cloud, or a server newer than
    /// 1.8.2; the gate components-js uses for `ignoreLegacy`).
    fn server_supports_data_streams(&self) -> bool;

    /// Publishes a data packet.
    fn publish_data(&self, data: OutgoingData) -> TransportFuture<'_, ()>;

    /// Sends a whole text as a stream (the SDK chunks it).
    fn send_text(&self, text: String, info: TextStreamInfo) -> TransportFuture<'_, ()>;

    /// Publishes a protobuf chat message.
    fn send_chat_message(
        &self,
        message: ProtoChatMessage,
        destinations: Vec<String>,
    ) -> TransportFuture<'_, ()>;

    /// What arrives from now on. Called once per chat manager.
    fn events(&self) -> Pin<Box<dyn Stream<Item = TransportEvent> + Send>>;
}
