//! [`Delivery`]: which room events reach the stream, without I/O. The websocket task and
//! the anonymous poller both hand it what they read; it keeps the room's own events (and
//! invitations, which name another room), delivers each event id once, skips during a gap
//! fill what the socket already delivered, and says which pings to acknowledge.

use chatwire_net::DedupWindow;
use serde_json::Value;

use crate::Error;
use crate::event::Event;
use crate::ids::{MessageId, RoomId};
use crate::model::EventData;

/// What delivering a batch asks of the caller, in order.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "an outcome is moved once, into the stream; boxing it would add an allocation per event"
)]
pub enum Outcome {
    /// Hand this to the event stream.
    Emit(Result<Event, Error>),
    /// Acknowledge this mention or reply (`POST /messages/ack`), as the web client does.
    Ack(MessageId),
}

/// The delivery state of one room's stream.
#[derive(Debug)]
pub struct Delivery {
    room_id: RoomId,
    /// Ids of delivered events.
    seen: DedupWindow<u64>,
    /// The newest event id delivered.
    last_event: Option<u64>,
}

impl Delivery {
    /// Nothing delivered yet in `room_id`.
    pub fn new(room_id: RoomId) -> Self {
        Self {
            room_id,
            seen: DedupWindow::default(),
            last_event: None,
        }
    }

    /// Delivers `events` (decoded, or the JSON and reason of those that did not decode) in
    /// order. `gap_fill`: they come from the room's recent messages after a reconnect, so
    /// nothing older than what was delivered is new. `ack`: mentions and replies are
    /// acknowledged (a logged-in account that asked for it).
    pub fn deliver(
        &mut self,
        events: Vec<Result<EventData, (Value, String)>>,
        gap_fill: bool,
        ack: bool,
    ) -> Vec<Outcome> {
        let mut out = Vec::with_capacity(events.len());
        for item in events {
            let data = match item {
                Ok(d) => d,
                Err((raw, why)) => {
                    out.push(Outcome::Emit(Err(Error::decode(
                        "a room event",
                        why,
                        &raw.to_string(),
                    ))));
                    continue;
                }
            };
            if data.event_type != 17 && data.room_id.is_some_and(|r| r != self.room_id) {
                continue;
            }
            if let Some(id) = data.id {
                if gap_fill && self.last_event.is_some_and(|last| id <= last) {
                    continue;
                }
                if !self.seen.insert(id) {
                    continue;
                }
                self.last_event = Some(self.last_event.map_or(id, |l| l.max(id)));
            }
            if ack
                && matches!(data.event_type, 8 | 18)
                && let Some(message_id) = data.message_id
            {
                out.push(Outcome::Ack(message_id));
            }
            out.push(Outcome::Emit(Ok(Event::from_data(data))));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event(v: Value) -> Result<EventData, (Value, String)> {
        crate::proto::event_data(&v).map_err(|why| (v, why))
    }

    fn kinds(out: &[Outcome]) -> Vec<String> {
        out.iter()
            .map(|o| match o {
                Outcome::Emit(Ok(e)) => e.kind().to_owned(),
                Outcome::Emit(Err(_)) => "error".into(),
                Outcome::Ack(id) => format!("ack {id}"),
            })
            .collect()
    }

    #[test]
    fn each_event_once_in_its_room_and_pings_acknowledged() {
        let mut d = Delivery::new(RoomId(1));
        let batch = || {
            vec![
                event(json!({"event_type": 1, "id": 10, "room_id": 1, "message_id": 100})),
                event(json!({"event_type": 1, "id": 11, "room_id": 2})),
                event(json!({"event_type": 17, "id": 12, "room_id": 2})),
                event(json!({"event_type": 8, "id": 13, "room_id": 1, "message_id": 100})),
                Err((json!({"event_type": "x"}), "bad".into())),
            ]
        };
        assert_eq!(
            kinds(&d.deliver(batch(), false, true)),
            [
                "message_posted",
                "invitation",
                "ack 100",
                "user_mentioned",
                "error"
            ]
        );
        assert_eq!(kinds(&d.deliver(batch(), false, true)), ["error"]);
    }

    #[test]
    fn a_gap_fill_skips_what_is_older_than_the_last_delivered() {
        let mut d = Delivery::new(RoomId(1));
        let _ = d.deliver(
            vec![event(json!({"event_type": 1, "id": 20, "room_id": 1}))],
            false,
            false,
        );
        let out = d.deliver(
            vec![
                event(json!({"event_type": 1, "id": 15, "room_id": 1})),
                event(json!({"event_type": 1, "id": 25, "room_id": 1})),
                event(json!({"event_type": 8, "id": 26, "room_id": 1, "message_id": 7})),
            ],
            true,
            false,
        );
        assert_eq!(
            kinds(&out),
            ["message_posted", "user_mentioned"],
            "no ack when off"
        );
    }
}
