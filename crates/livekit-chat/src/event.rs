//! Chat events, the callback trait, and the mapping to chatwire-core.

use std::future::Future;

use chatwire_core::{Author, ChannelRef, ChatEvent, Platform};
use serde::Serialize;

use crate::message::{ChatMessage, Identity};
use crate::{ChatManager, Error, Transport};

/// What the chat reports, in arrival order.
///
/// Serialised as `{"type": "received" | "edited" | "deleted", ...message}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// A new message (whatever format it came in; copies of one message arrive once).
    Received(ChatMessage),
    /// A message was edited: the text is new, `timestamp` is the original, `edit_timestamp`
    /// says when.
    Edited(ChatMessage),
    /// A message was deleted by its sender.
    Deleted(ChatMessage),
}

impl Event {
    /// The message.
    pub fn message(&self) -> &ChatMessage {
        match self {
            Self::Received(m) | Self::Edited(m) | Self::Deleted(m) => m,
        }
    }

    /// `"received"`, `"edited"` or `"deleted"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Received(_) => "received",
            Self::Edited(_) => "edited",
            Self::Deleted(_) => "deleted",
        }
    }

    /// The normalised form; the channel is the room.
    pub fn to_core(&self, room: &str) -> ChatEvent {
        let m = self.message();
        let channel = ChannelRef::group(room.to_owned());
        let core = || {
            let mut c = chatwire_core::ChatMessage::new(
                Platform::LiveKit,
                channel.clone(),
                Author::new(
                    m.participant.clone().unwrap_or_default().into_string(),
                    m.participant.clone().map(Identity::into_string),
                ),
                m.text(),
            )
            .with_id(m.id.clone());
            if let Ok(t) = chatwire_core::OffsetDateTime::from_unix_timestamp_nanos(
                i128::from(m.timestamp) * 1_000_000,
            ) {
                c = c.with_timestamp(t);
            }
            c
        };
        match self {
            Self::Received(_) => ChatEvent::Message(core()),
            Self::Edited(_) => ChatEvent::MessageEdited(core().with_edited(true)),
            Self::Deleted(_) => ChatEvent::MessageDeleted {
                platform: Platform::LiveKit,
                channel,
                message_id: m.id.clone(),
            },
        }
    }
}

/// What handler methods receive besides the event: the manager, to answer with.
#[derive(Debug)]
pub struct Context<T: Transport> {
    /// The manager the event came from.
    pub manager: ChatManager<T>,
}

impl<T: Transport> Clone for Context<T> {
    fn clone(&self) -> Self {
        Self {
            manager: self.manager.clone(),
        }
    }
}

/// Callbacks, like the Python SDK's `@chat.on("message_received")`: one method per event,
/// each a no-op by default, with the same shape as the other chatwire clients' handlers.
///
/// Generic over the transport so handlers can answer through
/// [`ctx.manager`](Context::manager); implement it for every transport at once:
///
/// ```
/// use livekit_chat::{ChatMessage, Context, Handler, Transport};
///
/// struct Echo;
///
/// impl<T: Transport> Handler<T> for Echo {
///     async fn on_message_received(&self, ctx: &Context<T>, message: &ChatMessage) {
///         if !message.is_local {
///             let _ = ctx.manager.send(&format!("echo: {}", message.text())).await;
///         }
///     }
/// }
/// ```
///
/// Run one with [`ChatManager::run`](crate::ChatManager::run); events are dispatched one at
/// a time, in order.
pub trait Handler<T: Transport>: Send + Sync {
    /// Called for every event before its specific method.
    fn on_event(&self, ctx: &Context<T>, event: &Event) -> impl Future<Output = ()> + Send {
        let _ = (ctx, event);
        async {}
    }
    /// Called for every packet that could not be decoded (chat goes on).
    fn on_error(&self, ctx: &Context<T>, error: &Error) -> impl Future<Output = ()> + Send {
        let _ = (ctx, error);
        async {}
    }
    /// Called for [`Event::Received`].
    fn on_message_received(
        &self,
        ctx: &Context<T>,
        message: &ChatMessage,
    ) -> impl Future<Output = ()> + Send {
        let _ = (ctx, message);
        async {}
    }
    /// Called for [`Event::Edited`].
    fn on_message_edited(
        &self,
        ctx: &Context<T>,
        message: &ChatMessage,
    ) -> impl Future<Output = ()> + Send {
        let _ = (ctx, message);
        async {}
    }
    /// Called for [`Event::Deleted`].
    fn on_message_deleted(
        &self,
        ctx: &Context<T>,
        message: &ChatMessage,
    ) -> impl Future<Output = ()> + Send {
        let _ = (ctx, message);
        async {}
    }
}

/// A shared handler (keep a clone to read its state after [`run`](crate::ChatManager::run)).
impl<T: Transport, H: Handler<T> + ?Sized> Handler<T> for std::sync::Arc<H> {
    fn on_event(&self, ctx: &Context<T>, event: &Event) -> impl Future<Output = ()> + Send {
        (**self).on_event(ctx, event)
    }
    fn on_error(&self, ctx: &Context<T>, error: &Error) -> impl Future<Output = ()> + Send {
        (**self).on_error(ctx, error)
    }
    fn on_message_received(
        &self,
        ctx: &Context<T>,
        message: &ChatMessage,
    ) -> impl Future<Output = ()> + Send {
        (**self).on_message_received(ctx, message)
    }
    fn on_message_edited(
        &self,
        ctx: &Context<T>,
        message: &ChatMessage,
    ) -> impl Future<Output = ()> + Send {
        (**self).on_message_edited(ctx, message)
    }
    fn on_message_deleted(
        &self,
        ctx: &Context<T>,
        message: &ChatMessage,
    ) -> impl Future<Output = ()> + Send {
        (**self).on_message_deleted(ctx, message)
    }
}

impl Event {
    /// Calls the handler's `on_event`, then the method for this event.
    pub async fn dispatch<T: Transport, H: Handler<T> + ?Sized>(
        &self,
        ctx: &Context<T>,
        handler: &H,
    ) {
        handler.on_event(ctx, self).await;
        match self {
            Self::Received(m) => handler.on_message_received(ctx, m).await,
            Self::Edited(m) => handler.on_message_edited(ctx, m).await,
            Self::Deleted(m) => handler.on_message_deleted(ctx, m).await,
        }
    }
}

/// What `run(handler)` drives the events through: the handler with its context.
pub(crate) struct Dispatcher<'a, T: Transport, H> {
    pub(crate) ctx: &'a Context<T>,
    pub(crate) handler: &'a H,
}

impl<T: Transport, H: Handler<T>> chatwire_net::Dispatch<Event, Error> for Dispatcher<'_, T, H> {
    async fn event(&self, event: Event) {
        event.dispatch(self.ctx, self.handler).await;
    }

    async fn error(&self, error: &Error) {
        self.handler.on_error(self.ctx, error).await;
    }
}
