//! The chat socket's wire format, without I/O: frame envelope, command codes, decoding of
//! server frames into events, and the client frames in the web client's shape.
//!
//! Public only with the off-by-default `unstable-proto` feature, for benchmarks, fuzzing and
//! `cargo xtask interop`: no semver promise, it follows the reverse-engineered wire.
// Without `unstable-proto` the module is private and its tool-facing items go unused.
#![cfg_attr(not(feature = "unstable-proto"), allow(unreachable_pub, dead_code))]

pub(crate) mod decode;
pub(crate) mod json;
#[cfg(test)]
mod roundtrip;
pub mod session;

use serde_json::{Value, json};

use self::json::Obj;
use crate::event::Event;
use crate::model::{ChannelEvent, Line, Moderation, Origin, RecentChat, Unknown, Unpin};

/// Command codes (`cmd`).
pub(crate) mod cmd {
    pub(crate) const PING: i64 = 0;
    pub(crate) const PONG: i64 = 10000;
    pub(crate) const CONNECT: i64 = 100;
    pub(crate) const CONNECTED: i64 = 10100;
    pub(crate) const SEND_CHAT: i64 = 3101;
    pub(crate) const REQUEST_RECENT_CHAT: i64 = 5101;
    pub(crate) const RECENT_CHAT: i64 = 15101;
    pub(crate) const EVENT: i64 = 93006;
    pub(crate) const CHAT: i64 = 93101;
    pub(crate) const SPECIAL_CHAT: i64 = 93102;
    pub(crate) const KICK: i64 = 94005;
    pub(crate) const BLOCK: i64 = 94006;
    pub(crate) const BLIND: i64 = 94008;
    pub(crate) const NOTICE: i64 = 94010;
    pub(crate) const PENALTY: i64 = 94015;
    pub(crate) const SESSION_END: i64 = 90102;
}

/// The envelope of a server frame.
#[derive(Debug, Clone)]
pub(crate) struct Frame {
    pub(crate) cmd: i64,
    pub(crate) tid: Option<String>,
    pub(crate) ret_code: Option<i64>,
    pub(crate) ret_msg: Option<String>,
    pub(crate) bdy: Value,
    /// The frame without its `bdy` (moved to `bdy`; [`whole`] rejoins them).
    pub(crate) raw: Value,
}

/// Parses a text (or binary UTF-8) frame. Fails on non-JSON and on frames without `cmd`.
pub(crate) fn parse(text: &str) -> Result<Frame, String> {
    let mut raw: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let o = Obj::of(&raw);
    let cmd = o.i64(&["cmd"]).ok_or("no \"cmd\" in the frame")?;
    let (tid, ret_code, ret_msg) = (o.str(&["tid"]), o.i64(&["retCode"]), o.str(&["retMsg"]));
    // The body is moved out, not copied; `Frame::whole` puts it back where the whole frame is
    // kept (frames nobody decodes).
    let bdy = raw
        .as_object_mut()
        .and_then(|m| m.remove("bdy"))
        .unwrap_or(Value::Null);
    Ok(Frame {
        cmd,
        tid,
        ret_code,
        ret_msg,
        bdy,
        raw,
    })
}

/// A server frame, classified.
#[derive(Debug)]
pub(crate) enum Inbound {
    /// The server pings: answer with a pong.
    Ping,
    /// The server answers our ping.
    Pong,
    /// The join answer.
    Connected {
        ret_code: i64,
        ret_msg: String,
        sid: Option<String>,
    },
    /// A recent-chat answer (routed by `tid` by the client).
    RecentChat {
        tid: Option<String>,
        ret_code: i64,
        ret_msg: String,
        bdy: Value,
    },
    /// 90102.
    SessionEnded,
    /// Events decoded from the frame; a line that cannot be decoded is an `Err` with the line
    /// and why, and does not affect the others.
    Events(Vec<Result<Event, (Value, String)>>),
}

/// The whole frame again: `raw` with its body put back.
fn whole(mut raw: Value, bdy: Value) -> Value {
    if let Some(m) = raw.as_object_mut()
        && !bdy.is_null()
    {
        m.insert("bdy".into(), bdy);
    }
    raw
}

