//! [`Registry`]: the streams in memory with constant-time indexes, MaiBot's `chat_api`, and
//! write-behind persistence.
//!
//! This file holds the handle and what changes the streams (create, register, consume,
//! forget, merge); `index.rs` the in-memory indexes, `chat_api.rs` the lookups under MaiBot's
//! names, `writer.rs` the background writer and `close`, `options.rs` the options, the
//! listing query and the consume report.

mod chat_api;
mod index;
mod options;
mod writer;

use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use chatwire_core::{ChannelKind, ChatEvent, ChatMessage};
use futures_core::Stream;
use futures_util::StreamExt as _;

use crate::Error;
use crate::id::{StreamKey, StreamKind};
use crate::model::{ChatStream, GroupInfo, UserInfo};
use crate::store::{Row, Store};
use index::State;
pub use options::{ConsumeReport, ListQuery, RegistryOptions};

/// What the handle and the background writer share.
struct Shared {
    state: Mutex<State>,
    store: Option<Mutex<Store>>,
    options: RegistryOptions,
    wake: Condvar,
    flushed: Condvar,
    flushes: AtomicU64,
    last_error: Mutex<Option<String>>,
}

/// A registry of chat streams across platforms.
///
/// Lookups by stream id, by (platform, group) and by (platform, user) are hash lookups; listings
/// come most recently active first. With a file ([`Registry::open`]) dirty streams are written
/// in batches every [`RegistryOptions::flush_interval`], on [`flush`](Self::flush), and on
/// [`close`](Self::close) (also attempted on drop).
pub struct Registry {
    shared: Arc<Shared>,
    flusher: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = lock(&self.shared.state);
        f.debug_struct("Registry")
            .field("streams", &st.streams.len())
            .field("dirty", &st.dirty.len())
            .field("persistent", &self.shared.store.is_some())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn now_ms() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A support event as the activity of its author in its channel.
fn activity(
    platform: chatwire_core::Platform,
    channel: &chatwire_core::ChannelRef,
    author: &chatwire_core::Author,
    timestamp: Option<chatwire_core::OffsetDateTime>,
) -> ChatMessage {
    let m = ChatMessage::new(platform, channel.clone(), author.clone(), "");
    match timestamp {
        Some(t) => m.with_timestamp(t),
        None => m,
    }
}

impl Registry {
    /// A registry that lives in memory only.
    pub fn in_memory(options: RegistryOptions) -> Self {
        Self::build(None, Vec::new(), options)
    }

    /// Opens (or creates) the registry's own SQLite file, loads every stream, and starts the
    /// background writer.
    ///
    /// # Errors
    /// [`Error::Storage`] when the file cannot be opened or read.
    pub fn open(path: impl AsRef<Path>, options: RegistryOptions) -> Result<Self, Error> {
        let store = Store::open(path.as_ref(), options.busy_timeout)?;
        let rows = store.load()?;
        Ok(Self::build(Some(store), rows, options))
    }

