//! [`ChatManager`]: the handle (sending in every format, the history, subscriptions, waits)
//! and its [`Events`]; the receiving side is `receive.rs`.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;

use chatwire_core::EventStream;
use chatwire_net::{Attached, Emitter, Waiters, lock};
use futures_core::Stream;
use futures_util::StreamExt as _;

use crate::Error;
use crate::config::{ChatOptions, SendMode};
use crate::event::{Context, Dispatcher, Event, Handler};
use crate::message::{ChatMessage, Format, IdStyle, Identity, now_ms};
use crate::proto::{CHAT_TOPIC, CHAT_UPDATE_TOPIC, STREAM_TOPIC};
use crate::store::{ChatStore, History};
use crate::transport::{
    OutgoingData, ProtoChatMessage, StreamOperation, TextStreamInfo, Transport,
};

/// What an incoming packet asks for.
#[derive(Clone, Copy)]
pub(crate) enum Change {
    /// New, or a new version of the same id (components-js edits by re-sending the id).
    Upsert,
    /// Explicitly an update (Python's update topic, a stream `UPDATE`, a protobuf edit).
    Update,
    /// A deletion.
    Delete,
}

pub(crate) struct Inner<T: Transport> {
    pub(crate) transport: T,
    pub(crate) options: ChatOptions,
    pub(crate) history: Mutex<History>,
    pub(crate) subscribers: Mutex<Vec<Emitter<Event, Error>>>,
    pub(crate) waiters: Waiters<Event>,
    /// Keeps the waits open until the chat ends.
    pub(crate) attached: Mutex<Option<Attached<Event>>>,
    pub(crate) store: Option<Arc<dyn ChatStore>>,
    pub(crate) closed: AtomicBool,
}

/// The chat of one participant over a [`Transport`]. Cheap to clone.
pub struct ChatManager<T: Transport> {
    inner: Arc<Inner<T>>,
}

impl<T: Transport> Clone for ChatManager<T> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T: Transport> std::fmt::Debug for ChatManager<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatManager")
            .field("identity", &self.inner.transport.local_identity())
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

/// The chat events of a manager, in arrival order: chatwire-net's stream (the same type as
/// the other clients'), plus the room name for [`into_core`](Self::into_core). Undecodable
/// packets are yielded as `Err` and the stream goes on; it ends after
/// [`ChatManager::close`] or when the room does.
#[derive(Debug)]
pub struct Events {
    inner: chatwire_net::Events<Event, Error>,
    room: Arc<str>,
}

impl Events {
    /// The next event; `None` once the chat has ended.
    ///
    /// # Cancel safety
    /// Cancel-safe: use it in `tokio::select!` without losing an event.
    pub async fn next(&mut self) -> Option<Result<Event, Error>> {
        self.inner.next().await
    }

    /// The next event if one is already queued, without waiting.
    pub fn try_next(&mut self) -> Option<Result<Event, Error>> {
        self.inner.try_next()
    }

    /// The normalised events only, as chatwire-core's boxed stream (the channel is the
    /// room name of [`ChatOptions::room_name`]).
    pub fn into_core(self) -> EventStream {
        let room = self.room;
        Box::pin(self.inner.map(move |item| {
            item.map(|e| e.to_core(&room))
                .map_err(chatwire_core::Error::from)
        }))
    }
}

impl Stream for Events {
    type Item = Result<Event, Error>;

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.inner).poll_next(cx)
    }
}

impl chatwire_net::Retryable for Error {
    fn retry(&self) -> chatwire_core::Retry {
        Error::retry(self)
    }
}

impl<T: Transport> ChatManager<T> {
    /// Spawns the chat over `transport`: the receiving task starts at once on the current
    /// tokio runtime (a LiveKit room is already connected when its transport exists, so there
    /// is no separate `connect` step: [`subscribe`](Self::subscribe) hands out the events).
    pub fn new(transport: T, options: ChatOptions) -> Self {
        Self::with_store(transport, options, None)
    }

    /// Like [`new`](Self::new), with a store for the history.
    pub fn with_store(
        transport: T,
        options: ChatOptions,
        store: Option<Arc<dyn ChatStore>>,
    ) -> Self {
        let mut history = History::default();
        if let Some(s) = &store {
            for m in s.load() {
                history.insert(m, 0, options.history_capacity);
            }
        }
        let events = transport.events();
        let waiters = Waiters::new();
        let inner = Arc::new(Inner {
            transport,
            options,
            history: Mutex::new(history),
            subscribers: Mutex::new(Vec::new()),
            attached: Mutex::new(Some(waiters.attach())),
            waiters,
            store,
            closed: AtomicBool::new(false),
        });
        let weak = Arc::downgrade(&inner);
        tokio::spawn(async move {
            let mut events = events;
            while let Some(event) = events.next().await {
                let Some(inner) = weak.upgrade() else { return };
                if inner.closed.load(Ordering::Relaxed) {
                    return;
                }
                for item in inner.handle(event) {
                    inner.emit(&item);
                }
            }
            // The room is gone (disconnected, or this participant left): end the subscriptions
            // so readers and handlers see the end instead of waiting forever.
            if let Some(inner) = weak.upgrade() {
                inner.end();
            }
        });
        Self { inner }
    }

