//! The registry's in-memory index: every stream by primary key, with hash indexes by key, by
//! alias (MaiBot ids), by group id and by user id, the activity order for listings, and the
//! dirty set the writer drains. Plain data under the registry's one lock; no I/O.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use crate::id::{StreamKey, StreamKind};
use crate::model::ChatStream;

#[derive(Debug, Default)]
pub(super) struct State {
    /// Shared snapshots: a lookup hands out an `Arc` (no copy); a change copies a stream only
    /// while someone still holds its old snapshot.
    pub(super) streams: HashMap<i64, Arc<ChatStream>>,
    pub(super) aliases: HashMap<i64, Vec<String>>,
    pub(super) by_key: HashMap<StreamKey, i64>,
    pub(super) by_alias: HashMap<String, i64>,
    /// Group streams by group id (all platforms, accounts and scopes of that id).
    pub(super) by_group: HashMap<String, Pks>,
    /// Private streams by user id.
    pub(super) by_user: HashMap<String, Pks>,
    pub(super) recent: BTreeSet<(Reverse<i64>, Reverse<i64>)>,
    /// Streams changed since the last flush (a hash set: ingest inserts into it per message).
    pub(super) dirty: HashSet<i64>,
    pub(super) in_flight: usize,
    pub(super) next_pk: i64,
    pub(super) closed: bool,
}

/// The streams sharing one group or user id (one per platform, account and scope): nearly
/// always one, kept inline so a lookup does not follow a pointer to a list.
#[derive(Debug, Clone)]
pub(super) enum Pks {
    One(i64),
    Many(Vec<i64>),
}

impl Default for Pks {
    fn default() -> Self {
        Self::Many(Vec::new())
    }
}

impl Pks {
    pub(super) fn push(&mut self, pk: i64) {
        match self {
            Self::Many(v) if v.is_empty() => *self = Self::One(pk),
            Self::One(first) => *self = Self::Many(vec![*first, pk]),
            Self::Many(v) => v.push(pk),
        }
    }

    pub(super) fn remove(&mut self, pk: i64) {
        match self {
            Self::One(p) if *p == pk => *self = Self::default(),
            Self::One(_) => {}
            Self::Many(v) => v.retain(|p| *p != pk),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        matches!(self, Self::Many(v) if v.is_empty())
    }

    pub(super) fn iter(&self) -> std::slice::Iter<'_, i64> {
        match self {
            Self::One(pk) => std::slice::from_ref(pk).iter(),
            Self::Many(v) => v.iter(),
        }
    }
}

impl State {
    pub(super) fn insert(&mut self, pk: i64, stream: Arc<ChatStream>, aliases: Vec<String>) {
        let target = stream.key.target.clone();
        match stream.key.kind {
            StreamKind::Group => self.by_group.entry(target).or_default().push(pk),
            StreamKind::Private => self.by_user.entry(target).or_default().push(pk),
        }
        self.by_key.insert(stream.key.clone(), pk);
        self.by_alias.insert(stream.stream_id.clone(), pk);
        for a in &aliases {
            self.by_alias.entry(a.clone()).or_insert(pk);
        }
        self.recent
            .insert((Reverse(stream.last_active_at_ms), Reverse(pk)));
        self.aliases.insert(pk, aliases);
        self.streams.insert(pk, stream);
        self.next_pk = self.next_pk.max(pk + 1);
    }

    pub(super) fn touch(&mut self, pk: i64, at_ms: i64) {
        let Some(s) = self.streams.get_mut(&pk).map(Arc::make_mut) else {
            return;
        };
        if at_ms > s.last_active_at_ms {
            self.recent
                .remove(&(Reverse(s.last_active_at_ms), Reverse(pk)));
            s.last_active_at_ms = at_ms;
            self.recent.insert((Reverse(at_ms), Reverse(pk)));
        }
        self.dirty.insert(pk);
    }

    pub(super) fn remove(&mut self, pk: i64) -> Option<Arc<ChatStream>> {
        let s = self.streams.remove(&pk)?;
        self.recent
            .remove(&(Reverse(s.last_active_at_ms), Reverse(pk)));
        self.by_key.remove(&s.key);
        self.by_alias.retain(|_, v| *v != pk);
        let index = match s.key.kind {
            StreamKind::Group => &mut self.by_group,
            StreamKind::Private => &mut self.by_user,
        };
        if let Some(v) = index.get_mut(s.key.target.as_str()) {
            v.remove(pk);
            if v.is_empty() {
                index.remove(s.key.target.as_str());
            }
        }
        self.aliases.remove(&pk);
        self.dirty.remove(&pk);
        Some(s)
    }

    /// The stream with exactly this key, found without building a [`StreamKey`].
    pub(super) fn find(
        &self,
        kind: StreamKind,
        platform: &str,
        account: &str,
        scope: &str,
        target: &str,
    ) -> Option<i64> {
        let index = match kind {
            StreamKind::Group => &self.by_group,
            StreamKind::Private => &self.by_user,
        };
        index.get(target)?.iter().copied().find(|pk| {
            self.streams.get(pk).is_some_and(|s| {
                s.key.platform == platform && s.key.account == account && s.key.scope == scope
            })
        })
    }

    /// The streams of `pks`, most recently active first.
    pub(super) fn most_recent(&self, pks: &[i64]) -> Vec<Arc<ChatStream>> {
        let mut v: Vec<&Arc<ChatStream>> = pks.iter().filter_map(|p| self.streams.get(p)).collect();
        v.sort_by_key(|s| Reverse(s.last_active_at_ms));
        v.into_iter().cloned().collect()
    }

    pub(super) fn iter_recent(&self) -> impl Iterator<Item = &Arc<ChatStream>> {
        self.recent
            .iter()
            .filter_map(|(_, Reverse(pk))| self.streams.get(pk))
    }
}

#[cfg(test)]
mod tests {
    use super::Pks;

    #[test]
    fn pks_hold_one_inline_and_grow_and_shrink() {
        let mut p = Pks::default();
        assert!(p.is_empty());
        p.push(7);
        assert!(matches!(p, Pks::One(7)));
        p.push(9);
        p.push(11);
        assert_eq!(p.iter().copied().collect::<Vec<_>>(), [7, 9, 11]);
        p.remove(9);
        p.remove(42);
        assert_eq!(p.iter().copied().collect::<Vec<_>>(), [7, 11]);
        p.remove(7);
        p.remove(11);
        assert!(p.is_empty());
        p.push(3);
        p.remove(3);
        assert!(p.is_empty() && p.iter().next().is_none());
    }
}
