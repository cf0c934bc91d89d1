//! The chat message, its ids, and the legacy JSON codec (`lk-chat-topic`).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::Error;

chatwire_net::id! {
    /// A participant's identity in a LiveKit room (the `identity` of its access token).
    pub struct Identity;
}

/// How message ids are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum IdStyle {
    /// A UUID v4, as components-js and Android make them (required when the legacy copy's id
    /// must equal the text stream's id).
    #[default]
    Uuid,
    /// 12 base62 characters, as the Python `ChatManager` makes them.
    Base62,
}

/// A new message id in `style`.
pub fn new_id(style: IdStyle) -> String {
    let random = uuid::Uuid::new_v4();
    match style {
        IdStyle::Uuid => random.to_string(),
        IdStyle::Base62 => {
            let mut s = base62::encode(random.as_u128());
            while s.len() < 12 {
                s.insert(0, '0');
            }
            s[..12].to_owned()
        }
    }
}

/// How a message travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Format {
    /// Legacy JSON on `lk-chat-topic` / `lk-chat-update-topic`.
    Legacy,
    /// A text stream on `lk.chat`.
    Stream,
    /// The protobuf `ChatMessage` (`DataPacket.chat_message`).
    Proto,
    /// Sent by this participant.
    Local,
}

/// A chat message (the Python SDK's `ChatMessage`, plus what streams carry).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ChatMessage {
    /// The id: 12 base62 characters from Python, a UUID from the other SDKs.
    pub id: String,
    /// The text (`None` only when a peer sent `"message": null`).
    pub message: Option<String>,
    /// Sent, Unix milliseconds (kept from the original across edits).
    pub timestamp: i64,
    /// Deleted by its sender.
    pub deleted: bool,
    /// Last edited, Unix milliseconds.
    pub edit_timestamp: Option<i64>,
    /// The sender's identity (`None` when a server API sent it).
    pub participant: Option<Identity>,
    /// Sent by this participant.
    pub is_local: bool,
    /// Text-stream attributes.
    pub attributes: BTreeMap<String, String>,
    /// How it arrived.
    pub format: Format,
    /// An agent transcription (`generated`).
    pub generated: bool,
}

/// What a legacy JSON packet says besides the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct LegacyFlags {
    /// `ignoreLegacy: true`: a copy of a text stream, for old receivers only.
    pub(crate) ignore_legacy: bool,
    /// `ignore: true` (components 0.11.6–0.12.1): a protobuf `ChatMessage` was also sent.
    pub(crate) ignore: bool,
}

