//! The registry's write-behind persistence: a background thread writes the dirty streams
//! every flush interval, [`Registry::flush`] writes them now, [`Registry::close`] (and drop)
//! stops the thread and writes the rest.

use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{Registry, Shared, lock};
use crate::Error;
use crate::store::Row;

/// Starts the background writer of a registry with a file.
pub(super) fn spawn(shared: &Arc<Shared>) -> Option<JoinHandle<()>> {
    let shared = Arc::clone(shared);
    std::thread::Builder::new()
        .name("chat-streams-flush".into())
        .spawn(move || flush_loop(&shared))
        .ok()
}

impl Registry {
    /// Writes every dirty stream now, in one transaction. Returns how many were written.
    ///
    /// # Errors
    /// [`Error::Storage`] (for example a lock held longer than the busy timeout); the streams
    /// stay dirty and are written by the next flush.
    pub fn flush(&self) -> Result<usize, Error> {
        flush(&self.shared)
    }

    /// Waits until no stream is dirty, at most `timeout`, without forcing a write: it returns
    /// once the background writer (or another caller's [`flush`](Self::flush)) has caught up.
    /// Returns whether it did. Useful to signal durability to another process.
    pub fn wait_flushed(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.state();
        loop {
            if st.dirty.is_empty() && st.in_flight == 0 {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.shared.store.is_none() {
                return false;
            }
            st = self
                .shared
                .flushed
                .wait_timeout(st, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// How many flushes have written something (a progress counter).
    pub fn flush_count(&self) -> u64 {
        self.shared.flushes.load(Ordering::Relaxed)
    }

    /// The last error of the background writer, if its last attempt failed.
    pub fn last_flush_error(&self) -> Option<String> {
        lock(&self.shared.last_error).clone()
    }

    /// Stops the background writer and writes everything that is dirty. Nothing is lost on a
    /// clean close.
    ///
    /// # Errors
    /// [`Error::Storage`] when the final write fails (the data is then still in memory).
    pub fn close(&self) -> Result<(), Error> {
        self.state().closed = true;
        self.shared.wake.notify_all();
        if let Some(handle) = lock(&self.flusher).take() {
            let _ = handle.join();
        }
        flush(&self.shared).map(drop)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            *lock(&self.shared.last_error) = Some(e.to_string());
        }
    }
}

fn flush(shared: &Shared) -> Result<usize, Error> {
    let Some(store) = &shared.store else {
        return Ok(0);
    };
    let rows: Vec<Row> = {
        let mut st = lock(&shared.state);
        let mut dirty: Vec<i64> = std::mem::take(&mut st.dirty).into_iter().collect();
        // In key order: SQLite appends to its B-tree instead of inserting all over it.
        dirty.sort_unstable();
        st.in_flight += 1;
        dirty
            .into_iter()
            .filter_map(|pk| {
                Some(Row {
                    pk,
                    stream: Arc::clone(st.streams.get(&pk)?),
                    aliases: st.aliases.get(&pk).cloned().unwrap_or_default(),
                })
            })
            .collect()
    };
    let result = if rows.is_empty() {
        Ok(())
    } else {
        lock(store).save(&rows)
    };
    let mut st = lock(&shared.state);
    st.in_flight -= 1;
    let out = match result {
        Ok(()) => {
            if !rows.is_empty() {
                shared.flushes.fetch_add(1, Ordering::Relaxed);
            }
            *lock(&shared.last_error) = None;
            Ok(rows.len())
        }
        Err(e) => {
            for r in &rows {
                if st.streams.contains_key(&r.pk) {
                    st.dirty.insert(r.pk);
                }
            }
            *lock(&shared.last_error) = Some(e.to_string());
            Err(e)
        }
    };
    drop(st);
    shared.flushed.notify_all();
    out
}

fn flush_loop(shared: &Shared) {
    loop {
        // Sleep a whole interval: a condition variable may wake up spuriously, and a write
        // before the interval is up would break the documented crash bound (tests kill a
        // writer mid-interval and count what was written).
        let deadline = Instant::now() + shared.options.flush_interval;
        {
            let mut st = lock(&shared.state);
            loop {
                if st.closed {
                    return;
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                st = shared
                    .wake
                    .wait_timeout(st, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
        }
        let _ = flush(shared);
    }
}
