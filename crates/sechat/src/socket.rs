//! The websocket task of a logged-in room: ws-auth, the socket resumed from the last event
//! counter, reconnects with backoff, gap fill from the room's recent messages, deduplication,
//! acknowledged pings, and the closing handshake.

use chatwire_net::Method;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chatwire_core::Retry;
use chatwire_net::Backoff;
use chatwire_net::ws::{self, Incoming, Ws};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::Error;
use crate::error::truncate;
use crate::event::Event;
use crate::model::{Connected, Disconnected, EventData, Reconnecting};
use crate::proto;
use crate::proto::delivery::{Delivery, Outcome};
use crate::room::{Out, RoomInner, room_events};

/// How a socket session ended.
enum End {
    Closed(oneshot::Sender<()>),
    Lost(String),
    Fatal(Error),
}

pub(crate) struct Socket {
    pub(crate) room: Arc<RoomInner>,
    pub(crate) out: Out,
    pub(crate) close: mpsc::UnboundedReceiver<oneshot::Sender<()>>,
    /// Which events reach the stream (`proto::delivery`).
    pub(crate) delivery: Delivery,
    pub(crate) reconnects: u32,
    pub(crate) backoff: Backoff,
    /// How long the server asked to wait before the next attempt.
    pub(crate) retry_after: Option<Duration>,
}

impl Socket {
    fn emit(&self, item: Result<Event, Error>) {
        self.out.emit(item);
    }

    /// Delivers room events through the sans-I/O rules (`proto::delivery`), then
    /// acknowledges the pings they ask for.
    fn deliver(&mut self, events: Vec<Result<EventData, (Value, String)>>, gap_fill: bool) {
        let session = &self.room.session;
        let ack = session.options.ack_pings && session.user_id.is_some();
        for outcome in self.delivery.deliver(events, gap_fill, ack) {
            match outcome {
                Outcome::Emit(item) => self.emit(item),
                Outcome::Ack(message_id) => {
                    let session = Arc::clone(&self.room.session);
                    tokio::spawn(async move {
                        let id = message_id.to_string();
                        if let Ok(fkey) = session.fkey().await {
                            let _ = session
                                .post_form(
                                    &session.chat_url("/messages/ack"),
                                    &[("id", &id), ("fkey", &fkey)],
                                )
                                .await;
                        }
                    });
                }
            }
        }
    }

    fn note_counter(&self, counter: Option<u64>) {
        if let Some(t) = counter {
            self.room.counter.fetch_max(t, Ordering::Relaxed);
        }
    }

