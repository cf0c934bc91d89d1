//! [`Waiters`]: `wait_for` and `wait_for_map`, written once for every client.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::lock;

/// Why a wait ended without a match. Each client maps it into its own `Error` (`Closed`,
/// `Timeout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WaitError {
    /// The event stream ended before a matching event arrived (or, for a wait registered
    /// before `connect()`, the connection failed).
    #[error("the client stopped before a matching event arrived")]
    Closed,
    /// Nothing matched within the timeout.
    #[error("timed out waiting for a matching event")]
    Timeout,
}

/// One registered wait: true once it is done (matched, or its caller gave up).
type Waiter<E> = Box<dyn FnMut(&E) -> bool + Send>;

struct State<E> {
    /// How many [`Attached`] guards are alive (running event streams).
    attached: usize,
    list: Vec<Waiter<E>>,
}

/// The waits registered on one client handle.
///
/// The handle owns it; its background task holds an [`Attached`] guard while its event
/// stream runs and calls [`notify`](Self::notify) with every event it emits. A wait is
/// registered when [`wait_for_map`](Self::wait_for_map) is *called*, not when its future is
/// first polled, so nothing that arrives after the call is missed; a wait registered before
/// the stream starts sees it from its first event (`Connected`).
pub struct Waiters<E> {
    state: Arc<Mutex<State<E>>>,
}

impl<E> Clone for Waiters<E> {
    fn clone(&self) -> Self {
        Self {
            state: Arc::clone(&self.state),
        }
    }
}

impl<E> Default for Waiters<E> {
    fn default() -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                attached: 0,
                list: Vec::new(),
            })),
        }
    }
}

impl<E> std::fmt::Debug for Waiters<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = lock(&self.state);
        f.debug_struct("Waiters")
            .field("attached", &state.attached)
            .field("waiting", &state.list.len())
            .finish()
    }
}

/// Held by a running event stream. When the last one is dropped, pending waits end with
/// [`WaitError::Closed`].
pub struct Attached<E> {
    state: Arc<Mutex<State<E>>>,
}

impl<E> std::fmt::Debug for Attached<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attached").finish_non_exhaustive()
    }
}

impl<E> Drop for Attached<E> {
    fn drop(&mut self) {
        let dropped = {
            let mut state = lock(&self.state);
            state.attached -= 1;
            if state.attached == 0 {
                std::mem::take(&mut state.list)
            } else {
                Vec::new()
            }
        };
        // Dropping a waiter drops its reply sender, which ends its wait as `Closed`; done
        // outside the lock.
        drop(dropped);
    }
}

impl<E: 'static> Waiters<E> {
    /// An empty set (no stream attached).
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks an event stream as running until the guard is dropped.
    pub fn attach(&self) -> Attached<E> {
        lock(&self.state).attached += 1;
        Attached {
            state: Arc::clone(&self.state),
        }
    }

    /// Offers `event` to every pending wait; the ones it satisfies resolve.
    ///
    /// The predicates run outside the lock, so a predicate may register another wait.
    pub fn notify(&self, event: &E) {
        let mut list = std::mem::take(&mut lock(&self.state).list);
        if list.is_empty() {
            return;
        }
        list.retain_mut(|waiter| !waiter(event));
        let mut state = lock(&self.state);
        list.append(&mut state.list);
        state.list = list;
    }

    /// Waits for the first event for which `pick` returns `Some`, and returns that value. The
    /// event still goes to the stream.
    ///
    /// # Errors
    /// [`WaitError::Closed`] when the stream ends first, [`WaitError::Timeout`] after
    /// `timeout`.
    ///
    /// # Cancel safety
    /// Dropping the future abandons the wait; the next event removes it.
    pub fn wait_for_map<T, F>(
        &self,
        mut pick: F,
        timeout: Duration,
    ) -> impl Future<Output = Result<T, WaitError>> + Send + 'static + use<T, F, E>
    where
        T: Send + 'static,
        F: FnMut(&E) -> Option<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let mut tx = Some(tx);
        lock(&self.state).list.push(Box::new(move |event: &E| {
            if tx.as_ref().is_none_or(oneshot::Sender::is_closed) {
                return true;
            }
            match pick(event) {
                Some(value) => {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(value);
                    }
                    true
                }
                None => false,
            }
        }));
        async move {
            match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(value)) => Ok(value),
                Ok(Err(_)) => Err(WaitError::Closed),
                Err(_) => Err(WaitError::Timeout),
            }
        }
    }

    /// Waits for the first event that satisfies `predicate` and returns a copy of it.
    ///
    /// # Errors
    /// As [`wait_for_map`](Self::wait_for_map).
    pub fn wait_for<F>(
        &self,
        predicate: F,
        timeout: Duration,
    ) -> impl Future<Output = Result<E, WaitError>> + Send + 'static + use<F, E>
    where
        E: Clone + Send,
        F: Fn(&E) -> bool + Send + 'static,
    {
        self.wait_for_map(move |e| predicate(e).then(|| e.clone()), timeout)
    }

    /// How many waits are pending.
    pub fn pending(&self) -> usize {
        lock(&self.state).list.len()
    }
}