pub(crate) fn now_ms() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl ChatMessage {
    /// A new local message with a fresh id and the current time.
    pub fn new(message: impl Into<String>, style: IdStyle) -> Self {
        Self {
            id: new_id(style),
            message: Some(message.into()),
            timestamp: now_ms(),
            deleted: false,
            edit_timestamp: None,
            participant: None,
            is_local: true,
            attributes: BTreeMap::new(),
            format: Format::Local,
            generated: false,
        }
    }

    /// The text, or `""`.
    pub fn text(&self) -> &str {
        self.message.as_deref().unwrap_or("")
    }

    /// Decodes a legacy JSON object leniently, like the Python SDK's `from_jsondict`: a missing
    /// or empty id gets a new one, a missing (or 0) timestamp is now, any other timestamp is
    /// kept as sent (a negative one too: a time before 1970, as the Python SDK and
    /// components-js keep it), a float timestamp is truncated, `message` may be null, unknown
    /// keys are ignored.
    ///
    /// # Errors
    /// [`Error::Decode`] when `v` is not an object, or `message` is neither a string nor null.
    pub fn from_jsondict(v: &Value) -> Result<Self, Error> {
        Self::from_json_with_flags(v).map(|(m, _)| m)
    }

    pub(crate) fn from_json_with_flags(v: &Value) -> Result<(Self, LegacyFlags), Error> {
        let Value::Object(o) = v else {
            return Err(Error::decode(
                "a legacy chat message",
                "not a JSON object",
                &v.to_string(),
            ));
        };
        let id = match o.get("id") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => new_id(IdStyle::Base62),
        };
        let message = match o.get("message") {
            Some(Value::String(s)) => Some(s.clone()),
            None | Some(Value::Null) => None,
            Some(other) => {
                return Err(Error::decode(
                    "a legacy chat message",
                    format!("\"message\" is {other}"),
                    &v.to_string(),
                ));
            }
        };
        let ms = |key: &str| -> Option<i64> {
            match o.get(key)? {
                Value::Number(n) => n.as_i64().or_else(|| {
                    #[allow(clippy::cast_possible_truncation)]
                    n.as_f64()
                        .filter(|f| f.is_finite() && f.abs() < 9.0e15)
                        .map(|f| f as i64)
                }),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            }
        };
        let truthy = |key: &str| matches!(o.get(key), Some(Value::Bool(true)));
        let message = Self {
            id,
            message,
            timestamp: ms("timestamp").filter(|t| *t != 0).unwrap_or_else(now_ms),
            deleted: truthy("deleted"),
            edit_timestamp: ms("editTimestamp"),
            participant: None,
            is_local: false,
            attributes: BTreeMap::new(),
            format: Format::Legacy,
            generated: false,
        };
        Ok((
            message,
            LegacyFlags {
                ignore_legacy: truthy("ignoreLegacy"),
                ignore: truthy("ignore"),
            },
        ))
    }

    /// The legacy JSON object, strictly: `id`, `message`, integer `timestamp`, and `deleted`
    /// only when true (the Python SDK's `asjsondict`).
    pub fn to_jsondict(&self) -> Value {
        let mut o = Map::new();
        o.insert("id".into(), json!(self.id));
        o.insert("message".into(), json!(self.message));
        o.insert("timestamp".into(), json!(self.timestamp));
        if self.deleted {
            o.insert("deleted".into(), json!(true));
        }
        Value::Object(o)
    }

    /// The legacy copy components-js sends beside a text stream (`ignoreLegacy` tells new
    /// receivers it duplicates the stream).
    pub(crate) fn to_legacy_copy(&self, ignore_legacy: bool) -> Value {
        let mut v = self.to_jsondict();
        v["ignoreLegacy"] = json!(ignore_legacy);
        if let Some(t) = self.edit_timestamp {
            v["editTimestamp"] = json!(t);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_reference_shapes() {
        let b = new_id(IdStyle::Base62);
        assert_eq!(b.len(), 12);
        assert!(b.chars().all(|c| c.is_ascii_alphanumeric()));
        let u = new_id(IdStyle::Uuid);
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4", "version 4");
        assert_ne!(new_id(IdStyle::Base62), new_id(IdStyle::Base62));
    }

    #[test]
    fn lenient_decode() {
        let (m, f) = ChatMessage::from_json_with_flags(&json!({"id": "abc", "message": "hi", "timestamp": 1700000000123.7, "ignoreLegacy": true, "extra": [1]})).unwrap();
        assert_eq!(
            (m.id.as_str(), m.text(), m.timestamp, f.ignore_legacy),
            ("abc", "hi", 1_700_000_000_123, true)
        );
        let m = ChatMessage::from_jsondict(&json!({"message": null})).unwrap();
        assert_eq!(m.id.len(), 12, "a missing id is generated the Python way");
        assert!(m.message.is_none());
        assert!(
            m.timestamp > 1_700_000_000_000,
            "a missing timestamp is now"
        );
        assert!(
            ChatMessage::from_jsondict(&json!({"message": "x", "timestamp": 0}))
                .unwrap()
                .timestamp
                > 0
        );
        for (sent, kept) in [
            (json!(-1), -1),
            (json!(-86_400_000), -86_400_000),
            (json!(-1500.9), -1500),
            (json!("-42"), -42),
        ] {
            assert_eq!(
                ChatMessage::from_jsondict(&json!({"message": "x", "timestamp": sent}))
                    .unwrap()
                    .timestamp,
                kept,
                "a negative timestamp ({sent}) is kept, not replaced by now"
            );
        }
        assert!(ChatMessage::from_jsondict(&json!([1])).is_err());
        assert!(ChatMessage::from_jsondict(&json!({"message": 5})).is_err());
        assert!(
            ChatMessage::from_jsondict(&json!({"message": "d", "deleted": true}))
                .unwrap()
                .deleted
        );
    }

    #[test]
    fn strict_encode() {
        let mut m = ChatMessage::new("hi", IdStyle::Base62);
        m.timestamp = 5;
        assert_eq!(
            m.to_jsondict(),
            json!({"id": m.id, "message": "hi", "timestamp": 5})
        );
        m.deleted = true;
        assert_eq!(m.to_jsondict()["deleted"], json!(true));
        assert_eq!(m.to_legacy_copy(true)["ignoreLegacy"], json!(true));
    }
}
