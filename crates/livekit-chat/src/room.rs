//! [`InMemoryRoom`]: a wire-accurate stand-in for a LiveKit room and its SFU. Every packet is
//! encoded to real `DataPacket` bytes, stamped with its sender like the server does, routed to
//! the other participants (never back to the sender, honouring destinations), and decoded by
//! each receiver the way the SDKs do. Faults can be injected.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use futures_core::Stream;
use livekit_protocol as lk;
use tokio::sync::{Notify, mpsc};

use crate::proto::{self, Assembler};
use crate::transport::{
    OutgoingData, ProtoChatMessage, TextStreamInfo, Transport, TransportError, TransportEvent,
    TransportFuture,
};

chatwire_net::settings! {
    /// How the in-memory room behaves: `RoomOptions::default()` and the setters you need.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct RoomOptions {
        /// The server's version (`ServerInfo.version`; default `"1.9.0"`): data streams need
        /// more than 1.8.2, so `"1.8.0"` is a server too old for them.
        server_version: String,
        /// LiveKit Cloud (`ServerInfo.edition`), which always forwards data streams (default:
        /// no).
        cloud: bool,
        /// The largest encoded packet the room carries (default: the Rust SDK's 64,000 bytes).
        max_packet_size: usize,
    }
}

impl Default for RoomOptions {
    fn default() -> Self {
        Self {
            server_version: "1.9.0".into(),
            cloud: false,
            max_packet_size: 64_000,
        }
    }
}

fn version_gt(v: &str, than: [u64; 3]) -> bool {
    let parts: Vec<u64> = v
        .split('.')
        .map(|p| p.trim().parse().unwrap_or(0))
        .collect();
    let at = |i: usize| parts.get(i).copied().unwrap_or(0);
    [at(0), at(1), at(2)] > than
}

#[derive(Debug, Default)]
struct Faults {
    drop: u32,
    duplicate: u32,
    hold: u32,
    held: Vec<(String, Vec<u8>)>,
}

#[derive(Debug)]
struct Endpoint {
    tx: mpsc::UnboundedSender<Vec<u8>>,
    hidden: bool,
    counters: Arc<Mutex<Counters>>,
}

#[derive(Debug, Default)]
struct Counters {
    delivered: u64,
    consumed: u64,
    idle_at: Option<u64>,
}

#[derive(Debug, Default)]
struct State {
    endpoints: BTreeMap<String, Endpoint>,
    faults: Faults,
    packets: u64,
}

#[derive(Debug)]
struct Shared {
    options: RoomOptions,
    state: Mutex<State>,
    settle: Notify,
}

/// An in-memory LiveKit room.
#[derive(Debug, Clone)]
pub struct InMemoryRoom {
    shared: Arc<Shared>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Default for InMemoryRoom {
    fn default() -> Self {
        Self::new(RoomOptions::default())
    }
}

impl InMemoryRoom {
    /// An empty room.
    pub fn new(options: RoomOptions) -> Self {
        Self {
            shared: Arc::new(Shared {
                options,
                state: Mutex::new(State::default()),
                settle: Notify::new(),
            }),
        }
    }

    /// Joins as `identity`. A second join with the same identity replaces the first, as the
    /// server does.
    pub fn join(&self, identity: &str) -> Participant {
        self.join_with(identity, false)
    }

    /// Joins as a hidden participant: its packets arrive without a sender identity.
    pub fn join_hidden(&self, identity: &str) -> Participant {
        self.join_with(identity, true)
    }

    fn join_with(&self, identity: &str, hidden: bool) -> Participant {
        let (tx, rx) = mpsc::unbounded_channel();
        let counters = Arc::new(Mutex::new(Counters::default()));
        lock(&self.shared.state).endpoints.insert(
            identity.to_owned(),
            Endpoint {
                tx,
                hidden,
                counters: Arc::clone(&counters),
            },
        );
        Participant {
            room: self.clone(),
            identity: identity.to_owned(),
            inbox: Mutex::new(Some((rx, counters))),
        }
    }