/// Writes a handle's `wait_for` and `wait_for_map` over its [`Waiters`], with their docs, so
/// every client has the same two methods: `|this| this.inner.waiters` says where the handle
/// keeps them; `captures: [T]` names the handle's type parameters, if any.
#[macro_export]
macro_rules! wait_methods {
    (
        waiters: |$this:ident| $waiters:expr,
        event: $event:ty,
        error: $error:ty
        $(, captures: [$($g:ident),*])? $(,)?
    ) => {
        /// Waits for the next event that satisfies `predicate` and returns it (the event
        /// still goes to the stream). The wait is registered when this is called, not when
        /// the future is first polled, so nothing that arrives after the call is missed;
        /// called before the stream starts, it sees the stream from its first event.
        ///
        /// # Errors
        /// `Error::Timeout`; `Error::Closed` when the stream ends first (or the connection
        /// it waited for failed).
        ///
        /// # Cancel safety
        /// Dropping the future abandons the wait.
        pub fn wait_for<F>(
            &self,
            predicate: F,
            timeout: ::std::time::Duration,
        ) -> impl ::core::future::Future<Output = ::core::result::Result<$event, $error>>
               + Send
               + 'static
               + use<F $($(, $g)*)?>
        where
            F: Fn(&$event) -> bool + Send + 'static,
        {
            let $this = self;
            let wait = ($waiters).wait_for(predicate, timeout);
            async move { Ok(wait.await?) }
        }

        /// Waits for the first event for which `pick` returns `Some`, and returns that value:
        /// the typed form of `wait_for`, registered the same way.
        ///
        /// # Errors
        /// As `wait_for`.
        pub fn wait_for_map<V, F>(
            &self,
            pick: F,
            timeout: ::std::time::Duration,
        ) -> impl ::core::future::Future<Output = ::core::result::Result<V, $error>>
               + Send
               + 'static
               + use<V, F $($(, $g)*)?>
        where
            V: Send + 'static,
            F: FnMut(&$event) -> Option<V> + Send + 'static,
        {
            let $this = self;
            let wait = ($waiters).wait_for_map(pick, timeout);
            async move { Ok(wait.await?) }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: Duration = Duration::from_secs(60);

    #[tokio::test]
    async fn a_wait_registers_at_the_call_and_picks_its_value() {
        let waiters = Waiters::<u32>::new();
        let _stream = waiters.attach();
        let even = waiters.wait_for_map(|n| (n % 2 == 0).then(|| n * 10), LONG);
        let three = waiters.wait_for(|n| *n == 3, LONG);
        // Both are registered before either future is polled.
        for n in [1, 3, 4] {
            waiters.notify(&n);
        }
        assert_eq!(even.await, Ok(40));
        assert_eq!(three.await, Ok(3));
        assert_eq!(waiters.pending(), 0);
    }

    #[tokio::test]
    async fn a_wait_registered_before_the_stream_sees_it_and_fails_when_it_ends() {
        let waiters = Waiters::<u32>::new();
        let early = waiters.wait_for(|n| *n == 1, LONG);
        let never = waiters.wait_for(|_| false, LONG);
        let stream = waiters.attach();
        waiters.notify(&1);
        assert_eq!(early.await, Ok(1));
        drop(stream);
        assert_eq!(never.await, Err(WaitError::Closed));
    }

    #[tokio::test]
    async fn a_wait_times_out_and_is_removed_by_the_next_event() {
        let waiters = Waiters::<u32>::new();
        let _stream = waiters.attach();
        let pending = waiters.wait_for(|_| false, Duration::from_millis(5));
        assert_eq!(pending.await, Err(WaitError::Timeout));
        assert_eq!(waiters.pending(), 1);
        waiters.notify(&1);
        assert_eq!(
            waiters.pending(),
            0,
            "an abandoned wait goes at the next event"
        );
    }

    #[test]
    fn is_send_sync() {
        fn assert_send_sync<T: Send + Sync + std::fmt::Debug>() {}
        assert_send_sync::<Waiters<u32>>();
        assert_send_sync::<Attached<u32>>();
        assert_send_sync::<WaitError>();
    }
}
