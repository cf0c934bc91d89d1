//! Chat events, the callback trait, and the mapping to chatwire-core.

use std::future::Future;

use chatwire_core::{Author, ChannelRef, ChatEvent, Platform};
use serde::Serialize;

use crate::Error;
use crate::message::ChatMessage;

/// What the chat reports, in arrival order.
///
/// Serialised as `{"type": "received" | "edited" | "deleted", ...message}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// A new message (whatever format it came in; copies of one message arrive once).
    Received(ChatMessage),
    /// A message was edited: the text is new, `timestamp` is the original, `edit_timestamp`
    /// says when.
    Edited(ChatMessage),
    /// A message was deleted by its sender.
    Deleted(ChatMessage),
}

impl Event {
    /// The message.
    pub fn message(&self) -> &ChatMessage {
        match self {
            Self::Received(m) | Self::Edited(m) | Self::Deleted(m) => m,
        }
    }

    /// `"received"`, `"edited"` or `"deleted"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Received(_) => "received",
            Self::Edited(_) => "edited",
            Self::Deleted(_) => "deleted",
        }
    }

    /// The normalised form; the channel is the room.
    pub fn to_core(&self, room: &str) -> ChatEvent {
        let m = self.message();
        let channel = ChannelRef::group(room.to_owned());
        let core = || {
            let mut c = chatwire_core::ChatMessage::new(
                Platform::LiveKit,
                channel.clone(),
                Author::new(
                    m.participant.clone().unwrap_or_default(),
                    m.participant.clone(),
                ),
                m.text(),
            )
            .with_id(m.id.clone());
            if let Ok(t) = chatwire_core::OffsetDateTime::from_unix_timestamp_nanos(
                i128::from(m.timestamp) * 1_000_000,
            ) {
                c = c.with_timestamp(t);
            }
            c
        };
        match self {
            Self::Received(_) => ChatEvent::Message(core()),
            Self::Edited(_) => ChatEvent::MessageEdited(core()),
            Self::Deleted(_) => ChatEvent::MessageDeleted {
                platform: Platform::LiveKit,
                channel,
                message_id: m.id.clone(),
            },
        }
    }
}

/// Callbacks, like the Python SDK's `@chat.on("message_received")`.
pub trait Handler: Send + Sync {
    /// A new message.
    fn on_message_received(&self, message: &ChatMessage) -> impl Future<Output = ()> + Send {
        let _ = message;
        async {}
    }
    /// An edited message.
    fn on_message_edited(&self, message: &ChatMessage) -> impl Future<Output = ()> + Send {
        let _ = message;
        async {}
    }
    /// A deleted message.
    fn on_message_deleted(&self, message: &ChatMessage) -> impl Future<Output = ()> + Send {
        let _ = message;
        async {}
    }
    /// A packet that could not be decoded (chat goes on).
    fn on_error(&self, error: &Error) -> impl Future<Output = ()> + Send {
        let _ = error;
        async {}
    }
}

/// A shared handler (keep a clone to read its state after [`run`](crate::ChatManager::run)).
impl<H: Handler + ?Sized> Handler for std::sync::Arc<H> {
    fn on_message_received(&self, message: &ChatMessage) -> impl Future<Output = ()> + Send {
        (**self).on_message_received(message)
    }
    fn on_message_edited(&self, message: &ChatMessage) -> impl Future<Output = ()> + Send {
        (**self).on_message_edited(message)
    }
    fn on_message_deleted(&self, message: &ChatMessage) -> impl Future<Output = ()> + Send {
        (**self).on_message_deleted(message)
    }
    fn on_error(&self, error: &Error) -> impl Future<Output = ()> + Send {
        (**self).on_error(error)
    }
}

impl Event {
    /// Calls the handler method for this event.
    pub async fn dispatch<H: Handler + ?Sized>(&self, handler: &H) {
        match self {
            Self::Received(m) => handler.on_message_received(m).await,
            Self::Edited(m) => handler.on_message_edited(m).await,
            Self::Deleted(m) => handler.on_message_deleted(m).await,
        }
    }
}
