#![doc = include_str!("../README.md")]

mod client;
mod config;
mod credentials;
mod error;
mod event;
mod ids;
pub mod model;
mod poll;
#[cfg(feature = "unstable-proto")]
pub mod proto;
#[cfg(not(feature = "unstable-proto"))]
mod proto;
mod room;
mod session;
mod socket;

pub use chatwire_core;
pub use chatwire_net::{Method, ReconnectPolicy};
pub use client::{ChatClient, Profile};
pub use config::{ClientBuilder, RateLimitPolicy, Server, Timing};
pub use credentials::Credentials;
pub use error::{Error, LoginError};
pub use event::{Context, Event, Handler};
pub use ids::{MessageId, RoomId, UserId};
pub use model::{AccessLevel, EventData, SendResult};
pub use room::{Events, Room};

#[cfg(test)]
mod tests {
    fn send_sync_debug<T: Send + Sync + std::fmt::Debug>() {}

    #[test]
    fn handles_configs_events_and_errors_are_send_sync_debug() {
        use super::*;
        send_sync_debug::<ChatClient>();
        send_sync_debug::<Room>();
        send_sync_debug::<Profile>();
        send_sync_debug::<Credentials>();
        send_sync_debug::<ClientBuilder>();
        send_sync_debug::<Server>();
        send_sync_debug::<Timing>();
        send_sync_debug::<RateLimitPolicy>();
        send_sync_debug::<ReconnectPolicy>();
        send_sync_debug::<Events>();
        send_sync_debug::<Event>();
        send_sync_debug::<Context>();
        send_sync_debug::<Error>();
        send_sync_debug::<RoomId>();
        send_sync_debug::<UserId>();
        send_sync_debug::<MessageId>();
        send_sync_debug::<AccessLevel>();
        send_sync_debug::<Method>();
    }
}
