"""The Stack Exchange chat oracle: what the PyPI releases sechat 1.1.2 and chatexchange 0.0.4
make of each event of our fixtures' event frames.

Usage: sechat_oracle.py INPUT.json

INPUT.json (written by `xtask/src/interop/sechat.rs`):
    {"cases": [{"id": "...", "room": 12345, "frame": {"r12345": {"e": [EVENT], "t": N}}}, ...],
     "frames": [{"id": "...", "room": 12345, "frame": FRAME}, ...]}

Each case's frame holds exactly one event; "frames" are the fixtures' frames of several events,
whole. It goes through each library's own frame parser, offline:

- sechat 1.1.2: `sechat.Room.process(frame)` (what its reader thread calls for every decoded
  frame) on a `Room` made with `autoConnect=False`, with a handler registered for every member of
  `sechat.events.Events`. The handler receives the namedtuple sechat builds from the event.
- chatexchange 0.0.4: `Room._events_from_activity(frame, room_id)` (what both its socket and
  polling watchers call), which builds the `chatexchange.events` classes through
  `events.make`, on a `Client()` that never logs in.

Prints one JSON document: {"versions": {...}, "results": {id: {"sechat": R, "chatexchange": R}},
"frames": {id: {"sechat": F, "chatexchange": F}}} (F: {"ok": [kind, ...]}, or {"raised": ...,
"delivered": [kind, ...]} when the parser raised after delivering those)
where R is {"ok": PROJECTION} (PROJECTION is null when nothing reached the application) or
{"raised": "ExceptionType: text"} when the library's parser raised. The projection uses the
field names of our crate's `EventData` and our event kind names, and holds only the fields the
library models; the Rust side compares those.
"""

import json
import logging
import sys
import types
import warnings
from importlib import metadata

warnings.simplefilter("ignore")
# sechat logs handler failures with logger.exception; they are recorded as results here.
logging.disable(logging.CRITICAL)

import chatexchange  # noqa: E402
from chatexchange import events as ce_events  # noqa: E402
import sechat  # noqa: E402
from sechat.events import Events as SechatEvents  # noqa: E402

# The names of sechat's `Events` members in our crate's terms (`Event::kind`). sechat numbers
# 23-25 as suspension, merge and name change; the current reference (and the server) use 29,
# 30 and 34 for those, so a type-23 event reaches the "suspension" handler.
SECHAT_KINDS = {
    "MESSAGE": "message_posted",
    "EDIT": "message_edited",
    "JOIN": "user_entered",
    "LEAVE": "user_left",
    "NAME_CHANGE": "room_name_changed",
    "MESSAGE_STARRED": "message_starred",
    "DEBUG": "debug_message",
    "MENTION": "user_mentioned",
    "FLAG": "message_flagged",
    "DELETE": "message_deleted",
    "FILE_UPLOAD": "file_added",
    "MODERATOR_FLAG": "moderator_flag",
    "SETTINGS_CHANGED": "user_settings_changed",
    "GLOBAL_NOTIFICATION": "global_notification",
    "ACCESS_CHANGED": "access_level_changed",
    "USER_NOTIFICATION": "user_notification",
    "INVITATION": "invitation",
    "REPLY": "message_reply",
    "MESSAGE_MOVED_OUT": "message_moved_out",
    "MESSAGE_MOVED_IN": "message_moved_in",
    "TIME_BREAK": "time_break",
    "FEED_TICKER": "feed_ticker",
    "USER_SUSPENSION": "user_suspended",
    "USER_MERGE": "user_merged",
    "USER_NAME_OR_AVATAR_CHANGE": "user_name_or_avatar_changed",
}

# chatexchange's class names in our terms. Its `InternalEventNN` classes and the base `Event`
# (types it does not register) are what our crate calls an unknown type, `event_type:NN`.
CE_KINDS = {
    "MessagePosted": "message_posted",
    "MessageEdited": "message_edited",
    "UserEntered": "user_entered",
    "UserLeft": "user_left",
    "RoomNameChanged": "room_name_changed",
    "MessageStarred": "message_starred",
    "InternalEvent7": "debug_message",
    "UserMentioned": "user_mentioned",
    "MessageFlagged": "message_flagged",
    "MessageDeleted": "message_deleted",
    "FileAdded": "file_added",
    "MessageFlaggedForModerator": "moderator_flag",
    "UserSettingsChanged": "user_settings_changed",
    "GlobalNotification": "global_notification",
    "AccessLevelChanged": "access_level_changed",
    "UserNotification": "user_notification",
    "Invitation": "invitation",
    "MessageReply": "message_reply",
    "MessageMovedOut": "message_moved_out",
    "MessageMovedIn": "message_moved_in",
    "TimeBreak": "time_break",
    "FeedTicker": "feed_ticker",
    "UserSuspended": "user_suspended",
    "UserMerged": "user_merged",
    "UserNameOrAvatarChanged": "user_name_or_avatar_changed",
}


def raised(e):
    return {"raised": "%s: %s" % (type(e).__name__, e)}


# --- sechat 1.1.2 -----------------------------------------------------------------------------


class RecordingSession:
    """Stands in for the requests session sechat's Bot would own: sechat POSTs
    /messages/ack itself for mentions and replies. Nothing leaves the machine."""

    def __init__(self):
        self.posts = []

    def post(self, url, data=None, headers=None):
        self.posts.append({"url": url, "data": data})
        return types.SimpleNamespace(status_code=200, text='"ok"', content=b'"ok"')


