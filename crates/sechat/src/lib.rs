#![doc = include_str!("../README.md")]

mod client;
mod config;
mod credentials;
mod error;
mod event;
pub mod model;
mod proto;
mod session;

pub use chatwire_core;
pub use chatwire_net::ReconnectPolicy;
pub use client::{ChatClient, Events, Profile, Room};
pub use config::{Options, RateLimitPolicy, Server, Timing};
pub use credentials::Credentials;
pub use error::{Error, LoginError};
pub use event::{Context, Event, Handler, core_message};
pub use model::{EventData, SendResult};
#[doc(hidden)]
pub use proto::{DecodedFrame, decode_frame, decode_room_events};
