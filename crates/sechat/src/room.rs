//! [`Room`]: one room's commands over HTTP, its lifecycle (`connect`, `run`, `wait_for`,
//! `close`), and what its background task emits through.

use chatwire_net::Method;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chatwire_net::http::Response;
use chatwire_net::{Attached, Backoff, Emitter, Waiters, lock};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::Error;
use crate::error::truncate;
use crate::event::{Context, Dispatcher, Event, Handler};
use crate::ids::{MessageId, RoomId};
use crate::model::SendResult;
use crate::poll::poll_loop;
use crate::proto::delivery::Delivery;
use crate::proto::{self, Frame};
use crate::session::Session;
use crate::socket::Socket;

async fn room_counter(session: &Session, room_id: RoomId) -> Result<u64, Error> {
    let frame = room_events(session, room_id).await?;
    Ok(frame.counter.unwrap_or(0))
}

/// `POST /chats/{room}/events`: the counter and the last messages.
pub(crate) async fn room_events(session: &Session, room_id: RoomId) -> Result<Frame, Error> {
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
            method: Method::Post,
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

pub(crate) struct RoomInner {
    pub(crate) session: Arc<Session>,
    pub(crate) room_id: RoomId,
    pub(crate) counter: AtomicU64,
    pub(crate) task: Mutex<Option<mpsc::UnboundedSender<oneshot::Sender<()>>>>,
    pub(crate) waiters: Waiters<Event>,
}

/// A room: commands over HTTP, and its event stream once [`connect`](Self::connect)ed (over
/// the websocket when logged in, by polling when anonymous). A cheap, clonable handle.
#[derive(Clone)]
pub struct Room {
    pub(crate) inner: Arc<RoomInner>,
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
    pub fn id(&self) -> RoomId {
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
        message_id: MessageId,
        path: &str,
    ) -> Result<(), Error> {
        let resp = self.inner.session.action(&self.url(path), &[]).await?;
        Self::expect_ok(action, message_id, &resp)
    }

    fn expect_ok(
        action: &'static str,
        message_id: MessageId,
        resp: &Response,
    ) -> Result<(), Error> {
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
    pub async fn send(&self, text: &str, reply_to: Option<MessageId>) -> Result<SendResult, Error> {
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
                message_id: MessageId(message_id),
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
    pub async fn edit(&self, message_id: MessageId, text: &str) -> Result<(), Error> {
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
    pub async fn delete(&self, message_id: MessageId) -> Result<(), Error> {
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
    pub async fn star(&self, message_id: MessageId) -> Result<(), Error> {
        self.simple_action("star", message_id, &format!("/messages/{message_id}/star"))
            .await
    }

    /// Pins a message (room owners).
    ///
    /// # Errors
    /// [`Error::OperationFailed`].
    pub async fn pin(&self, message_id: MessageId) -> Result<(), Error> {
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
    pub async fn unpin(&self, message_id: MessageId) -> Result<(), Error> {
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
    pub async fn clear_stars(&self, message_id: MessageId) -> Result<(), Error> {
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
    pub async fn bookmark(
        &self,
        first: MessageId,
        last: MessageId,
        title: &str,
    ) -> Result<String, Error> {
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
        Self::expect_ok("delete_bookmark", MessageId(0), &resp)
    }

    /// Moves messages to another room (room owners). Returns how many moved.
    ///
    /// # Errors
    /// [`Error::OperationFailed`] when the server moved fewer than asked.
    pub async fn move_messages(
        &self,
        message_ids: &[MessageId],
        target_room: RoomId,
    ) -> Result<u64, Error> {
        if message_ids.is_empty() {
            return Err(Error::InvalidInput("no message to move".into()));
        }
        let ids = message_ids
            .iter()
            .map(MessageId::to_string)
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
    /// every [`Timing::poll_interval`](crate::Timing) (anonymous). A missing or unreadable room,
    /// and a first connection that waiting cannot fix (the login refused), come back here;
    /// passing failures, on the first connection too, are retried inside with backoff and
    /// reported as [`Event::Reconnecting`], except those waiting cannot heal
    /// ([`Error::retry`] is [`Retry::Never`](chatwire_core::Retry::Never)). Anonymous polling gives up after
    /// [`Timing::poll_retries`](crate::Timing) failures in a row, ending the stream with the
    /// last error.
    ///
    /// # Errors
    /// [`Error::OperationFailed`] when the room does not exist or is not readable; network
    /// errors of the first connection; [`Error::InvalidInput`] when the stream already runs.
    ///
    /// # Cancel safety
    /// Not cancel-safe: dropping the future once the room's task has started leaves it running
    /// with nobody reading its events. Call [`close`](Self::close) before connecting again.
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
            delivery: Delivery::new(self.inner.room_id),
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
    /// [`Retry::Never`](chatwire_core::Retry::Never)) that ended the stream.
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
    ///
    /// # Cancel safety
    /// The stream's stop is asked for when the future is first polled; dropping it afterwards
    /// can skip the leave call, not the stop.
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

/// Where a room's task sends what it reads: the stream, and the waits registered on the
/// handle (open while this lives).
pub(crate) struct Out {
    pub(crate) tx: Emitter<Event, Error>,
    pub(crate) waiters: Waiters<Event>,
    pub(crate) _attached: Attached<Event>,
}

impl Out {
    pub(crate) fn emit(&self, item: Result<Event, Error>) {
        if let Ok(event) = &item {
            self.waiters.notify(event);
        }
        self.tx.emit(item);
    }
}
