//! [`ChatClient`] (an account, or anonymous), [`Room`] (commands and the event stream), the
//! socket task (reconnects, gap fill, deduplication) and anonymous polling.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chatwire_core::Retry;
use chatwire_net::http::Response;
use chatwire_net::ws::{self, Incoming, Ws};
use chatwire_net::{Attached, Backoff, DedupWindow, Emitter, Waiters, lock};
use hyper::body::Bytes;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::Error;
use crate::config::{ClientBuilder, Server};
use crate::credentials::Credentials;
use crate::error::truncate;
use crate::event::{Context, Dispatcher, Event, Handler};
use crate::model::{Connected, Disconnected, EventData, Reconnecting, SendResult};
use crate::proto::{self, Frame, html};
use crate::session::Session;

/// A chat account (or an anonymous reader) on one server: a cheap, clonable handle.
#[derive(Debug, Clone)]
pub struct ChatClient {
    session: Arc<Session>,
}

impl ChatClient {
    /// A builder for a client on `server`: anonymous unless given
    /// [`credentials`](ClientBuilder::credentials).
    pub fn builder(server: &Server) -> ClientBuilder {
        ClientBuilder::new(server)
    }

    /// A client for a logged-in account, with the default settings.
    pub fn new(credentials: &Credentials) -> Self {
        Self::builder(&credentials.server)
            .credentials(credentials)
            .build()
    }

    /// A client without an account, with the default settings: it can read rooms (by
    /// polling), not act in them.
    pub fn anonymous(server: &Server) -> Self {
        Self::builder(server).build()
    }

    pub(crate) fn from_builder(b: ClientBuilder) -> Self {
        Self {
            session: Arc::new(Session::new(b.server, b.options, b.jar, b.user_id)),
        }
    }

    pub(crate) fn session(&self) -> &Session {
        &self.session
    }

    /// The logged-in chat user id (`None` when anonymous).
    pub fn user_id(&self) -> Option<u64> {
        self.session.user_id
    }

    /// The server.
    pub fn server(&self) -> &Server {
        &self.session.server
    }

    /// A handle on room `room_id` (no I/O): commands, and its events once
    /// [`connect`](Room::connect)ed.
    pub fn room(&self, room_id: u64) -> Room {
        Room {
            inner: Arc::new(RoomInner {
                session: Arc::clone(&self.session),
                room_id,
                counter: AtomicU64::new(0),
                task: Mutex::new(None),
                waiters: Waiters::new(),
            }),
        }
    }

    /// Uploads an image (multipart, like the web client) and returns its URL.
    ///
    /// # Errors
    /// [`Error::OperationFailed`] with the server's message; [`Error::InvalidInput`] for an
    /// empty file.
    pub async fn upload_image(&self, bytes: &[u8], filename: &str) -> Result<String, Error> {
        if bytes.is_empty() {
            return Err(Error::InvalidInput("the image is empty".into()));
        }
        let boundary = format!("sechat-{:016x}", bytes.len() as u64 ^ 0x5eca_7000_0000_0000);
        let name = filename.replace(['"', '\r', '\n'], "_");
        let content_type = match name
            .rsplit('.')
            .next()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("png") => "image/png",
            Some("jpg" | "jpeg") => "image/jpeg",
            Some("gif") => "image/gif",
            Some("webp") => "image/webp",
            _ => "application/octet-stream",
        };
        let mut body = Vec::with_capacity(bytes.len() + 512);
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"filename\"; filename=\"{name}\"\r\nContent-Type: {content_type}\r\n\r\n").as_bytes());
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"shadow-filename\"\r\n\r\n{name}\r\n--{boundary}--\r\n").as_bytes());
        let url = self.session.chat_url("/upload/image");
        let resp = self
            .session
            .post_multipart(&url, Bytes::from(body), &boundary)
            .await?;
        if resp.status != 200 {
            return Err(Error::OperationFailed {
                action: "upload_image",
                status: resp.status,
                text: truncate(&resp.text(), 512),
            });
        }
        html::upload_result(&resp.text()).map_err(|text| Error::OperationFailed {
            action: "upload_image",
            status: 200,
            text,
        })
    }

    /// This account's chat profile.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when anonymous.
    pub fn profile(&self) -> Result<Profile, Error> {
        let user_id = self
            .user_id()
            .ok_or_else(|| Error::InvalidInput("an anonymous client has no profile".into()))?;
        Ok(Profile {
            session: Arc::clone(&self.session),
            user_id,
        })
    }
}

