#![doc = include_str!("../README.md")]

mod client;
mod config;
mod error;
mod event;
mod http;
mod manage;
pub mod model;
mod proto;

pub use chatwire_core;
pub use chatwire_net::ReconnectPolicy;
pub use client::{ChatClient, Events};
pub use config::{ClientBuilder, Credentials, Endpoints, Timing};
pub use error::Error;
pub use event::{Context, Event, Handler, core_message};
pub use manage::{ManageClient, Page, RestrictDays, Role};
pub use model::{
    Blind, ChatMessage, DonationMessage, Line, Message, Mission, NoticeMessage, Profile,
    RecentChat, SubscriptionGiftMessage, SubscriptionMessage, SystemMessage,
};
#[doc(hidden)]
pub use proto::{DecodedFrame, decode_frame};
