//! Room events, the callback trait generated from the same table, and the mapping to
//! chatwire-core's normalised events.

use chatwire_core::{Author, ChannelRef, ChatEvent, ChatMessage, Platform};
use serde::Serialize;
use serde_json::Value;

use crate::model::{Connected, Disconnected, EventData, Reconnecting, Unknown};
use crate::{Error, Room};

/// What handler methods receive besides the event: the room, to answer with.
#[derive(Debug, Clone)]
pub struct Context {
    /// The room the event came from.
    pub room: Room,
}

/// The event table: each line is a variant, its wire `event_type`, its handler method and its
/// serialised name. It feeds chatwire-net's shared event model, plus the `event_type` mapping.
macro_rules! events {
    ($( $(#[$doc:meta])* $variant:ident($payload:ty) = $code:literal => $method:ident, $name:literal; )*) => {
        chatwire_net::event_model! {
            /// Everything a room reports, in arrival order.
            ///
            /// Serialised as `{"type": "<snake_case name>", ...payload}`. Unknown event types
            /// are kept whole and reachable through [`Event::kind`] and [`Event::raw`].
            #[derive(Debug, Clone, PartialEq, Serialize)]
            #[serde(tag = "type", rename_all = "snake_case")]
            #[non_exhaustive]
            pub enum Event;

            /// Callbacks: one method per event type, each a no-op by default.
            ///
            /// Run them with [`Room::run`]; events are dispatched one at a time, in order.
            pub trait Handler(Context, Error);

            /// The socket is open (first connection and every reconnect).
            Connected(Connected) => on_connect, "connected";
            /// The socket was lost and will be reopened.
            Reconnecting(Reconnecting) => on_reconnecting, "reconnecting";
            /// The stream stopped for good; it ends after this.
            Disconnected(Disconnected) => on_disconnect, "disconnected";
            $( $(#[$doc])* $variant($payload) => $method, $name; )*
        }

        impl Event {
            /// The event from its wire data (unknown types become the opaque fallback).
            pub(crate) fn from_data(data: EventData) -> Self {
                match data.event_type {
                    $( $code => Self::$variant(data), )*
                    other => Self::Unknown(Unknown::new(format!("event_type:{other}"), data.raw)),
                }
            }

            /// The room event's data (`None` for lifecycle events and unknown types).
            pub fn data(&self) -> Option<&EventData> {
                match self {
                    $( Self::$variant(d) => Some(d), )*
                    _ => None,
                }
            }
        }
    };
}

events! {
    /// 1: a new message.
    MessagePosted(EventData) = 1 => on_message, "message_posted";
    /// 2: a message was edited.
    MessageEdited(EventData) = 2 => on_edit, "message_edited";
    /// 3: someone entered the room.
    UserEntered(EventData) = 3 => on_user_entered, "user_entered";
    /// 4: someone left the room.
    UserLeft(EventData) = 4 => on_user_left, "user_left";
    /// 5: the room's name, description or tags changed (`content` = `name / description`).
    RoomNameChanged(EventData) = 5 => on_room_name_changed, "room_name_changed";
    /// 6: a message's stars or pins changed (the starrer is not revealed).
    MessageStarred(EventData) = 6 => on_star, "message_starred";
    /// 7: an internal debug message.
    DebugMessage(EventData) = 7 => on_debug_message, "debug_message";
    /// 8: this account was @-pinged (comes with the message's own 1 or 2).
    UserMentioned(EventData) = 8 => on_mention, "user_mentioned";
    /// 9: a message was flagged (10k+ users see these).
    MessageFlagged(EventData) = 9 => on_flag, "message_flagged";
    /// 10: a message was deleted.
    MessageDeleted(EventData) = 10 => on_delete, "message_deleted";
    /// 11: a file was added (legacy).
    FileAdded(EventData) = 11 => on_file_added, "file_added";
    /// 12: a moderator flag (moderators only).
    ModeratorFlag(EventData) = 12 => on_moderator_flag, "moderator_flag";
    /// 13: this account's settings changed.
    UserSettingsChanged(EventData) = 13 => on_user_settings_changed, "user_settings_changed";
    /// 14: a network-wide notification.
    GlobalNotification(EventData) = 14 => on_global_notification, "global_notification";
    /// 15: someone's access changed ([`EventData::access_level`]).
    AccessLevelChanged(EventData) = 15 => on_access_level_changed, "access_level_changed";
    /// 16: a notification for this account (access request, kick, ...).
    UserNotification(EventData) = 16 => on_user_notification, "user_notification";
    /// 17: an invitation; the room fields name the room you are invited to.
    Invitation(EventData) = 17 => on_invitation, "invitation";
    /// 18: a reply to one of this account's messages (comes with the message's 1).
    MessageReply(EventData) = 18 => on_reply, "message_reply";
    /// 19: a message was moved out of the room.
    MessageMovedOut(EventData) = 19 => on_moved_out, "message_moved_out";
    /// 20: a message was moved into the room.
    MessageMovedIn(EventData) = 20 => on_moved_in, "message_moved_in";
    /// 21: the room was put in timeout.
    TimeBreak(EventData) = 21 => on_time_break, "time_break";
    /// 22: a feed ticker item.
    FeedTicker(EventData) = 22 => on_feed_ticker, "feed_ticker";
    /// 29: this account was suspended from chat, or the suspension ended
    /// ([`EventData::suspension`]).
    UserSuspended(EventData) = 29 => on_user_suspended, "user_suspended";
    /// 30: accounts were merged.
    UserMerged(EventData) = 30 => on_user_merged, "user_merged";
    /// 34: a user's name or avatar changed.
    UserNameOrAvatarChanged(EventData) = 34 => on_user_name_or_avatar_changed, "user_name_or_avatar_changed";
}

impl Event {
    /// The event as received (`None` for lifecycle events, which the client makes itself).
    pub fn raw(&self) -> Option<&Value> {
        match self {
            Self::Unknown(u) => Some(u.raw()),
            other => other.data().map(EventData::raw),
        }
    }

    /// The normalised form: messages (with the reply they answer), edits, deletes and moves,
    /// members entering and leaving, room renames, and the lifecycle; every other event
    /// (stars, mentions, flags, access changes, ...), and a message event without a room or
    /// message id, as [`ChatEvent::Platform`] with its kind and raw JSON. The mapping is
    /// tabled in `docs/events.md`. `Some` for every event.
    pub fn to_core(&self) -> Option<ChatEvent> {
        Some(self.typed_core().unwrap_or_else(|| self.platform_core()))
    }

    /// The event as [`ChatEvent::Platform`]: its kind and raw JSON.
    fn platform_core(&self) -> ChatEvent {
        ChatEvent::Platform {
            platform: Platform::StackExchange,
            channel: self.data().map_or_else(|| ChannelRef::group(""), room_ref),
            kind: self.kind().to_owned(),
            raw: self.raw().map(Value::to_string).unwrap_or_default(),
        }
    }

    /// The typed normalised form, when the event has one and carries what it needs.
    fn typed_core(&self) -> Option<ChatEvent> {
        let p = Platform::StackExchange;
        let room = room_ref;
        let user = |d: &EventData| {
            Author::new(
                d.user_id.map(|u| u.to_string()).unwrap_or_default(),
                d.user_name.clone(),
            )
        };
        Some(match self {
            Self::MessagePosted(d) | Self::MessageMovedIn(d) => {
                ChatEvent::Message(core_message(d)?)
            }
            Self::MessageEdited(d) => ChatEvent::MessageEdited(core_message(d)?.with_edited(true)),
            Self::MessageDeleted(d) | Self::MessageMovedOut(d) => ChatEvent::MessageDeleted {
                platform: p,
                channel: room(d),
                message_id: d.message_id?.to_string(),
            },
            Self::UserEntered(d) => ChatEvent::MemberJoined {
                platform: p,
                channel: room(d),
                user: user(d),
            },
            Self::UserLeft(d) => ChatEvent::MemberLeft {
                platform: p,
                channel: room(d),
                user: user(d),
            },
            Self::RoomNameChanged(d) => {
                // `content` is `name / description`.
                let content = d
                    .text
                    .clone()
                    .or_else(|| d.content.clone())
                    .unwrap_or_default();
                let (name, topic) = match content.split_once(" / ") {
                    Some((n, t)) => (Some(n.to_owned()), Some(t.to_owned())),
                    None => (Some(content), None),
                };
                ChatEvent::RoomChanged {
                    platform: p,
                    channel: room(d),
                    name,
                    topic,
                    mode: None,
                }
            }
            Self::Connected(c) => ChatEvent::Connected {
                platform: p,
                channel: ChannelRef::group(c.room_id.to_string()),
            },
            Self::Reconnecting(r) => ChatEvent::Reconnecting {
                platform: p,
                channel: ChannelRef::group(r.room_id.to_string()),
                attempt: r.attempt,
                delay: std::time::Duration::from_millis(r.delay_ms),
            },
            Self::Disconnected(d) => ChatEvent::Disconnected {
                platform: p,
                channel: ChannelRef::group(d.room_id.to_string()),
                reason: Some(d.reason.clone()),
            },
            _ => return None,
        })
    }
}

/// The room of an event, with its name when the event carries it.
fn room_ref(d: &EventData) -> ChannelRef {
    let r = ChannelRef::group(d.room_id.map(|r| r.to_string()).unwrap_or_default());
    match &d.room_name {
        Some(n) => r.with_name(n.clone()),
        None => r,
    }
}

/// A message event in chatwire-core's shape (room id as channel, message id as id, the
/// decoded text).
pub(crate) fn core_message(d: &EventData) -> Option<ChatMessage> {
    let mut channel = ChannelRef::group(d.room_id?.to_string());
    if let Some(n) = &d.room_name {
        channel = channel.with_name(n.clone());
    }
    let author = Author::new(
        d.user_id.map(|u| u.to_string()).unwrap_or_default(),
        d.user_name.clone(),
    );
    let mut m = ChatMessage::new(
        Platform::StackExchange,
        channel,
        author,
        d.text.clone().unwrap_or_default(),
    )
    .with_id(d.message_id?.to_string());
    if let Some(t) = d.time() {
        m = m.with_timestamp(t);
    }
    if let Some(parent) = d.parent_id {
        m = m.with_reply_to(parent.to_string());
    }
    Some(m)
}

impl chatwire_net::ToCore for Event {
    fn to_core(&self) -> Option<chatwire_core::ChatEvent> {
        Event::to_core(self)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn core(v: &Value) -> ChatEvent {
        let d = crate::proto::event_data(v).unwrap();
        Event::from_data(d).to_core().unwrap()
    }

    #[test]
    fn every_event_type_has_a_core_form() {
        let base = json!({"room_id": 1, "room_name": "Sandbox", "user_id": 5, "user_name": "Ann",
                          "message_id": 9, "parent_id": 8, "content": "hi", "time_stamp": 1_735_689_600});
        let with = |t: i64| {
            let mut v = base.clone();
            v["event_type"] = json!(t);
            v
        };
        let ChatEvent::Message(m) = core(&with(1)) else {
            panic!("a message")
        };
        assert_eq!((m.reply_to.as_deref(), m.edited), (Some("8"), false));
        let ChatEvent::MessageEdited(m) = core(&with(2)) else {
            panic!("an edit")
        };
        assert!(m.edited);
        assert!(matches!(core(&with(3)), ChatEvent::MemberJoined { user, .. } if user.id == "5"));
        assert!(matches!(core(&with(4)), ChatEvent::MemberLeft { .. }));
        let mut rename = with(5);
        rename["content"] = json!("Sandbox 2 / a place to test");
        assert!(matches!(
            core(&rename),
            ChatEvent::RoomChanged { name: Some(n), topic: Some(t), .. } if n == "Sandbox 2" && t == "a place to test"
        ));
        assert!(
            matches!(core(&with(10)), ChatEvent::MessageDeleted { message_id, .. } if message_id == "9")
        );
        match core(&with(6)) {
            ChatEvent::Platform {
                kind, raw, channel, ..
            } => {
                assert_eq!(
                    (kind.as_str(), channel.id.as_str()),
                    ("message_starred", "1")
                );
                assert!(raw.contains("\"event_type\":6"), "{raw}");
            }
            other => panic!("{other:?}"),
        }
        match core(&with(77)) {
            ChatEvent::Platform { kind, .. } => assert_eq!(kind, "event_type:77"),
            other => panic!("{other:?}"),
        }
    }
}
