//! The receiving side of a [`ChatManager`](crate::ChatManager): each transport event turned into
//! chat events (legacy JSON, text streams, protobuf), deduplicated and applied to the history.

use std::sync::atomic::Ordering;

use chatwire_net::lock;

use crate::Error;
use crate::config::SendMode;
use crate::event::Event;
use crate::manager::{Change, Inner};
use crate::message::{ChatMessage, Format, Identity, now_ms};
use crate::proto::{CHAT_TOPIC, CHAT_UPDATE_TOPIC, STREAM_TOPIC};
use crate::store::History;
use crate::transport::{StreamOperation, Transport, TransportEvent};

impl<T: Transport> Inner<T> {
    pub(crate) fn emit(&self, item: &Result<Event, Error>) {
        if let Ok(event) = item {
            self.waiters.notify(event);
        }
        lock(&self.subscribers).retain(|tx| {
            let copy = match item {
                Ok(e) => Ok(e.clone()),
                Err(e) => Err(clone_error(e)),
            };
            tx.emit(copy)
        });
    }

    /// The chat is over: subscriptions and waits end.
    pub(crate) fn end(&self) {
        self.closed.store(true, Ordering::Relaxed);
        lock(&self.subscribers).clear();
        lock(&self.attached).take();
    }

    pub(crate) fn save(&self, m: &ChatMessage) {
        if let Some(s) = &self.store {
            s.save(m);
        }
    }

    pub(crate) fn record_local(&self, m: ChatMessage, version: i32) {
        let event = if m.deleted {
            Event::Deleted(m.clone())
        } else if m.edit_timestamp.is_some() {
            Event::Edited(m.clone())
        } else {
            Event::Received(m.clone())
        };
        self.save(&m);
        lock(&self.history).insert(m, version, self.options.history_capacity);
        if self.options.echo_local {
            self.emit(&Ok(event));
        }
    }

    /// Turns one transport event into chat events (no awaiting: the in-memory room relies on
    /// it to know when a participant has caught up).
    pub(crate) fn handle(&self, event: TransportEvent) -> Vec<Result<Event, Error>> {
        let streams = self.options.mode != SendMode::LegacyOnly;
        match event {
            TransportEvent::Data {
                payload,
                topic,
                from,
            } => {
                let topic = topic.unwrap_or_default();
                if topic != CHAT_TOPIC && topic != CHAT_UPDATE_TOPIC {
                    return Vec::new();
                }
                let value: serde_json::Value = match serde_json::from_slice(&payload) {
                    Ok(v) => v,
                    Err(e) => {
                        return vec![Err(Error::decode(
                            "a legacy chat packet",
                            e.to_string(),
                            &String::from_utf8_lossy(&payload),
                        ))];
                    }
                };
                let (mut m, flags) = match ChatMessage::from_json_with_flags(&value) {
                    Ok(x) => x,
                    Err(e) => return vec![Err(e)],
                };
                if (flags.ignore_legacy && streams) || (flags.ignore && self.options.receive_proto)
                {
                    return Vec::new(); // a copy of a stream or protobuf message we also receive
                }
                m.participant = from.map(Identity::from);
                let change = if topic == CHAT_UPDATE_TOPIC {
                    if m.deleted {
                        Change::Delete
                    } else {
                        Change::Update
                    }
                } else if m.deleted {
                    Change::Delete
                } else {
                    Change::Upsert
                };
                self.apply(m, change, None)
            }
            TransportEvent::TextStream { info, text, from } => {
                if info.topic != STREAM_TOPIC {
                    return Vec::new();
                }
                let m = ChatMessage {
                    id: info.id,
                    message: Some(text),
                    timestamp: info.timestamp,
                    deleted: info.operation == StreamOperation::Delete,
                    edit_timestamp: None,
                    participant: from.map(Identity::from),
                    is_local: false,
                    attributes: info.attributes,
                    format: Format::Stream,
                    generated: info.generated,
                };
                let change = match info.operation {
                    StreamOperation::Update => Change::Update,
                    StreamOperation::Delete => Change::Delete,
                    _ => Change::Upsert,
                };
                self.apply(m, change, Some(info.version))
            }
            TransportEvent::Chat { message, from } => {
                if !self.options.receive_proto {
                    return Vec::new();
                }
                let change = if message.deleted {
                    Change::Delete
                } else if message.edit_timestamp.is_some() {
                    Change::Update
                } else {
                    Change::Upsert
                };
                let m = ChatMessage {
                    id: message.id,
                    message: Some(message.message),
                    timestamp: message.timestamp,
                    deleted: message.deleted,
                    edit_timestamp: message.edit_timestamp,
                    participant: from.map(Identity::from),
                    is_local: false,
                    attributes: std::collections::BTreeMap::new(),
                    format: Format::Proto,
                    generated: message.generated,
                };
                self.apply(m, change, None)
            }
            TransportEvent::Malformed { why, raw, .. } => {
                vec![Err(Error::decode(
                    "a data packet",
                    why,
                    &String::from_utf8_lossy(&raw),
                ))]
            }
        }
    }