def sechat_room(room_id):
    parent = types.SimpleNamespace(session=RecordingSession(), fkey="fake-chat-fkey", userID=200002)
    room = sechat.Room(parent, room_id, autoConnect=False)
    delivered = []
    for member in SechatEvents:
        if member.value > 0:
            room.on(member, lambda ev, member=member: delivered.append((member, ev)))
    return room, delivered


def sechat_view(room_id, frame):
    room, delivered = sechat_room(room_id)
    try:
        room.process(frame)
    except Exception as e:  # what would end sechat's reader thread
        return raised(e)
    if not delivered:
        return {"ok": None}
    member, ev = delivered[0]
    raw = ev._asdict()
    # sechat hands the application the event's own keys; the server omits zero counters and
    # false flags, which our crate reads as 0 / false, so absent means the same here.
    view = {
        "type": SECHAT_KINDS[member.name],
        "event_type": raw.get("event_type"),
        "id": raw.get("id"),
        "time_stamp": raw.get("time_stamp"),
        "room_id": raw.get("room_id"),
        "room_name": raw.get("room_name"),
        "user_id": raw.get("user_id"),
        "user_name": raw.get("user_name"),
        "target_user_id": raw.get("target_user_id"),
        "message_id": raw.get("message_id"),
        "parent_id": raw.get("parent_id"),
        "show_parent": bool(raw.get("show_parent", False)),
        "content": raw.get("content"),
        "message_edits": raw.get("message_edits", 0),
        "message_stars": raw.get("message_stars", 0),
        "message_owner_stars": raw.get("message_owner_stars", 0),
        "moved": bool(raw.get("moved", False)),
    }
    if len(delivered) > 1:
        view["delivered_more_than_once"] = [SECHAT_KINDS[m.name] for m, _ in delivered]
    return {"ok": view}


# --- chatexchange 0.0.4 -----------------------------------------------------------------------


def ce_kind(event):
    name = type(event).__name__
    if name in CE_KINDS:
        return CE_KINDS[name]
    return "event_type:%s" % (event.type_id,)


def ce_view(client, room_id, frame):
    room = client.get_room(room_id)
    try:
        produced = list(room._events_from_activity(frame, room_id))
    except Exception as e:  # what would end chatexchange's reader thread
        return raised(e)
    if not produced:
        return {"ok": None}
    ev = produced[0]
    # Only the attributes the event classes set from the event are read: the others are lazy
    # and would scrape chat.stackexchange.com.
    view = {
        "type": ce_kind(ev),
        "event_type": ev.type_id,
        "id": ev.id,
        "time_stamp": ev.time_stamp,
        "room_id": ev.room.id if ev.room is not None else None,
        "room_name": ev.room.name if ev.room is not None else None,
    }
    if isinstance(ev, (ce_events.UserEntered, ce_events.UserLeft, ce_events.MessageEvent)):
        view["user_id"] = ev.user.id if ev.user is not None else None
        view["user_name"] = ev.user.name if ev.user is not None else None
    if isinstance(ev, ce_events.MessageEvent):
        view.update(
            {
                "target_user_id": ev.target_user_id,
                "message_id": ev.message.id,
                "parent_id": ev.parent_message_id,
                "show_parent": ev.show_parent,
                "content": ev.content,
                # chatexchange's own HTML-to-text (`Message.text_content`).
                "text": ev.message.text_content,
                "message_edits": ev._message_edits,
                "message_stars": ev._message_stars,
                "message_owner_stars": ev._message_owner_stars,
            }
        )
    if len(produced) > 1:
        view["delivered_more_than_once"] = [ce_kind(e) for e in produced]
    return {"ok": view}


# --- whole frames ------------------------------------------------------------------------------


def sechat_frame(room_id, frame):
    room, delivered = sechat_room(room_id)
    try:
        room.process(frame)
    except Exception as e:
        out = raised(e)
        out["delivered"] = [SECHAT_KINDS[m.name] for m, _ in delivered]
        return out
    return {"ok": [SECHAT_KINDS[m.name] for m, _ in delivered]}


def ce_frame(client, room_id, frame):
    delivered = []
    try:
        for ev in client.get_room(room_id)._events_from_activity(frame, room_id):
            delivered.append(ce_kind(ev))
    except Exception as e:
        out = raised(e)
        out["delivered"] = delivered
        return out
    return {"ok": delivered}


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        doc = json.load(f)
    client = chatexchange.Client("stackexchange.com")
    results = {}
    for case in doc["cases"]:
        results[case["id"]] = {
            "sechat": sechat_view(case["room"], case["frame"]),
            "chatexchange": ce_view(client, case["room"], case["frame"]),
        }
    # Frames of several events, whole: which event kinds reach the application, in order.
    frames = {}
    for case in doc.get("frames", []):
        frames[case["id"]] = {
            "sechat": sechat_frame(case["room"], case["frame"]),
            "chatexchange": ce_frame(client, case["room"], case["frame"]),
        }
    json.dump(
        {
            "versions": {
                "sechat": metadata.version("sechat"),
                "chatexchange": metadata.version("chatexchange"),
            },
            "results": results,
            "frames": frames,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
