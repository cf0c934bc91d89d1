#![doc = include_str!("../README.md")]

mod backoff;
mod dedup;
pub mod encode;
mod error;
mod event_model;
mod events;
#[cfg(feature = "sockets")]
pub mod http;
mod id;
mod method;
#[cfg(feature = "sockets")]
mod stream;
mod unknown;
mod wait;
#[cfg(feature = "sockets")]
pub mod ws;

/// Re-exported for [`client_error!`].
pub use chatwire_core;

pub use backoff::{Backoff, ReconnectPolicy};
pub use dedup::DedupWindow;
pub use error::NetError;
pub use events::{Dispatch, Emitter, Events, Retryable, ToCore, channel};
pub use method::Method;
#[cfg(feature = "sockets")]
pub use stream::MaybeTls;
pub use unknown::Unknown;
pub use wait::{Attached, WaitError, Waiters};

/// Locks a mutex, taking over a poisoned one: every value the clients guard stays valid when
/// a holder panics (the state is replaced whole, never left half-written).
pub fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