/// The "about me" of the logged-in account.
#[derive(Debug, Clone)]
pub struct Profile {
    session: Arc<Session>,
    user_id: u64,
}

impl Profile {
    /// The longest bio chat keeps; longer text is refused here rather than cut by the server.
    pub const MAX_BIO_CHARS: usize = 200;

    /// The chat user id.
    pub fn user_id(&self) -> u64 {
        self.user_id
    }

    /// Replaces the bio.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for more than [`MAX_BIO_CHARS`](Self::MAX_BIO_CHARS)
    /// characters (the server would silently cut it); HTTP errors.
    pub async fn edit_bio(&self, text: &str) -> Result<(), Error> {
        let n = text.chars().count();
        if n > Self::MAX_BIO_CHARS {
            return Err(Error::InvalidInput(format!(
                "the bio has {n} characters; Stack Exchange chat keeps at most {}",
                Self::MAX_BIO_CHARS
            )));
        }
        let url = self
            .session
            .chat_url(&format!("/users/usermessage/{}", self.user_id));
        let resp = self.session.action(&url, &[("message", text)]).await?;
        if resp.status == 200 {
            Ok(())
        } else {
            Err(Error::OperationFailed {
                action: "edit_bio",
                status: resp.status,
                text: truncate(&resp.text(), 512),
            })
        }
    }
}

async fn room_counter(session: &Session, room_id: u64) -> Result<u64, Error> {
    let frame = room_events(session, room_id).await?;
    Ok(frame.counter.unwrap_or(0))
}

/// `POST /chats/{room}/events`: the counter and the last messages.
async fn room_events(session: &Session, room_id: u64) -> Result<Frame, Error> {
    let fkey = session.fkey().await?;
    let url = session.chat_url(&format!("/chats/{room_id}/events"));
    let resp = session
        .post_form(
            &url,
            &[
                ("since", "0"),
                ("mode", "Messages"),
                ("msgCount", "100"),
                ("fkey", &fkey),
            ],
        )
        .await?;
    if resp.status >= 500 {
        return Err(Error::Http {
            method: "POST",
            url,
            status: resp.status,
            body: truncate(&resp.text(), 512),
        });
    }
    if resp.status != 200 {
        return Err(Error::OperationFailed {
            action: "reading the room's events",
            status: resp.status,
            text: truncate(&resp.text(), 512),
        });
    }
    let v: Value = serde_json::from_slice(&resp.body)
        .map_err(|e| Error::decode("the room's events", e.to_string(), &resp.text()))?;
    Ok(proto::room_events(&v))
}

struct RoomInner {
    session: Arc<Session>,
    room_id: u64,
    counter: AtomicU64,
    task: Mutex<Option<mpsc::UnboundedSender<oneshot::Sender<()>>>>,
    waiters: Waiters<Event>,
}

/// A room: commands over HTTP, and its event stream once [`connect`](Self::connect)ed (over
/// the websocket when logged in, by polling when anonymous). A cheap, clonable handle.
#[derive(Clone)]
pub struct Room {
    inner: Arc<RoomInner>,
}

impl std::fmt::Debug for Room {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Room")
            .field("room_id", &self.inner.room_id)
            .field("session", &self.inner.session)
            .finish()
    }
}

/// The events of a room, in arrival order. Per-frame errors are yielded as `Err` and the stream
/// goes on; it ends after [`Event::Disconnected`].
pub type Events = chatwire_net::Events<Event, Error>;

fn ok_string(resp: &Response) -> Option<String> {
    serde_json::from_slice::<Value>(&resp.body)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
}

impl Room {
    /// The room id.
    pub fn id(&self) -> u64 {
        self.inner.room_id
    }

    /// The last event counter seen.
    pub fn counter(&self) -> u64 {
        self.inner.counter.load(Ordering::Relaxed)
    }

    fn url(&self, path: &str) -> String {
        self.inner.session.chat_url(path)
    }

    async fn simple_action(
        &self,
        action: &'static str,
        message_id: u64,
        path: &str,
    ) -> Result<(), Error> {
        let resp = self.inner.session.action(&self.url(path), &[]).await?;
        Self::expect_ok(action, message_id, &resp)
    }

