//! Stream ids exactly as MaiBot computes them, and the structured key this crate uses instead.

use std::fmt;

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

use crate::Error;

fn md5_hex(key: &str) -> String {
    let digest = Md5::digest(key.as_bytes());
    let mut out = String::with_capacity(32);
    for b in digest {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 0xf)]));
    }
    out
}

/// MaiBot's stream id (every version since 0.5.13): the lower-case hex MD5 of
/// `platform + "_" + group_id` for a group, or `platform + "_" + user_id + "_private"` for a
/// private chat. Nothing is trimmed or normalised: pass the id exactly as the platform sent it.
///
/// ```
/// use chat_streams::{legacy_stream_id, StreamKind};
/// assert_eq!(legacy_stream_id("qq", StreamKind::Group, "941657197"), "a544edeb1a9b73e3e1d77dff36e41264");
/// ```
pub fn legacy_stream_id(platform: &str, kind: StreamKind, target_id: &str) -> String {
    v1_session_id(platform, None, None, kind, target_id)
}

/// MaiBot 1.x's session id: `account:<account>` and then `scope:<scope>` are inserted after the
/// platform when present and non-empty. With neither it equals [`legacy_stream_id`].
///
/// ```
/// use chat_streams::{v1_session_id, StreamKind};
/// let id = v1_session_id("qq", Some("10001"), Some("napcat-1"), StreamKind::Group, "941657197");
/// assert_eq!(id, "db21c542c9b6d8da09594d66195833e1");
/// ```
pub fn v1_session_id(
    platform: &str,
    account: Option<&str>,
    scope: Option<&str>,
    kind: StreamKind,
    target_id: &str,
) -> String {
    let mut key = String::from(platform);
    if let Some(a) = account.filter(|a| !a.is_empty()) {
        key.push_str("_account:");
        key.push_str(a);
    }
    if let Some(s) = scope.filter(|s| !s.is_empty()) {
        key.push_str("_scope:");
        key.push_str(s);
    }
    key.push('_');
    key.push_str(target_id);
    if kind == StreamKind::Private {
        key.push_str("_private");
    }
    md5_hex(&key)
}

/// Group or private conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum StreamKind {
    /// A group, room or channel: many participants.
    Group,
    /// A private (direct) chat with one user.
    Private,
}

impl StreamKind {
    /// `"group"` or `"private"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Group => "group",
            Self::Private => "private",
        }
    }
}

impl fmt::Display for StreamKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The structured identity of a stream. Two messages belong to the same stream exactly when
/// their keys are equal; MaiBot's hashed id is derived from it (and kept as an alias), so the
/// `_`-separator and `x_private` collisions of the hash cannot merge or split streams.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StreamKey {
    /// Platform name (`"qq"`, `"chzzk"`, `"stackexchange"`, ...).
    pub platform: String,
    /// The bot account the conversation is scoped to (`""` = shared across accounts).
    pub account: String,
    /// A route scope (`""` = none).
    pub scope: String,
    /// Group or private.
    pub kind: StreamKind,
    /// The group id, or the user id of a private chat.
    pub target: String,
}

impl StreamKey {
    /// A key without account or scope (MaiBot 0.x semantics).
    ///
    /// # Errors
    /// [`Error::EmptyPlatform`] or an empty-id error when a part is empty.
    pub fn new(platform: &str, kind: StreamKind, target: &str) -> Result<Self, Error> {
        Self::scoped(platform, "", "", kind, target)
    }

    /// A key with account and scope (MaiBot 1.x semantics; empty strings mean none).
    ///
    /// # Errors
    /// [`Error::EmptyPlatform`] or an empty-id error when a part is empty.
    pub fn scoped(
        platform: &str,
        account: &str,
        scope: &str,
        kind: StreamKind,
        target: &str,
    ) -> Result<Self, Error> {
        if platform.is_empty() {
            return Err(Error::EmptyPlatform);
        }
        if target.is_empty() {
            return Err(match kind {
                StreamKind::Group => Error::EmptyGroupId,
                StreamKind::Private => Error::EmptyUserId,
            });
        }
        Ok(Self {
            platform: platform.into(),
            account: account.into(),
            scope: scope.into(),
            kind,
            target: target.into(),
        })
    }

    /// MaiBot's id for this key ([`v1_session_id`]; equal to [`legacy_stream_id`] without
    /// account and scope).
    pub fn maibot_id(&self) -> String {
        v1_session_id(
            &self.platform,
            Some(&self.account),
            Some(&self.scope),
            self.kind,
            &self.target,
        )
    }