    fn build(store: Option<Store>, rows: Vec<Row>, options: RegistryOptions) -> Self {
        let mut state = State {
            next_pk: 1,
            ..State::default()
        };
        for row in rows {
            state.insert(row.pk, row.stream, row.aliases);
        }
        let persistent = store.is_some();
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            store: store.map(Mutex::new),
            options,
            wake: Condvar::new(),
            flushed: Condvar::new(),
            flushes: AtomicU64::new(0),
            last_error: Mutex::new(None),
        });
        let flusher = if persistent {
            writer::spawn(&shared)
        } else {
            None
        };
        Self {
            shared,
            flusher: Mutex::new(flusher),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.shared.state)
    }

    /// The stream with this key, created if new. Names are refreshed (group name for groups,
    /// nickname and card for private chats) and the last-active time moves to `at_ms` (never
    /// backwards).
    ///
    /// # Errors
    /// [`Error::Closed`] after [`close`](Self::close).
    ///
    /// # Panics
    /// Never: the internal indexes always point at existing streams.
    pub fn upsert(
        &self,
        key: StreamKey,
        user: Option<UserInfo>,
        group_name: Option<String>,
        at_ms: i64,
    ) -> Result<Arc<ChatStream>, Error> {
        let mut st = self.state();
        if st.closed {
            return Err(Error::Closed);
        }
        if let Some(&pk) = st.by_key.get(&key) {
            let s = Arc::make_mut(
                st.streams
                    .get_mut(&pk)
                    .expect("invariant: indexed streams exist"),
            );
            if let (Some(g), Some(name)) = (s.group_info.as_mut(), group_name) {
                g.group_name = Some(name);
            }
            if key.kind == StreamKind::Private
                && let Some(u) = user
            {
                {
                    let keep_card = s
                        .user_info
                        .as_ref()
                        .and_then(|old| old.user_cardname.clone());
                    s.user_info = Some(UserInfo {
                        user_cardname: u.user_cardname.or(keep_card),
                        ..u
                    });
                }
            }
            st.touch(pk, at_ms);
            return Ok(st.streams[&pk].clone());
        }
        let group_info = (key.kind == StreamKind::Group).then(|| GroupInfo {
            platform: key.platform.clone(),
            group_id: key.target.clone(),
            group_name,
        });
        let user_info =
            match key.kind {
                StreamKind::Private => Some(user.unwrap_or_else(|| {
                    UserInfo::new(key.platform.clone(), key.target.clone(), None)
                })),
                StreamKind::Group => None,
            };
        let stream = ChatStream {
            stream_id: key.maibot_id(),
            platform: key.platform.clone(),
            key,
            user_info,
            group_info,
            created_at_ms: at_ms,
            last_active_at_ms: at_ms,
        };
        let pk = st.next_pk;
        let stream = Arc::new(stream);
        st.insert(pk, Arc::clone(&stream), Vec::new());
        st.dirty.insert(pk);
        Ok(stream)
    }

    /// MaiBot's `get_or_create_stream(platform, user_info, group_info)`: a group stream when a
    /// group is given, else the private stream of the user. Scoped by the registry's account and
    /// scope.
    ///
    /// # Errors
    /// [`Error::MissingIdentity`] without either; empty-id errors.
    pub fn get_or_create(
        &self,
        platform: &str,
        user_info: Option<UserInfo>,
        group_info: Option<GroupInfo>,
    ) -> Result<Arc<ChatStream>, Error> {
        let o = &self.shared.options;
        match (group_info, user_info) {
            (Some(g), _) => {
                let key = StreamKey::scoped(
                    platform,
                    &o.account,
                    &o.scope,
                    StreamKind::Group,
                    &g.group_id,
                )?;
                self.upsert(key, None, g.group_name, now_ms())
            }
            (None, Some(u)) => {
                let key = StreamKey::scoped(
                    platform,
                    &o.account,
                    &o.scope,
                    StreamKind::Private,
                    &u.user_id,
                )?;
                self.upsert(key, Some(u), None, now_ms())
            }
            (None, None) => Err(Error::MissingIdentity),
        }
    }

    /// Registers a normalised message of any platform: a channel or room is a group stream, a
    /// direct conversation the private stream of its channel id (the peer). The last-active
    /// time is the message's timestamp (or now), never moving backwards.
    ///
    /// # Errors
    /// Empty-id errors, [`Error::Closed`].
    pub fn register_message(&self, message: &ChatMessage) -> Result<Arc<ChatStream>, Error> {
        let at = message_time(message);
        if let Some(stream) = self.touch_group(message, at, Arc::clone)? {
            return Ok(stream);
        }
        self.register_slow(message, at)
    }

    /// [`register_message`](Self::register_message) without returning the stream: the fast
    /// path for feeding the registry (a message to a known group takes no allocation).
    ///
    /// # Errors
    /// As [`register_message`](Self::register_message).
    pub fn ingest_message(&self, message: &ChatMessage) -> Result<(), Error> {
        let at = message_time(message);
        if self.touch_group(message, at, |_| ())?.is_some() {
            return Ok(());
        }
        self.register_slow(message, at).map(drop)
    }

    /// A message to a group this registry knows: touches it (and takes a new group name)
    /// under one lock, without building a key. `None` when the stream is new or private.
    fn touch_group<R>(
        &self,
        message: &ChatMessage,
        at: i64,
        f: impl FnOnce(&Arc<ChatStream>) -> R,
    ) -> Result<Option<R>, Error> {
        if message.channel.kind == ChannelKind::Direct {
            return Ok(None);
        }
        let o = &self.shared.options;
        let mut st = self.state();
        if st.closed {
            return Err(Error::Closed);
        }
        let Some(pk) = st.find(
            StreamKind::Group,
            message.platform.as_str(),
            &o.account,
            &o.scope,
            &message.channel.id,
        ) else {
            return Ok(None);
        };
        if let (Some(name), Some(g)) = (
            &message.channel.name,
            st.streams
                .get_mut(&pk)
                .and_then(|s| Arc::make_mut(s).group_info.as_mut()),
        ) && g.group_name.as_ref() != Some(name)
        {
            g.group_name = Some(name.clone());
        }
        st.touch(pk, at);
        Ok(st.streams.get(&pk).map(f))
    }

    fn register_slow(&self, message: &ChatMessage, at: i64) -> Result<Arc<ChatStream>, Error> {
        let o = &self.shared.options;
        let platform = message.platform.as_str();
        if message.channel.kind == ChannelKind::Direct {
            {
                let key = StreamKey::scoped(
                    platform,
                    &o.account,
                    &o.scope,
                    StreamKind::Private,
                    &message.channel.id,
                )?;
                let mut user = UserInfo::new(platform, message.channel.id.clone(), None);
                if message.author.id == message.channel.id {
                    user.user_nickname.clone_from(&message.author.name);
                }
                self.upsert(key, Some(user), None, at)
            }
        } else {
            let key = StreamKey::scoped(
                platform,
                &o.account,
                &o.scope,
                StreamKind::Group,
                &message.channel.id,
            )?;
            self.upsert(key, None, message.channel.name.clone(), at)
        }
    }

    /// Registers what an event says about a conversation: messages and edits touch their
    /// stream, a connection creates the channel's stream. Other events are ignored.
    ///
    /// # Errors
    /// As [`register_message`](Self::register_message).
    pub fn register_event(&self, event: &ChatEvent) -> Result<Option<Arc<ChatStream>>, Error> {
        match event {
            ChatEvent::Message(m) | ChatEvent::MessageEdited(m) => {
                self.register_message(m).map(Some)
            }
            // Support events are activity by their author in the channel, like a message.
            ChatEvent::Donation(d) => self
                .register_message(&activity(d.platform, &d.channel, &d.author, d.timestamp))
                .map(Some),
            ChatEvent::Subscription(s) => self
                .register_message(&activity(s.platform, &s.channel, &s.author, s.timestamp))
                .map(Some),
            ChatEvent::Gift(g) => self
                .register_message(&activity(g.platform, &g.channel, &g.author, g.timestamp))
                .map(Some),
            // A renamed room takes its new name (the channel of every event carries the
            // current one too, where the platform says it).
            ChatEvent::RoomChanged {
                platform,
                channel,
                name: Some(name),
                ..
            } if channel.kind != ChannelKind::Direct => {
                let o = &self.shared.options;
                let key = StreamKey::scoped(
                    platform.as_str(),
                    &o.account,
                    &o.scope,
                    StreamKind::Group,
                    &channel.id,
                )?;
                self.upsert(key, None, Some(name.clone()), now_ms())
                    .map(Some)
            }
            ChatEvent::Connected { platform, channel } => {
                let o = &self.shared.options;
                let kind = if channel.kind == ChannelKind::Direct {
                    StreamKind::Private
                } else {
                    StreamKind::Group
                };
                let key =
                    StreamKey::scoped(platform.as_str(), &o.account, &o.scope, kind, &channel.id)?;
                let existing = self.state().by_key.get(&key).copied();
                match existing {
                    Some(pk) => Ok(self.state().streams.get(&pk).cloned()),
                    None => self
                        .upsert(key, None, channel.name.clone(), now_ms())
                        .map(Some),
                }
            }
            _ => Ok(None),
        }
    }

    /// Feeds the registry from any stream of normalised events until it ends.
    pub async fn consume<S>(&self, stream: S) -> ConsumeReport
    where
        S: Stream<Item = Result<ChatEvent, chatwire_core::Error>>,
    {
        let mut report = ConsumeReport::default();
        let mut stream = std::pin::pin!(stream);
        while let Some(item) = stream.next().await {
            match item {
                Ok(ChatEvent::Message(m) | ChatEvent::MessageEdited(m)) => {
                    match self.ingest_message(&m) {
                        Ok(()) => report.messages += 1,
                        Err(_) => report.rejected += 1,
                    }
                }
                Ok(event) => match self.register_event(&event) {
                    Ok(Some(_)) if matches!(event, ChatEvent::Connected { .. }) => {
                        report.channels += 1;
                    }
                    Ok(Some(_)) => report.messages += 1,
                    Ok(None) => {}
                    Err(_) => report.rejected += 1,
                },
                Err(_) => report.stream_errors += 1,
            }
        }
        report
    }

    /// A stream by MaiBot id (or any alias).
    pub fn get_stream(&self, stream_id: &str) -> Option<Arc<ChatStream>> {
        let st = self.state();
        st.by_alias
            .get(stream_id)
            .and_then(|pk| st.streams.get(pk))
            .cloned()
    }

    /// A stream by structured key.
    pub fn get_by_key(&self, key: &StreamKey) -> Option<Arc<ChatStream>> {
        let st = self.state();
        st.by_key
            .get(key)
            .and_then(|pk| st.streams.get(pk))
            .cloned()
    }

    /// Number of streams.
    pub fn len(&self) -> usize {
        self.state().streams.len()
    }

    /// True when there is no stream.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Streams, most recently active first, filtered and paginated.
    pub fn list(&self, query: &ListQuery) -> Vec<Arc<ChatStream>> {
        let st = self.state();
        let it = st
            .iter_recent()
            .filter(|s| {
                query
                    .platform
                    .as_ref()
                    .is_none_or(|f| f.matches(&s.platform))
            })
            .filter(|s| query.kind.is_none_or(|k| s.key.kind == k))
            .skip(query.offset);
        if query.limit == 0 {
            it.cloned().collect()
        } else {
            it.take(query.limit).cloned().collect()
        }
    }

    /// Forgets a stream (by id or alias), in memory and in the file.
    ///
    /// # Errors
    /// [`Error::Storage`].
    pub fn forget(&self, stream_id: &str) -> Result<Option<Arc<ChatStream>>, Error> {
        let removed = {
            let mut st = self.state();
            let pk = st.by_alias.get(stream_id).copied();
            pk.and_then(|pk| st.remove(pk).map(|s| (pk, s)))
        };
        if let (Some((pk, _)), Some(store)) = (&removed, &self.shared.store) {
            lock(store).delete(*pk)?;
        }
        Ok(removed.map(|(_, s)| s))
    }

    /// Adds streams from elsewhere (a MaiBot import): new keys are inserted, known ones merged
    /// (earliest creation, latest activity, names from the more recent side). Every given id
    /// becomes an alias.
    pub(crate) fn merge(&self, streams: Vec<(ChatStream, Vec<String>)>) -> usize {
        let mut st = self.state();
        let mut n = 0;
        for (s, aliases) in streams {
            n += 1;
            if let Some(&pk) = st.by_key.get(&s.key) {
                let newer = s.last_active_at_ms > st.streams[&pk].last_active_at_ms;
                {
                    let cur = Arc::make_mut(
                        st.streams
                            .get_mut(&pk)
                            .expect("invariant: indexed streams exist"),
                    );
                    cur.created_at_ms = cur.created_at_ms.min(s.created_at_ms);
                    if newer {
                        if s.group_info
                            .as_ref()
                            .is_some_and(|g| g.group_name.is_some())
                        {
                            cur.group_info.clone_from(&s.group_info);
                        }
                        if s.user_info.is_some() {
                            cur.user_info.clone_from(&s.user_info);
                        }
                    }
                }
                st.touch(pk, s.last_active_at_ms);
                for a in aliases.into_iter().chain([s.stream_id]) {
                    st.by_alias.entry(a.clone()).or_insert(pk);
                    let list = st.aliases.entry(pk).or_default();
                    if !list.contains(&a) {
                        list.push(a);
                    }
                }
            } else {
                let pk = st.next_pk;
                let mut all = aliases;
                if s.stream_id != s.key.maibot_id() {
                    all.push(s.key.maibot_id());
                }
                st.insert(pk, Arc::new(s), all);
                st.dirty.insert(pk);
            }
        }
        n
    }

    /// Every stream, for export.
    pub(crate) fn snapshot(&self) -> Vec<Arc<ChatStream>> {
        self.state().iter_recent().cloned().collect()
    }
}

/// A message's time in Unix milliseconds (now when it has none).
fn message_time(message: &ChatMessage) -> i64 {
    message.timestamp.map_or_else(now_ms, |t| {
        i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
    })
}
