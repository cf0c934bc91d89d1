//! The LiveKit oracles: the Python SDK's `ChatManager` (livekit 0.21.3, the last release with
//! it) and components-js's `setupChat` on a real livekit-client `Room`, with
//! `@livekit/protocol` for the packet bytes. Both directions:
//!
//! - what livekit-chat sends (captured by a recording [`Transport`] around an in-memory room
//!   participant, stamped with the sender as the server does) is fed to the reference
//!   receivers, and what they surface is compared with what our own receiving `ChatManager`
//!   surfaces from the same packets;
//! - what the references send (captured where they hand packets to the SDK core or the data
//!   channel) is fed to our receiving `ChatManager` and compared with what the reference says
//!   it sent, or with what the reference's own receiver surfaces.
//!
//! Every packet's bytes are also compared field by field: `@livekit/protocol`'s
//! `DataPacket.fromBinary(...).toJson()` against our `proto::decode` in the protobuf JSON
//! mapping (the `livekit-protocol` crate's pbjson serialisation).
//!
//! `send.rs` acts out our scenarios on an in-memory room and records what we send;
//! `receive.rs` is our receiving manager and the views the oracles are compared on;
//! `python.rs` and `js.rs` run the two oracles and build their cases. The helpers below are
//! what both oracles share.

mod js;
mod python;
mod receive;
mod send;

use serde_json::Value;

use super::{Case, Env};

pub(crate) use js::run_js;
pub(crate) use python::run_python;

/// Our sender's identity.
const RUST: &str = "rust";

/// A case whose long strings (texts, chunk contents) are shown as their length, a digest and
/// their start, so a failure stays readable; equal strings stay equal.
pub(super) fn case(id: String, ours: Value, theirs: Result<Value, String>) -> Case {
    Case::new(id, shorten(ours), theirs.map(shorten))
}

fn shorten(v: Value) -> Value {
    match v {
        Value::String(s) if s.len() > 200 => {
            // FNV-1a, 64 bits.
            let digest = s.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
            });
            let start: String = s.chars().take(40).collect();
            Value::String(format!(
                "<{} bytes, fnv1a {digest:016x}: {start}…>",
                s.len()
            ))
        }
        Value::Array(a) => Value::Array(a.into_iter().map(shorten).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, shorten(v))).collect()),
        other => other,
    }
}

pub(super) fn pick(v: &Value, keys: &[&str]) -> Value {
    Value::Object(
        keys.iter()
            .map(|k| ((*k).to_owned(), v.get(*k).cloned().unwrap_or(Value::Null)))
            .collect(),
    )
}

pub(super) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

pub(super) fn unhex(s: &str) -> Result<Vec<u8>, String> {
    if !s.len().is_multiple_of(2) {
        return Err(format!("odd hex length {}", s.len()));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|e| format!("bad hex: {e}")))
        .collect()
}

pub(super) fn str_of<'a>(v: &'a Value, key: &str) -> Result<&'a str, String> {
    v[key]
        .as_str()
        .ok_or_else(|| format!("the script's output lacks {key:?}: {v}"))
}

pub(super) fn arr<'a>(v: &'a Value, key: &str) -> Result<&'a [Value], String> {
    v[key]
        .as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| format!("the script's output lacks {key:?}"))
}

/// The entry of `list` (the script's output for one scenario) named `name`.
pub(super) fn by_scenario<'a>(list: &'a [Value], name: &str) -> Result<&'a Value, String> {
    list.iter()
        .find(|s| s["scenario"] == name)
        .ok_or_else(|| format!("the script's output lacks scenario {name}"))
}

pub(super) fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio: {e}"))
}

pub(super) fn write_input(env: &Env, name: &str, input: &Value) -> Result<String, String> {
    let dir = env.dir.join("livekit");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(name);
    std::fs::write(&path, input.to_string()).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path.to_string_lossy().into_owned())
}
