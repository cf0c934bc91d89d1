"""The Chzzk chat oracle: what chzzkpy 2.2.0 makes of each server frame of our fixtures.

Usage: chzzk_oracle.py INPUT.json

INPUT.json (written by `xtask/src/interop/chzzk.rs`):
    {"frames": [{"id": "<fixture>:<line>", "text": "<the frame as sent>", "binary": false}]}

Each frame goes through chzzkpy's own receive path, offline: `json.loads` (what aiohttp's
`msg.json()` does in `ChzzkWebSocket.poll_event`), then `ChzzkWebSocket.received_message`
on a gateway whose hooks are the parsers of a real `ConnectionState`, wired as
`ChzzkWebSocket.from_client` wires them. The socket is a stand-in that records what the gateway
sends (the PONG to a server PING); the client is a stand-in for a `ChatClient` that is not
logged in (the only thing the parsers ask of it is `has_login`). `dispatch` records the events
the application would receive, and `client_error` (a parser raised; chzzkpy logs it and goes on).

Prints one JSON document:
    {"chzzkpy": VERSION, "frames": {id: [[suffix, ITEM], ...]}}
where ITEM is {"ok": PROJECTION}, or {"error": "Type: text", "fatal": bool} when chzzkpy raised
(`fatal`: the exception escapes the receive loop and ends chzzkpy's client). The suffix is ""
for the frame, "#i" for line i of a chat batch with two lines or more, and "#i" for line i of a
recent-chat answer (whose "" item is the answer itself).

PROJECTION is the common shape the Rust side also builds from chzzk-chat's events; the field
list is in xtask/src/interop/chzzk.rs. It holds what chzzkpy models; where both represent the
same thing differently the value is normalised here, each case noted where it happens.
"""

import asyncio
import copy
import datetime
import json
import logging
import re
import sys
from importlib import metadata

# chzzkpy logs parser failures with log.exception; they are recorded as results here.
logging.disable(logging.CRITICAL)

from chzzkpy.unofficial.chat.donation import MissionParticipationDonation  # noqa: E402
from chzzkpy.unofficial.chat.enums import ChatCmd  # noqa: E402
from chzzkpy.unofficial.chat.error import ChatConnectFailed  # noqa: E402
from chzzkpy.unofficial.chat.gateway import ChzzkWebSocket  # noqa: E402
from chzzkpy.unofficial.chat.state import ConnectionState  # noqa: E402

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
IGNORED = {"kind": "ignored"}
BATCH_CMDS = (ChatCmd.CHAT, ChatCmd.SPECIAL_CHAT)
# Line kinds chzzkpy models as MessageDetail (with a status and a member count); gift lines
# and notices are plain Message.
DETAIL_KINDS = ("chat", "donation", "subscription", "system_message")
# The key that tags each line of a batch (kept by the models as an extra field) to tell which
# lines of a whole batch reached the application.
TAG = "oracleLine"


class RecordingSocket:
    """Stands in for aiohttp's ClientWebSocketResponse: records what the gateway sends."""

    def __init__(self):
        self.sent = []
        self.close_code = None

    async def send_json(self, data):
        self.sent.append(data)

    async def send_str(self, data):
        self.sent.append(json.loads(data))

    async def close(self):
        pass


class ReadOnlyClient:
    """Stands in for a ChatClient that has not logged in."""

    has_login = False


class Outcome:
    def __init__(self):
        self.events = []  # (name, args) as dispatched
        self.errors = []  # exceptions passed to client_error
        self.fatal = None  # an exception that escaped the receive path
        self.sent = []
        self.session_id = None

    def dispatch(self, name, *args, **_kwargs):
        if name == "client_error":
            self.errors.append(args[0])
        else:
            self.events.append((name, args))


async def receive(data):
    """One frame through chzzkpy's gateway and parsers."""
    out = Outcome()
    state = ConnectionState(dispatch=out.dispatch, handler={}, client=ReadOnlyClient())
    socket = RecordingSocket()
    gateway = ChzzkWebSocket(socket, asyncio.get_running_loop())
    for cmd, parser in state.parsers.items():
        gateway.set_hook(cmd, parser)
    try:
        await gateway.received_message(copy.deepcopy(data))
    except Exception as exc:  # noqa: BLE001 - every failure is a result
        out.fatal = exc
    out.sent = socket.sent
    out.session_id = gateway.session_id
    return out


