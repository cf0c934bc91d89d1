use std::pin::Pin;
use std::time::Duration;

use futures_core::Stream;

use crate::{ChannelRef, ChatMessage, Error, Platform};

/// A boxed stream of normalised events, what every protocol crate can hand to generic code.
///
/// Per-frame errors are yielded as `Err` and the stream goes on; it ends (`None`) after a
/// clean close or after a fatal error, which is yielded last.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<ChatEvent, Error>> + Send + 'static>>;

/// A normalised event: a message, or a connection lifecycle change.
///
/// Only events that at least two platforms produce live here; everything else stays in the
/// protocol crate's own event type.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(tag = "type", rename_all = "snake_case"))]
#[non_exhaustive]
pub enum ChatEvent {
    /// A new message (chat, donation, system line, ...).
    Message(ChatMessage),
    /// A message was edited; the payload carries the new text.
    MessageEdited(ChatMessage),
    /// A message was deleted or hidden by a moderator.
    MessageDeleted {
        /// The platform.
        platform: Platform,
        /// The channel the message was in.
        channel: ChannelRef,
        /// The id of the message that is gone.
        message_id: String,
    },
    /// The client joined the channel and will now receive its events.
    Connected {
        /// The platform.
        platform: Platform,
        /// The channel joined.
        channel: ChannelRef,
    },
    /// The connection was lost; the client will try again after `delay`.
    Reconnecting {
        /// The platform.
        platform: Platform,
        /// The channel being rejoined.
        channel: ChannelRef,
        /// 1 for the first retry after a loss, then 2, 3, ...
        attempt: u32,
        /// How long the client waits before this attempt.
        #[cfg_attr(feature = "serde", serde(with = "duration_ms"))]
        delay: Duration,
    },
    /// The client left the channel for good (closed by the user, or a fatal error).
    Disconnected {
        /// The platform.
        platform: Platform,
        /// The channel left.
        channel: ChannelRef,
        /// Why, when known.
        #[cfg_attr(
            feature = "serde",
            serde(default, skip_serializing_if = "Option::is_none")
        )]
        reason: Option<String>,
    },
}

impl ChatEvent {
    /// The platform the event came from.
    pub fn platform(&self) -> Platform {
        match self {
            Self::Message(m) | Self::MessageEdited(m) => m.platform,
            Self::MessageDeleted { platform, .. }
            | Self::Connected { platform, .. }
            | Self::Reconnecting { platform, .. }
            | Self::Disconnected { platform, .. } => *platform,
        }
    }

    /// The channel the event concerns.
    pub fn channel(&self) -> &ChannelRef {
        match self {
            Self::Message(m) | Self::MessageEdited(m) => &m.channel,
            Self::MessageDeleted { channel, .. }
            | Self::Connected { channel, .. }
            | Self::Reconnecting { channel, .. }
            | Self::Disconnected { channel, .. } => channel,
        }
    }

    /// The message, for [`Message`](Self::Message) and [`MessageEdited`](Self::MessageEdited).
    pub fn message(&self) -> Option<&ChatMessage> {
        match self {
            Self::Message(m) | Self::MessageEdited(m) => Some(m),
            _ => None,
        }
    }
}

#[cfg(feature = "serde")]
mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

#[cfg(all(test, feature = "serde"))]
mod tests {
    use super::*;
    use crate::Author;

    #[test]
    fn serde_shape_is_stable() {
        let msg = ChatMessage::new(
            Platform::Chzzk,
            ChannelRef::group("N1abcd").with_name("Example Channel"),
            Author::new("u1", Some("Alice".into())),
            "hello",
        )
        .with_id("m1")
        .with_timestamp(time::OffsetDateTime::from_unix_timestamp(1_735_689_600).unwrap());
        let json = serde_json::to_value(ChatEvent::Message(msg.clone())).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "type": "message",
                "platform": "chzzk",
                "channel": {"id": "N1abcd", "name": "Example Channel", "kind": "group"},
                "id": "m1",
                "author": {"id": "u1", "name": "Alice"},
                "text": "hello",
                "timestamp": "2025-01-01T00:00:00Z"
            })
        );
        let back: ChatEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, ChatEvent::Message(msg));

        let rec = ChatEvent::Reconnecting {
            platform: Platform::StackExchange,
            channel: ChannelRef::group("12345"),
            attempt: 2,
            delay: Duration::from_millis(1500),
        };
        let json = serde_json::to_value(&rec).unwrap();
        assert_eq!(json["type"], "reconnecting");
        assert_eq!(json["platform"], "stackexchange");
        assert_eq!(json["delay"], 1500);
        assert_eq!(serde_json::from_value::<ChatEvent>(json).unwrap(), rec);
    }

    #[test]
    fn accessors() {
        let ev = ChatEvent::MessageDeleted {
            platform: Platform::LiveKit,
            channel: ChannelRef::direct("bob"),
            message_id: "x".into(),
        };
        assert_eq!(ev.platform(), Platform::LiveKit);
        assert_eq!(ev.channel().kind, crate::ChannelKind::Direct);
        assert!(ev.message().is_none());
    }
}