    fn expect_ok(action: &'static str, message_id: u64, resp: &Response) -> Result<(), Error> {
        if resp.status == 302 {
            return Err(Error::NoSuchMessage { message_id });
        }
        match ok_string(resp) {
            Some(s) if s == "ok" => Ok(()),
            Some(s)
                if action == "delete" && s.starts_with("This message has already been deleted") =>
            {
                Ok(())
            }
            Some(text) => Err(Error::OperationFailed {
                action,
                status: resp.status,
                text,
            }),
            None => Err(Error::OperationFailed {
                action,
                status: resp.status,
                text: truncate(&resp.text(), 512),
            }),
        }
    }

    /// Posts a message, as a reply when `reply_to` is given. Rate limits are waited out (in
    /// order) up to the configured retries.
    ///
    /// Single-line messages are limited to 500 characters; multi-line ones are not.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an empty or over-long message; [`Error::OperationFailed`]
    /// with the server's text (no permission, frozen room, 20 reputation needed, ...);
    /// [`Error::RateLimited`].
    pub async fn send(&self, text: &str, reply_to: Option<u64>) -> Result<SendResult, Error> {
        if text.trim().is_empty() {
            return Err(Error::InvalidInput("a message cannot be empty".into()));
        }
        let n = text.chars().count();
        if !text.contains('\n') && n > 500 {
            return Err(Error::InvalidInput(format!(
                "a single-line message is limited to 500 characters ({n} given); add a newline to send it as a multi-line message"
            )));
        }
        let text = match reply_to {
            Some(id) => format!(":{id} {text}"),
            None => text.to_owned(),
        };
        let url = self.url(&format!("/chats/{}/messages/new", self.id()));
        let resp = self.inner.session.action(&url, &[("text", &text)]).await?;
        if resp.status != 200 {
            return Err(Error::OperationFailed {
                action: "send",
                status: resp.status,
                text: truncate(&resp.text(), 512),
            });
        }
        let v: Value = serde_json::from_slice(&resp.body)
            .map_err(|e| Error::decode("the send answer", e.to_string(), &resp.text()))?;
        Ok(match v.get("id").and_then(Value::as_u64) {
            Some(message_id) => SendResult::Sent {
                message_id,
                time: v.get("time").and_then(Value::as_i64),
            },
            None => SendResult::Duplicate,
        })
    }

    /// Edits a message (own messages, within about two minutes).
    ///
    /// # Errors
    /// [`Error::OperationFailed`] ("It is too late to edit this message", ...),
    /// [`Error::NoSuchMessage`].
    pub async fn edit(&self, message_id: u64, text: &str) -> Result<(), Error> {
        if text.trim().is_empty() {
            return Err(Error::InvalidInput("a message cannot be empty".into()));
        }
        let resp = self
            .inner
            .session
            .action(
                &self.url(&format!("/messages/{message_id}")),
                &[("text", text)],
            )
            .await?;
        Self::expect_ok("edit", message_id, &resp)
    }

    /// Deletes a message (an already deleted one counts as success).
    ///
    /// # Errors
    /// As [`edit`](Self::edit).
    pub async fn delete(&self, message_id: u64) -> Result<(), Error> {
        self.simple_action(
            "delete",
            message_id,
            &format!("/messages/{message_id}/delete"),
        )
        .await
    }

    /// Stars a message, or removes this account's star (a toggle).
    ///
    /// # Errors
    /// [`Error::OperationFailed`] (daily star quota, ...).
    pub async fn star(&self, message_id: u64) -> Result<(), Error> {
        self.simple_action("star", message_id, &format!("/messages/{message_id}/star"))
            .await
    }

    /// Pins a message (room owners).
    ///
    /// # Errors
    /// [`Error::OperationFailed`].
    pub async fn pin(&self, message_id: u64) -> Result<(), Error> {
        self.simple_action(
            "pin",
            message_id,
            &format!("/messages/{message_id}/owner-star"),
        )
        .await
    }

    /// Unpins a message (room owners).
    ///
    /// # Errors
    /// [`Error::OperationFailed`].
    pub async fn unpin(&self, message_id: u64) -> Result<(), Error> {
        self.simple_action(
            "unpin",
            message_id,
            &format!("/messages/{message_id}/unowner-star"),
        )
        .await
    }

