//! Anonymous reading: the room's events by HTTP polling.

use chatwire_net::Method;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::{mpsc, oneshot};

use crate::Error;
use crate::error::truncate;
use crate::event::Event;
use crate::model::{Connected, Disconnected};
use crate::proto;
use crate::proto::delivery::{Delivery, Outcome};
use crate::room::{Out, RoomInner};

/// Anonymous reading: `POST /events` with the last counter, every poll interval, until the
/// handle closes the room or too many polls in a row fail.
pub(crate) async fn poll_loop(
    room: Arc<RoomInner>,
    tx: Out,
    mut close: mpsc::UnboundedReceiver<oneshot::Sender<()>>,
) {
    let session = &room.session;
    let room_id = room.room_id;
    let mut counter = room.counter.load(Ordering::Relaxed);
    let timing = session.options.timing.clone();
    tx.emit(Ok(Event::Connected(Connected {
        room_id,
        since: counter,
        reconnect: 0,
    })));
    let mut delivery = Delivery::new(room_id);
    let mut failures = 0u32;
    let reason = loop {
        let wait = if failures == 0 {
            timing.poll_interval
        } else {
            timing.poll_failure_backoff * failures
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = tx.tx.closed() => return,
            done = close.recv() => {
                tx.emit(Ok(Event::Disconnected(Disconnected {
                    room_id,
                    reason: "closed by the client".into(),
                })));
                if let Some(done) = done {
                    let _ = done.send(());
                }
                return;
            }
        }
        let result = async {
            let fkey = session.fkey().await?;
            let key = format!("r{room_id}");
            let since = counter.to_string();
            let resp = session
                .post_form(
                    &session.chat_url("/events"),
                    &[(&key, &since), ("fkey", &fkey)],
                )
                .await?;
            if resp.status != 200 {
                return Err(Error::Http {
                    method: Method::Post,
                    url: session.chat_url("/events"),
                    status: resp.status,
                    body: truncate(&resp.text(), 512),
                });
            }
            proto::parse_frame(&resp.text(), room_id.get())
                .map_err(|why| Error::decode("a poll answer", why, &resp.text()))
        }
        .await;
        match result {
            Ok(frame) => {
                failures = 0;
                let Some(frame) = frame else { continue };
                if let Some(t) = frame.counter {
                    counter = counter.max(t);
                    room.counter.fetch_max(t, Ordering::Relaxed);
                }
                for outcome in delivery.deliver(frame.events, false, false) {
                    if let Outcome::Emit(item) = outcome {
                        tx.emit(item);
                    }
                }
            }
            Err(e) => {
                failures += 1;
                let fatal = failures > timing.poll_retries;
                let text = e.to_string();
                tx.emit(Err(e));
                if fatal {
                    break format!("gave up after {failures} failed polls: {text}");
                }
            }
        }
    };
    tx.emit(Ok(Event::Disconnected(Disconnected { room_id, reason })));
}
