"""MaiBot 0.x database oracle for `cargo xtask interop` (chat-streams).

    maibot_oracle.py create DB   make DB the way MaiBot 0.x does (peewee model, MaiBot's
                                 pragmas) and fill it with a few streams; print its state
    maibot_oracle.py read DB     print the state of DB as MaiBot 0.x would load it

The model below is written from the column list in shared/protocols/chat-streams.md §3.4
(peewee derives the DDL, index name included, from it); the id recipe is MaiBot's
(md5 of "platform_group" or "platform_user_private"). State printed: the schema
(sqlite_master), PRAGMA user_version, integrity_check, and every row as MaiBot's loader
sees it (a falsy group_id means a private stream).
"""

import hashlib
import json
import sys

import peewee

db = peewee.SqliteDatabase(None)


class ChatStreams(peewee.Model):
    stream_id = peewee.TextField(unique=True)
    create_time = peewee.DoubleField()
    group_platform = peewee.TextField(null=True)
    group_id = peewee.TextField(null=True)
    group_name = peewee.TextField(null=True)
    last_active_time = peewee.DoubleField()
    platform = peewee.TextField()
    user_platform = peewee.TextField()
    user_id = peewee.TextField()
    user_nickname = peewee.TextField()
    user_cardname = peewee.TextField(null=True)

    class Meta:
        database = db
        table_name = "chat_streams"


def recipe(platform, group_id, user_id):
    key = f"{platform}_{group_id}" if group_id else f"{platform}_{user_id}_private"
    return hashlib.md5(key.encode()).hexdigest()


def open_db(path):
    db.init(
        path,
        pragmas={
            "journal_mode": "wal",
            "cache_size": -64000,
            "foreign_keys": 1,
            "ignore_check_constraints": 0,
            "synchronous": 0,
            "busy_timeout": 1000,
        },
    )
    db.connect()


def ms(seconds):
    return round(seconds * 1000)


def state():
    schema = [
        list(r)
        for r in db.execute_sql(
            "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
        ).fetchall()
    ]
    rows = []
    for s in ChatStreams.select().order_by(ChatStreams.stream_id):
        group = bool(s.group_id)
        rows.append(
            {
                "stream_id": s.stream_id,
                "recipe": recipe(s.platform, s.group_id if group else None, s.user_id),
                "platform": s.platform,
                "kind": "group" if group else "private",
                "group_id": s.group_id if group else None,
                "group_name": (s.group_name or None) if group else None,
                "user_id": s.user_id or None,
                "user_nickname": s.user_nickname or None,
                "create_ms": ms(s.create_time),
                "last_active_ms": ms(s.last_active_time),
            }
        )
    return {
        "schema": schema,
        "user_version": db.execute_sql("PRAGMA user_version").fetchone()[0],
        "integrity": db.execute_sql("PRAGMA integrity_check").fetchone()[0],
        "rows": rows,
    }


# Invented streams, in MaiBot's row conventions: private rows have '' group columns, unknown
# card names are ''.
SEED = [
    ("qq", "qq", "10001", "群友甲", "", "qq", "941657197", "测试群", 1_700_000_000.25),
    ("qq", "qq", "10002", "小明", "", "", "", "", 1_700_000_100.5),
    ("chzzk", "chzzk", "u-hash-1", "viewer one", "", "chzzk", "5f1e2d3c4b5a69788796a5b4c3d2e1f0", "a channel", 1_700_000_200.0),
    ("stackexchange", "stackexchange", "200001", "alice", "card", "", "", "", 1_700_000_300.125),
]


def create(path):
    open_db(path)
    db.create_tables([ChatStreams], safe=True)
    for platform, up, uid, nick, card, gp, gid, gname, t in SEED:
        ChatStreams.replace(
            stream_id=recipe(platform, gid or None, uid),
            create_time=t,
            group_platform=gp,
            group_id=gid,
            group_name=gname,
            last_active_time=t,
            platform=platform,
            user_platform=up,
            user_id=uid,
            user_nickname=nick,
            user_cardname=card,
        ).execute()


def main():
    command, path = sys.argv[1], sys.argv[2]
    if command == "create":
        create(path)
    elif command == "read":
        open_db(path)
    else:
        raise SystemExit(f"unknown command {command}")
    json.dump(state(), sys.stdout, ensure_ascii=False)
    db.close()


if __name__ == "__main__":
    main()