    /// Removes every star of a message (room owners).
    ///
    /// # Errors
    /// [`Error::OperationFailed`].
    pub async fn clear_stars(&self, message_id: u64) -> Result<(), Error> {
        self.simple_action(
            "clear_stars",
            message_id,
            &format!("/messages/{message_id}/unstar"),
        )
        .await
    }

    /// Bookmarks a conversation from `first` to `last` and returns its URL slug (dashes kept,
    /// unlike sechat).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an empty title or `first == last`; [`Error::OperationFailed`].
    pub async fn bookmark(&self, first: u64, last: u64, title: &str) -> Result<String, Error> {
        let slug = proto::slug(title);
        if slug.is_empty() {
            return Err(Error::InvalidInput(
                "a bookmark needs a title with letters or digits".into(),
            ));
        }
        if first == last {
            return Err(Error::InvalidInput(
                "a bookmark spans two different messages".into(),
            ));
        }
        let (room, first_s, last_s) = (self.id().to_string(), first.to_string(), last.to_string());
        let resp = self
            .inner
            .session
            .action(
                &self.url("/conversation/new"),
                &[
                    ("roomId", &room),
                    ("firstMessageId", &first_s),
                    ("lastMessageId", &last_s),
                    ("title", title),
                ],
            )
            .await?;
        let ok = serde_json::from_slice::<Value>(&resp.body)
            .ok()
            .and_then(|v| v.get("ok").and_then(Value::as_bool))
            == Some(true);
        if resp.status == 200 && ok {
            Ok(slug)
        } else {
            Err(Error::OperationFailed {
                action: "bookmark",
                status: resp.status,
                text: truncate(&resp.text(), 512),
            })
        }
    }

    /// Deletes a bookmark by its slug.
    ///
    /// # Errors
    /// [`Error::OperationFailed`].
    pub async fn delete_bookmark(&self, slug: &str) -> Result<(), Error> {
        let path = format!("/conversation/delete/{}/{}", self.id(), slug);
        let resp = self.inner.session.action(&self.url(&path), &[]).await?;
        Self::expect_ok("delete_bookmark", 0, &resp)
    }

    /// Moves messages to another room (room owners). Returns how many moved.
    ///
    /// # Errors
    /// [`Error::OperationFailed`] when the server moved fewer than asked.
    pub async fn move_messages(&self, message_ids: &[u64], target_room: u64) -> Result<u64, Error> {
        if message_ids.is_empty() {
            return Err(Error::InvalidInput("no message to move".into()));
        }
        let ids = message_ids
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let to = target_room.to_string();
        let resp = self
            .inner
            .session
            .action(
                &self.url(&format!("/admin/movePosts/{}", self.id())),
                &[("ids", &ids), ("to", &to)],
            )
            .await?;
        let moved = serde_json::from_slice::<Value>(&resp.body)
            .ok()
            .and_then(|v| v.as_u64());
        match moved {
            Some(n) if resp.status == 200 && n == message_ids.len() as u64 => Ok(n),
            _ => Err(Error::OperationFailed {
                action: "move_messages",
                status: resp.status,
                text: truncate(&resp.text(), 512),
            }),
        }
    }

    /// Starts the room's events and returns them: it reads the room's event counter (so the
    /// stream starts exactly here), then opens the websocket (logged in) or starts polling
    /// every [`Timing::poll_interval`](crate::Timing) (anonymous). The first connection's
    /// errors come back here; later losses are retried inside with backoff and reported as
    /// [`Event::Reconnecting`], except those waiting cannot heal
    /// ([`Error::retry`] is [`Retry::Never`]). Anonymous polling gives up after
    /// [`Timing::poll_retries`](crate::Timing) failures in a row, ending the stream with the
    /// last error.
    ///
    /// # Errors
    /// [`Error::OperationFailed`] when the room does not exist or is not readable; network
    /// errors of the first connection; [`Error::InvalidInput`] when the stream already runs.
    pub async fn connect(&self) -> Result<Events, Error> {
        let (close_tx, close_rx) = mpsc::unbounded_channel();
        {
            let mut task = lock(&self.inner.task);
            if task.as_ref().is_some_and(|t| !t.is_closed()) {
                return Err(Error::InvalidInput(
                    "the event stream of this room already runs; close() first".into(),
                ));
            }
            *task = Some(close_tx);
        }
        let started = self.start(close_rx).await;
        if started.is_err() {
            lock(&self.inner.task).take();
        }
        started
    }