def describe(exc):
    return f"{type(exc).__name__}: {exc}".strip()


def ok(value):
    return {"ok": value}


def failed(exc, fatal):
    return {"error": describe(exc), "fatal": fatal}


def ms(value):
    """A datetime as Unix milliseconds (chzzkpy keeps times as datetimes)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return (value - EPOCH) // datetime.timedelta(milliseconds=1)


def badge(b):
    return None if b is None else {"name": b.name, "image_url": b.image_url}


def profile(p):
    if p is None:
        return None
    sp = p.streaming_property
    sub = sp.subscription if sp is not None else None
    return {
        "user_id_hash": p.user_id_hash,
        "nickname": p.nickname,
        # chzzkpy keeps the empty string the server sends for "no image"; we keep None.
        "image_url": p.profile_image_url or None,
        "role": p.user_role.value if p.user_role is not None else None,
        "verified_mark": p.verified_mark,
        # chzzkpy merges the role badge image and the title name into one Badge.
        "badge": badge(p.badge),
        "color": p.color,
        "nickname_color": sp.nickname_color if sp is not None else None,
        "subscription": None
        if sub is None
        else {
            "month": sub.accumulative_month,
            "tier": sub.tier,
            "badge_image_url": sub.badge.image_url if sub.badge is not None else None,
        },
        "donation_ranking_badge": badge(sp.donation_ranking_badge) if sp is not None else None,
        "activity_badges": [
            {
                "badge_no": a.badge_no,
                "badge_id": a.badge_id,
                "name": a.name,
                "image_url": a.image_url,
                "activated": a.activated,
            }
            for a in p.activity_badges
        ],
        "viewer_badges": [
            {"type": v.type, "badge_id": v.badge_id, "scope": v.scope, "image_url": v.image_url}
            for v in p.viewer_badges
        ],
    }


def emojis(value):
    """chzzkpy keeps `emojis` as sent (an object, or the "" its own client sends); we keep the
    name -> URL entries of an object."""
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(v, str)}


def chat_extras(e):
    if e is None:
        return {"chat_type": None, "os_type": None, "streaming_channel_id": None, "emojis": {}}
    return {
        "chat_type": e.chat_type,
        "os_type": e.os_type,
        "streaming_channel_id": e.streaming_channel_id,
        "emojis": emojis(e.emojis),
    }


def rank(r):
    if r is None:
        return None
    return {
        "user_id_hash": r.user_id_hash,
        "nickname": r.nickname,
        "verified_mark": r.verified_mark,
        "donation_amount": r.donation_amount,
        "ranking": r.ranking,
    }


def wall_clock(value):
    """Mission times: chzzkpy parses "YYYY-MM-DD HH:MM:SS" into a datetime; we keep the text."""
    return None if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def mission(m):
    out = {
        "mission_donation_id": m.mission_donation_id,
        "mission_donation_type": m.mission_donation_type,
        "related_mission_donation_id": getattr(m, "related_mission_donation_id", None),
        "mission_text": m.mission_text,
        "total_pay_amount": m.total_pay_amount,
        "participation_count": m.participation_count,
        "status": m.status,
        "success": m.success,
        "donation_id": m.donation_id,
        "user_id_hash": m.user_id_hash,
        "nickname": m.nickname,
    }
    # Times and duration: chzzkpy models them for missions, not for participations.
    if not isinstance(m, MissionParticipationDonation):
        out["mission_created_time"] = wall_clock(m.mission_created_time)
        out["mission_start_time"] = wall_clock(m.mission_start_time)
        out["mission_end_time"] = wall_clock(m.mission_end_time)
        out["duration_time"] = m.duration_time
    return out


def donation_extras(e):
    if e is None:
        return None
    return {
        "donation_type": e.donation_type,
        "pay_type": e.pay_type,
        "pay_amount": e.pay_amount,
        "is_anonymous": e.is_anonymous,
        "weekly_rank_list": [rank(r) for r in e.weekly_rank_list or []],
        "user_weekly_rank": rank(e.donation_user_weekly_rank),
        "mission": mission(e)
        if e.donation_type in ("MISSION", "MISSION_PARTICIPATION")
        else None,
    }


def subscription_extras(e):
    if e is None:
        return None
    return {
        "month": e.month,
        "tier_name": e.tier_name,
        "tier_no": e.tier_no,
        "nickname": e.nickname,
    }


def gift_extras(e):
    if e is None:
        return None
    return {
        "gift_id": e.gift_id,
        "gift_type": e.gift_type,
        "selection_type": e.selection_type,
        "gift_tier_no": e.gift_tier_no,
        "gift_tier_name": e.gift_tier_name,
        "quantity": e.quantity,
        "partial_refunded_quantity": e.partial_refunded_quantity,
        "sender_user_id_hash": e.sender_user_id,
        "receiver_user_id_hash": e.receiver_user_id,
        "receiver_nickname": e.receiver_user,
        "receiver_verified_mark": e.receiver_user_verified_mark,
    }


def system_extras(e):
    if e is None:
        return None
    p = e.params
    return {
        "description": e.description,
        "style_type": e.style_type,
        "visible_roles": list(e.visible_roles),
        "register_nickname": p.register_nickname if p is not None else None,
        "target_nickname": p.target_nickname if p is not None else None,
        "register_profile": profile(p.register_chat_profile) if p is not None else None,
        "target_profile": profile(p.target_profile) if p is not None else None,
    }


EXTRAS = {
    "chat": chat_extras,
    "donation": donation_extras,
    "subscription": subscription_extras,
    "subscription_gift": gift_extras,
    "system_message": system_extras,
}


def line(kind, m):
    out = {
        "kind": kind,
        "type": int(m.type),
        "chat_channel_id": m.channel_id,
        "user_id": m.user_id,
        "text": m.content,
        "time_ms": ms(m.time),
        "created_ms": ms(m.created_time),
        "profile": profile(m.profile),
    }
    if kind in DETAIL_KINDS:
        # A missing status means a shown line in both (chzzkpy: None, is_blind False).
        out["status"] = m.message_status or "NORMAL"
        out["member_count"] = m.member_count
    out["extras"] = EXTRAS[kind](m.extras)
    return out


def pin(m):
    return {
        "kind": "pin",
        "type": int(m.type),
        "chat_channel_id": m.channel_id,
        "user_id": m.user_id,
        "text": m.content,
        "time_ms": ms(m.time),
        "created_ms": ms(m.created_time),
        "profile": profile(m.profile),
        "extras": chat_extras(m.extras),
        "register_profile": profile(m.extras.register_profile) if m.extras is not None else None,
    }


def mission_event(kind, m):
    return {
        "kind": kind,
        "pay_amount": m.pay_amount,
        "is_anonymous": m.is_anonymous,
        "mission": mission(m),
    }


MISSION_EVENTS = {
    "mission_pending": "mission_pending",
    "mission_approved": "mission_approved",
    "mission_rejected": "mission_rejected",
    "mission_completed": "mission_completed",
    # chzzkpy's name for a participation (its docs call it on_mission_cost_update).
    "mission_update_cost": "mission_participation",
}
CONNECT_FAILED = re.compile(r"Chat Initial Connect Failed \(Code: (.*), Message: (.*)\)$", re.S)


def project(out):
    """The one item a frame (or a one-line batch) gives, from what chzzkpy did with it."""
    if out.fatal is not None:
        # chzzkpy reports a refused join by raising; that is its answer, not a failure.
        match = CONNECT_FAILED.match(str(out.fatal))
        if isinstance(out.fatal, ChatConnectFailed) and match:
            code, msg = match.groups()
            return ok({"kind": "connect_failed", "ret_code": int(code), "ret_msg": msg})
        return failed(out.fatal, True)
    if out.errors:
        return failed(out.errors[0], False)
    # NOTICE dispatches the same message as "notice" and as "pin": one item.
    events = [(n, a) for n, a in out.events if n != "notice"]
    if not events:
        if {"cmd": ChatCmd.PONG, "ver": 2} in out.sent:
            return ok({"kind": "ping"})
        return ok(IGNORED)
    if len(events) > 1:
        names = [n for n, _ in events]
        return {"error": f"chzzkpy dispatched {len(events)} events: {names}", "fatal": False}
    name, args = events[0]
    try:
        if name == "connect":
            return ok({"kind": "connected", "sid": out.session_id})
        if name in EXTRAS:
            return ok(line(name, args[0]))
        if name == "pin":
            return ok(pin(args[0]))
        if name == "unpin":
            return ok({"kind": "unpin"})
        if name == "blind":
            b = args[0]
            return ok(
                {
                    "kind": "blind",
                    "blind_type": b.blind_type,
                    "user_id": b.user_id,
                    "time_ms": ms(b.time),
                    "blind_user_id": b.blind_user_id,
                    "message": b.message,
                }
            )
        if name in MISSION_EVENTS:
            return ok(mission_event(MISSION_EVENTS[name], args[0]))
    except Exception as exc:  # noqa: BLE001 - a model property that raises when read
        return failed(exc, False)
    return {"error": f"the oracle does not project chzzkpy's {name!r} event", "fatal": False}


async def batch(data, lines):
    """A chat batch of two lines or more: one item per line. Each line alone shows what
    chzzkpy makes of it; the whole batch, tagged, shows which lines reach the application."""
    tagged = [dict(l, **{TAG: i}) if isinstance(l, dict) else l for i, l in enumerate(lines)]
    whole = dict(data, bdy=tagged)
    reached = set()
    for _, args in (await receive(whole)).events:
        extra = getattr(args[0], "model_extra", None) or {}
        reached.add(extra.get(TAG))
    items = []
    for i, l in enumerate(lines):
        item = project(await receive(dict(data, bdy=[l])))
        if "ok" in item and item["ok"] != IGNORED and i not in reached:
            item = {
                "error": "lost: an earlier line of the same batch failed validation, "
                "and chzzkpy abandons the rest of the batch",
                "fatal": False,
            }
        items.append([f"#{i}", item])
    return items


async def recent_chat(data):
    out = await receive(data)
    if out.fatal is not None:
        return [["", failed(out.fatal, True)]]
    if out.errors:
        return [["", failed(out.errors[0], False)]]
    answers = [a[0] for n, a in out.events if n == "recent_chat"]
    if len(answers) != 1:
        return [["", project(out)]]
    answer = answers[0]
    try:
        items = [
            [
                "",
                ok(
                    {
                        "kind": "recent_chat",
                        "user_count": answer.user_count,
                        "lines": len(answer.message_list),
                        "notice": pin(answer.notice) if answer.notice is not None else None,
                    }
                ),
            ]
        ]
        # Every line of an answer is a ChatMessage to chzzkpy, whatever its type.
        for i, m in enumerate(answer.message_list):
            items.append([f"#{i}", ok(line("chat", m))])
        return items
    except Exception as exc:  # noqa: BLE001 - a model property that raises when read
        return [["", failed(exc, False)]]


async def frame(f):
    if f.get("binary"):
        # poll_event handles TEXT messages only; a binary frame is skipped.
        return [["", ok(IGNORED)]]
    try:
        data = json.loads(f["text"])
    except ValueError as exc:
        return [["", failed(exc, True)]]
    if isinstance(data, dict):
        cmd = data.get("cmd")
        body = data.get("bdy")
        if cmd in BATCH_CMDS and isinstance(body, list) and len(body) > 1:
            return await batch(data, body)
        if cmd == ChatCmd.RECENT_CHAT:
            return await recent_chat(data)
    return [["", project(await receive(data))]]


async def main(path):
    with open(path, encoding="utf-8") as f:
        frames = json.load(f)["frames"]
    results = {}
    for f in frames:
        results[f["id"]] = await frame(f)
    return {"chzzkpy": metadata.version("chzzkpy"), "frames": results}


if __name__ == "__main__":
    result = asyncio.run(main(sys.argv[1]))
    json.dump(result, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
