//! [`LiveKitTransport`]: the [`Transport`] over a real `livekit::Room` (feature `livekit`).

use std::collections::BTreeMap;
use std::fmt;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};

use futures_core::Stream;
use livekit::rtc_engine::EngineError;
use livekit::{
    ConnectionState, DataPacket, OperationType, Room, RoomError, RoomEvent, SendTextOptions,
    StreamError, StreamReader as _, TakeCell, TextStreamInfo as LkTextStreamInfo, TextStreamReader,
};
use tokio::sync::mpsc;

use crate::proto::{self, STREAM_TOPIC};
use crate::transport::{
    OutgoingData, ProtoChatMessage, StreamOperation, TextStreamInfo, Transport, TransportError,
    TransportEvent, TransportFuture,
};

/// The [`Transport`] over a connected [`livekit::Room`] (LiveKit Rust SDK 0.10).
///
/// Build it from the pair [`Room::connect`] returns:
///
/// ```ignore
/// let (room, events) = livekit::Room::connect(&url, &token, livekit::RoomOptions::default()).await?;
/// let chat = livekit_chat::ChatManager::new(livekit_chat::LiveKitTransport::new(room, events), Default::default());
/// ```
///
/// The transport consumes that event receiver; take another one with
/// [`Room::subscribe`] for the rest of the application. Text streams are taken out of the
/// shared `TakeCell` of `RoomEvent::TextStreamOpened` only on the topics of
/// [`with_text_stream_topics`](Self::with_text_stream_topics) (`lk.chat` by default), so
/// readers of other topics stay for other subscribers.
///
/// # How the primitives map to the SDK
///
/// - [`publish_data`](Transport::publish_data): `LocalParticipant::publish_data` (a user packet
///   with the topic, reliability and destinations given).
/// - [`send_text`](Transport::send_text): `LocalParticipant::send_text` with the stream id,
///   topic, attributes, destinations, operation, version, reply-to and `generated` of the
///   header. `SendTextOptions` has no timestamp: the SDK stamps the header with the current time,
///   so [`TextStreamInfo::timestamp`] is not carried; it also computes `total_length` itself and
///   deflates the stream when every recipient advertises support. The operation
///   [`StreamOperation::Other`] cannot be expressed and fails with [`TransportError::Other`].
/// - [`send_chat_message`](Transport::send_chat_message): the protobuf `ChatMessage` packet is
///   published through `LocalParticipant::publish_raw_data`, with this participant's identity
///   and sid stamped as the SDK does. `LocalParticipant::send_chat_message(text, destinations,
///   sender)` is not used because it makes up its own id and timestamp (and `edit_chat_message`
///   its own edit timestamp), while the chat needs the protobuf copy to carry the id, timestamps
///   and `deleted`/`generated` flags of the stream and legacy copies.
/// - [`events`](Transport::events): `RoomEvent::DataReceived`, `RoomEvent::ChatMessage` and
///   the text streams of `RoomEvent::TextStreamOpened`, each read to its end on its own task (a
///   stream that fails becomes [`TransportEvent::Malformed`]). The stream ends after
///   `RoomEvent::Disconnected` once the streams being read are done. It needs a tokio runtime.
///
/// SDK errors become [`TransportError::Other`] with the SDK's message, except: any failure while
/// the room is disconnected (or `RoomError::AlreadyClosed`) is [`TransportError::Disconnected`],
/// and the engine's "data packet size (N bytes) exceeds the negotiated maximum message size (M
/// bytes)" (an `EngineError::Internal`, the SDK has no dedicated variant) is
/// [`TransportError::TooLarge`].
///
/// # Server support for data streams
///
/// [`server_supports_data_streams`](Transport::server_supports_data_streams) always answers
/// `true`. The SDK does not expose the server's `ServerInfo` (version, edition): `Room::connect`
/// drops the join response after reading what it needs, and the only reader of
/// `server_info.version` (the RPC client's version gate) sits behind crate-private types. Every
/// LiveKit Cloud project and every server newer than 1.8.2 forwards data streams; on an older
/// self-hosted server, components-js receivers would ignore the legacy copies marked
/// `ignoreLegacy`, so use `SendMode::LegacyOnly` there.
///
/// # Building
///
/// The `livekit` crate builds `webrtc-sys`, whose build script downloads a prebuilt libwebrtc, so
/// the feature cannot be linked offline. CI only type-checks it, in a separate target directory
/// (`DOCS_RS=1` makes the build script skip the download):
///
/// ```text
/// DOCS_RS=1 CARGO_TARGET_DIR=target/docs-rs cargo clippy -p livekit-chat --lib --examples --features livekit
/// ```
pub struct LiveKitTransport {
    room: Room,
    events: Mutex<Option<mpsc::UnboundedReceiver<RoomEvent>>>,
    stream_topics: Vec<String>,
}