    async fn start(
        &self,
        close: mpsc::UnboundedReceiver<oneshot::Sender<()>>,
    ) -> Result<Events, Error> {
        let session = &self.inner.session;
        let counter = room_counter(session, self.inner.room_id).await?;
        self.inner.counter.store(counter, Ordering::Relaxed);
        let (tx, rx) = chatwire_net::channel();
        let out = Out {
            tx,
            waiters: self.inner.waiters.clone(),
            _attached: self.inner.waiters.attach(),
        };
        if session.user_id.is_none() {
            tokio::spawn(poll_loop(Arc::clone(&self.inner), out, close));
            return Ok(rx);
        }
        let options = &session.options;
        let socket = Socket {
            room: Arc::clone(&self.inner),
            out,
            close,
            seen: DedupWindow::default(),
            last_event: None,
            reconnects: 0,
            retry_after: None,
            backoff: Backoff::new(options.reconnect.clone(), options.jitter_seed),
        };
        let (first_tx, first_rx) = oneshot::channel();
        tokio::spawn(socket.run(first_tx));
        match first_rx.await {
            Ok(Ok(())) => Ok(rx),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::Closed {
                code: None,
                reason: "the room's task ended".into(),
            }),
        }
    }

    /// Connects and runs `handler` on every event, one at a time, until the stream stops.
    ///
    /// # Errors
    /// As [`connect`](Self::connect); then the fatal error (one whose [`Error::retry`] is
    /// [`Retry::Never`]) that ended the stream.
    pub async fn run<H: Handler>(&self, handler: H) -> Result<(), Error> {
        let events = self.connect().await?;
        let ctx = Context { room: self.clone() };
        events
            .drive(&Dispatcher {
                ctx: &ctx,
                handler: &handler,
            })
            .await
    }

    chatwire_net::wait_methods!(
        waiters: |room| room.inner.waiters,
        event: Event,
        error: Error,
    );

    /// Stops the event stream after delivering what the server sent before (a closing
    /// handshake, or the end of polling), then [`Event::Disconnected`]; logged in, it also
    /// leaves the room (`POST /chats/leave/{room}`, quietly).
    ///
    /// # Errors
    /// Network errors of the leave call (the stream is stopped anyway).
    pub async fn close(&self) -> Result<(), Error> {
        let close = lock(&self.inner.task).take();
        if let Some(close) = close {
            let (done_tx, done_rx) = oneshot::channel();
            if close.send(done_tx).is_ok() {
                let _ = done_rx.await;
            }
        }
        if self.inner.session.user_id.is_some() {
            let fkey = self.inner.session.fkey().await?;
            self.inner
                .session
                .post_form(
                    &self.url(&format!("/chats/leave/{}", self.id())),
                    &[("quiet", "true"), ("fkey", &fkey)],
                )
                .await?;
        }
        Ok(())
    }
}

enum End {
    Closed(oneshot::Sender<()>),
    Lost(String),
    Fatal(Error),
}

/// Where a room's task sends what it reads: the stream, and the waits registered on the
/// handle (open while this lives).
struct Out {
    tx: Emitter<Event, Error>,
    waiters: Waiters<Event>,
    _attached: Attached<Event>,
}

impl Out {
    fn emit(&self, item: Result<Event, Error>) {
        if let Ok(event) = &item {
            self.waiters.notify(event);
        }
        self.tx.emit(item);
    }
}

struct Socket {
    room: Arc<RoomInner>,
    out: Out,
    close: mpsc::UnboundedReceiver<oneshot::Sender<()>>,
    /// Ids of delivered events.
    seen: DedupWindow<u64>,
    last_event: Option<u64>,
    reconnects: u32,
    backoff: Backoff,
    /// How long the server asked to wait before the next attempt.
    retry_after: Option<Duration>,
}

impl Socket {
    fn emit(&self, item: Result<Event, Error>) {
        self.out.emit(item);
    }

