use super::{ChannelId, ChatChannelId};
use serde::Serialize;
use serde_json::Value;

use super::Profile;

/// `OPEN` or `CLOSE`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LiveState {
    /// On air.
    Open,
    /// Off air.
    Close,
    /// Anything else, as sent.
    Other(String),
}

impl LiveState {
    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "OPEN" => Self::Open,
            "CLOSE" => Self::Close,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// `livePollingStatusJson`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct LivePollingStatus {
    /// `STARTED`, ...
    pub status: Option<String>,
    /// Publishing video.
    pub is_publishing: Option<bool>,
    /// `PLAYABLE`, ...
    pub playable_status: Option<String>,
    /// Throttled.
    pub traffic_throttling: Option<i64>,
    /// The web client's poll period.
    pub call_period_millisecond: Option<u64>,
}

/// A channel's live status (`polling/v2/channels/{id}/live-status`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct LiveStatus {
    /// Title.
    pub live_title: Option<String>,
    /// On or off air.
    pub status: LiveState,
    /// Viewers now (use this, not a line's member count).
    pub concurrent_user_count: Option<u64>,
    /// Viewers in total.
    pub accumulate_count: Option<u64>,
    /// Paid promotion.
    pub paid_promotion: Option<bool>,
    /// 19+.
    pub adult: bool,
    /// The chat channel of the current broadcast (issued anew for every broadcast; absent when
    /// off air for long, for 19+ without adult login, or when geo-blocked).
    pub chat_channel_id: Option<ChatChannelId>,
    /// `GAME`, ...
    pub category_type: Option<String>,
    /// Category id.
    pub live_category: Option<String>,
    /// Category name.
    pub live_category_value: Option<String>,
    /// Decoded `livePollingStatusJson`.
    pub live_polling_status: Option<LivePollingStatus>,
    /// `NOT_LOGIN_USER`, `ADULT`, ...
    pub user_adult_status: Option<String>,
    /// Chat enabled.
    pub chat_active: Option<bool>,
    /// Who may chat.
    pub chat_available_group: Option<String>,
    /// Extra condition to chat.
    pub chat_available_condition: Option<String>,
    /// Minutes a follower must have followed to chat.
    pub min_follower_minute: Option<u64>,
    /// Slow mode seconds.
    pub chat_slow_mode_sec: Option<u64>,
    /// `"YYYY-MM-DD HH:MM:SS"` (KST), as sent.
    pub open_date: Option<String>,
    /// As sent.
    pub close_date: Option<String>,
    /// The whole `content` object.
    #[serde(skip)]
    pub raw: Value,
}

/// The channel a live belongs to (in a live detail).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct LiveChannel {
    /// Channel id.
    pub channel_id: Option<ChannelId>,
    /// Channel name.
    pub channel_name: Option<String>,
    /// Image.
    pub channel_image_url: Option<String>,
    /// Verified.
    pub verified_mark: bool,
}

/// A live's details (`service/v2/channels/{id}/live-detail`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct LiveDetail {
    /// The live's id.
    pub live_id: Option<i64>,
    /// The status fields shared with [`LiveStatus`].
    pub status: LiveStatus,
    /// Thumbnail URL template (contains `{type}`).
    pub live_image_url: Option<String>,
    /// Default thumbnail.
    pub default_thumbnail_image_url: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// The channel.
    pub channel: Option<LiveChannel>,
    /// Decoded `livePlaybackJson` (absent for 19+ without adult login).
    pub live_playback: Option<Value>,
}

/// A timeout of the logged-in user, as reported by the access-token call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TemporaryRestriction {
    /// Currently timed out.
    pub temporary_restrict: bool,
    /// How many times.
    pub times: Option<u64>,
    /// Seconds.
    pub duration: Option<u64>,
    /// Since, Unix milliseconds.
    pub created_time: Option<i64>,
}

/// The chat access token (`nng_main/v1/chats/access-token`). Tokens never print.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccessToken {
    pub(crate) token: String,
    pub(crate) extra_token: Option<String>,
    /// Real-name verification done.
    pub real_name_auth: Option<bool>,
    /// Whether the logged-in user is timed out right now.
    pub temporary_restrict: Option<TemporaryRestriction>,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &"<redacted>")
            .field(
                "extra_token",
                &self.extra_token.as_ref().map(|_| "<redacted>"),
            )
            .field("real_name_auth", &self.real_name_auth)
            .field("temporary_restrict", &self.temporary_restrict)
            .finish()
    }
}

/// The logged-in user (`nng_main/v1/user/getUserStatus`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct User {
    /// The user's id (`uid` in CONNECT).
    pub user_id_hash: Option<String>,
    /// Name.
    pub nickname: Option<String>,
    /// Image.
    pub profile_image_url: Option<String>,
    /// Verified.
    pub verified_mark: bool,
    /// Logged in (false when the cookies are missing or expired).
    pub logged_in: bool,
    /// Penalties.
    pub penalties: Vec<Value>,
}

/// A profile card (`nng_main/v1/chats/{chat}/users/{user}/profile-card`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ProfileCard {
    /// The profile, with `streaming_property.following_date` filled when the API gives it.
    pub profile: Profile,
    /// The whole `content` object.
    #[serde(skip)]
    pub raw: Value,
}
