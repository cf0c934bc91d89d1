use serde::Serialize;

use super::UserIdHash;

/// A chatter's role in the channel (`userRoleCode`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum UserRole {
    /// `common_user`.
    CommonUser,
    /// `streamer`: the channel owner.
    Streamer,
    /// `streaming_chat_manager`.
    StreamingChatManager,
    /// `streaming_channel_manager`.
    StreamingChannelManager,
    /// `streaming_settlement_manager`.
    StreamingSettlementManager,
    /// `manager`.
    Manager,
    /// A role this version does not know, as sent.
    Other(String),
}

impl UserRole {
    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "common_user" => Self::CommonUser,
            "streamer" => Self::Streamer,
            "streaming_chat_manager" => Self::StreamingChatManager,
            "streaming_channel_manager" => Self::StreamingChannelManager,
            "streaming_settlement_manager" => Self::StreamingSettlementManager,
            "manager" => Self::Manager,
            other => Self::Other(other.to_owned()),
        }
    }

    /// True for the streamer and every kind of manager (who may pin, blind and restrict).
    pub fn is_moderator(&self) -> bool {
        !matches!(self, Self::CommonUser | Self::Other(_))
    }
}

/// A role title shown next to the name (`{"name":"스트리머","color":"#D9B04F"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Title {
    /// The text.
    pub name: String,
    /// A CSS colour.
    pub color: Option<String>,
}

/// An activity badge (`activityBadges[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ActivityBadge {
    /// `badgeNo`.
    pub badge_no: Option<i64>,
    /// `badgeId`.
    pub badge_id: Option<String>,
    /// Display name (`name` or `title`).
    pub name: Option<String>,
    /// Image URL.
    pub image_url: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Whether the user shows it.
    pub activated: bool,
}

/// A viewer badge (`viewerBadges[].badge`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ViewerBadge {
    /// `type` (`STANDARD`, ...).
    pub kind: Option<String>,
    /// `badgeId` (chzzkpy reads the wrong key and always gets nothing).
    pub badge_id: Option<String>,
    /// `CHANNEL` or `GLOBAL`.
    pub scope: Option<String>,
    /// Image URL.
    pub image_url: Option<String>,
}

/// Subscription shown on a profile (`streamingProperty.subscription`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SubscriptionInfo {
    /// Months subscribed in total.
    pub accumulative_month: Option<u64>,
    /// Tier (1 or 2).
    pub tier: Option<u64>,
    /// The channel's name for the tier.
    pub tier_name: Option<String>,
    /// Badge image URL.
    pub badge_image_url: Option<String>,
}

/// A badge with an image and an optional title.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Badge {
    /// Title, when the server gives one.
    pub title: Option<String>,
    /// Image URL.
    pub image_url: Option<String>,
}

/// `streamingProperty`: channel-specific decorations of a profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct StreamingProperty {
    /// Subscription, if any.
    pub subscription: Option<SubscriptionInfo>,
    /// Real-time donation ranking badge (gold, silver, bronze).
    pub donation_ranking_badge: Option<Badge>,
    /// When the user followed the channel (only in profile cards).
    pub following_date: Option<String>,
    /// Nickname colour code (`CC000`, `SG002`, ...).
    pub nickname_color: Option<String>,
}

/// A chatter's profile as chat lines carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Profile {
    /// `userIdHash`: the user's id, equal to their own channel id.
    pub user_id_hash: UserIdHash,
    /// Display name.
    pub nickname: String,
    /// Profile image URL (often empty).
    pub profile_image_url: Option<String>,
    /// Role in this channel.
    pub user_role: Option<UserRole>,
    /// Role badge image (streamer / manager icon).
    pub badge: Option<Badge>,
    /// Role title.
    pub title: Option<Title>,
    /// Verified mark.
    pub verified_mark: bool,
    /// Activity badges.
    pub activity_badges: Vec<ActivityBadge>,
    /// Viewer badges (`None` when absent; the web then shows activity badges).
    pub viewer_badges: Option<Vec<ViewerBadge>>,
    /// Channel-specific decorations.
    pub streaming_property: StreamingProperty,
}

impl Profile {
    /// The badge images in the order the web client shows them: role, real-time donation rank,
    /// subscription, then viewer badges (or activated activity badges when the profile has no
    /// viewer badges).
    pub fn badge_images(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        let sp = &self.streaming_property;
        out.extend(self.badge.as_ref().and_then(|b| b.image_url.as_deref()));
        out.extend(
            sp.donation_ranking_badge
                .as_ref()
                .and_then(|b| b.image_url.as_deref()),
        );
        out.extend(
            sp.subscription
                .as_ref()
                .and_then(|s| s.badge_image_url.as_deref()),
        );
        match &self.viewer_badges {
            Some(v) => out.extend(v.iter().filter_map(|b| b.image_url.as_deref())),
            None => out.extend(
                self.activity_badges
                    .iter()
                    .filter(|b| b.activated)
                    .filter_map(|b| b.image_url.as_deref()),
            ),
        }
        out
    }
}

/// A user reference: id and name (the subject of moderation calls and gifts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PartialUser {
    /// `userIdHash`.
    pub user_id_hash: UserIdHash,
    /// Display name, when known.
    pub nickname: Option<String>,
    /// Profile image URL, when known.
    pub profile_image_url: Option<String>,
    /// Verified mark.
    pub verified_mark: bool,
}

impl PartialUser {
    /// A user known only by id.
    pub fn new(user_id_hash: impl Into<UserIdHash>) -> Self {
        Self {
            user_id_hash: user_id_hash.into(),
            nickname: None,
            profile_image_url: None,
            verified_mark: false,
        }
    }
}