/// Classifies a frame and decodes its events.
pub(crate) fn inbound(channel_id: &str, chat_channel_id: &str, frame: Frame) -> Inbound {
    let Frame {
        cmd,
        tid,
        ret_code,
        ret_msg,
        bdy,
        raw,
    } = frame;
    let one = |e: Event| Inbound::Events(vec![Ok(e)]);
    match cmd {
        cmd::PING => Inbound::Ping,
        cmd::PONG => Inbound::Pong,
        cmd::CONNECTED => Inbound::Connected {
            ret_code: ret_code.unwrap_or(0),
            ret_msg: ret_msg.unwrap_or_default(),
            sid: Obj::of(&bdy).str(&["sid"]),
        },
        cmd::RECENT_CHAT => Inbound::RecentChat {
            tid,
            ret_code: ret_code.unwrap_or(0),
            ret_msg: ret_msg.unwrap_or_default(),
            bdy,
        },
        cmd::SESSION_END => Inbound::SessionEnded,
        cmd::CHAT | cmd::SPECIAL_CHAT => {
            let lines = match bdy {
                Value::Array(a) => a,
                v @ Value::Object(_) => vec![v],
                other => {
                    let why = format!("a chat batch must be an array, got {other}");
                    return Inbound::Events(vec![Err((whole(raw, other), why))]);
                }
            };
            Inbound::Events(
                lines
                    .into_iter()
                    .map(|l| decode::line_owned(channel_id, l, Origin::Live).map(line_event))
                    .collect(),
            )
        }
        cmd::NOTICE => match decode::notice(channel_id, &bdy) {
            Some(n) => one(Event::Pin(n)),
            None => one(Event::Unpin(Unpin {
                channel_id: channel_id.into(),
                chat_channel_id: chat_channel_id.into(),
            })),
        },
        cmd::BLIND => one(Event::Blind(decode::blind(
            channel_id,
            chat_channel_id,
            &bdy,
        ))),
        cmd::EVENT => one(channel_event(channel_id, bdy)),
        cmd::KICK => one(Event::Kick(Moderation { cmd, body: bdy })),
        cmd::BLOCK => one(Event::Block(Moderation { cmd, body: bdy })),
        cmd::PENALTY => one(Event::Penalty(Moderation { cmd, body: bdy })),
        other => one(Event::Unknown(Unknown::new(
            format!("cmd:{other}"),
            whole(raw, bdy),
        ))),
    }
}

/// One server frame as the client decodes it, without a connection or session state: no
/// de-duplication of lines already delivered, no routing of recent-chat answers to requests.
/// For tools that compare decoders (`cargo xtask interop`); not a stable API.
#[derive(Debug)]
#[non_exhaustive]
#[allow(
    clippy::large_enum_variant,
    reason = "made once per frame by tools, and matched right away"
)]
pub enum DecodedFrame {
    /// A server PING; the client answers with a PONG.
    Ping,
    /// A PONG; nothing is reported.
    Pong,
    /// The join answer: the client joins when `ret_code` is 0, and fails otherwise.
    Connected {
        /// `retCode` (0 when absent).
        ret_code: i64,
        /// `retMsg`.
        ret_msg: String,
        /// `bdy.sid`.
        sid: Option<String>,
    },
    /// A recent-chat answer. `chat` is `None` when `ret_code` is not 0 (the client reports
    /// the failure and does not read the body); `bad_lines` are the entries of `messageList`
    /// that are not lines, with why.
    RecentChat {
        /// `retCode` (0 when absent).
        ret_code: i64,
        /// `retMsg`.
        ret_msg: String,
        /// The decoded answer.
        chat: Option<RecentChat>,
        /// Entries that could not be decoded.
        bad_lines: Vec<(Value, String)>,
    },
    /// 90102: the server ends the session.
    SessionEnded,
    /// The events the frame carries, in order; a line that cannot be decoded is an `Err` with
    /// the line and why.
    Events(Vec<Result<Event, (Value, String)>>),
}

