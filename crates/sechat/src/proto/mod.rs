//! The wire format without I/O: event frames, event fields, rate-limit texts, and the little
//! HTML that has to be read.
//!
//! Public only with the off-by-default `unstable-proto` feature, for benchmarks, fuzzing and
//! `cargo xtask interop`: no semver promise, it follows the reverse-engineered wire.
// Without `unstable-proto` the module is private and its tool-facing items go unused.
#![cfg_attr(not(feature = "unstable-proto"), allow(unreachable_pub, dead_code))]

pub mod delivery;
pub(crate) mod html;

use crate::ids::{MessageId, RoomId, UserId};
use serde_json::{Map, Value};

use crate::model::EventData;
use crate::{Error, Event};

fn u64_of(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn i64_of(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Seconds, whole or fractional (a number or a numeric string); non-finite values are none.
fn secs_of(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|f: &f64| f.is_finite())
}

fn str_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn bool_of(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::Bool(true)))
        || matches!(v, Some(Value::Number(n)) if n.as_i64() == Some(1))
}

/// One event object. Fails only without an `event_type` number (or when not an object).
pub(crate) fn event_data(v: &Value) -> Result<EventData, String> {
    let Value::Object(o) = v else {
        return Err("an event must be an object".into());
    };
    let event_type = i64_of(o.get("event_type")).ok_or("an event needs a numeric event_type")?;
    let content = str_of(o.get("content"));
    Ok(EventData {
        event_type,
        id: u64_of(o.get("id")),
        time_stamp: secs_of(o.get("time_stamp")),
        room_id: u64_of(o.get("room_id")).map(RoomId),
        room_name: str_of(o.get("room_name")),
        user_id: i64_of(o.get("user_id")).map(UserId),
        user_name: str_of(o.get("user_name")),
        target_user_id: i64_of(o.get("target_user_id")).map(UserId),
        message_id: u64_of(o.get("message_id")).map(MessageId),
        parent_id: u64_of(o.get("parent_id")).map(MessageId),
        show_parent: bool_of(o.get("show_parent")),
        text: content.as_deref().map(html::to_text),
        content,
        message_edits: u64_of(o.get("message_edits")).unwrap_or(0),
        message_stars: u64_of(o.get("message_stars")).unwrap_or(0),
        message_owner_stars: u64_of(o.get("message_owner_stars")).unwrap_or(0),
        moved: bool_of(o.get("moved")),
        raw: v.clone(),
    })
}

/// What one frame (or one long-poll answer) says about a room.
#[derive(Debug, Default)]
pub(crate) struct Frame {
    /// The newest event counter (`t`).
    pub(crate) counter: Option<u64>,
    /// The events, each decoded on its own.
    pub(crate) events: Vec<Result<EventData, (Value, String)>>,
}

/// Parses a frame keyed `r<room>`. Empty frames and frames for other rooms only give `None`;
/// non-JSON is an error.
pub(crate) fn parse_frame(text: &str, room_id: u64) -> Result<Option<Frame>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(rooms) = v else {
        return Err("a frame must be an object keyed r<room>".into());
    };
    let Some(room) = rooms.get(&format!("r{room_id}")) else {
        return Ok(None);
    };
    let empty = Map::new();
    let room = room.as_object().unwrap_or(&empty);
    let events = match room.get("e") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|e| event_data(e).map_err(|why| (e.clone(), why)))
            .collect(),
        Some(other) => vec![Err((other.clone(), "\"e\" must be an array".into()))],
    };
    Ok(Some(Frame {
        counter: u64_of(room.get("t")),
        events,
    }))
}

/// The answer of `POST /chats/{room}/events`: the counter and the recent events.
pub(crate) fn room_events(v: &Value) -> Frame {
    let events = v
        .get("events")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|e| event_data(e).map_err(|why| (e.clone(), why)))
                .collect()
        })
        .unwrap_or_default();
    Frame {
        counter: u64_of(v.get("time")),
        events,
    }
}

/// One event frame (a WebSocket text frame, an anonymous `/events` poll answer, or a
/// `/chats/{room}/events` answer) as the client decodes it, without session state: no
/// filtering to the joined room, no de-duplication, no acknowledgement of pings. For tools and
/// tests that exercise the decoders (fuzzing, `tests/mutations.rs`); not a stable API.
#[derive(Debug)]
#[non_exhaustive]
pub struct DecodedFrame {
    /// The newest event counter (`t`, or `time` in a `/chats/{room}/events` answer).
    pub counter: Option<u64>,
    /// The events, in order: each an [`Event`], or an [`Error::Decode`] whose `raw` is that
    /// event's JSON (the others are not affected).
    pub events: Vec<Result<Event, Error>>,
}

impl DecodedFrame {
    fn of(frame: Frame) -> Self {
        Self {
            counter: frame.counter,
            events: frame
                .events
                .into_iter()
                .map(|item| match item {
                    Ok(data) => Ok(Event::from_data(data)),
                    Err((raw, why)) => Err(Error::decode("a room event", why, &raw.to_string())),
                })
                .collect(),
        }
    }
}

/// Decodes one WebSocket text frame, or one anonymous `/events` poll answer (the same
/// format), for room `room_id`, the way the client does. `Ok(None)` for an empty frame or one
/// that does not mention the room (the client ignores those).
///
/// # Errors
///
/// [`Error::Decode`] keeping the frame (truncated) when it is not JSON or not an object.
pub fn decode_frame(room_id: u64, text: &str) -> Result<Option<DecodedFrame>, Error> {
    match parse_frame(text, room_id) {
        Ok(frame) => Ok(frame.map(DecodedFrame::of)),
        Err(why) => Err(Error::decode("an event frame", why, text)),
    }
}

