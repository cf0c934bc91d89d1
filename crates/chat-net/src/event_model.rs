//! [`event_model!`]: the event enum, its callback trait and their glue, generated from one
//! table in each client, so every client's `Handler` has the same shape.

/// Generates a client's event model from its table of `Variant(Payload) => on_method, "name";`
/// lines:
///
/// - the event enum (the attributes given, the variants, and a final `Unknown(`[`Unknown`](crate::Unknown)`)`)
///   with `kind()` (the `"name"`, or the unknown payload's kind) and `dispatch(ctx, handler)`;
/// - the handler trait: `on_event` (every event, first), `on_error`, and one no-op-by-default
///   `on_<event>(&self, ctx, &Payload)` per variant, plus `impl Handler for Arc<H>`;
/// - a crate-private `Dispatcher` for [`Events::drive`](crate::Events::drive), which is how
///   the client's `run(handler)` is written.
///
/// ```
/// use chatwire_net::event_model;
///
/// #[derive(Debug, Clone, PartialEq)]
/// pub struct Line(String);
/// /// The client, for answering.
/// #[derive(Debug, Clone)]
/// pub struct Context;
/// /// Its error.
/// #[derive(Debug)]
/// pub struct Error;
///
/// event_model! {
///     /// Everything the client reports.
///     #[derive(Debug, Clone, PartialEq)]
///     pub enum Event;
///     /// Callbacks.
///     pub trait Handler(Context, Error);
///     /// A chat line.
///     Chat(Line) => on_chat, "chat";
/// }
///
/// assert_eq!(Event::Chat(Line("hi".into())).kind(), "chat");
/// ```
#[macro_export]
macro_rules! event_model {
    (
        $(#[$enum_meta:meta])*
        pub enum $event:ident;
        $(#[$trait_meta:meta])*
        pub trait $handler:ident($ctx:ty, $error:ty);
        $( $(#[$doc:meta])* $variant:ident($payload:ty) => $method:ident, $name:literal; )*
    ) => {
        $(#[$enum_meta])*
        pub enum $event {
            $( $(#[$doc])* $variant($payload), )*
            /// Something this version does not type, kept whole and opaque.
            ///
            /// There is intentionally no promise that a given payload stays here: when a later
            /// version learns it, it moves to a typed variant. Code that wants every payload
            /// whatever the version uses `kind()` and `raw()`, or the handler's `on_event`.
            Unknown($crate::Unknown),
        }

        $(#[$trait_meta])*
        pub trait $handler: Send + Sync {
            /// Called for every event before its specific method (the escape hatch for
            /// payloads this version does not type).
            fn on_event(&self, ctx: &$ctx, event: &$event) -> impl ::core::future::Future<Output = ()> + Send {
                let _ = (ctx, event);
                async {}
            }

            /// Called for every error the stream yields; the stream goes on unless the error
            /// is fatal, and then a disconnect event follows.
            fn on_error(&self, ctx: &$ctx, error: &$error) -> impl ::core::future::Future<Output = ()> + Send {
                let _ = (ctx, error);
                async {}
            }

            $(
                #[doc = concat!("Called for [`", stringify!($event), "::", stringify!($variant), "`].")]
                fn $method(&self, ctx: &$ctx, event: &$payload) -> impl ::core::future::Future<Output = ()> + Send {
                    let _ = (ctx, event);
                    async {}
                }
            )*
        }

        impl<H: $handler + ?Sized> $handler for ::std::sync::Arc<H> {
            fn on_event(&self, ctx: &$ctx, event: &$event) -> impl ::core::future::Future<Output = ()> + Send {
                (**self).on_event(ctx, event)
            }

            fn on_error(&self, ctx: &$ctx, error: &$error) -> impl ::core::future::Future<Output = ()> + Send {
                (**self).on_error(ctx, error)
            }

            $(
                fn $method(&self, ctx: &$ctx, event: &$payload) -> impl ::core::future::Future<Output = ()> + Send {
                    (**self).$method(ctx, event)
                }
            )*
        }

        impl $event {
            /// The event's name: its serialised `type`, or for unknown payloads what they are
            /// in the client's notation.
            pub fn kind(&self) -> &str {
                match self {
                    $( Self::$variant(_) => $name, )*
                    Self::Unknown(u) => u.kind(),
                }
            }

            /// Calls the handler's `on_event`, then the method for this event.
            pub async fn dispatch<H: $handler + ?Sized>(&self, ctx: &$ctx, handler: &H) {
                handler.on_event(ctx, self).await;
                match self {
                    $( Self::$variant(e) => handler.$method(ctx, e).await, )*
                    Self::Unknown(_) => {}
                }
            }
        }

        /// What `run(handler)` drives the events through: the handler with its context.
        #[allow(dead_code, reason = "generated for every client; not all drive a stream")]
        pub(crate) struct Dispatcher<'a, H> {
            pub(crate) ctx: &'a $ctx,
            pub(crate) handler: &'a H,
        }

        impl<H: $handler> $crate::Dispatch<$event, $error> for Dispatcher<'_, H> {
            async fn event(&self, event: $event) {
                event.dispatch(self.ctx, self.handler).await;
            }

            async fn error(&self, error: &$error) {
                self.handler.on_error(self.ctx, error).await;
            }
        }
    };
}

/// Declares a settings struct whose fields are set through chained setters only (one per
/// field, named after it, documented by the field's doc), so adding a setting later is not a
/// breaking change and users never mutate a struct field by field.
///
/// ```
/// use std::time::Duration;
///
/// chatwire_net::settings! {
///     /// Intervals.
///     #[derive(Debug, Clone, PartialEq, Default)]
///     pub struct Timing {
///         /// How long to wait.
///         wait: Duration,
///     }
/// }
///
/// let t = Timing::default().wait(Duration::from_secs(1));
/// assert_eq!(t, Timing::default().wait(Duration::from_millis(1000)));
/// ```
#[macro_export]
macro_rules! settings {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$doc:meta])* $field:ident: $ty:ty, )*
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $( $(#[$doc])* pub(crate) $field: $ty, )*
        }

        impl $name {
            $(
                $(#[$doc])*
                #[must_use]
                pub fn $field(mut self, value: $ty) -> Self {
                    self.$field = value;
                    self
                }
            )*
        }
    };
}
