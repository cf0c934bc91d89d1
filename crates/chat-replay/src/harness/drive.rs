//! [`drive`]: the part of a runner that is the same for every socket client. A crate's
//! runner builds its client from the fixture's header, connects, and hands over the event
//! stream, how to record an item, how to perform an action, and how to close.

use std::sync::{Arc, Mutex, PoisonError};

use futures_util::{FutureExt as _, Stream, StreamExt as _};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::{Action, Actions, ReplayServer};

/// What [`drive`] does with the event stream once the runner closed its client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterClose {
    /// Read it to its end: closing the client ends it, or it ends by itself.
    ReadToEnd,
    /// Stop reading and keep what is already queued: a stream there was nothing to close
    /// for (anonymous polling, say), which would otherwise run on.
    Stop,
}

/// Runs a connected client through the script and returns what it saw: every item of
/// `events`, as `record` renders it, in arrival order, then one
/// `{"type":"action","action":NAME,"ok":VALUE}` (or `"error":MESSAGE`) per action, in
/// script order.
///
/// The sequence, the same for every runner:
/// 1. a task reads `events` and records each item;
/// 2. a task takes each scripted action from `actions` as the conversation reaches it and
///    awaits `perform(action)`;
/// 3. once [`ReplayServer::wait_done`] resolves (every step but the closing sequence has
///    happened), the action task stops: an action already taken finishes first, and actions
///    already queued are still performed, so closing never cuts one short;
/// 4. `close` runs (the runner closes its client; an error it wants in the output it keeps
///    itself) and says whether the stream is read to its end or stopped.
///
/// Nothing sleeps: every step waits for a signal.
///
/// # Errors
/// When the reading or the acting task panicked.
///
/// # Cancel safety
/// Not cancel-safe: dropping the future leaves both tasks running until the stream and the
/// actions end.
pub async fn drive<S, R, P, F>(
    server: &ReplayServer,
    actions: Actions,
    events: S,
    record: R,
    perform: P,
    close: impl Future<Output = AfterClose>,
) -> Result<Vec<Value>, String>
where
    S: Stream + Unpin + Send + 'static,
    R: FnMut(S::Item) -> Value + Send + 'static,
    P: FnMut(Action) -> F + Send + 'static,
    F: Future<Output = Result<Value, String>> + Send + 'static,
{
    let seen = Arc::new(Mutex::new(Vec::new()));
    // Held until the collector is done, even when unused: a dropped sender reads as a stop.
    let (stop_reading, stop_reading_rx) = oneshot::channel::<()>();
    let collector = tokio::spawn(collect(events, record, Arc::clone(&seen), stop_reading_rx));

    let results = Arc::new(Mutex::new(Vec::new()));
    let (stop_acting, stop_acting_rx) = oneshot::channel::<()>();
    let performer = tokio::spawn(act(actions, perform, Arc::clone(&results), stop_acting_rx));

    server.wait_done().await;
    let _ = stop_acting.send(());
    performer.await.map_err(|e| e.to_string())?;
    let keep_reading = match close.await {
        AfterClose::ReadToEnd => Some(stop_reading),
        AfterClose::Stop => {
            let _ = stop_reading.send(());
            None
        }
    };
    collector.await.map_err(|e| e.to_string())?;
    drop(keep_reading);

    let mut out = std::mem::take(&mut *lock(&seen));
    out.extend(std::mem::take(&mut *lock(&results)));
    Ok(out)
}

fn lock<T>(m: &Mutex<Vec<T>>) -> std::sync::MutexGuard<'_, Vec<T>> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Records items until the stream ends, or until `stop`, then takes what is already queued.
async fn collect<S, R>(
    mut events: S,
    mut record: R,
    out: Arc<Mutex<Vec<Value>>>,
    mut stop: oneshot::Receiver<()>,
) where
    S: Stream + Unpin,
    R: FnMut(S::Item) -> Value,
{
    loop {
        tokio::select! {
            biased;
            item = events.next() => match item {
                Some(item) => {
                    let v = record(item);
                    lock(&out).push(v);
                }
                None => return,
            },
            _ = &mut stop => break,
        }
    }
    while let Some(Some(item)) = events.next().now_or_never() {
        let v = record(item);
        lock(&out).push(v);
    }
}

/// Performs actions as they come until there are no more, or until `stop`; an action in
/// flight finishes before the runner closes the client.
async fn act<P, F>(
    mut actions: Actions,
    mut perform: P,
    out: Arc<Mutex<Vec<Value>>>,
    mut stop: oneshot::Receiver<()>,
) where
    P: FnMut(Action) -> F,
    F: Future<Output = Result<Value, String>>,
{
    loop {
        let action = tokio::select! {
            biased;
            a = actions.next() => match a {
                Some(a) => a,
                None => break,
            },
            _ = &mut stop => break,
        };
        let name = action.name.clone();
        let entry = match perform(action).await {
            Ok(v) => json!({"type": "action", "action": name, "ok": v}),
            Err(e) => json!({"type": "action", "action": name, "error": e}),
        };
        lock(&out).push(entry);
    }
}
