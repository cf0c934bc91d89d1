#![doc = include_str!("../README.md")]

mod client;
mod compat;
mod config;
mod driver;
mod error;
mod event;
mod http;
mod manage;
pub mod model;
#[cfg(feature = "unstable-proto")]
pub mod proto;
#[cfg(not(feature = "unstable-proto"))]
mod proto;

pub use chatwire_core;
pub use chatwire_net::{Method, ReconnectPolicy};
pub use client::{ChatClient, Events};
pub use config::{ClientBuilder, Credentials, Endpoints, Timing};
pub use error::Error;
pub use event::{Context, Event, Handler};
pub use manage::{ManageClient, Page, RestrictDays, Role};
pub use model::{
    Blind, ChannelId, ChatChannelId, ChatMessage, DonationMessage, Line, Message, Mission,
    NoticeMessage, Profile, RecentChat, SubscriptionGiftMessage, SubscriptionMessage,
    SystemMessage, UserIdHash,
};

#[cfg(test)]
mod tests {
    fn send_sync_debug<T: Send + Sync + std::fmt::Debug>() {}

    #[test]
    fn handles_configs_events_and_errors_are_send_sync_debug() {
        use super::*;
        send_sync_debug::<ChatClient>();
        send_sync_debug::<ClientBuilder>();
        send_sync_debug::<Credentials>();
        send_sync_debug::<Endpoints>();
        send_sync_debug::<Timing>();
        send_sync_debug::<ReconnectPolicy>();
        send_sync_debug::<Events>();
        send_sync_debug::<Event>();
        send_sync_debug::<Context>();
        send_sync_debug::<Error>();
        send_sync_debug::<ManageClient>();
        send_sync_debug::<ChannelId>();
        send_sync_debug::<ChatChannelId>();
        send_sync_debug::<UserIdHash>();
        send_sync_debug::<RestrictDays>();
        send_sync_debug::<Method>();
    }
}
