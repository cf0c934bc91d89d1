#![doc = include_str!("../README.md")]
#![warn(clippy::exhaustive_enums, clippy::exhaustive_structs)]

/// `with_<field>(value)` setters for `Option` fields: each stores `Some(value.into())`.
macro_rules! optional_setters {
    ($t:ty { $( $(#[$doc:meta])* $name:ident($field:ident: $arg:ty); )* }) => {
        impl $t {
            $(
                $(#[$doc])*
                #[must_use]
                pub fn $name(mut self, $field: $arg) -> Self {
                    self.$field = Some($field.into());
                    self
                }
            )*
        }
    };
}

mod error;
mod event;
mod message;
mod platform;
mod support;

pub use error::{BoxError, DecodeError, Error, ErrorKind, Retry, excerpt};
pub use event::{ChatEvent, EventStream, RoomMode};
pub use message::{Author, Badge, ChannelKind, ChannelRef, ChatMessage, Fragment, Role};
pub use platform::{Platform, UnknownPlatform};
pub use support::{Donation, DonationKind, Gift, Subscription};

/// Re-exported so users of [`ChatMessage::timestamp`] need not add `time` themselves.
pub use time::OffsetDateTime;
