//! The typed data of room events.

use crate::ids::{MessageId, RoomId, UserId};
use serde::Serialize;
use serde_json::Value;

/// A time stamp in seconds: an integer when whole (within the range `f64` holds exactly),
/// otherwise a float.
#[allow(
    clippy::ref_option,
    reason = "the signature serde's serialize_with expects"
)]
fn seconds<S: serde::Serializer>(t: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match *t {
        #[allow(clippy::cast_possible_truncation)]
        Some(t) if t.fract() == 0.0 && t.abs() < 9.0e15 => s.serialize_i64(t as i64),
        Some(t) => s.serialize_f64(t),
        None => s.serialize_none(),
    }
}

/// One room event as the server sends it (`event_type`, ids, room, user, message, counters).
/// Every field is optional on the wire; counters default to 0 (the server omits zeroes).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct EventData {
    /// The wire `event_type`.
    pub event_type: i64,
    /// The event id (`id`): a server-wide counter.
    pub id: Option<u64>,
    /// Unix seconds as sent, with any fractional part kept (`1735689600.25`), as both Python
    /// clients keep the value; whole seconds are exact. A numeric string is read too.
    /// Serialised as an integer when whole, so the common case keeps its wire shape.
    #[serde(serialize_with = "seconds")]
    pub time_stamp: Option<f64>,
    /// The room (for an invitation, the room you are invited to).
    pub room_id: Option<RoomId>,
    /// The room's name.
    pub room_name: Option<String>,
    /// Who acted (negative for system accounts: -2 is "Feeds").
    pub user_id: Option<UserId>,
    /// Their name.
    pub user_name: Option<String>,
    /// Who is concerned: the pinged account, the affected user, the original author.
    pub target_user_id: Option<UserId>,
    /// The message (what you reply to, edit, star).
    pub message_id: Option<MessageId>,
    /// The message replied to.
    pub parent_id: Option<MessageId>,
    /// Whether the reply shows its parent.
    pub show_parent: bool,
    /// The rendered HTML, as sent.
    pub content: Option<String>,
    /// The content as plain text (tags dropped, `<br>` as newlines, entities decoded).
    pub text: Option<String>,
    /// Times edited.
    pub message_edits: u64,
    /// Stars.
    pub message_stars: u64,
    /// Owner stars (pins).
    pub message_owner_stars: u64,
    /// Moved between rooms.
    pub moved: bool,
    #[serde(skip)]
    pub(crate) raw: Value,
}

/// A user's access to a room, as an access change (event 15) announces it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AccessLevel {
    /// Can read and post.
    ReadWrite,
    /// Can read only.
    ReadOnly,
    /// Owns the room.
    Owner,
    /// Has asked for write access.
    Request,
    /// Was kicked (`priv N created`).
    Kicked,
    /// A kick expired (`priv N deleted`).
    KickExpired,
    /// A level this version does not know, as written after `Access now`.
    Other(String),
}

impl EventData {
    /// The event exactly as received.
    pub fn raw(&self) -> &Value {
        &self.raw
    }

    /// The time as a date, to the microsecond (as Python's `datetime.fromtimestamp` reads a
    /// fractional time stamp); `None` without a time stamp or outside the representable range.
    pub fn time(&self) -> Option<time::OffsetDateTime> {
        let micros = (self.time_stamp? * 1e6).round();
        if !micros.is_finite() || micros.abs() >= 9.0e15 {
            return None;
        }
        #[allow(clippy::cast_possible_truncation)]
        let micros = micros as i64;
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000).ok()
    }

    /// For access changes (15): the access the content announces (`Access now read-write`,
    /// `priv N created` for a kick, `priv N deleted` when it expires).
    pub fn access_level(&self) -> Option<AccessLevel> {
        let c = self.content.as_deref()?;
        if let Some(level) = c.strip_prefix("Access now ") {
            return Some(match level.trim() {
                "read-write" => AccessLevel::ReadWrite,
                "read-only" => AccessLevel::ReadOnly,
                "owner" => AccessLevel::Owner,
                "request" => AccessLevel::Request,
                other => AccessLevel::Other(other.to_owned()),
            });
        }
        if c.starts_with("priv ") && c.ends_with(" created") {
            return Some(AccessLevel::Kicked);
        }
        if c.starts_with("priv ") && c.ends_with(" deleted") {
            return Some(AccessLevel::KickExpired);
        }
        None
    }

    /// For suspensions (29): the parsed content `"<code> <json>"`.
    pub fn suspension(&self) -> Option<Suspension> {
        let c = self.content.as_deref()?;
        let (code, json) = c.split_once(' ')?;
        let code: i64 = code.trim().parse().ok()?;
        let v: Value = serde_json::from_str(json).ok()?;
        Some(Suspension {
            code,
            old: v.get("old").and_then(Value::as_i64),
            new: v.get("new").and_then(Value::as_i64),
        })
    }
}

/// A chat suspension notice: code 4 adds one (until `new`), code 5 lifts one (`old`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Suspension {
    /// 4 = added, 5 = removed (as far as is known).
    pub code: i64,
    /// The previous expiry, Unix seconds.
    pub old: Option<i64>,
    /// The new expiry, Unix seconds.
    pub new: Option<i64>,
}

impl Suspension {
    /// When the suspension ends, for an added one.
    pub fn until(&self) -> Option<i64> {
        if self.code == 4 { self.new } else { None }
    }
}

/// The event socket is open and following the room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Connected {
    /// The room.
    pub room_id: RoomId,
    /// The event counter the socket resumed from (`l`).
    pub since: u64,
    /// 0 on the first connection, then the number of reconnects.
    pub reconnect: u32,
}

/// The socket was lost; the client reconnects after `delay_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Reconnecting {
    /// The room.
    pub room_id: RoomId,
    /// 1, 2, 3, ...
    pub attempt: u32,
    /// Milliseconds.
    pub delay_ms: u64,
    /// What went wrong.
    pub reason: String,
}

/// The event stream stopped for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Disconnected {
    /// The room.
    pub room_id: RoomId,
    /// Why.
    pub reason: String,
}

pub use chatwire_net::Unknown;

/// What [`Room::send`](crate::Room::send) achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SendResult {
    /// Posted.
    Sent {
        /// The new message's id.
        message_id: MessageId,
        /// Unix seconds.
        time: Option<i64>,
    },
    /// The server silently dropped it as a duplicate of the previous message (it answers
    /// `{"id": null}`). Change the text to send it.
    Duplicate,
}

impl SendResult {
    /// The message id, when posted.
    pub fn message_id(self) -> Option<MessageId> {
        match self {
            Self::Sent { message_id, .. } => Some(message_id),
            Self::Duplicate => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(content: &str) -> Option<AccessLevel> {
        let v = serde_json::json!({"event_type": 15, "content": content});
        crate::proto::event_data(&v).unwrap().access_level()
    }

    #[test]
    fn access_changes_name_their_level() {
        assert_eq!(
            access("Access now read-write"),
            Some(AccessLevel::ReadWrite)
        );
        assert_eq!(access("Access now read-only"), Some(AccessLevel::ReadOnly));
        assert_eq!(access("Access now owner"), Some(AccessLevel::Owner));
        assert_eq!(access("priv 5 created"), Some(AccessLevel::Kicked));
        assert_eq!(access("priv 5 deleted"), Some(AccessLevel::KickExpired));
        assert_eq!(
            access("Access now moderator"),
            Some(AccessLevel::Other("moderator".into()))
        );
        assert_eq!(access("hello"), None);
    }
}