    /// A new subscription to the chat events (any number; each gets every event from now on).
    pub fn subscribe(&self) -> Events {
        let (tx, rx) = chatwire_net::channel();
        if !self.inner.closed.load(Ordering::Relaxed) {
            lock(&self.inner.subscribers).push(tx);
        }
        Events {
            inner: rx,
            room: self.inner.options.room_name.as_str().into(),
        }
    }

    /// Runs `handler` on every event, one at a time, until [`close`](Self::close) or the end
    /// of the room. It subscribes when first polled; [`spawn_handler`](Self::spawn_handler)
    /// subscribes at once.
    ///
    /// # Errors
    /// The rule of every chatwire client (`chatwire_net::Events::drive`): the last error when
    /// it is fatal ([`Error::retry`] is [`Retry::Never`](chatwire_core::Retry::Never)). A
    /// LiveKit chat has none (undecodable packets are passing), so in practice `Ok` when the
    /// chat ends.
    pub async fn run<H: Handler<T>>(&self, handler: H) -> Result<(), Error> {
        Self::drive(self.subscribe(), self.clone(), handler).await
    }

    /// Subscribes `handler` now (every event after this call reaches it) and runs it on a new
    /// tokio task, one event at a time, until [`close`](Self::close).
    pub fn spawn_handler<H: Handler<T> + 'static>(
        &self,
        handler: H,
    ) -> tokio::task::JoinHandle<Result<(), Error>> {
        tokio::spawn(Self::drive(self.subscribe(), self.clone(), handler))
    }

    async fn drive<H: Handler<T>>(events: Events, manager: Self, handler: H) -> Result<(), Error> {
        let ctx = Context { manager };
        events
            .inner
            .drive(&Dispatcher {
                ctx: &ctx,
                handler: &handler,
            })
            .await
    }

    chatwire_net::wait_methods!(
        waiters: |manager| manager.inner.waiters,
        event: Event,
        error: Error,
        captures: [T],
    );

    /// The messages seen (and sent), oldest first, edits and deletes applied.
    pub fn history(&self) -> Vec<ChatMessage> {
        lock(&self.inner.history).list()
    }

    /// This participant's identity.
    pub fn identity(&self) -> Identity {
        self.inner.transport.local_identity().into()
    }

    /// The options.
    pub fn options(&self) -> &ChatOptions {
        &self.inner.options
    }

    /// Sends a message to everyone.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an empty message, [`Error::TooLarge`], [`Error::Transport`].
    pub async fn send(&self, text: &str) -> Result<ChatMessage, Error> {
        self.send_to(text, Vec::new()).await
    }

    /// Sends a message to some participants only (their identities). Unlike components-js,
    /// the legacy copy goes to the same participants (its copy leaks DMs to old clients).
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub async fn send_to(&self, text: &str, to: Vec<Identity>) -> Result<ChatMessage, Error> {
        let to: Vec<String> = to.into_iter().map(Identity::into_string).collect();
        self.check_open()?;
        if text.is_empty() {
            return Err(Error::InvalidInput("a chat message cannot be empty".into()));
        }
        let o = &self.inner.options;
        let style = if o.mode == SendMode::LegacyOnly {
            o.legacy_id_style
        } else {
            IdStyle::Uuid
        };
        let mut message = ChatMessage::new(text, style);
        message.participant = Some(self.identity());
        self.publish(&message, &to, None).await?;
        self.inner.record_local(message.clone(), 0);
        Ok(message)
    }

    /// Publishes a new version of one of this participant's messages: an edit, or a deletion
    /// when `message.deleted` is set. The original timestamp is kept; `edit_timestamp` is
    /// set.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub async fn update(&self, message: &ChatMessage) -> Result<ChatMessage, Error> {
        self.check_open()?;
        if message
            .participant
            .as_ref()
            .is_some_and(|p| *p != self.identity())
        {
            return Err(Error::InvalidInput(format!(
                "message {} was sent by another participant; only your own messages can be edited or deleted",
                message.id
            )));
        }
        let key = (self.identity(), message.id.clone());
        let (original_ts, version) = lock(&self.inner.history)
            .entries
            .get(&key)
            .map_or((message.timestamp, 0), |(m, v)| (m.timestamp, *v));
        let mut updated = message.clone();
        updated.timestamp = original_ts;
        updated.edit_timestamp = Some(now_ms());
        updated.participant = Some(self.identity());
        updated.is_local = true;
        updated.format = Format::Local;
        self.publish(&updated, &[], Some(version + 1)).await?;
        self.inner.record_local(updated.clone(), version + 1);
        Ok(updated)
    }

    /// Deletes one of this participant's messages (an update with `deleted` set).
    ///
    /// # Errors
    /// As [`update`](Self::update).
    pub async fn delete(&self, message: &ChatMessage) -> Result<ChatMessage, Error> {
        let mut m = message.clone();
        m.deleted = true;
        self.update(&m).await
    }

    /// Stops receiving; subscriptions and pending waits end (they also end by themselves when
    /// the transport's events end: the room disconnected or this participant left it).
    pub fn close(&self) {
        self.inner.end();
    }

    fn check_open(&self) -> Result<(), Error> {
        if self.inner.closed.load(Ordering::Relaxed) {
            Err(Error::closed())
        } else {
            Ok(())
        }
    }

    /// Sends `m` in the formats of the mode. `update` is the new version for updates.
    async fn publish(
        &self,
        m: &ChatMessage,
        to: &[String],
        update: Option<i32>,
    ) -> Result<(), Error> {
        let o = &self.inner.options;
        let t = &self.inner.transport;
        let text = m.text().to_owned();
        let legacy_topic = if update.is_some() {
            CHAT_UPDATE_TOPIC
        } else {
            CHAT_TOPIC
        };
        match o.mode {
            SendMode::LegacyOnly => {
                let payload = serde_json::to_vec(&m.to_jsondict())
                    .map_err(|e| Error::InvalidInput(e.to_string()))?;
                if payload.len() > o.legacy_max_bytes {
                    return Err(Error::TooLarge {
                        what: "a legacy chat message",
                        size: payload.len(),
                        limit: o.legacy_max_bytes,
                    });
                }
                t.publish_data(OutgoingData::reliable(payload, legacy_topic, to.to_vec()))
                    .await?;
            }
            SendMode::Compatible | SendMode::StreamsOnly => {
                if text.len() > o.stream_max_bytes {
                    return Err(Error::TooLarge {
                        what: "a chat message",
                        size: text.len(),
                        limit: o.stream_max_bytes,
                    });
                }
                let mut info = TextStreamInfo::new(
                    m.id.clone(),
                    STREAM_TOPIC,
                    m.edit_timestamp.unwrap_or(m.timestamp),
                );
                info.destinations = to.to_vec();
                if let Some(v) = update {
                    info.operation = if m.deleted {
                        StreamOperation::Delete
                    } else {
                        StreamOperation::Update
                    };
                    info.version = v;
                }
                t.send_text(if m.deleted { String::new() } else { text }, info)
                    .await?;
                if o.mode == SendMode::Compatible {
                    let ignore = t.server_supports_data_streams();
                    let copies: Vec<(&str, serde_json::Value)> = match update {
                        None => vec![(CHAT_TOPIC, m.to_legacy_copy(ignore))],
                        // JS and Android replace by id on the chat topic; Python reads the
                        // update topic (deletions only mean something to Python).
                        Some(_) if m.deleted => vec![(CHAT_UPDATE_TOPIC, m.to_jsondict())],
                        Some(_) => vec![
                            (CHAT_TOPIC, m.to_legacy_copy(ignore)),
                            (CHAT_UPDATE_TOPIC, m.to_jsondict()),
                        ],
                    };
                    for (topic, json) in copies {
                        let payload = serde_json::to_vec(&json)
                            .map_err(|e| Error::InvalidInput(e.to_string()))?;
                        if payload.len() > o.legacy_max_bytes {
                            tracing::debug!(
                                bytes = payload.len(),
                                "legacy copy too large; sent as a stream only"
                            );
                            continue;
                        }
                        t.publish_data(OutgoingData::reliable(payload, topic, to.to_vec()))
                            .await?;
                    }
                }
            }
        }
        if o.send_proto {
            let proto = ProtoChatMessage {
                id: m.id.clone(),
                timestamp: m.timestamp,
                edit_timestamp: m.edit_timestamp,
                message: text_of(m),
                deleted: m.deleted,
                generated: m.generated,
            };
            t.send_chat_message(proto, to.to_vec()).await?;
        }
        Ok(())
    }
}

/// The names of the Python SDK's `ChatManager` (and components-js's `useChat`), kept so code
/// ported from them reads the same. Each is the canonical method above under another name.
impl<T: Transport> ChatManager<T> {
    /// [`send`](Self::send), by the Python SDK's name.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub async fn send_message(&self, text: &str) -> Result<ChatMessage, Error> {
        self.send(text).await
    }

    /// [`update`](Self::update), by the Python SDK's name.
    ///
    /// # Errors
    /// As [`update`](Self::update).
    pub async fn update_message(&self, message: &ChatMessage) -> Result<ChatMessage, Error> {
        self.update(message).await
    }

    /// [`delete`](Self::delete), by the Python SDK's name.
    ///
    /// # Errors
    /// As [`delete`](Self::delete).
    pub async fn delete_message(&self, message: &ChatMessage) -> Result<ChatMessage, Error> {
        self.delete(message).await
    }
}

fn text_of(m: &ChatMessage) -> String {
    m.text().to_owned()
}
