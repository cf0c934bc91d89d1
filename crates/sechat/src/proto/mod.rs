//! The wire format without I/O: event frames, event fields, rate-limit texts, and the little
//! HTML that has to be read.

pub(crate) mod html;

use serde_json::{Map, Value};

use crate::model::EventData;

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
        time_stamp: i64_of(o.get("time_stamp")),
        room_id: u64_of(o.get("room_id")),
        room_name: str_of(o.get("room_name")),
        user_id: i64_of(o.get("user_id")),
        user_name: str_of(o.get("user_name")),
        target_user_id: i64_of(o.get("target_user_id")),
        message_id: u64_of(o.get("message_id")),
        parent_id: u64_of(o.get("parent_id")),
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
            (1, Some(9), Some("a & b"))
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
    fn room_events_answer() {
        let f = room_events(
            &json!({"ms":4,"time":170000060,"sync":1,"events":[{"event_type":1,"id":1}]}),
        );
        assert_eq!((f.counter, f.events.len()), (Some(170000060), 1));
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
