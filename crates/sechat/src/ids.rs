//! The id newtypes: rooms, users and messages, so one cannot be passed for another. Each
//! serialises as the bare number.

use serde::{Deserialize, Serialize};

macro_rules! int_id {
    ($(#[$meta:meta])* $name:ident($int:ty)) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub $int);

        impl $name {
            /// The number.
            pub fn get(self) -> $int {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<$int> for $name {
            fn from(n: $int) -> Self {
                Self(n)
            }
        }

        impl From<$name> for $int {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl PartialEq<$int> for $name {
            fn eq(&self, other: &$int) -> bool {
                self.0 == *other
            }
        }
    };
}

int_id! {
    /// A chat room (`chat.stackexchange.com/rooms/<id>`).
    RoomId(u64)
}

int_id! {
    /// A chat user, per server (not the site or network account id). Negative for system
    /// accounts: -2 is "Feeds".
    UserId(i64)
}

int_id! {
    /// A chat message (what you reply to, edit, star, pin, move).
    MessageId(u64)
}
