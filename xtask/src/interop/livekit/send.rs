//! What we send: our scenarios, acted out by our `ChatManager` as `rust` on an in-memory room,
//! with every packet recorded by a [`Transport`] wrapped around the participant.

use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::Stream;
use livekit_chat::livekit_protocol as lk;
use livekit_chat::{
    ChatManager, ChatMessage, ChatOptions, InMemoryRoom, OutgoingData, Participant,
    ProtoChatMessage, RoomOptions, SendMode, TextStreamInfo, Transport, TransportEvent,
    TransportFuture, proto,
};

use super::RUST;

/// One step of a scenario, done by whichever client sends.
#[derive(Debug, Clone)]
pub(super) enum Action {
    Send(String),
    /// Edits the message of the last step.
    Edit(String),
    /// Deletes the message of the last step.
    Delete,
}

/// A session of our `ChatManager` as `rust`.
pub(super) struct OurScenario {
    pub(super) name: &'static str,
    pub(super) mode: SendMode,
    /// The server's version: data streams are forwarded only by servers newer than 1.8.2.
    pub(super) server: &'static str,
    pub(super) send_proto: bool,
    /// Recipients (empty: everyone).
    pub(super) to: &'static [&'static str],
    pub(super) actions: Vec<Action>,
    /// Whether the Python `ChatManager` (legacy JSON only) is a meaningful receiver.
    pub(super) python: bool,
}

pub(super) fn text(s: &str) -> Action {
    Action::Send(s.to_owned())
}

pub(super) fn edit(s: &str) -> Action {
    Action::Edit(s.to_owned())
}

/// Quotes, escapes, control characters, astral and right-to-left characters.
pub(super) const UNICODE: &str = "héllo wörld — 你好, 안녕 👋🏽 \"quoted\" \\ back\\slash\nnew line\ttab \u{202e}rtl\u{202c} \u{1}\u{0}end";

/// `bytes` bytes of mixed ASCII, Hangul and emoji (cut on a character boundary).
pub(super) fn long_text(bytes: usize) -> String {
    let mut s = String::new();
    while s.len() < bytes {
        s.push_str("Lorem ipsum dolor sit amet, 가나다라 👋 ");
    }
    let mut end = bytes;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s
}

pub(super) fn our_scenarios() -> Vec<OurScenario> {
    use SendMode::{Compatible, LegacyOnly, StreamsOnly};

    let s = |name, mode, server, actions, python| OurScenario {
        name,
        mode,
        server,
        send_proto: false,
        to: &[],
        actions,
        python,
    };
    vec![
        s(
            "legacy-only/send",
            LegacyOnly,
            "1.9.0",
            vec![text("hello from rust")],
            true,
        ),
        s(
            "legacy-only/edit",
            LegacyOnly,
            "1.9.0",
            vec![text("helo"), edit("hello")],
            true,
        ),
        s(
            "legacy-only/delete",
            LegacyOnly,
            "1.9.0",
            vec![text("oops"), Action::Delete],
            true,
        ),
        s(
            "legacy-only/unicode",
            LegacyOnly,
            "1.9.0",
            vec![text(UNICODE)],
            true,
        ),
        s(
            "legacy-only/long",
            LegacyOnly,
            "1.9.0",
            vec![Action::Send(long_text(14_000))],
            true,
        ),
        s(
            "compatible/send",
            Compatible,
            "1.9.0",
            vec![text("hello from rust")],
            true,
        ),
        s(
            "compatible/old-server-send",
            Compatible,
            "1.8.0",
            vec![text("hello from rust")],
            true,
        ),
        s(
            "compatible/edit",
            Compatible,
            "1.9.0",
            vec![text("helo"), edit("hello")],
            true,
        ),
        s(
            "compatible/old-server-edit",
            Compatible,
            "1.8.0",
            vec![text("helo"), edit("hello")],
            true,
        ),
        s(
            "compatible/delete",
            Compatible,
            "1.9.0",
            vec![text("oops"), Action::Delete],
            true,
        ),
        s(
            "compatible/old-server-delete",
            Compatible,
            "1.8.0",
            vec![text("oops"), Action::Delete],
            true,
        ),
        s(
            "compatible/unicode",
            Compatible,
            "1.9.0",
            vec![text(UNICODE)],
            true,
        ),
        s(
            "compatible/two-messages",
            Compatible,
            "1.9.0",
            vec![text("one"), text("two")],
            true,
        ),
        s(
            "compatible/long",
            Compatible,
            "1.9.0",
            vec![Action::Send(long_text(40_000))],
            true,
        ),
        s(
            "streams-only/send",
            StreamsOnly,
            "1.9.0",
            vec![text("streams only")],
            false,
        ),
        OurScenario {
            to: &["js", "py"],
            ..s(
                "compatible/direct",
                Compatible,
                "1.9.0",
                vec![text("just for you two")],
                true,
            )
        },
        OurScenario {
            send_proto: true,
            ..s(
                "protobuf/edit",
                Compatible,
                "1.9.0",
                vec![text("helo"), edit("hello")],
                false,
            )
        },
        OurScenario {
            send_proto: true,
            ..s(
                "protobuf/delete",
                Compatible,
                "1.9.0",
                vec![text("oops"), Action::Delete],
                false,
            )
        },
    ]
}

/// A packet our manager sent, as the server forwards it (sender identity stamped).
pub(super) struct Sent {
    pub(super) packet: lk::DataPacket,
    pub(super) bytes: Vec<u8>,
    pub(super) reliable: bool,
}

