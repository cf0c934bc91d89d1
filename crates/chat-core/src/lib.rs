#![doc = include_str!("../README.md")]
#![warn(clippy::exhaustive_enums, clippy::exhaustive_structs)]

mod error;
mod event;
mod message;
mod platform;

pub use error::{BoxError, DecodeError, Error, ErrorKind, Retry, excerpt};
pub use event::{ChatEvent, EventStream};
pub use message::{Author, ChannelKind, ChannelRef, ChatMessage};
pub use platform::{Platform, UnknownPlatform};

/// Re-exported so users of [`ChatMessage::timestamp`] need not add `time` themselves.
pub use time::OffsetDateTime;
