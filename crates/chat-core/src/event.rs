use std::pin::Pin;
use std::time::Duration;

use futures_core::Stream;

use crate::{Author, ChannelRef, ChatMessage, Donation, Error, Gift, Platform, Subscription};

/// A boxed stream of normalised events, what every protocol crate can hand to generic code.
///
/// Per-frame errors are yielded as `Err` and the stream goes on; it ends (`None`) after a
/// clean close or after a fatal error, which is yielded last.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<ChatEvent, Error>> + Send + 'static>>;

/// A normalised event: the same shape whatever the platform, for overlays, loggers and
/// bridges written once.
///
/// Serialised as `{"type": "<snake_case name>", ...fields}` (the contract is
/// `docs/events.md`). A platform event with no counterpart here is still delivered, as
/// [`Platform`](Self::Platform) with its kind and raw JSON, so nothing is silently lost.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    /// A donation.
    Donation(Donation),
    /// A subscription or its renewal (a gifted one names the gifter).
    Subscription(Subscription),
    /// Subscriptions gifted to other viewers.
    Gift(Gift),
    /// A message was hidden by a moderator (Chzzk's blind); it may be restored.
    MessageHidden {
        /// The platform.
        platform: Platform,
        /// The channel the message was in.
        channel: ChannelRef,
        /// The id of the hidden message.
        message_id: String,
    },
    /// A hidden message is shown again.
    MessageRestored {
        /// The platform.
        platform: Platform,
        /// The channel the message is in.
        channel: ChannelRef,
        /// The id of the restored message.
        message_id: String,
    },
    /// A user may not chat for `duration` (`None`: until lifted).
    UserRestricted {
        /// The platform.
        platform: Platform,
        /// The channel.
        channel: ChannelRef,
        /// Who is restricted.
        user: Author,
        /// For how long, when limited.
        #[cfg_attr(
            feature = "serde",
            serde(
                default,
                with = "duration_ms_option",
                skip_serializing_if = "Option::is_none"
            )
        )]
        #[cfg_attr(feature = "schema", schemars(with = "Option<u64>"))]
        duration: Option<Duration>,
    },
    /// A restriction was lifted.
    UserUnrestricted {
        /// The platform.
        platform: Platform,
        /// The channel.
        channel: ChannelRef,
        /// Who may chat again.
        user: Author,
    },
    /// A message was pinned.
    Pinned {
        /// The platform.
        platform: Platform,
        /// The channel.
        channel: ChannelRef,
        /// The pinned message.
        message: ChatMessage,
    },
    /// The pin was removed.
    Unpinned {
        /// The platform.
        platform: Platform,
        /// The channel.
        channel: ChannelRef,
    },
    /// The channel's name, topic or chat mode changed (only what changed is set).
    RoomChanged {
        /// The platform.
        platform: Platform,
        /// The channel.
        channel: ChannelRef,
        /// The new name.
        #[cfg_attr(
            feature = "serde",
            serde(default, skip_serializing_if = "Option::is_none")
        )]
        name: Option<String>,
        /// The new topic or description.
        #[cfg_attr(
            feature = "serde",
            serde(default, skip_serializing_if = "Option::is_none")
        )]
        topic: Option<String>,
        /// The new chat mode.
        #[cfg_attr(
            feature = "serde",
            serde(default, skip_serializing_if = "Option::is_none")
        )]
        mode: Option<RoomMode>,
    },
    /// Someone entered the channel.
    MemberJoined {
        /// The platform.
        platform: Platform,
        /// The channel.
        channel: ChannelRef,
        /// Who.
        user: Author,
    },
    /// Someone left the channel.
    MemberLeft {
        /// The platform.
        platform: Platform,
        /// The channel.
        channel: ChannelRef,
        /// Who.
        user: Author,
    },
    /// A platform event with no normalised counterpart, kept so a generic consumer can log
    /// it.
    Platform {
        /// The platform.
        platform: Platform,
        /// The channel.
        channel: ChannelRef,
        /// What it is, in the protocol crate's words (its event's `kind()`).
        kind: String,
        /// The event as the platform sent it, as JSON text (empty when it has no payload).
        raw: String,
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
        #[cfg_attr(feature = "schema", schemars(with = "u64"))]
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

/// Who may chat, as a channel's chat mode says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum RoomMode {
    /// Everyone.
    Open,
    /// Followers only.
    FollowersOnly,
    /// Subscribers only.
    SubscribersOnly,
    /// Moderators only (a frozen or gallery room).
    ModeratorsOnly,
    /// Emotes only.
    EmotesOnly,
}

