//! The payloads of the support events: donations, subscriptions and gifts.

use time::OffsetDateTime;

use crate::{Author, ChannelRef, Platform};

/// What a donation paid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum DonationKind {
    /// A chat line with money attached.
    Chat,
    /// A video the streamer plays.
    Video,
    /// A mission (a challenge the streamer accepts or rejects).
    Mission,
    /// A party donation (several viewers together).
    Party,
    /// Another kind the platform has.
    Other,
}

/// A donation: money (or the platform's currency) sent to the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Donation {
    /// The platform.
    pub platform: Platform,
    /// The channel donated to.
    pub channel: ChannelRef,
    /// The platform's id of the donation line, when it has one.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub id: Option<String>,
    /// Who donated (id and name empty when anonymous).
    pub author: Author,
    /// Whether the donor hid who they are.
    #[cfg_attr(feature = "serde", serde(default))]
    pub anonymous: bool,
    /// The amount, as an integer in [`unit`](Self::unit).
    pub amount: i64,
    /// The unit of [`amount`](Self::amount): an ISO 4217 currency code (`KRW`) or the
    /// platform's own unit.
    pub unit: String,
    /// What it paid for.
    pub kind: DonationKind,
    /// The message sent with it.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub message: Option<String>,
    /// When the server says it happened.
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
}

impl Donation {
    /// A donation of `amount` `unit` by `author`, not anonymous, without message.
    pub fn new(
        platform: Platform,
        channel: ChannelRef,
        author: Author,
        amount: i64,
        unit: impl Into<String>,
        kind: DonationKind,
    ) -> Self {
        Self {
            platform,
            channel,
            id: None,
            author,
            anonymous: false,
            amount,
            unit: unit.into(),
            kind,
            message: None,
            timestamp: None,
        }
    }

    /// Marks it anonymous.
    #[must_use]
    pub fn with_anonymous(mut self, anonymous: bool) -> Self {
        self.anonymous = anonymous;
        self
    }
}

/// A subscription, or its renewal.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Subscription {
    /// The platform.
    pub platform: Platform,
    /// The channel subscribed to.
    pub channel: ChannelRef,
    /// The platform's id of the announcement, when it has one.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub id: Option<String>,
    /// The subscriber.
    pub author: Author,
    /// The tier, when the platform has tiers (1 = the lowest).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub tier: Option<u32>,
    /// How many months in total, when said.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub months: Option<u32>,
    /// Who paid for it, when it was a gift.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub gifted_by: Option<Author>,
    /// The message sent with it.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub message: Option<String>,
    /// When the server says it happened.
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
}

impl Subscription {
    /// A subscription by `author`, with nothing else known.
    pub fn new(platform: Platform, channel: ChannelRef, author: Author) -> Self {
        Self {
            platform,
            channel,
            id: None,
            author,
            tier: None,
            months: None,
            gifted_by: None,
            message: None,
            timestamp: None,
        }
    }
}

/// Subscriptions gifted to other viewers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Gift {
    /// The platform.
    pub platform: Platform,
    /// The channel.
    pub channel: ChannelRef,
    /// The platform's id of the announcement, when it has one.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub id: Option<String>,
    /// Who gave them.
    pub author: Author,
    /// How many.
    pub quantity: u32,
    /// The tier, when the platform has tiers.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub tier: Option<u32>,
    /// Who received them, when the platform says (one by one, they also arrive as
    /// [`Subscription`]s with [`gifted_by`](Subscription::gifted_by) set).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Vec::is_empty")
    )]
    pub recipients: Vec<Author>,
    /// When the server says it happened.
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
}

impl Gift {
    /// `quantity` gifts by `author`.
    pub fn new(platform: Platform, channel: ChannelRef, author: Author, quantity: u32) -> Self {
        Self {
            platform,
            channel,
            id: None,
            author,
            quantity,
            tier: None,
            recipients: Vec::new(),
            timestamp: None,
        }
    }

    /// Sets the recipients.
    #[must_use]
    pub fn with_recipients(mut self, recipients: impl IntoIterator<Item = Author>) -> Self {
        self.recipients = recipients.into_iter().collect();
        self
    }
}

optional_setters!(Donation {
    /// Sets the id.
    with_id(id: impl Into<String>);
    /// Sets the message.
    with_message(message: impl Into<String>);
    /// Sets the timestamp.
    with_timestamp(timestamp: OffsetDateTime);
});

optional_setters!(Subscription {
    /// Sets the id.
    with_id(id: impl Into<String>);
    /// Sets the tier.
    with_tier(tier: u32);
    /// Sets the months.
    with_months(months: u32);
    /// Sets who paid for it.
    with_gifted_by(gifted_by: Author);
    /// Sets the message.
    with_message(message: impl Into<String>);
    /// Sets the timestamp.
    with_timestamp(timestamp: OffsetDateTime);
});

optional_setters!(Gift {
    /// Sets the id.
    with_id(id: impl Into<String>);
    /// Sets the tier.
    with_tier(tier: u32);
    /// Sets the timestamp.
    with_timestamp(timestamp: OffsetDateTime);
});