impl fmt::Debug for LiveKitTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveKitTransport")
            .field("room", &self.room)
            .field("stream_topics", &self.stream_topics)
            .finish_non_exhaustive()
    }
}

impl LiveKitTransport {
    /// The transport over `room`, reading `events` (the pair [`Room::connect`] returns).
    pub fn new(room: Room, events: mpsc::UnboundedReceiver<RoomEvent>) -> Self {
        Self {
            room,
            events: Mutex::new(Some(events)),
            stream_topics: vec![STREAM_TOPIC.to_owned()],
        }
    }

    /// Reads the incoming text streams of these topics instead of only `lk.chat` (the reader of
    /// a stream can be taken once, by one subscriber of the room).
    #[must_use]
    pub fn with_text_stream_topics<I, S>(mut self, topics: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.stream_topics = topics.into_iter().map(Into::into).collect();
        self
    }

    /// The room.
    pub fn room(&self) -> &Room {
        &self.room
    }

    fn room_error(&self, e: &RoomError) -> TransportError {
        if matches!(e, RoomError::AlreadyClosed)
            || self.room.connection_state() == ConnectionState::Disconnected
        {
            return TransportError::Disconnected;
        }
        if let RoomError::Engine(EngineError::Internal(msg)) = e
            && let Some((size, limit)) = parse_too_large(msg)
        {
            return TransportError::TooLarge { size, limit };
        }
        TransportError::Other(e.to_string())
    }

    fn stream_error(&self, e: &StreamError) -> TransportError {
        if matches!(e, StreamError::AlreadyClosed)
            || self.room.connection_state() == ConnectionState::Disconnected
        {
            return TransportError::Disconnected;
        }
        TransportError::Other(e.to_string())
    }
}

/// Reads the engine's "data packet size (N bytes) exceeds the negotiated maximum message size
/// (M bytes)".
fn parse_too_large(msg: &str) -> Option<(usize, usize)> {
    let rest = msg.strip_prefix("data packet size (")?;
    let (size, rest) = rest.split_once(" bytes)")?;
    let rest = rest.strip_prefix(" exceeds the negotiated maximum message size (")?;
    let (limit, _) = rest.split_once(" bytes)")?;
    Some((size.parse().ok()?, limit.parse().ok()?))
}

fn operation_type(op: StreamOperation) -> Option<OperationType> {
    match op {
        StreamOperation::Create => Some(OperationType::Create),
        StreamOperation::Update => Some(OperationType::Update),
        StreamOperation::Delete => Some(OperationType::Delete),
        StreamOperation::Reaction => Some(OperationType::Reaction),
        StreamOperation::Other(_) => None,
    }
}

fn stream_operation(op: OperationType) -> StreamOperation {
    match op {
        OperationType::Create => StreamOperation::Create,
        OperationType::Update => StreamOperation::Update,
        OperationType::Delete => StreamOperation::Delete,
        OperationType::Reaction => StreamOperation::Reaction,
    }
}

fn send_text_options(info: TextStreamInfo, operation: OperationType) -> SendTextOptions {
    let mut options = SendTextOptions::new_with_topic(info.topic)
        .with_id(info.id)
        .with_attributes(info.attributes.into_iter().collect())
        .with_destination_identities(info.destinations.into_iter().map(Into::into).collect())
        .with_operation_type(operation)
        .with_version(info.version)
        .with_generated(info.generated);
    if let Some(reply_to) = info.reply_to {
        options = options.with_reply_to_stream_id(reply_to);
    }
    options
}

/// Our header of a received stream. Read after the stream ended, the attributes include the
/// trailer's.
fn stream_info(info: &LkTextStreamInfo) -> TextStreamInfo {
    let mut out = TextStreamInfo::new(
        info.id.clone(),
        &info.topic,
        info.timestamp.timestamp_millis(),
    );
    out.attributes = info.attributes().into_iter().collect::<BTreeMap<_, _>>();
    out.operation = stream_operation(info.operation_type);
    out.version = info.version;
    out.reply_to = info.reply_to_stream_id.clone().filter(|s| !s.is_empty());
    out.total_length = info.total_length;
    out.generated = info.generated;
    out
}

fn identity(id: impl Into<String>) -> Option<String> {
    Some(id.into()).filter(|s| !s.is_empty())
}

