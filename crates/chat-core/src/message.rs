use time::OffsetDateTime;

use crate::Platform;

/// Whether a channel is shared by many people or is a one-to-one conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
#[non_exhaustive]
pub enum ChannelKind {
    /// A room, channel or live chat that many participants read (the default).
    #[default]
    Group,
    /// A direct, private conversation between two participants.
    Direct,
}

/// Where a message was said: a Chzzk chat channel, a Stack Exchange room, a `LiveKit` room.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct ChannelRef {
    /// The platform's own identifier of the channel, as a string.
    pub id: String,
    /// A human-readable name when the platform supplies one.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub name: Option<String>,
    /// Group or direct conversation.
    #[cfg_attr(feature = "serde", serde(default))]
    pub kind: ChannelKind,
}

impl ChannelRef {
    /// A group channel with this id and no name.
    pub fn group(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: None,
            kind: ChannelKind::Group,
        }
    }

    /// A direct (private) conversation with this id and no name.
    pub fn direct(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: None,
            kind: ChannelKind::Direct,
        }
    }

    /// Sets the human-readable name.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

/// Who said a message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Author {
    /// The platform's stable user identifier, as a string (empty when the platform hides it,
    /// for example an anonymous Chzzk donation).
    pub id: String,
    /// The display name at the time of the message, when known.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub name: Option<String>,
}

impl Author {
    /// An author with this id and display name.
    pub fn new(id: impl Into<String>, name: Option<String>) -> Self {
        Self {
            id: id.into(),
            name,
        }
    }
}

/// A chat message in the shape every platform shares.
///
/// Protocol crates convert their own, richer message types into this one; generic code such as
/// `chat-streams` or a multi-platform logger sees only this.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct ChatMessage {
    /// The platform the message came from.
    pub platform: Platform,
    /// The channel or room it was said in.
    pub channel: ChannelRef,
    /// The platform's message id, when the platform assigns one.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub id: Option<String>,
    /// Who said it.
    pub author: Author,
    /// The text as the platform delivered it (HTML entities are decoded by the protocol crate
    /// where the platform encodes them).
    pub text: String,
    /// When the server says the message was sent.
    #[cfg_attr(
        feature = "serde",
        serde(
            default,
            with = "time::serde::rfc3339::option",
            skip_serializing_if = "Option::is_none"
        )
    )]
    pub timestamp: Option<OffsetDateTime>,
}

impl ChatMessage {
    /// A message without id or timestamp; add them with [`with_id`](Self::with_id) and
    /// [`with_timestamp`](Self::with_timestamp).
    pub fn new(
        platform: Platform,
        channel: ChannelRef,
        author: Author,
        text: impl Into<String>,
    ) -> Self {
        Self {
            platform,
            channel,
            id: None,
            author,
            text: text.into(),
            timestamp: None,
        }
    }

    /// Sets the platform's message id.
    #[must_use]
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Sets the server timestamp.
    #[must_use]
    pub fn with_timestamp(mut self, timestamp: OffsetDateTime) -> Self {
        self.timestamp = Some(timestamp);
        self
    }
}