    /// Removes a participant (its open streams are abandoned, as when a sender disconnects).
    pub fn leave(&self, identity: &str) {
        lock(&self.shared.state).endpoints.remove(identity);
        self.shared.settle.notify_waiters();
    }

    /// The identities present.
    pub fn participants(&self) -> Vec<String> {
        lock(&self.shared.state).endpoints.keys().cloned().collect()
    }

    /// Drops the next `n` packets (for everyone).
    #[cfg(feature = "testing")]
    pub fn drop_next(&self, n: u32) {
        lock(&self.shared.state).faults.drop += n;
    }

    /// Delivers each of the next `n` packets twice.
    #[cfg(feature = "testing")]
    pub fn duplicate_next(&self, n: u32) {
        lock(&self.shared.state).faults.duplicate += n;
    }

    /// Holds the next `n` packets back and delivers them after the packet that follows (a
    /// reordering).
    #[cfg(feature = "testing")]
    pub fn reorder_next(&self, n: u32) {
        lock(&self.shared.state).faults.hold += n;
    }

    /// Packets the room has routed so far.
    pub fn packets_routed(&self) -> u64 {
        lock(&self.shared.state).packets
    }

    /// Delivers a packet as the server would deliver one from `from` (`None`: a server API
    /// call), to `to` (`None`: everyone but the sender).
    #[cfg(feature = "testing")]
    pub fn inject(&self, from: Option<&str>, packet: &lk::DataPacket, to: Option<&[String]>) {
        let mut p = packet.clone();
        from.unwrap_or_default()
            .clone_into(&mut p.participant_identity);
        self.deliver(from, &proto::encode(&p), to);
    }

    /// Delivers raw bytes (which may not even be a `DataPacket`) to `to` (`None`: everyone).
    #[cfg(feature = "testing")]
    pub fn inject_bytes(&self, bytes: &[u8], to: Option<&[String]>) {
        self.deliver(None, bytes, to);
    }

    fn route(&self, from: &str, mut packet: lk::DataPacket) -> Result<(), TransportError> {
        let size = proto::encode(&packet).len();
        if size > self.shared.options.max_packet_size {
            return Err(TransportError::TooLarge {
                size,
                limit: self.shared.options.max_packet_size,
            });
        }
        let hidden = {
            let st = lock(&self.shared.state);
            match st.endpoints.get(from) {
                Some(e) => e.hidden,
                None => return Err(TransportError::Disconnected),
            }
        };
        // The server stamps the sender (nothing for hidden participants).
        packet.participant_identity = if hidden {
            String::new()
        } else {
            from.to_owned()
        };
        let destinations = packet.destination_identities.clone();
        let to = (!destinations.is_empty()).then_some(destinations);
        self.deliver(Some(from), &proto::encode(&packet), to.as_deref());
        Ok(())
    }

    fn deliver(&self, from: Option<&str>, bytes: &[u8], to: Option<&[String]>) {
        let mut st = lock(&self.shared.state);
        st.packets += 1;
        let copies = if st.faults.drop > 0 {
            st.faults.drop -= 1;
            0
        } else if st.faults.duplicate > 0 {
            st.faults.duplicate -= 1;
            2
        } else {
            1
        };
        let recipients: Vec<String> = st
            .endpoints
            .keys()
            .filter(|id| Some(id.as_str()) != from)
            .filter(|id| to.is_none_or(|to| to.iter().any(|t| t == *id)))
            .cloned()
            .collect();
        let mut batch: Vec<(String, Vec<u8>)> = Vec::new();
        for _ in 0..copies {
            batch.extend(recipients.iter().map(|r| (r.clone(), bytes.to_vec())));
        }
        if st.faults.hold > 0 && copies > 0 {
            st.faults.hold -= 1;
            st.faults.held.extend(batch);
            return;
        }
        let held = std::mem::take(&mut st.faults.held);
        for (who, bytes) in batch.into_iter().chain(held) {
            if let Some(e) = st.endpoints.get(&who) {
                lock(&e.counters).delivered += 1;
                let _ = e.tx.send(bytes);
            }
        }
    }