/// Decodes one server frame (text, or binary UTF-8) the way the client does. `channel_id`
/// and `chat_channel_id` are the ones the client would be following.
///
/// # Errors
///
/// [`Error::Decode`](crate::Error::Decode) keeping the frame (truncated) when it is not JSON
/// or has no `cmd`: what the client's event stream yields for it before going on.
pub fn decode_frame(
    channel_id: &str,
    chat_channel_id: &str,
    text: &str,
) -> Result<DecodedFrame, crate::Error> {
    let frame = parse(text).map_err(|why| crate::Error::decode("a chat frame", why, text))?;
    Ok(match inbound(channel_id, chat_channel_id, frame) {
        Inbound::Ping => DecodedFrame::Ping,
        Inbound::Pong => DecodedFrame::Pong,
        Inbound::Connected {
            ret_code,
            ret_msg,
            sid,
        } => DecodedFrame::Connected {
            ret_code,
            ret_msg,
            sid,
        },
        Inbound::RecentChat {
            ret_code,
            ret_msg,
            bdy,
            ..
        } => {
            let (chat, bad_lines) = if ret_code == 0 {
                let (chat, bad) = decode::recent_chat(channel_id, &bdy);
                (Some(chat), bad)
            } else {
                (None, Vec::new())
            };
            DecodedFrame::RecentChat {
                ret_code,
                ret_msg,
                chat,
                bad_lines,
            }
        }
        Inbound::SessionEnded => DecodedFrame::SessionEnded,
        Inbound::Events(events) => DecodedFrame::Events(events),
    })
}

/// The event for one chat line.
pub(crate) fn line_event(line: Line) -> Event {
    match line {
        Line::Chat(m) => Event::Chat(m),
        Line::Donation(m) => Event::Donation(m),
        Line::Subscription(m) => Event::Subscription(m),
        Line::SubscriptionGift(m) => Event::SubscriptionGift(m),
        Line::System(m) => Event::SystemMessage(m),
        Line::Other(m) => Event::Unknown(Unknown::new(
            format!("line:{}", m.message_type.code()),
            m.raw,
        )),
    }
}

/// Channel events whose body this version knows only by name.
const NAMED_EVENTS: &[&str] = &[
    "CHANGE_DONATION_ACTIVE",
    "PARTY_DONATION_INFO",
    "PARTY_DONATION_FINISH",
    "PARTY_DONATION_CONFIRM",
    "IIMS_PENALTY",
    "LOG_POWER_PREDICTION_TOTAL_POWER_CHANGE",
    "LOG_POWER_PREDICTION_EXPIRED",
    "LIVE_MID_ROLL_AD",
];

fn channel_event(channel_id: &str, bdy: Value) -> Event {
    use crate::model::MissionStatus as S;
    let kind = Obj::of(&bdy).str(&["type"]).unwrap_or_default();
    match kind.as_str() {
        "DONATION_MISSION_IN_PROGRESS" => {
            let m = decode::mission(&bdy);
            match m.status {
                Some(S::Pending) => Event::MissionPending(m),
                Some(S::Approved) => Event::MissionApproved(m),
                Some(S::Rejected) => Event::MissionRejected(m),
                Some(S::Completed) => Event::MissionCompleted(m),
                Some(S::Expired) => Event::MissionExpired(m),
                _ => Event::MissionUpdated(m),
            }
        }
        "DONATION_MISSION_PARTICIPATION" => Event::MissionParticipation(decode::mission(&bdy)),
        "SUBSCRIPTION_GIFT" => Event::SubscriptionGiftStarted(decode::gift(&bdy)),
        "SUBSCRIPTION_GIFT_RECEIVER" => Event::SubscriptionGiftReceived(decode::gift(&bdy)),
        "TEMPORARY_RESTRICT" => {
            Event::TemporaryRestrict(decode::temporary_restrict(channel_id, &bdy))
        }
        "CHANGE_CHAT_MODE" => Event::ChatModeChanged(decode::chat_mode(channel_id, &bdy)),
        k if NAMED_EVENTS.contains(&k) => Event::ChannelEvent(ChannelEvent { kind, body: bdy }),
        _ => Event::Unknown(Unknown::new(format!("event:{kind}"), bdy)),
    }
}

/// The protocol version the web client sends.
const VER: &str = "3";

/// CONNECT (100): read-only without `uid`, send mode with it.
pub(crate) fn connect(
    chat_channel_id: &str,
    access_token: &str,
    uid: Option<&str>,
    tid: u64,
) -> String {
    json!({
        "ver": VER, "cmd": cmd::CONNECT, "svcid": "game", "cid": chat_channel_id, "tid": tid,
        "bdy": {"uid": uid, "devType": 2001, "accTkn": access_token, "auth": if uid.is_some() { "SEND" } else { "READ" }},
    })
    .to_string()
}

/// What a `SEND_CHAT` frame carries.
#[derive(Debug)]
pub(crate) struct Outgoing<'a> {
    pub(crate) chat_channel_id: &'a str,
    pub(crate) sid: &'a str,
    pub(crate) channel_id: &'a str,
    pub(crate) extra_token: Option<&'a str>,
    pub(crate) text: &'a str,
    pub(crate) emojis: &'a std::collections::BTreeMap<String, String>,
    pub(crate) msg_time_ms: i64,
    pub(crate) tid: u64,
}

