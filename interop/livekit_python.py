"""The Python SDK's chat (livekit==0.21.3, the last release with `ChatManager`) as an oracle
for livekit-chat. Run by `cargo xtask interop` (oracle `livekit-python`) with the path of an
input JSON document made by xtask/src/interop/livekit.rs; prints one JSON document.

Nothing talks to a server. The room is a stand-in with `on`/`off`/`local_participant`, as
`ChatManager` needs; the local participant is the SDK's real `LocalParticipant`, whose
`publish_data` builds the real FFI request that we capture instead of handing it to the Rust
core (so defaults such as `reliable` and the str-to-bytes encoding are the SDK's own).

Input:
  {"ours":    [{"scenario", "packets": [{"topic", "payload_hex", "from"}]}],
   "foreign": [{"name", "json"}],
   "theirs":  [{"scenario", "actions": [{"send": text} | {"edit": text} | {"delete": true}]}],
   "now_ms": int}
Output:
  {"ours":    [{"scenario", "decoded": [message | {"rejected": why}], "manager": [message]}],
   "foreign": [{"name", "decoded": message | {"rejected": why}}],
   "theirs":  [{"scenario", "actions": [{"action", "message", "requests": [request]}]}]}
where message = {"id", "message", "timestamp" (ms), "deleted", "participant"} and request =
{"topic", "reliable", "destinations", "payload_hex"}.
"""

import asyncio
import ctypes
import json
import logging
import os
import sys
import time
from datetime import datetime, timedelta

# Python's ChatMessage keeps naive local datetimes; UTC makes them plain Unix time.
os.environ["TZ"] = "UTC"
time.tzset()

from livekit.rtc import ChatManager, ChatMessage  # noqa: E402
from livekit.rtc._ffi_client import FfiClient, FfiQueue  # noqa: E402
from livekit.rtc._proto import ffi_pb2, handle_pb2, participant_pb2, room_pb2  # noqa: E402
from livekit.rtc.participant import LocalParticipant, RemoteParticipant  # noqa: E402
from livekit.rtc.room import DataPacket  # noqa: E402

# ChatManager logs (and drops) what it cannot parse; keep stdout for the JSON document.
logging.basicConfig(stream=sys.stderr, level=logging.ERROR)

EPOCH = datetime(1970, 1, 1)


class CapturingFfi:
    """Stands in for the FFI client: records `publish_data` requests and answers them."""

    def __init__(self):
        self.queue = FfiQueue()
        self.requests = []
        self._next = 1

    def request(self, req):
        which = req.WhichOneof("message")
        if which != "publish_data":
            raise RuntimeError(f"unexpected FFI request {which}")
        p = req.publish_data
        payload = ctypes.string_at(p.data_ptr, p.data_len)
        self.requests.append(
            {
                "topic": p.topic,
                "reliable": p.reliable,
                "destinations": list(p.destination_identities),
                "payload_hex": payload.hex(),
            }
        )
        async_id = self._next
        self._next += 1
        resp = ffi_pb2.FfiResponse()
        resp.publish_data.async_id = async_id
        event = ffi_pb2.FfiEvent()
        event.publish_data.async_id = async_id
        self.queue.put(event)
        return resp


FFI = CapturingFfi()
FfiClient._instance = FFI


def owned(identity):
    # Handle 0 is the SDK's INVALID_HANDLE: nothing is ever dropped in the native core.
    return participant_pb2.OwnedParticipant(
        handle=handle_pb2.FfiOwnedHandle(id=0),
        info=participant_pb2.ParticipantInfo(sid="PA_" + identity, identity=identity),
    )


class FakeRoom:
    """What `ChatManager` uses of `rtc.Room`."""

    def __init__(self, identity):
        self.local_participant = LocalParticipant(None, owned(identity))
        self.remote = {}
        self._handlers = {}

    def on(self, event, callback):
        self._handlers.setdefault(event, []).append(callback)

    def off(self, event, callback):
        self._handlers.get(event, []).remove(callback)

    def deliver(self, payload, topic, sender):
        """Like `Room` on `data_packet_received` for a user packet."""
        participant = None
        if sender:
            participant = self.remote.setdefault(sender, RemoteParticipant(owned(sender)))
        packet = DataPacket(
            data=payload,
            kind=room_pb2.DataPacketKind.KIND_RELIABLE,
            participant=participant,
            topic=topic,
        )
        for callback in list(self._handlers.get("data_received", [])):
            callback(packet)


def ms(dt):
    """A ChatMessage datetime as Unix milliseconds (floor), exactly."""
    return (dt - EPOCH) // timedelta(milliseconds=1)


def view(msg):
    participant = msg.participant.identity if msg.participant is not None else None
    return {
        "id": msg.id,
        "message": msg.message,
        "timestamp": ms(msg.timestamp),
        "deleted": bool(msg.deleted),
        "participant": participant,
    }


def decode(text):
    try:
        return view(ChatMessage.from_jsondict(json.loads(text)))
    except Exception as e:  # what ChatManager would log and drop
        return {"rejected": f"{type(e).__name__}: {e}"}


def receive(session):
    """Our packets through `ChatMessage.from_jsondict` and through a `ChatManager`."""
    room = FakeRoom("py")
    chat = ChatManager(room)
    seen = []
    chat.on("message_received", lambda m: seen.append(view(m)))
    decoded = []
    for p in session["packets"]:
        payload = bytes.fromhex(p["payload_hex"])
        decoded.append(decode(payload))
        room.deliver(payload, p["topic"], p["from"])
    chat.close()
    # ChatManager emits every packet; an app keeps the latest per id (its docs say so).
    latest = {}
    for m in seen:
        latest[m["id"]] = m
    return {"scenario": session["scenario"], "decoded": decoded, "manager": list(latest.values())}


async def send(scenario):
    """A ChatManager's sends, as captured at the FFI boundary."""
    room = FakeRoom("py")
    chat = ChatManager(room)
    actions = []
    msg = None
    for action in scenario["actions"]:
        before = len(FFI.requests)
        if "send" in action:
            kind = "send"
            msg = await chat.send_message(action["send"])
        elif "edit" in action:
            kind = "edit"
            msg.message = action["edit"]
            await chat.update_message(msg)
        else:
            kind = "delete"
            msg.deleted = True
            await chat.update_message(msg)
        message = view(msg)
        # The timestamp as the SDK puts it on the wire (`int(dt.timestamp() * 1000)`, which can
        # be a millisecond below the exact value `ms` gives).
        message["timestamp"] = msg.asjsondict()["timestamp"]
        actions.append({"action": kind, "message": message, "requests": FFI.requests[before:]})
    chat.close()
    return {"scenario": scenario["scenario"], "actions": actions}


async def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        inp = json.load(f)
    out = {
        "ours": [receive(s) for s in inp["ours"]],
        "foreign": [{"name": c["name"], "decoded": decode(c["json"])} for c in inp["foreign"]],
        "theirs": [await send(s) for s in inp["theirs"]],
    }
    json.dump(out, sys.stdout)


asyncio.run(main())
