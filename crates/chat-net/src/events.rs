//! [`Events`]: the stream every client hands out, its sending side [`Emitter`], and the one
//! rule for what ends `run(handler)`.

use std::pin::Pin;
use std::task::{Context, Poll};

use chatwire_core::{ChatEvent, EventStream, Retry};
use futures_core::Stream;
use futures_util::StreamExt as _;
use tokio::sync::mpsc;

/// An event that may have a normalised form.
pub trait ToCore {
    /// The normalised event; `None` for events generic code does not see.
    fn to_core(&self) -> Option<ChatEvent>;
}

/// An error that knows its [`Retry`] decision.
pub trait Retryable {
    /// What trying again would take.
    fn retry(&self) -> Retry;
}

/// Where [`Events::drive`] sends each item: a client's handler with its context.
pub trait Dispatch<E, Err>: Sync {
    /// Handles one event.
    fn event(&self, event: E) -> impl Future<Output = ()> + Send;
    /// Handles one error (the stream goes on unless it was the last item).
    fn error(&self, error: &Err) -> impl Future<Output = ()> + Send;
}

/// One item in the channel, boxed: tokio's unbounded channel allocates room for 32 items up
/// front, and an unboxed `Result<Event, Error>` (about 1.6 KB for the largest Chzzk event)
/// made that 52 KB for every client, most of an idle connection's memory.
type Item<E, Err> = Box<Result<E, Err>>;

/// A new event stream and the emitter that feeds it.
pub fn channel<E, Err>() -> (Emitter<E, Err>, Events<E, Err>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Emitter { tx }, Events { rx })
}

/// The sending side of [`Events`], held by a client's background task.
#[derive(Debug)]
pub struct Emitter<E, Err> {
    tx: mpsc::UnboundedSender<Item<E, Err>>,
}

impl<E, Err> Clone for Emitter<E, Err> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
        }
    }
}

impl<E, Err> Emitter<E, Err> {
    /// Queues an item; false when the stream was dropped.
    pub fn emit(&self, item: Result<E, Err>) -> bool {
        self.tx.send(Box::new(item)).is_ok()
    }

    /// Whether the stream was dropped.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Resolves once the stream is dropped.
    pub async fn closed(&self) {
        self.tx.closed().await;
    }
}

/// The events of a client, in arrival order.
///
/// Per-item errors are yielded as `Err` and the stream goes on; it ends (`None`) after the
/// client's `Disconnected` event, which a fatal error (one whose `retry()` is
/// [`Retry::Never`]) comes just before. It is unbounded on purpose, so a slow consumer costs
/// memory, never a message or the keepalive: consume it promptly.
#[derive(Debug)]
pub struct Events<E, Err> {
    rx: mpsc::UnboundedReceiver<Item<E, Err>>,
}

impl<E, Err> Events<E, Err> {
    /// The next event; `None` once the client has stopped.
    ///
    /// # Cancel safety
    /// Cancel-safe: use it in `tokio::select!` without losing an event.
    pub async fn next(&mut self) -> Option<Result<E, Err>> {
        self.rx.recv().await.map(|item| *item)
    }

    /// The next event if one is already queued, without waiting.
    pub fn try_next(&mut self) -> Option<Result<E, Err>> {
        self.rx.try_recv().ok().map(|item| *item)
    }

    /// Runs the stream to its end through `dispatch`, one item at a time. Returns the error
    /// that ended the stream when it is fatal (its `retry()` is [`Retry::Never`]), `Ok` after
    /// a clean close or when the client gave up on passing failures. This is the rule every
    /// client's `run(handler)` follows.
    ///
    /// # Errors
    /// The fatal error that ended the stream.
    pub async fn drive(mut self, dispatch: &impl Dispatch<E, Err>) -> Result<(), Err>
    where
        Err: Retryable,
    {
        let mut last_error = None;
        while let Some(item) = self.next().await {
            match item {
                Ok(event) => dispatch.event(event).await,
                Err(e) => {
                    dispatch.error(&e).await;
                    last_error = Some(e);
                }
            }
        }
        match last_error {
            Some(e) if e.retry() == Retry::Never => Err(e),
            _ => Ok(()),
        }
    }

    /// The normalised events only, as chatwire-core's boxed stream.
    pub fn into_core(self) -> EventStream
    where
        E: ToCore + Send + 'static,
        Err: Into<chatwire_core::Error> + Send + 'static,
    {
        Box::pin(self.filter_map(|item| async move {
            match item {
                Ok(e) => e.to_core().map(Ok),
                Err(e) => Some(Err(e.into())),
            }
        }))
    }
}

impl<E, Err> Stream for Events<E, Err> {
    type Item = Result<E, Err>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx).map(|item| item.map(|item| *item))
    }
}

impl<E, Err> Unpin for Events<E, Err> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Failure(Retry);
    impl Retryable for Failure {
        fn retry(&self) -> Retry {
            self.0
        }
    }

    #[derive(Default)]
    struct Recorder {
        seen: std::sync::Mutex<(Vec<u32>, usize)>,
    }
    impl Dispatch<u32, Failure> for Recorder {
        async fn event(&self, event: u32) {
            self.seen.lock().unwrap().0.push(event);
        }
        async fn error(&self, _: &Failure) {
            self.seen.lock().unwrap().1 += 1;
        }
    }

    async fn drive(items: Vec<Result<u32, Failure>>) -> (Vec<u32>, usize, Result<(), Failure>) {
        let (tx, rx) = channel();
        for item in items {
            tx.emit(item);
        }
        drop(tx);
        let recorder = Recorder::default();
        let end = rx.drive(&recorder).await;
        let (seen, errors) = recorder.seen.into_inner().unwrap();
        (seen, errors, end)
    }

    #[tokio::test]
    async fn run_ends_with_the_fatal_error_only() {
        let (seen, errors, end) = drive(vec![Ok(1), Err(Failure(Retry::Now)), Ok(2)]).await;
        assert_eq!((seen, errors, end), (vec![1, 2], 1, Ok(())));
        let (_, _, end) = drive(vec![Ok(1), Err(Failure(Retry::Never))]).await;
        assert_eq!(end, Err(Failure(Retry::Never)));
        let (_, _, end) = drive(vec![Err(Failure(Retry::Backoff))]).await;
        assert_eq!(
            end,
            Ok(()),
            "a client that gave up on passing failures ends cleanly"
        );
    }

    #[test]
    fn is_send_sync() {
        fn assert_send_sync<T: Send + Sync + Unpin + std::fmt::Debug>() {}
        assert_send_sync::<Events<u32, std::io::Error>>();
        assert_send_sync::<Emitter<u32, std::io::Error>>();
    }
}
