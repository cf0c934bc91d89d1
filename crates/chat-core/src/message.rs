use time::OffsetDateTime;

use crate::Platform;

/// Whether a channel is shared by many people or is a one-to-one conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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

/// What an author is in the channel, where the platform says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Role {
    /// The channel's owner: the streamer, the room owner.
    Broadcaster,
    /// A moderator (Chzzk's managers, Stack Exchange room owners and moderators).
    Moderator,
    /// A paying subscriber.
    Subscriber,
    /// A verified account.
    Verified,
}

/// A badge shown next to an author's name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Badge {
    /// The badge's name or title, when the platform gives one.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub name: Option<String>,
    /// Its image.
    pub image_url: String,
}

impl Badge {
    /// A badge with this image and no name.
    pub fn new(image_url: impl Into<String>) -> Self {
        Self {
            name: None,
            image_url: image_url.into(),
        }
    }

    /// Sets the badge's name.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

/// Who said a message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    /// What the author is in the channel, where the platform says (empty otherwise).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Vec::is_empty")
    )]
    pub roles: Vec<Role>,
    /// Badges shown next to the name, in the platform's order.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Vec::is_empty")
    )]
    pub badges: Vec<Badge>,
    /// The name's colour as the platform gives it (a CSS colour or the platform's code).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub color: Option<String>,
}

impl Author {
    /// An author with this id and display name.
    pub fn new(id: impl Into<String>, name: Option<String>) -> Self {
        Self {
            id: id.into(),
            name,
            roles: Vec::new(),
            badges: Vec::new(),
            color: None,
        }
    }

    /// Sets the roles.
    #[must_use]
    pub fn with_roles(mut self, roles: impl IntoIterator<Item = Role>) -> Self {
        self.roles = roles.into_iter().collect();
        self
    }

    /// Sets the badges.
    #[must_use]
    pub fn with_badges(mut self, badges: impl IntoIterator<Item = Badge>) -> Self {
        self.badges = badges.into_iter().collect();
        self
    }

    /// Sets the name's colour.
    #[must_use]
    pub fn with_color(mut self, color: impl Into<String>) -> Self {
        self.color = Some(color.into());
        self
    }

    /// Whether the author has `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// One piece of a message's rich content, in order. Concatenating the pieces' text gives
/// [`ChatMessage::text`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "serde", serde(tag = "type", rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Fragment {
    /// Plain text.
    Text {
        /// The text.
        text: String,
    },
    /// An emote, to show as an image.
    Emote {
        /// The platform's emote id.
        id: String,
        /// Its name, as written in the text (`{:d_1:}` on Chzzk).
        name: String,
        /// Its image.
        image_url: String,
    },
    /// A mention of a user.
    Mention {
        /// The name as written, without the `@`.
        name: String,
        /// The user's id, when the platform resolves it.
        #[cfg_attr(
            feature = "serde",
            serde(default, skip_serializing_if = "Option::is_none")
        )]
        user_id: Option<String>,
    },
    /// A link.
    Link {
        /// Where it points.
        url: String,
        /// Its text.
        text: String,
    },
}

/// A chat message in the shape every platform shares.
///
/// Protocol crates convert their own, richer message types into this one; generic code such as
/// `chat-streams` or a multi-platform logger sees only this.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub timestamp: Option<OffsetDateTime>,
    /// The content as pieces (text, emotes, mentions, links), when the platform has more than
    /// plain text; empty means "just [`text`](Self::text)".
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Vec::is_empty")
    )]
    pub fragments: Vec<Fragment>,
    /// The id of the message this one answers.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub reply_to: Option<String>,
    /// Whether the text is an edit of what was first sent.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "is_false"))]
    pub edited: bool,
}

#[cfg(feature = "serde")]
#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_false(b: &bool) -> bool {
    !*b
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
            fragments: Vec::new(),
            reply_to: None,
            edited: false,
        }
    }

    /// Sets the rich content.
    #[must_use]
    pub fn with_fragments(mut self, fragments: impl IntoIterator<Item = Fragment>) -> Self {
        self.fragments = fragments.into_iter().collect();
        self
    }

    /// Marks the text as an edit.
    #[must_use]
    pub fn with_edited(mut self, edited: bool) -> Self {
        self.edited = edited;
        self
    }
}

optional_setters!(ChatMessage {
    /// Sets the platform's message id.
    with_id(id: impl Into<String>);
    /// Sets the server timestamp.
    with_timestamp(timestamp: OffsetDateTime);
    /// Marks it as an answer to message `reply_to`.
    with_reply_to(reply_to: impl Into<String>);
});
