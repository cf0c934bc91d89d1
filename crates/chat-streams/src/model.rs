use std::collections::BTreeMap;

use serde::ser::SerializeMap as _;
use serde::{Deserialize, Serialize, Serializer};

use crate::id::{StreamKey, StreamKind};

/// A user as MaiBot's `UserInfo` describes one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UserInfo {
    /// The user's platform.
    pub platform: String,
    /// The platform's user id, as sent.
    pub user_id: String,
    /// Display name.
    pub user_nickname: Option<String>,
    /// Name in the group (group card), when the platform has one.
    pub user_cardname: Option<String>,
}

impl UserInfo {
    /// A user with an optional display name.
    pub fn new(
        platform: impl Into<String>,
        user_id: impl Into<String>,
        nickname: Option<String>,
    ) -> Self {
        Self {
            platform: platform.into(),
            user_id: user_id.into(),
            user_nickname: nickname,
            user_cardname: None,
        }
    }
}

/// A group as MaiBot's `GroupInfo` describes one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GroupInfo {
    /// The group's platform.
    pub platform: String,
    /// The platform's group, room or channel id, as sent.
    pub group_id: String,
    /// Display name.
    pub group_name: Option<String>,
}

impl GroupInfo {
    /// A group with an optional display name.
    pub fn new(
        platform: impl Into<String>,
        group_id: impl Into<String>,
        name: Option<String>,
    ) -> Self {
        Self {
            platform: platform.into(),
            group_id: group_id.into(),
            group_name: name,
        }
    }
}

/// One conversation the bot takes part in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChatStream {
    /// MaiBot's id for it (md5; see [`StreamKey::maibot_id`]).
    pub stream_id: String,
    /// The structured identity.
    pub key: StreamKey,
    /// The platform (equal to `key.platform`).
    pub platform: String,
    /// For a private stream the other user; for a group, the user MaiBot recorded with it when
    /// imported from MaiBot, otherwise none (MaiBot 1.x stopped storing the first speaker:
    /// MaiBot#814).
    pub user_info: Option<UserInfo>,
    /// The group, for group streams.
    pub group_info: Option<GroupInfo>,
    /// Created, Unix milliseconds.
    pub created_at_ms: i64,
    /// Last message, Unix milliseconds.
    pub last_active_at_ms: i64,
}

impl ChatStream {
    /// Group or private.
    pub fn kind(&self) -> StreamKind {
        self.key.kind
    }

    /// MaiBot's `create_time`: Unix seconds.
    #[allow(clippy::cast_precision_loss)]
    pub fn create_time(&self) -> f64 {
        self.created_at_ms as f64 / 1000.0
    }

    /// MaiBot's `last_active_time`: Unix seconds.
    #[allow(clippy::cast_precision_loss)]
    pub fn last_active_time(&self) -> f64 {
        self.last_active_at_ms as f64 / 1000.0
    }

    /// MaiBot's `get_stream_name`: the group name, else `"<nickname>的私聊"`.
    pub fn name(&self) -> Option<String> {
        match (&self.group_info, &self.user_info) {
            (Some(g), _) => g.group_name.clone(),
            (None, Some(u)) => u.user_nickname.as_ref().map(|n| format!("{n}的私聊")),
            (None, None) => None,
        }
    }
}

/// What `get_stream_type` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum StreamType {
    /// A private chat.
    Private,
    /// A group.
    Group,
    /// Neither (MaiBot's fallback; this crate never produces it for a stream it holds).
    Unknown,
}

impl StreamType {
    /// `"private"`, `"group"` or `"unknown"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Private => "private",
            Self::Group => "group",
            Self::Unknown => "unknown",
        }
    }
}

/// Which platforms a query covers. `Default` is `"qq"`, as in MaiBot.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PlatformFilter {
    /// One platform.
    Exact(String),
    /// Every platform (MaiBot's `SpecialTypes.ALL_PLATFORMS`).
    All,
}

impl PlatformFilter {
    /// Whether `platform` passes.
    pub fn matches(&self, platform: &str) -> bool {
        match self {
            Self::Exact(p) => p == platform,
            Self::All => true,
        }
    }
}

impl Default for PlatformFilter {
    fn default() -> Self {
        Self::Exact("qq".into())
    }
}

impl From<&str> for PlatformFilter {
    /// `"all_platforms"` means every platform (MaiBot 1.x semantics); anything else is one platform.
    fn from(s: &str) -> Self {
        if s == "all_platforms" {
            Self::All
        } else {
            Self::Exact(s.into())
        }
    }
}

impl From<chatwire_core::Platform> for PlatformFilter {
    fn from(p: chatwire_core::Platform) -> Self {
        Self::Exact(p.as_str().into())
    }
}

/// `get_stream_info`'s answer. Serialises with exactly MaiBot's keys, in its order:
/// `stream_id, platform, type`, then `group_id, group_name` for groups, then `user_id,
/// user_name` when the stream has a user.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamInfo {
    /// `stream_id`.
    pub stream_id: String,
    /// `platform`.
    pub platform: String,
    /// `type`.
    pub stream_type: StreamType,
    /// `group_id` and `group_name` (groups only; the name may be null).
    pub group: Option<(String, Option<String>)>,
    /// `user_id` and `user_name` (when the stream has a user).
    pub user: Option<(String, Option<String>)>,
}

impl StreamInfo {
    /// The keys present, in order.
    pub fn keys(&self) -> Vec<&'static str> {
        let mut k = vec!["stream_id", "platform", "type"];
        if self.group.is_some() {
            k.extend(["group_id", "group_name"]);
        }
        if self.user.is_some() {
            k.extend(["user_id", "user_name"]);
        }
        k
    }
}

impl Serialize for StreamInfo {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.keys().len()))?;
        m.serialize_entry("stream_id", &self.stream_id)?;
        m.serialize_entry("platform", &self.platform)?;
        m.serialize_entry("type", self.stream_type.as_str())?;
        if let Some((id, name)) = &self.group {
            m.serialize_entry("group_id", id)?;
            m.serialize_entry("group_name", name)?;
        }
        if let Some((id, name)) = &self.user {
            m.serialize_entry("user_id", id)?;
            m.serialize_entry("user_name", name)?;
        }
        m.end()
    }
}

/// `get_streams_summary`'s answer: MaiBot's four keys, plus a count for every platform.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct StreamsSummary {
    /// All streams (= group + private).
    pub total_streams: usize,
    /// Group streams.
    pub group_streams: usize,
    /// Private streams.
    pub private_streams: usize,
    /// Streams on platform `"qq"` (MaiBot hard-codes this key).
    pub qq_streams: usize,
    /// Streams per platform.
    pub by_platform: BTreeMap<String, usize>,
}