    /// Resolves once every participant has processed everything delivered to it (its reader
    /// is waiting for more). Completion is signalled by the readers, never slept on.
    pub async fn settled(&self) {
        loop {
            let notified = self.shared.settle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let done = lock(&self.shared.state).endpoints.values().all(|e| {
                let c = lock(&e.counters);
                c.delivered == 0 || (c.consumed == c.delivered && c.idle_at == Some(c.consumed))
            });
            if done {
                return;
            }
            notified.await;
        }
    }
}

/// A participant of an [`InMemoryRoom`]: a [`Transport`].
pub struct Participant {
    room: InMemoryRoom,
    identity: String,
    #[allow(clippy::type_complexity)]
    inbox: Mutex<Option<(mpsc::UnboundedReceiver<Vec<u8>>, Arc<Mutex<Counters>>)>>,
}

impl std::fmt::Debug for Participant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Participant")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl Participant {
    /// The room.
    pub fn room(&self) -> &InMemoryRoom {
        &self.room
    }
}

/// A receiver that decodes packets like an SDK and reports when it is idle.
struct Inbox {
    rx: mpsc::UnboundedReceiver<Vec<u8>>,
    counters: Arc<Mutex<Counters>>,
    assembler: Assembler,
    room: Arc<Shared>,
}

impl Stream for Inbox {
    type Item = TransportEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<TransportEvent>> {
        loop {
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(bytes)) => {
                    lock(&self.counters).consumed += 1;
                    if let Some(event) = self.assembler.push(&bytes) {
                        return Poll::Ready(Some(event));
                    }
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => {
                    {
                        let mut c = lock(&self.counters);
                        c.idle_at = Some(c.consumed);
                    }
                    self.room.settle.notify_waiters();
                    return Poll::Pending;
                }
            }
        }
    }
}

impl Transport for Participant {
    fn local_identity(&self) -> String {
        self.identity.clone()
    }

    fn server_supports_data_streams(&self) -> bool {
        let o = &self.room.shared.options;
        o.cloud || version_gt(&o.server_version, [1, 8, 2])
    }

    fn publish_data(&self, data: OutgoingData) -> TransportFuture<'_, ()> {
        let packet =
            proto::user_packet(data.payload, &data.topic, data.reliable, &data.destinations);
        let r = self.room.route(&self.identity, packet);
        Box::pin(async move { r })
    }

    fn send_text(&self, text: String, info: TextStreamInfo) -> TransportFuture<'_, ()> {
        let r = proto::text_stream_packets(&text, &info)
            .into_iter()
            .try_for_each(|p| self.room.route(&self.identity, p));
        Box::pin(async move { r })
    }

    fn send_chat_message(
        &self,
        message: ProtoChatMessage,
        destinations: Vec<String>,
    ) -> TransportFuture<'_, ()> {
        let r = self
            .room
            .route(&self.identity, proto::chat_packet(&message, &destinations));
        Box::pin(async move { r })
    }

    fn events(&self) -> Pin<Box<dyn Stream<Item = TransportEvent> + Send>> {
        match lock(&self.inbox).take() {
            Some((rx, counters)) => Box::pin(Inbox {
                rx,
                counters,
                assembler: Assembler::default(),
                room: Arc::clone(&self.room.shared),
            }),
            None => Box::pin(futures_util::stream::empty()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_version_gate() {
        assert!(version_gt("1.8.3", [1, 8, 2]));
        assert!(version_gt("1.9", [1, 8, 2]));
        assert!(!version_gt("1.8.2", [1, 8, 2]));
        assert!(!version_gt("garbage", [1, 8, 2]));
    }
}