/// Decodes the body of a `POST /chats/{room}/events` answer (the counter and the recent
/// events a join and a gap fill read) the way the client does.
///
/// # Errors
///
/// [`Error::Decode`] keeping the body (lossy UTF-8, truncated) when it is not JSON.
pub fn decode_room_events(body: &[u8]) -> Result<DecodedFrame, Error> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        Error::decode(
            "the room's events",
            e.to_string(),
            &String::from_utf8_lossy(body),
        )
    })?;
    Ok(DecodedFrame::of(room_events(&v)))
}

/// The wait a 409 body asks for: `You can perform this action again in N seconds.`
pub(crate) fn rate_limit_seconds(body: &str) -> Option<u32> {
    let rest = body.split("again in ").nth(1)?;
    let n: String = rest.chars().take_while(char::is_ascii_digit).collect();
    n.parse().ok()
}

/// The URL slug of a conversation (bookmark) title: lower case, runs of anything but letters
/// and digits become one dash. (sechat strips the dashes too, so its slugs never match.)
pub(crate) fn slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn frames() {
        let f = parse_frame(r#"{"r12345":{"e":[{"event_type":1,"id":5,"room_id":12345,"content":"a &amp; b","message_id":9},{"no":"type"}],"t":5,"d":1},"r1":{"e":[]}}"#, 12345)
            .unwrap()
            .unwrap();
        assert_eq!(f.counter, Some(5));
        assert_eq!(f.events.len(), 2);
        let e = f.events[0].as_ref().unwrap();
        assert_eq!(
            (e.event_type, e.message_id, e.text.as_deref()),
            (1, Some(MessageId(9)), Some("a & b"))
        );
        assert!(f.events[1].is_err());
        assert!(parse_frame("", 1).unwrap().is_none());
        assert!(
            parse_frame(r#"{"r12345":{}}"#, 12345)
                .unwrap()
                .unwrap()
                .events
                .is_empty()
        );
        assert!(parse_frame(r#"{"r9":{"t":1}}"#, 12345).unwrap().is_none());
        assert!(parse_frame("oops", 1).is_err());
    }

    #[test]
    fn fractional_time_stamps_are_kept() {
        let at = |t: Value| event_data(&json!({"event_type": 1, "time_stamp": t})).unwrap();
        let e = at(json!(1_735_689_600.25));
        assert_eq!(e.time_stamp, Some(1_735_689_600.25));
        let t = e.time().unwrap();
        assert_eq!((t.unix_timestamp(), t.millisecond()), (1_735_689_600, 250));
        assert_eq!(at(json!("1735689600.5")).time_stamp, Some(1_735_689_600.5));
        assert_eq!(at(json!(1_735_689_600)).time_stamp, Some(1_735_689_600.0));
        assert_eq!(at(json!("soon")).time_stamp, None);
        // Whole seconds keep their integer shape; fractional ones are floats.
        assert_eq!(
            serde_json::to_value(at(json!(1_735_689_600))).unwrap()["time_stamp"],
            json!(1_735_689_600)
        );
        assert_eq!(
            serde_json::to_value(at(json!(1_735_689_600.25))).unwrap()["time_stamp"],
            json!(1_735_689_600.25)
        );
    }

    #[test]
    fn room_events_answer() {
        let f = room_events(
            &json!({"ms":4,"time":170000060,"sync":1,"events":[{"event_type":1,"id":1}]}),
        );
        assert_eq!((f.counter, f.events.len()), (Some(170000060), 1));
    }

    /// What we send: every form body (`session::form`) decodes, the way a server decodes
    /// `application/x-www-form-urlencoded`, to the exact fields, over seeded random texts.
    #[test]
    fn form_bodies_round_trip() {
        const PIECES: &[&str] = &[
            "a",
            "Z",
            "9",
            " ",
            "+",
            "%",
            "%20",
            "&",
            "=",
            "?",
            "#",
            "/",
            "~",
            "-",
            "_",
            ".",
            "\n",
            "\r\n",
            "\t",
            "\u{0}",
            "\"",
            "'",
            "<b>",
            "é",
            "가",
            "👋",
            "🏳️‍🌈",
            "\u{feff}",
        ];
        let mut rng = 0x5EED_F0E4_0000_0001_u64;
        let mut pick = |n: usize| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            usize::try_from(rng % n as u64).unwrap_or(0)
        };
        for _ in 0..500 {
            let fields: Vec<(String, String)> = (0..=pick(4))
                .map(|_| {
                    let mut text = || -> String {
                        (0..pick(12)).map(|_| PIECES[pick(PIECES.len())]).collect()
                    };
                    (text(), text())
                })
                .collect();
            let borrowed: Vec<(&str, &str)> = fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let body = crate::session::form(&borrowed);
            assert!(body.bytes().all(|b| b.is_ascii_graphic()), "{body}");
            let back: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
                .into_owned()
                .collect();
            assert_eq!(back, fields, "{body}");
        }
    }

    #[test]
    fn rate_limits_and_slugs() {
        assert_eq!(
            rate_limit_seconds("You can perform this action again in 3 seconds."),
            Some(3)
        );
        assert_eq!(
            rate_limit_seconds("You can perform this action again in 1 second."),
            Some(1)
        );
        assert_eq!(rate_limit_seconds("Slow down"), None);
        assert_eq!(slug("Bot test log, part 2!"), "bot-test-log-part-2");
        assert_eq!(slug("  --Ünïcode  Title--"), "ünïcode-title");
    }
}