    /// Applies a change to the history: new messages are received, copies dropped, edits keep
    /// the original timestamp.
    pub(crate) fn apply(
        &self,
        incoming: ChatMessage,
        change: Change,
        version: Option<i32>,
    ) -> Vec<Result<Event, Error>> {
        let key = History::key(&incoming);
        let mut history = lock(&self.history);
        let existing = history.entries.get(&key).cloned();
        let capacity = self.options.history_capacity;
        let out = match existing {
            None => {
                let v = version.unwrap_or(0);
                if matches!(change, Change::Delete) {
                    history.insert(incoming.clone(), v, capacity);
                    Event::Deleted(incoming)
                } else {
                    history.insert(incoming.clone(), v, capacity);
                    Event::Received(incoming)
                }
            }
            Some((current, current_version)) => {
                // An older version of a stream never overwrites a newer one.
                if version.is_some_and(|v| v != 0 && v < current_version) {
                    return Vec::new();
                }
                if current.deleted {
                    return Vec::new();
                }
                if matches!(change, Change::Delete) {
                    let mut m = current.clone();
                    m.deleted = true;
                    m.edit_timestamp = Some(incoming.edit_timestamp.unwrap_or(incoming.timestamp));
                    history.insert(m.clone(), version.unwrap_or(current_version), capacity);
                    Event::Deleted(m)
                } else if incoming.message == current.message {
                    return Vec::new(); // the same message again: a copy in another format, or a duplicate
                } else {
                    let mut m = current.clone();
                    m.message = incoming.message;
                    m.edit_timestamp = Some(match incoming.edit_timestamp {
                        Some(t) => t,
                        None if incoming.timestamp != current.timestamp => incoming.timestamp,
                        None => now_ms(),
                    });
                    m.format = incoming.format;
                    if !incoming.attributes.is_empty() {
                        m.attributes = incoming.attributes;
                    }
                    history.insert(m.clone(), version.unwrap_or(current_version + 1), capacity);
                    Event::Edited(m)
                }
            }
        };
        drop(history);
        self.save(out.message());
        vec![Ok(out)]
    }
}

fn clone_error(e: &Error) -> Error {
    match e {
        Error::Transport(t) => Error::Transport(t.clone()),
        Error::TooLarge { what, size, limit } => Error::TooLarge {
            what,
            size: *size,
            limit: *limit,
        },
        Error::Decode(d) => Error::Decode(d.clone()),
        Error::InvalidInput(s) => Error::InvalidInput(s.clone()),
        Error::Timeout { what } => Error::Timeout { what },
        Error::Closed { code, reason } => Error::Closed {
            code: *code,
            reason: reason.clone(),
        },
    }
}
