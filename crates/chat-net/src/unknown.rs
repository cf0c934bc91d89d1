//! [`Unknown`]: what a client keeps of a frame or event it does not type.

use serde::Serialize;
use serde_json::Value;

/// A frame or event this version does not know, kept whole and opaque: read it through
/// [`kind`](Self::kind) and [`raw`](Self::raw). A later version may type it, so match on the
/// typed variant then, not on this one. Serialised as `{"kind": ..., "raw": ...}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unknown {
    kind: String,
    raw: Value,
}

impl Unknown {
    /// A payload of `kind` (`cmd:94999`, `event_type:42`, ...), kept as received.
    pub fn new(kind: impl Into<String>, raw: Value) -> Self {
        Self {
            kind: kind.into(),
            raw,
        }
    }

    /// What it is, in the client's notation: chzzk-chat writes `cmd:94999`,
    /// `event:SOME_TYPE` or `line:121`; sechat writes `event_type:N`.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The payload as received.
    pub fn raw(&self) -> &Value {
        &self.raw
    }
}