/// Reads a text stream to its end and sends the whole text (or why it failed).
async fn read_text_stream(
    reader: TextStreamReader,
    from: Option<String>,
    tx: mpsc::UnboundedSender<TransportEvent>,
) {
    let info = reader.info().clone();
    let event = match reader.read_all().await {
        Ok(text) => TransportEvent::TextStream {
            info: stream_info(&info),
            text,
            from,
        },
        Err(e) => TransportEvent::Malformed {
            why: format!("text stream {} on {} failed: {e}", info.id, info.topic),
            raw: Vec::new(),
            from,
        },
    };
    let _ = tx.send(event);
}

/// Converts the room's events until the room disconnects or the consumer goes away.
async fn forward(
    mut events: mpsc::UnboundedReceiver<RoomEvent>,
    tx: mpsc::UnboundedSender<TransportEvent>,
    topics: Vec<String>,
) {
    loop {
        let event = tokio::select! {
            () = tx.closed() => return,
            event = events.recv() => match event {
                Some(event) => event,
                None => return,
            },
        };
        let out = match event {
            RoomEvent::DataReceived {
                payload,
                topic,
                participant,
                ..
            } => TransportEvent::Data {
                payload: std::sync::Arc::unwrap_or_clone(payload),
                topic,
                from: participant.and_then(|p| identity(p.identity())),
            },
            RoomEvent::ChatMessage {
                message,
                participant,
            } => TransportEvent::Chat {
                message: ProtoChatMessage {
                    id: message.id,
                    timestamp: message.timestamp,
                    edit_timestamp: message.edit_timestamp,
                    message: message.message,
                    deleted: message.deleted.unwrap_or(false),
                    generated: message.generated.unwrap_or(false),
                },
                from: participant.and_then(|p| identity(p.identity())),
            },
            RoomEvent::TextStreamOpened {
                reader,
                topic,
                participant_identity,
            } => {
                if topics.contains(&topic) {
                    take_stream(&reader, &topic, identity(participant_identity), &tx);
                }
                continue;
            }
            RoomEvent::Disconnected { .. } => return,
            _ => continue,
        };
        if tx.send(out).is_err() {
            return;
        }
    }
}

fn take_stream(
    reader: &TakeCell<TextStreamReader>,
    topic: &str,
    from: Option<String>,
    tx: &mpsc::UnboundedSender<TransportEvent>,
) {
    if let Some(reader) = reader.take() {
        tokio::spawn(read_text_stream(reader, from, tx.clone()));
    } else {
        tracing::warn!(
            topic,
            from = from.as_deref(),
            "a text stream's reader was already taken by another subscriber"
        );
    }
}

impl Transport for LiveKitTransport {
    fn local_identity(&self) -> String {
        self.room.local_participant().identity().into()
    }

    fn server_supports_data_streams(&self) -> bool {
        // The SDK exposes no `ServerInfo`; see the type's documentation.
        true
    }

    fn publish_data(&self, data: OutgoingData) -> TransportFuture<'_, ()> {
        Box::pin(async move {
            let packet = DataPacket {
                payload: data.payload,
                topic: Some(data.topic),
                reliable: data.reliable,
                destination_identities: data.destinations.into_iter().map(Into::into).collect(),
            };
            self.room
                .local_participant()
                .publish_data(packet)
                .await
                .map_err(|e| self.room_error(&e))
        })
    }

    fn send_text(&self, text: String, info: TextStreamInfo) -> TransportFuture<'_, ()> {
        Box::pin(async move {
            let Some(operation) = operation_type(info.operation) else {
                return Err(TransportError::Other(format!(
                    "the LiveKit SDK cannot send text stream operation {}",
                    info.operation.as_i32()
                )));
            };
            let options = send_text_options(info, operation);
            self.room
                .local_participant()
                .send_text(&text, options)
                .await
                .map(drop)
                .map_err(|e| self.stream_error(&e))
        })
    }

    fn send_chat_message(
        &self,
        message: ProtoChatMessage,
        destinations: Vec<String>,
    ) -> TransportFuture<'_, ()> {
        Box::pin(async move {
            let participant = self.room.local_participant();
            let mut packet = proto::chat_packet(&message, &destinations);
            packet.participant_identity = participant.identity().into();
            packet.participant_sid = participant.sid().to_string();
            participant
                .publish_raw_data(packet, true)
                .await
                .map_err(|e| self.room_error(&e))
        })
    }

    fn events(&self) -> Pin<Box<dyn Stream<Item = TransportEvent> + Send>> {
        let Some(events) = self
            .events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            return Box::pin(futures_util::stream::empty());
        };
        let (tx, mut rx) = mpsc::unbounded_channel();
        tokio::spawn(forward(events, tx, self.stream_topics.clone()));
        Box::pin(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)))
    }
}