impl Sent {
    pub(super) fn is_stream(&self) -> bool {
        use lk::data_packet::Value as V;
        matches!(
            self.packet.value,
            Some(V::StreamHeader(_) | V::StreamChunk(_) | V::StreamTrailer(_))
        )
    }

    pub(super) fn user(&self) -> Option<&lk::UserPacket> {
        match &self.packet.value {
            Some(lk::data_packet::Value::User(u)) => Some(u),
            _ => None,
        }
    }

    pub(super) fn is_proto_chat(&self) -> bool {
        matches!(
            self.packet.value,
            Some(lk::data_packet::Value::ChatMessage(_))
        )
    }

    /// Whether a server of `version` forwards it to `to`.
    pub(super) fn delivered(&self, version: &str, to: &str) -> bool {
        (!self.is_stream() || streams_forwarded(version))
            && (self.packet.destination_identities.is_empty()
                || self.packet.destination_identities.iter().any(|d| d == to))
    }
}

/// components-js's gate: LiveKit servers newer than 1.8.2 forward data streams.
pub(super) fn streams_forwarded(version: &str) -> bool {
    let parts: Vec<u64> = version.split('.').map(|p| p.parse().unwrap_or(0)).collect();
    let at = |i: usize| parts.get(i).copied().unwrap_or(0);
    [at(0), at(1), at(2)] > [1, 8, 2]
}

/// A session: the packets, and for each action the message our manager returned and the
/// packets it sent for it.
pub(super) struct OurSession {
    pub(super) scenario: OurScenario,
    pub(super) sent: Vec<Sent>,
    pub(super) actions: Vec<(ChatMessage, Range<usize>)>,
}

/// Records every packet an in-memory participant sends, encoded as the room encodes it.
struct Recorder {
    inner: Participant,
    sent: Arc<Mutex<Vec<(lk::DataPacket, bool)>>>,
}

impl Recorder {
    fn record(&self, packet: lk::DataPacket, reliable: bool) {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((packet, reliable));
    }
}

impl Transport for Recorder {
    fn local_identity(&self) -> String {
        self.inner.local_identity()
    }

    fn server_supports_data_streams(&self) -> bool {
        self.inner.server_supports_data_streams()
    }

    fn publish_data(&self, data: OutgoingData) -> TransportFuture<'_, ()> {
        self.record(
            proto::user_packet(
                data.payload.clone(),
                &data.topic,
                data.reliable,
                &data.destinations,
            ),
            data.reliable,
        );
        self.inner.publish_data(data)
    }

    fn send_text(&self, text: String, info: TextStreamInfo) -> TransportFuture<'_, ()> {
        for p in proto::text_stream_packets(&text, &info) {
            self.record(p, true);
        }
        self.inner.send_text(text, info)
    }

    fn send_chat_message(
        &self,
        message: ProtoChatMessage,
        destinations: Vec<String>,
    ) -> TransportFuture<'_, ()> {
        self.record(proto::chat_packet(&message, &destinations), true);
        self.inner.send_chat_message(message, destinations)
    }

    fn events(&self) -> std::pin::Pin<Box<dyn Stream<Item = TransportEvent> + Send>> {
        self.inner.events()
    }
}

pub(super) async fn our_session(scenario: OurScenario) -> Result<OurSession, String> {
    let room = InMemoryRoom::new(RoomOptions::default().server_version(scenario.server.into()));
    let sent = Arc::new(Mutex::new(Vec::new()));
    let recorder = Recorder {
        inner: room.join(RUST),
        sent: Arc::clone(&sent),
    };
    let options = ChatOptions::default()
        .mode(scenario.mode)
        .send_proto(scenario.send_proto);
    let chat = ChatManager::new(recorder, options);
    let count = || sent.lock().unwrap_or_else(PoisonError::into_inner).len();
    let mut actions: Vec<(ChatMessage, Range<usize>)> = Vec::new();
    for action in &scenario.actions {
        // Distinct milliseconds: an edit's time must differ from the original's.
        tokio::time::sleep(Duration::from_millis(3)).await;
        let before = count();
        let last = actions.last().map(|(m, _)| m.clone());
        let result = match (action, last) {
            (Action::Send(t), _) if scenario.to.is_empty() => chat.send_message(t).await,
            (Action::Send(t), _) => {
                let to = scenario
                    .to
                    .iter()
                    .map(|s| livekit_chat::Identity::from(*s))
                    .collect();
                chat.send_to(t, to).await
            }
            (Action::Edit(t), Some(mut m)) => {
                m.message = Some(t.clone());
                chat.update_message(&m).await
            }
            (Action::Delete, Some(m)) => chat.delete_message(&m).await,
            (_, None) => return Err(format!("{}: nothing to edit", scenario.name)),
        };
        let message = result.map_err(|e| format!("{}: our manager failed: {e}", scenario.name))?;
        actions.push((message, before..count()));
    }
    let sent = std::mem::take(&mut *sent.lock().unwrap_or_else(PoisonError::into_inner))
        .into_iter()
        .map(|(mut packet, reliable)| {
            RUST.clone_into(&mut packet.participant_identity);
            Sent {
                bytes: proto::encode(&packet),
                packet,
                reliable,
            }
        })
        .collect();
    Ok(OurSession {
        scenario,
        sent,
        actions,
    })
}