/// `SEND_CHAT` (3101) in the web client's shape: `streamingChannelId` is the streamer's channel
/// id, `extraToken` is included, `emojis` is an object, `msgTime` is in milliseconds.
pub(crate) fn send_chat(o: &Outgoing<'_>) -> String {
    let mut extras = json!({"chatType": "STREAMING", "osType": "PC", "streamingChannelId": o.channel_id, "emojis": o.emojis});
    if let Some(t) = o.extra_token {
        extras["extraToken"] = json!(t);
    }
    json!({
        "ver": VER, "cmd": cmd::SEND_CHAT, "svcid": "game", "cid": o.chat_channel_id, "sid": o.sid,
        "retry": false, "tid": o.tid,
        "bdy": {"msg": o.text, "msgTypeCode": 1, "extras": extras.to_string(), "msgTime": o.msg_time_ms},
    })
    .to_string()
}

/// `REQUEST_RECENT_CHAT` (5101).
pub(crate) fn request_recent_chat(
    chat_channel_id: &str,
    sid: &str,
    count: u32,
    tid: u64,
) -> String {
    json!({
        "ver": VER, "cmd": cmd::REQUEST_RECENT_CHAT, "svcid": "game", "cid": chat_channel_id, "sid": sid, "tid": tid,
        "bdy": {"recentMessageCount": count},
    })
    .to_string()
}

/// A client PING.
pub(crate) fn ping() -> String {
    json!({"ver": VER, "cmd": cmd::PING}).to_string()
}

/// The answer to a server PING.
pub(crate) fn pong() -> String {
    json!({"ver": VER, "cmd": cmd::PONG}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_bad_line_does_not_drop_its_batch() {
        let f = parse(r#"{"cmd":93101,"bdy":[{"uid":"a","msg":"1","msgTypeCode":1,"msgTime":1}, 7, {"uid":"b","msg":"2","msgTypeCode":1,"msgTime":2}]}"#).unwrap();
        let Inbound::Events(events) = inbound("ch", "N1", f) else {
            panic!()
        };
        assert_eq!(events.len(), 3);
        assert!(matches!(&events[0], Ok(Event::Chat(m)) if m.content == "1"));
        assert!(matches!(&events[1], Err((v, _)) if v == &json!(7)));
        assert!(matches!(&events[2], Ok(Event::Chat(m)) if m.content == "2"));
    }

    #[test]
    fn unknown_things_keep_their_raw_json() {
        let f = parse(r#"{"cmd":94999,"bdy":{"x":1}}"#).unwrap();
        let Inbound::Events(e) = inbound("ch", "N1", f) else {
            panic!()
        };
        let ev = e[0].as_ref().unwrap();
        assert_eq!(ev.kind(), "cmd:94999");
        assert_eq!(ev.raw().unwrap()["bdy"]["x"], 1);
        let f = parse(r#"{"cmd":93006,"bdy":{"type":"NEW_THING","y":2}}"#).unwrap();
        let Inbound::Events(e) = inbound("ch", "N1", f) else {
            panic!()
        };
        assert_eq!(e[0].as_ref().unwrap().kind(), "event:NEW_THING");
        assert!(parse("not json").is_err());
        assert!(parse(r#"{"bdy":{}}"#).is_err());
    }

    #[test]
    fn send_chat_has_the_web_shape() {
        let emojis = std::collections::BTreeMap::new();
        let f: Value = serde_json::from_str(&send_chat(&Outgoing {
            chat_channel_id: "N1",
            sid: "s",
            channel_id: "5f1e",
            extra_token: Some("x"),
            text: "hi",
            emojis: &emojis,
            msg_time_ms: 1_790_000_000_123,
            tid: 4,
        }))
        .unwrap();
        assert_eq!(f["cmd"], 3101);
        assert_eq!(f["bdy"]["msgTime"], 1_790_000_000_123_i64);
        let extras: Value = serde_json::from_str(f["bdy"]["extras"].as_str().unwrap()).unwrap();
        assert_eq!(
            extras,
            json!({"chatType":"STREAMING","osType":"PC","streamingChannelId":"5f1e","emojis":{},"extraToken":"x"})
        );
    }
}