impl ChatEvent {
    /// The platform the event came from.
    pub fn platform(&self) -> Platform {
        match self {
            Self::Message(m) | Self::MessageEdited(m) => m.platform,
            Self::Donation(d) => d.platform,
            Self::Subscription(s) => s.platform,
            Self::Gift(g) => g.platform,
            Self::MessageDeleted { platform, .. }
            | Self::MessageHidden { platform, .. }
            | Self::MessageRestored { platform, .. }
            | Self::UserRestricted { platform, .. }
            | Self::UserUnrestricted { platform, .. }
            | Self::Pinned { platform, .. }
            | Self::Unpinned { platform, .. }
            | Self::RoomChanged { platform, .. }
            | Self::MemberJoined { platform, .. }
            | Self::MemberLeft { platform, .. }
            | Self::Platform { platform, .. }
            | Self::Connected { platform, .. }
            | Self::Reconnecting { platform, .. }
            | Self::Disconnected { platform, .. } => *platform,
        }
    }

    /// The channel the event concerns.
    pub fn channel(&self) -> &ChannelRef {
        match self {
            Self::Message(m) | Self::MessageEdited(m) => &m.channel,
            Self::Donation(d) => &d.channel,
            Self::Subscription(s) => &s.channel,
            Self::Gift(g) => &g.channel,
            Self::MessageDeleted { channel, .. }
            | Self::MessageHidden { channel, .. }
            | Self::MessageRestored { channel, .. }
            | Self::UserRestricted { channel, .. }
            | Self::UserUnrestricted { channel, .. }
            | Self::Pinned { channel, .. }
            | Self::Unpinned { channel, .. }
            | Self::RoomChanged { channel, .. }
            | Self::MemberJoined { channel, .. }
            | Self::MemberLeft { channel, .. }
            | Self::Platform { channel, .. }
            | Self::Connected { channel, .. }
            | Self::Reconnecting { channel, .. }
            | Self::Disconnected { channel, .. } => channel,
        }
    }

    /// The key that identifies this event across reconnects, restarts and workers, for
    /// exactly-once stores and buses: `platform:channel:kind:id`, where `id` is the
    /// platform's message id (Chzzk, which has none, uses its natural key `user:time_ms`).
    /// `None` for events that have no natural key (lifecycle events, platform events,
    /// restrictions and room changes, which a consumer applies idempotently).
    pub fn dedup_key(&self) -> Option<String> {
        let (kind, id) = match self {
            Self::Message(m) => ("message", m.id.as_deref()?),
            Self::MessageEdited(m) => ("edited", m.id.as_deref()?),
            Self::Donation(d) => ("donation", d.id.as_deref()?),
            Self::Subscription(s) => ("subscription", s.id.as_deref()?),
            Self::Gift(g) => ("gift", g.id.as_deref()?),
            Self::MessageDeleted { message_id, .. } => ("deleted", message_id.as_str()),
            Self::MessageHidden { message_id, .. } => ("hidden", message_id.as_str()),
            Self::MessageRestored { message_id, .. } => ("restored", message_id.as_str()),
            Self::Pinned { message, .. } => ("pinned", message.id.as_deref()?),
            _ => return None,
        };
        Some(format!(
            "{}:{}:{kind}:{id}",
            self.platform().as_str(),
            self.channel().id
        ))
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
mod duration_ms_option {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    #[expect(
        clippy::ref_option,
        reason = "serde's `with` passes the field by reference"
    )]
    pub(super) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        Option::<u64>::deserialize(d).map(|ms| ms.map(Duration::from_millis))
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