    /// Delivers room events once, in order, filtered to this room (invitations name another
    /// room and are kept); acknowledges pings.
    fn deliver(&mut self, events: Vec<Result<EventData, (Value, String)>>, gap_fill: bool) {
        let room_id = self.room.room_id;
        for item in events {
            let data = match item {
                Ok(d) => d,
                Err((raw, why)) => {
                    self.emit(Err(Error::decode("a room event", why, &raw.to_string())));
                    continue;
                }
            };
            if data.event_type != 17 && data.room_id.is_some_and(|r| r != room_id) {
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
            if matches!(data.event_type, 8 | 18)
                && self.room.session.options.ack_pings
                && self.room.session.user_id.is_some()
                && let Some(message_id) = data.message_id
            {
                {
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
            self.emit(Ok(Event::from_data(data)));
        }
    }

    fn note_counter(&self, counter: Option<u64>) {
        if let Some(t) = counter {
            self.room.counter.fetch_max(t, Ordering::Relaxed);
        }
    }

    async fn run(mut self, first: oneshot::Sender<Result<(), Error>>) {
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
                // The first connection's errors go back to `connect()`.
                Err(e) if first.is_some() => {
                    if let Some(first) = first.take() {
                        let _ = first.send(Err(e));
                    }
                    return;
                }
                // The room was joined, so a failure here is passing unless it says otherwise
                // (an error page, a 409, a failed gap fill): keep trying, with backoff.
                Err(e) if e.retry() == Retry::Never => End::Fatal(e),
                Err(e) => {
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
                method: "POST",
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
        match proto::parse_frame(text, self.room.room_id) {
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

/// Anonymous reading: `POST /events` with the last counter, every poll interval, until the
/// handle closes the room or too many polls in a row fail.
async fn poll_loop(
    room: Arc<RoomInner>,
    tx: Out,
    mut close: mpsc::UnboundedReceiver<oneshot::Sender<()>>,
) {
    let session = &room.session;
    let room_id = room.room_id;
    let mut counter = room.counter.load(Ordering::Relaxed);
    let timing = session.options.timing.clone();
    tx.emit(Ok(Event::Connected(Connected {
        room_id,
        since: counter,
        reconnect: 0,
    })));
    let mut seen = DedupWindow::default();
    let mut failures = 0u32;
    let reason = loop {
        let wait = if failures == 0 {
            timing.poll_interval
        } else {
            timing.poll_failure_backoff * failures
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = tx.tx.closed() => return,
            done = close.recv() => {
                tx.emit(Ok(Event::Disconnected(Disconnected {
                    room_id,
                    reason: "closed by the client".into(),
                })));
                if let Some(done) = done {
                    let _ = done.send(());
                }
                return;
            }
        }
        let result = async {
            let fkey = session.fkey().await?;
            let key = format!("r{room_id}");
            let since = counter.to_string();
            let resp = session
                .post_form(
                    &session.chat_url("/events"),
                    &[(&key, &since), ("fkey", &fkey)],
                )
                .await?;
            if resp.status != 200 {
                return Err(Error::Http {
                    method: "POST",
                    url: session.chat_url("/events"),
                    status: resp.status,
                    body: truncate(&resp.text(), 512),
                });
            }
            proto::parse_frame(&resp.text(), room_id)
                .map_err(|why| Error::decode("a poll answer", why, &resp.text()))
        }
        .await;
        match result {
            Ok(frame) => {
                failures = 0;
                let Some(frame) = frame else { continue };
                if let Some(t) = frame.counter {
                    counter = counter.max(t);
                    room.counter.fetch_max(t, Ordering::Relaxed);
                }
                for item in frame.events {
                    match item {
                        Ok(d) if d.event_type != 17 && d.room_id.is_some_and(|r| r != room_id) => {}
                        Ok(d) if d.id.is_some_and(|id| !seen.insert(id)) => {}
                        Ok(d) => {
                            tx.emit(Ok(Event::from_data(d)));
                        }
                        Err((raw, why)) => {
                            tx.emit(Err(Error::decode("a room event", why, &raw.to_string())));
                        }
                    }
                }
            }
            Err(e) => {
                failures += 1;
                let fatal = failures > timing.poll_retries;
                let text = e.to_string();
                tx.emit(Err(e));
                if fatal {
                    break format!("gave up after {failures} failed polls: {text}");
                }
            }
        }
    };
    tx.emit(Ok(Event::Disconnected(Disconnected { room_id, reason })));
}
