//! Where the history is kept: the [`ChatStore`] hook, [`MemoryStore`], and the in-process
//! history with edits and deletes applied.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use chatwire_net::lock;

use crate::message::{ChatMessage, Identity};

/// Where the history can be kept (a database, a file): called for every message and change.
pub trait ChatStore: Send + Sync {
    /// A message was added, edited or deleted (`message` is its current state).
    fn save(&self, message: &ChatMessage);
    /// Messages to start the history with.
    fn load(&self) -> Vec<ChatMessage> {
        Vec::new()
    }
}

/// A [`ChatStore`] in memory (tests, demos).
#[derive(Debug, Default)]
pub struct MemoryStore {
    saved: Mutex<Vec<ChatMessage>>,
}

impl MemoryStore {
    /// Everything saved, in order.
    pub fn saved(&self) -> Vec<ChatMessage> {
        lock(&self.saved).clone()
    }
}

impl ChatStore for MemoryStore {
    fn save(&self, message: &ChatMessage) {
        lock(&self.saved).push(message.clone());
    }

    fn load(&self) -> Vec<ChatMessage> {
        let mut latest: Vec<ChatMessage> = Vec::new();
        for m in lock(&self.saved).iter() {
            match latest
                .iter_mut()
                .find(|x| x.id == m.id && x.participant == m.participant)
            {
                Some(x) => *x = m.clone(),
                None => latest.push(m.clone()),
            }
        }
        latest
    }
}

/// The messages of the room, keyed by (sender, id), edits and deletes applied.
#[derive(Debug, Default)]
pub(crate) struct History {
    pub(crate) entries: HashMap<(Identity, String), (ChatMessage, i32)>,
    pub(crate) order: VecDeque<(Identity, String)>,
}

impl History {
    pub(crate) fn key(m: &ChatMessage) -> (Identity, String) {
        (m.participant.clone().unwrap_or_default(), m.id.clone())
    }

    pub(crate) fn insert(&mut self, m: ChatMessage, version: i32, capacity: usize) {
        let key = Self::key(&m);
        if self.entries.insert(key.clone(), (m, version)).is_none() {
            self.order.push_back(key);
            while self.order.len() > capacity.max(1) {
                if let Some(old) = self.order.pop_front() {
                    self.entries.remove(&old);
                }
            }
        }
    }

    pub(crate) fn list(&self) -> Vec<ChatMessage> {
        self.order
            .iter()
            .filter_map(|k| self.entries.get(k).map(|(m, _)| m.clone()))
            .collect()
    }
}