    /// One of every variant, with every optional field set somewhere.
    fn every_variant() -> Vec<ChatEvent> {
        use crate::{Badge, DonationKind, Fragment, Role};
        let ch = || ChannelRef::group("N1abcd").with_name("Example");
        let t = time::OffsetDateTime::from_unix_timestamp(1_735_689_600).unwrap();
        let alice = Author::new("u1", Some("Alice".into()))
            .with_roles([Role::Moderator, Role::Subscriber])
            .with_badges([Badge::new("https://example.invalid/b.png").with_name("fan")])
            .with_color("#ff0000");
        let bob = Author::new("u2", None);
        let msg = ChatMessage::new(Platform::Chzzk, ch(), alice.clone(), "hi :wave: @bob")
            .with_id("m1")
            .with_timestamp(t)
            .with_reply_to("m0")
            .with_fragments([
                Fragment::Text { text: "hi ".into() },
                Fragment::Emote {
                    id: "e1".into(),
                    name: ":wave:".into(),
                    image_url: "https://example.invalid/e.png".into(),
                },
                Fragment::Mention {
                    name: "bob".into(),
                    user_id: Some("u2".into()),
                },
                Fragment::Link {
                    url: "https://example.invalid".into(),
                    text: "x".into(),
                },
            ]);
        let p = Platform::Chzzk;
        vec![
            ChatEvent::Message(msg.clone()),
            ChatEvent::MessageEdited(msg.clone().with_edited(true)),
            ChatEvent::MessageDeleted {
                platform: p,
                channel: ch(),
                message_id: "m1".into(),
            },
            ChatEvent::Donation(
                Donation::new(p, ch(), alice.clone(), 1000, "KRW", DonationKind::Chat)
                    .with_id("d1")
                    .with_message("thanks")
                    .with_timestamp(t),
            ),
            ChatEvent::Donation(
                Donation::new(
                    p,
                    ch(),
                    Author::new("", None),
                    5000,
                    "KRW",
                    DonationKind::Mission,
                )
                .with_anonymous(true),
            ),
            ChatEvent::Subscription(
                Subscription::new(p, ch(), bob.clone())
                    .with_id("s1")
                    .with_tier(2)
                    .with_months(3)
                    .with_gifted_by(alice.clone())
                    .with_message("yay")
                    .with_timestamp(t),
            ),
            ChatEvent::Gift(
                Gift::new(p, ch(), alice.clone(), 5)
                    .with_id("g1")
                    .with_tier(1)
                    .with_recipients([bob.clone()])
                    .with_timestamp(t),
            ),
            ChatEvent::MessageHidden {
                platform: p,
                channel: ch(),
                message_id: "m1".into(),
            },
            ChatEvent::MessageRestored {
                platform: p,
                channel: ch(),
                message_id: "m1".into(),
            },
            ChatEvent::UserRestricted {
                platform: p,
                channel: ch(),
                user: bob.clone(),
                duration: Some(Duration::from_secs(30)),
            },
            ChatEvent::UserRestricted {
                platform: p,
                channel: ch(),
                user: bob.clone(),
                duration: None,
            },
            ChatEvent::UserUnrestricted {
                platform: p,
                channel: ch(),
                user: bob.clone(),
            },
            ChatEvent::Pinned {
                platform: p,
                channel: ch(),
                message: msg,
            },
            ChatEvent::Unpinned {
                platform: p,
                channel: ch(),
            },
            ChatEvent::RoomChanged {
                platform: Platform::StackExchange,
                channel: ch(),
                name: Some("Sandbox".into()),
                topic: Some("testing".into()),
                mode: Some(RoomMode::FollowersOnly),
            },
            ChatEvent::MemberJoined {
                platform: Platform::StackExchange,
                channel: ch(),
                user: bob.clone(),
            },
            ChatEvent::MemberLeft {
                platform: Platform::StackExchange,
                channel: ch(),
                user: bob,
            },
            ChatEvent::Platform {
                platform: p,
                channel: ch(),
                kind: "kick".into(),
                raw: r#"{"cmd":94005}"#.into(),
            },
            ChatEvent::Connected {
                platform: p,
                channel: ch(),
            },
            ChatEvent::Reconnecting {
                platform: p,
                channel: ch(),
                attempt: 1,
                delay: Duration::from_millis(250),
            },
            ChatEvent::Disconnected {
                platform: p,
                channel: ch(),
                reason: Some("closed".into()),
            },
        ]
    }

    #[test]
    fn every_variant_round_trips_through_json() {
        let mut types = std::collections::BTreeSet::new();
        for event in every_variant() {
            let json = serde_json::to_value(&event).unwrap();
            types.insert(json["type"].as_str().unwrap().to_owned());
            let back: ChatEvent =
                serde_json::from_value(json.clone()).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(back, event, "{json}");
        }
        assert_eq!(types.len(), 19, "{types:?}");
    }

    #[test]
    fn dedup_keys_name_platform_channel_kind_and_id() {
        let keys: Vec<Option<String>> = every_variant().iter().map(ChatEvent::dedup_key).collect();
        assert_eq!(keys[0].as_deref(), Some("chzzk:N1abcd:message:m1"));
        assert_eq!(keys[3].as_deref(), Some("chzzk:N1abcd:donation:d1"));
        assert_eq!(keys[4], None, "a donation without id has no key");
        assert_eq!(keys[7].as_deref(), Some("chzzk:N1abcd:hidden:m1"));
        assert!(keys.last().unwrap().is_none(), "lifecycle events have none");
        let distinct: std::collections::BTreeSet<_> = keys.iter().flatten().collect();
        assert_eq!(distinct.len(), keys.iter().flatten().count());
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