    /// Parses MaiBot's config notation `"platform:id:type"`: `group` means a group, anything
    /// else a private chat (as MaiBot does).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when it does not have three parts.
    pub fn from_config(s: &str) -> Result<Self, Error> {
        let mut parts = s.splitn(3, ':');
        let (Some(platform), Some(id), Some(kind)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(Error::InvalidInput(format!(
                "expected \"platform:id:group|private\", got {s:?}"
            )));
        };
        let kind = if kind == "group" {
            StreamKind::Group
        } else {
            StreamKind::Private
        };
        Self::new(platform, kind, id)
    }
}

impl fmt::Display for StreamKey {
    /// `platform[/account][/scope]:kind:target`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.platform)?;
        if !self.account.is_empty() {
            write!(f, "/{}", self.account)?;
        }
        if !self.scope.is_empty() {
            write!(f, "/{}", self.scope)?;
        }
        write!(f, ":{}:{}", self.kind, self.target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectors of the protocol notes (§3.5), computed with Python's hashlib.
    #[test]
    fn maibot_vectors() {
        assert_eq!(
            legacy_stream_id("qq", StreamKind::Group, "941657197"),
            "a544edeb1a9b73e3e1d77dff36e41264"
        );
        assert_eq!(
            legacy_stream_id("qq", StreamKind::Private, "1787882683"),
            "b8f3a2f1a141dab0218071e5af2d3e1e"
        );
        assert_eq!(
            v1_session_id("qq", Some("10001"), None, StreamKind::Group, "941657197"),
            "6ec2fb04dac7799a763b153c7e039fe1"
        );
        assert_eq!(
            v1_session_id(
                "qq",
                Some("10001"),
                Some("napcat-1"),
                StreamKind::Group,
                "941657197"
            ),
            "db21c542c9b6d8da09594d66195833e1"
        );
        assert_eq!(
            v1_session_id("qq", Some("10001"), None, StreamKind::Private, "1787882683"),
            "cf12ce655ac960e617b29be6a7de70f0"
        );
        assert_eq!(
            legacy_stream_id("telegram", StreamKind::Group, "-1001234567890"),
            "cbdd5e2323f6fa92aed5e0e79fadae3d"
        );
        // Empty account/scope are "none", as in MaiBot.
        assert_eq!(
            v1_session_id("qq", Some(""), Some(""), StreamKind::Group, "941657197"),
            "a544edeb1a9b73e3e1d77dff36e41264"
        );
    }

    #[test]
    fn non_ascii_is_hashed_as_utf8() {
        // Python: hashlib.md5("치지직_채널".encode()).hexdigest()
        assert_eq!(
            legacy_stream_id("치지직", StreamKind::Group, "채널"),
            "e03cd41c94d10efa587e416d0998e57e"
        );
        assert_ne!(
            legacy_stream_id("치지직", StreamKind::Group, "채널"),
            legacy_stream_id("치지직", StreamKind::Group, "채널 ")
        );
    }

    #[test]
    fn structured_keys_do_not_collide_where_the_hash_does() {
        let a = StreamKey::new("a_b", StreamKind::Group, "c").unwrap();
        let b = StreamKey::new("a", StreamKind::Group, "b_c").unwrap();
        assert_eq!(
            a.maibot_id(),
            b.maibot_id(),
            "MaiBot's recipe collides here"
        );
        assert_ne!(a, b);
        let g = StreamKey::new("qq", StreamKind::Group, "x_private").unwrap();
        let p = StreamKey::new("qq", StreamKind::Private, "x").unwrap();
        assert_eq!(g.maibot_id(), p.maibot_id());
        assert_ne!(g, p);
    }

    #[test]
    fn config_notation() {
        let k = StreamKey::from_config("qq:12345:group").unwrap();
        assert_eq!(
            k.maibot_id(),
            legacy_stream_id("qq", StreamKind::Group, "12345")
        );
        assert_eq!(
            StreamKey::from_config("qq:12345:friend").unwrap().kind,
            StreamKind::Private
        );
        assert!(matches!(
            StreamKey::from_config("qq:12345"),
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            StreamKey::from_config("qq::group"),
            Err(Error::EmptyGroupId)
        ));
        assert_eq!(
            StreamKey::scoped("qq", "10001", "", StreamKind::Group, "1")
                .unwrap()
                .to_string(),
            "qq/10001:group:1"
        );
    }
}