    pub(crate) async fn run(mut self, first: oneshot::Sender<Result<(), Error>>) {
        let room_id = self.room.room_id;
        let mut first = Some(first);
        let reason = loop {
            let end = match self.connect().await {
                Ok(ws) => {
                    if let Some(first) = first.take() {
                        let _ = first.send(Ok(()));
                    }
                    self.backoff.reset();
                    self.session(ws).await
                }
                // A first connection that waiting cannot fix goes back to `connect()`; a passing
                // failure (a 429, a 503, a lost socket) is retried like any later loss, so the
                // stream starts and nothing posted meanwhile is missed.
                Err(e) if first.is_some() && e.retry() == Retry::Never => {
                    if let Some(first) = first.take() {
                        let _ = first.send(Err(e));
                    }
                    return;
                }
                // The room was joined, so a failure here is passing unless it says otherwise
                // (an error page, a 409, a failed gap fill): keep trying, with backoff.
                Err(e) if e.retry() == Retry::Never => End::Fatal(e),
                Err(e) => {
                    if let Some(first) = first.take() {
                        let _ = first.send(Ok(()));
                    }
                    self.retry_after = e.retry().after();
                    End::Lost(e.to_string())
                }
            };
            match end {
                End::Closed(done) => {
                    self.emit(Ok(Event::Disconnected(Disconnected {
                        room_id,
                        reason: "closed by the client".into(),
                    })));
                    let _ = done.send(());
                    return;
                }
                End::Fatal(e) => {
                    let reason = e.to_string();
                    self.emit(Err(e));
                    break reason;
                }
                End::Lost(reason) => {
                    let Some((attempt, delay)) = self.backoff.next_delay() else {
                        let tried = self.backoff.attempts() - 1;
                        break format!("gave up after {tried} attempts: {reason}");
                    };
                    let delay = delay.max(self.retry_after.take().unwrap_or_default());
                    self.emit(Ok(Event::Reconnecting(Reconnecting {
                        room_id,
                        attempt,
                        delay_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        reason,
                    })));
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        done = self.close.recv() => {
                            self.emit(Ok(Event::Disconnected(Disconnected { room_id, reason: "closed by the client".into() })));
                            if let Some(done) = done {
                                let _ = done.send(());
                            }
                            return;
                        }
                    }
                }
            }
        };
        self.emit(Ok(Event::Disconnected(Disconnected { room_id, reason })));
    }

    /// ws-auth, the socket (resuming from the last counter), and after a reconnect a gap fill
    /// from the room's recent messages.
    async fn connect(&mut self) -> Result<Ws, Error> {
        let session = Arc::clone(&self.room.session);
        let room_id = self.room.room_id;
        let auth_url = session.chat_url("/ws-auth");
        // An action: a 409 is waited out and retried like any other.
        let resp = session
            .action(&auth_url, &[("roomid", &room_id.to_string())])
            .await?;
        if resp.status != 200 {
            return Err(Error::Http {
                method: Method::Post,
                url: auth_url,
                status: resp.status,
                body: truncate(&resp.text(), 512),
            });
        }
        let v: Value = serde_json::from_slice(&resp.body)
            .map_err(|e| Error::decode("the ws-auth answer", e.to_string(), &resp.text()))?;
        let url = v
            .get("url")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::decode("the ws-auth answer", "no url", &resp.text()))?;
        let since = self.room.counter.load(Ordering::Relaxed);
        let sep = if url.contains('?') { '&' } else { '?' };
        let ws_url = session.server.physical(&format!("{url}{sep}l={since}"));
        // Stack Exchange closes sockets that come without an Origin.
        let ws = ws::connect(
            &ws_url,
            &[
                ("user-agent", &session.options.user_agent),
                ("origin", &session.server.chat),
            ],
            session.options.timing.connect_timeout,
        )
        .await?;
        self.emit(Ok(Event::Connected(Connected {
            room_id,
            since,
            reconnect: self.reconnects,
        })));
        if self.reconnects > 0 {
            // Messages posted while the socket was down (the socket's replay from `l` covers
            // the rest); delivered once each, oldest first, before anything newer.
            // If it fails, this socket is given up: the next one fills the gap again.
            let frame = room_events(&session, room_id).await.inspect_err(|e| {
                tracing::warn!(error = %e, "gap fill failed; connecting again");
            })?;
            self.deliver(frame.events, true);
        }
        self.reconnects += 1;
        Ok(ws)
    }

    async fn session(&mut self, mut ws: Ws) -> End {
        let timing = self.room.session.options.timing.clone();
        let refresh_at = timing.refresh_every.map(|d| Instant::now() + d);
        loop {
            let silence = tokio::time::sleep(timing.silence_timeout);
            let refresh = async {
                match refresh_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                msg = ws::recv(&mut ws) => match msg {
                    Incoming::Text(t) => self.on_text(&t),
                    Incoming::Closed { code, .. } => {
                        let code = code.map_or_else(|| "none".to_owned(), |c| c.to_string());
                        return End::Lost(format!("the server closed the socket (code {code})"));
                    }
                    Incoming::Failed(e) => {
                        tracing::debug!(error = %e, "event socket failed");
                        return End::Lost("connection lost".into());
                    }
                    _ => return End::Lost("connection lost".into()),
                },
                () = silence => return End::Lost(format!("silent for {:?}", timing.silence_timeout)),
                () = refresh => return End::Lost("periodic refresh".into()),
                done = self.close.recv() => {
                    let Some(done) = done else { return End::Lost("closed".into()) };
                    self.close_handshake(&mut ws).await;
                    return End::Closed(done);
                }
            }
        }
    }

    fn on_text(&mut self, text: &str) {
        match proto::parse_frame(text, self.room.room_id.get()) {
            Ok(Some(frame)) => {
                self.note_counter(frame.counter);
                self.deliver(frame.events, false);
            }
            Ok(None) => {}
            Err(why) => self.emit(Err(Error::decode("an event frame", why, text))),
        }
    }

    /// Closes and keeps delivering until the server's close (nothing it sent first is lost).
    async fn close_handshake(&mut self, ws: &mut Ws) {
        ws::start_close(ws).await;
        let deadline = Instant::now() + self.room.session.options.timing.close_timeout;
        while let Ok(Incoming::Text(t)) = tokio::time::timeout_at(deadline, ws::recv(ws)).await {
            self.on_text(&t);
        }
    }
}
