//! [`DedupWindow`]: deliver each key once, remembering the most recent ones.

use std::collections::{HashSet, VecDeque};
use std::hash::Hash;

/// A bounded set of recently delivered keys: each key is let through once, and the oldest
/// are forgotten past the capacity (a reconnect's replay or gap fill reaches back minutes,
/// never tens of thousands of messages).
#[derive(Debug, Clone)]
pub struct DedupWindow<K> {
    set: HashSet<K>,
    order: VecDeque<K>,
    capacity: usize,
}

impl<K: Hash + Eq + Clone> DedupWindow<K> {
    /// The capacity every client uses: 20,000 keys.
    pub const DEFAULT_CAPACITY: usize = 20_000;

    /// A window that remembers the last `capacity` keys (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            set: HashSet::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Records `key`; false when it was already there (a duplicate).
    pub fn insert(&mut self, key: K) -> bool {
        if self.set.contains(&key) {
            return false;
        }
        self.set.insert(key.clone());
        self.order.push_back(key);
        if self.order.len() > self.capacity
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        true
    }

    /// Whether `key` was delivered (and not yet forgotten).
    pub fn contains(&self, key: &K) -> bool {
        self.set.contains(key)
    }

    /// How many keys are remembered.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

impl<K: Hash + Eq + Clone> Default for DedupWindow<K> {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lets_each_key_through_once_and_forgets_the_oldest() {
        let mut w = DedupWindow::new(2);
        assert!(w.insert(1));
        assert!(!w.insert(1));
        assert!(w.insert(2));
        assert!(w.insert(3));
        assert!(!w.contains(&1));
        assert!(w.insert(1), "forgotten past the capacity");
        assert_eq!(w.len(), 2);
    }
}
