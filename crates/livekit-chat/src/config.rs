//! [`ChatOptions`] and [`SendMode`]: how a [`ChatManager`](crate::ChatManager) behaves.

use crate::message::IdStyle;

/// Which formats a manager sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SendMode {
    /// Like components-js and Android: a text stream on `lk.chat`, then a legacy JSON copy on
    /// `lk-chat-topic` with the same id and `ignoreLegacy` set when the server forwards
    /// streams; edits also go to `lk-chat-update-topic` for Python peers.
    #[default]
    Compatible,
    /// Legacy JSON only, exactly as the Python `ChatManager` sends (for Python peers and old
    /// servers).
    LegacyOnly,
    /// Text streams only.
    StreamsOnly,
}

chatwire_net::settings! {
    /// How a [`ChatManager`] behaves: `ChatOptions::default()` and the setters you need.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ChatOptions {
        /// Which formats to send (default [`SendMode::Compatible`]).
        mode: SendMode,
        /// Ids of legacy-only messages (streams always use UUIDs: the stream id is the
        /// message id). Default: base62, like the Python SDK.
        legacy_id_style: IdStyle,
        /// The largest legacy JSON payload sent (default 15,000 bytes: old Android refused
        /// more than ~15 KB). Longer messages go as streams only, or fail in
        /// [`SendMode::LegacyOnly`].
        legacy_max_bytes: usize,
        /// The largest text sent as a stream (default 1 MiB).
        stream_max_bytes: usize,
        /// Also send the protobuf `ChatMessage`, read by `RoomEvent::ChatMessage` listeners
        /// (default: no).
        send_proto: bool,
        /// Read the protobuf `ChatMessage` (default: yes).
        receive_proto: bool,
        /// Messages kept in the history (default 10,000).
        history_capacity: usize,
        /// Emit this participant's own sent messages as events too, as components-js's local
        /// echo does (default: no).
        echo_local: bool,
        /// The room's name: the channel of normalised events (default `"room"`).
        room_name: String,
    }
}

impl Default for ChatOptions {
    fn default() -> Self {
        Self {
            mode: SendMode::Compatible,
            legacy_id_style: IdStyle::Base62,
            legacy_max_bytes: 15_000,
            stream_max_bytes: 1 << 20,
            send_proto: false,
            receive_proto: true,
            history_capacity: 10_000,
            echo_local: false,
            room_name: "room".into(),
        }
    }
}
