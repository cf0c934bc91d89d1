//! MaiBot databases built in the test from the documented DDL (never committed as binaries).

use std::path::{Path, PathBuf};
use std::time::Duration;

use chat_streams::{
    ChatStream, Error, Generation, GroupInfo, LEGACY_DDL, MaiBotDb, PlatformFilter, Registry,
    RegistryOptions, StreamKind, UserInfo, legacy_stream_id, v1_session_id,
};
use rusqlite::Connection;
use time::UtcOffset;

fn temp_path(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!(
        "chat-streams-maibot-{tag}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("MaiBot.db")
}

/// A MaiBot 0.x file: peewee's DDL, then rows the way MaiBot's `INSERT OR REPLACE` writes them.
fn legacy_file(tag: &str) -> PathBuf {
    let path = temp_path(tag);
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(LEGACY_DDL).unwrap();
    let rows = [
        // A group row: the first speaker kept as user_*.
        (
            legacy_stream_id("qq", StreamKind::Group, "941657197"),
            1_750_000_000.5,
            "qq",
            "941657197",
            "Test group",
            1_750_000_100.25,
            "qq",
            "10001",
            "Alice",
            "AliceCard",
        ),
        // A private row: '' in the group columns.
        (
            legacy_stream_id("qq", StreamKind::Private, "1787882683"),
            1_750_000_200.0,
            "",
            "",
            "",
            1_750_000_300.0,
            "qq",
            "1787882683",
            "Bob",
            "",
        ),
    ];
    for (id, created, gp, gid, gname, active, platform, uid, nick, card) in rows {
        conn.execute(
            "INSERT OR REPLACE INTO chat_streams (stream_id, create_time, group_platform, group_id, group_name, last_active_time, platform, user_platform, user_id, user_nickname, user_cardname) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'qq', ?8, ?9, ?10)",
            rusqlite::params![id, created, gp, gid, gname, active, platform, uid, nick, card],
        )
        .unwrap();
    }
    // A row with NULL group columns (older writers): also private.
    conn.execute(
        "INSERT INTO chat_streams (stream_id, create_time, group_platform, group_id, group_name, last_active_time, platform, user_platform, user_id, user_nickname, user_cardname) VALUES (?1, 1750000400, NULL, NULL, NULL, 1750000500, 'qq', 'qq', '555', 'Nul', NULL)",
        [legacy_stream_id("qq", StreamKind::Private, "555")],
    )
    .unwrap();
    path
}

type Schema = (Vec<(String, String, bool)>, Vec<(String, bool)>, i64);

fn schema(path: &Path) -> Schema {
    let conn = Connection::open(path).unwrap();
    let mut s = conn
        .prepare(
            "SELECT name, type, \"notnull\" FROM pragma_table_info('chat_streams') ORDER BY cid",
        )
        .unwrap();
    let cols = s
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? == 1)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut s = conn
        .prepare("SELECT name, \"unique\" FROM pragma_index_list('chat_streams') ORDER BY name")
        .unwrap();
    let idx = s
        .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? == 1)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let version = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    (cols, idx, version)
}

#[test]
fn a_legacy_file_is_read_as_maibot_wrote_it() {
    let path = legacy_file("read");
    let db = MaiBotDb::open(&path, UtcOffset::UTC).unwrap();
    assert_eq!(db.generation(), Generation::Legacy);
    let streams = db.read_streams().unwrap();
    assert_eq!(streams.len(), 3);
    let g = &streams[0];
    assert_eq!(g.stream_id, "a544edeb1a9b73e3e1d77dff36e41264");
    assert_eq!(g.key.kind, StreamKind::Group);
    assert_eq!(g.created_at_ms, 1_750_000_000_500);
    assert_eq!(
        g.group_info.as_ref().unwrap().group_name.as_deref(),
        Some("Test group")
    );
    assert_eq!(
        g.user_info.as_ref().unwrap().user_cardname.as_deref(),
        Some("AliceCard")
    );
    assert!(streams[1].group_info.is_none() && streams[1].key.kind == StreamKind::Private);
    assert_eq!(
        streams[1].user_info.as_ref().unwrap().user_cardname,
        None,
        "'' is absent"
    );
    assert_eq!(
        streams[2].key.target, "555",
        "NULL group columns also mean private"
    );
}

#[test]
fn upserting_keeps_maibots_schema_index_and_user_version() {
    let path = legacy_file("upsert");
    let before = schema(&path);
    let mut db = MaiBotDb::open(&path, UtcOffset::UTC).unwrap();
    let r = Registry::in_memory(RegistryOptions::default());
    r.import_maibot(&db).unwrap();
    // New activity in a known group, and a new private chat.
    r.get_or_create(
        "qq",
        None,
        Some(GroupInfo::new("qq", "941657197", Some("Renamed".into()))),
    )
    .unwrap();
    r.get_or_create(
        "qq",
        Some(UserInfo::new("qq", "8888", Some("Eve".into()))),
        None,
    )
    .unwrap();
    assert_eq!(r.export_maibot(&mut db).unwrap(), 4);
    drop(db);
    assert_eq!(
        schema(&path),
        before,
        "columns, NOT NULL flags, indexes and user_version unchanged"
    );
    let conn = Connection::open(&path).unwrap();
    let (name, user, card): (String, String, String) = conn
        .query_row("SELECT group_name, user_nickname, user_cardname FROM chat_streams WHERE stream_id = 'a544edeb1a9b73e3e1d77dff36e41264'", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!(
        (name.as_str(), user.as_str(), card.as_str()),
        ("Renamed", "Alice", "AliceCard")
    );
    let (gid, gname): (String, String) = conn
        .query_row(
            "SELECT group_id, group_name FROM chat_streams WHERE user_id = '8888'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (gid.as_str(), gname.as_str()),
        ("", ""),
        "private rows carry '' group columns"
    );
    let n: i64 = conn
        .query_row("SELECT count(*) FROM chat_streams", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 4);
    // Every row's id follows MaiBot's recipe.
    let mut s = conn
        .prepare("SELECT stream_id, platform, group_id, user_id FROM chat_streams")
        .unwrap();
    for row in s
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, String>(3)?,
            ))
        })
        .unwrap()
    {
        let (id, platform, gid, uid) = row.unwrap();
        let expected = match gid.filter(|g| !g.is_empty()) {
            Some(g) => legacy_stream_id(&platform, StreamKind::Group, &g),
            None => legacy_stream_id(&platform, StreamKind::Private, &uid),
        };
        assert_eq!(id, expected);
    }
}

#[test]
fn export_to_a_fresh_file_uses_the_exact_ddl() {
    let fresh = temp_path("fresh");
    let r = Registry::in_memory(RegistryOptions::default());
    r.get_or_create(
        "chzzk",
        None,
        Some(GroupInfo::new("chzzk", "5f1e", Some("Channel".into()))),
    )
    .unwrap();
    let mut db = MaiBotDb::create_legacy(&fresh).unwrap();
    assert_eq!(r.export_maibot(&mut db).unwrap(), 1);
    drop(db);
    assert_eq!(schema(&fresh), schema(&legacy_file("reference")));
    assert!(matches!(
        MaiBotDb::create_legacy(&fresh),
        Err(Error::InvalidInput(_))
    ));
    // And it reads back.
    let back = MaiBotDb::open(&fresh, UtcOffset::UTC)
        .unwrap()
        .read_streams()
        .unwrap();
    assert_eq!(
        back[0].stream_id,
        legacy_stream_id("chzzk", StreamKind::Group, "5f1e")
    );
}

#[test]
fn import_then_persist_in_our_own_store() {
    let path = legacy_file("import");
    let own = temp_path("own");
    {
        let r = Registry::open(
            &own,
            RegistryOptions::default().flush_interval(Duration::from_secs(3600)),
        )
        .unwrap();
        assert_eq!(
            r.import_maibot(&MaiBotDb::open(&path, UtcOffset::UTC).unwrap())
                .unwrap(),
            3
        );
        // Importing twice merges instead of duplicating.
        r.import_maibot(&MaiBotDb::open(&path, UtcOffset::UTC).unwrap())
            .unwrap();
        assert_eq!(r.len(), 3);
        r.close().unwrap();
    }
    let r = Registry::open(&own, RegistryOptions::default()).unwrap();
    assert_eq!(r.len(), 3);
    assert!(r.get_stream("a544edeb1a9b73e3e1d77dff36e41264").is_some());
    assert_eq!(
        r.get_stream_by_user_id("555", PlatformFilter::All)
            .unwrap()
            .unwrap()
            .created_at_ms,
        1_750_000_400_000
    );
}

/// MaiBot 1.x: `chat_sessions` as SQLModel creates it, `user_version` set by its migrations.
fn v1_file(tag: &str, version: i64) -> PathBuf {
    let path = temp_path(tag);
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE chat_sessions (id INTEGER NOT NULL, session_id VARCHAR(255) NOT NULL, created_timestamp DATETIME,
            last_active_timestamp DATETIME, user_id VARCHAR(255), user_nickname VARCHAR(255), user_cardname VARCHAR(255),
            group_id VARCHAR(255), group_name VARCHAR(255), platform VARCHAR(100) NOT NULL, account_id VARCHAR(255),
            scope VARCHAR(255), PRIMARY KEY (id));
         CREATE UNIQUE INDEX ix_chat_sessions_session_id ON chat_sessions (session_id);",
    )
    .unwrap();
    conn.pragma_update(None, "user_version", version).unwrap();
    let group = v1_session_id("qq", Some("10001"), None, StreamKind::Group, "941657197");
    let group2 = v1_session_id("qq", Some("10002"), None, StreamKind::Group, "941657197");
    let private = legacy_stream_id("qq", StreamKind::Private, "1787882683");
    conn.execute_batch(&format!(
        "INSERT INTO chat_sessions (session_id, created_timestamp, last_active_timestamp, user_id, user_nickname, user_cardname, group_id, group_name, platform, account_id, scope) VALUES
            ('{group}', '2026-05-01 10:00:00.123456', '2026-05-02 11:30:00', NULL, NULL, NULL, '941657197', 'Test group', 'qq', '10001', NULL),
            ('{group2}', '2026-05-03 09:00:00', '2026-05-03 09:05:00.5', NULL, NULL, NULL, '941657197', 'Test group', 'qq', '10002', NULL),
            ('{private}', '2026-05-01 12:00:00', '2026-05-01 12:10:00', '1787882683', 'Bob', NULL, NULL, NULL, 'qq', NULL, NULL);"
    ))
    .unwrap();
    path
}

#[test]
fn a_v1_file_is_detected_and_imported_one_stream_per_account() {
    let path = v1_file("v1", 40);
    let kst = UtcOffset::from_hms(9, 0, 0).unwrap();
    let db = MaiBotDb::open(&path, kst).unwrap();
    assert_eq!(db.generation(), Generation::V1 { version: 40 });
    let r = Registry::in_memory(RegistryOptions::default());
    assert_eq!(r.import_maibot(&db).unwrap(), 3);
    let both = r.find_streams_by_group_id("941657197", "qq").unwrap();
    assert_eq!(both.len(), 2, "one session per bot account");
    assert_eq!(both[0].key.account, "10002", "most recently active first");
    assert_eq!(both[1].stream_id, "6ec2fb04dac7799a763b153c7e039fe1");
    // 2026-05-01 10:00:00.123456 KST = 01:00:00.123 UTC.
    assert_eq!(both[1].created_at_ms, 1_777_597_200_123);
    let bob = r
        .get_stream_by_user_id("1787882683", "qq")
        .unwrap()
        .unwrap();
    assert_eq!(
        bob.user_info.as_ref().unwrap().user_nickname.as_deref(),
        Some("Bob")
    );
    let mut db = db;
    assert!(
        matches!(
            db.upsert_streams::<ChatStream>(&[]),
            Err(Error::InvalidInput(_))
        ),
        "1.x is import only"
    );
}

#[test]
fn unknown_files_are_refused() {
    let newer = v1_file("newer", 41);
    let mut db = MaiBotDb::open(&newer, UtcOffset::UTC).unwrap();
    assert!(matches!(
        db.upsert_streams::<ChatStream>(&[]),
        Err(Error::UnsupportedMaiBotVersion {
            found: 41,
            known: 40
        })
    ));
    let other = temp_path("other");
    Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE notes (x TEXT)")
        .unwrap();
    let err = MaiBotDb::open(&other, UtcOffset::UTC).unwrap_err();
    assert!(matches!(err, Error::NotMaiBot(_)), "{err}");
    assert!(matches!(
        MaiBotDb::open(temp_path("missing"), UtcOffset::UTC),
        Err(Error::NotMaiBot(_))
    ));
}

/// Every row as stored, each value with its SQLite type and (for REAL) its exact bits.
fn raw_rows(path: &Path) -> Vec<Vec<String>> {
    let conn = Connection::open(path).unwrap();
    let mut s = conn
        .prepare("SELECT * FROM chat_streams ORDER BY id")
        .unwrap();
    let n = s.column_count();
    s.query_map([], |r| {
        (0..n)
            .map(|i| {
                Ok(match r.get_ref(i)? {
                    rusqlite::types::ValueRef::Null => "NULL".to_owned(),
                    rusqlite::types::ValueRef::Integer(v) => format!("int {v}"),
                    rusqlite::types::ValueRef::Real(v) => format!("real {:#x}", v.to_bits()),
                    rusqlite::types::ValueRef::Text(t) => {
                        format!("text {:?}", String::from_utf8_lossy(t))
                    }
                    rusqlite::types::ValueRef::Blob(b) => format!("blob {b:?}"),
                })
            })
            .collect()
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// Issue 19: importing a 0.x file and exporting back into it leaves every untouched row bit
/// for bit as it was: times that are not whole milliseconds (MaiBot writes `time.time()`, and
/// 0.1236 s rounds to 124 ms, above the stored value), NULL names, NULL group columns. A row
/// with new activity still moves forward.
#[test]
fn import_then_export_leaves_untouched_rows_bit_identical() {
    let path = legacy_file("roundtrip");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute(
            "INSERT INTO chat_streams (stream_id, create_time, group_platform, group_id, group_name, last_active_time, platform, user_platform, user_id, user_nickname, user_cardname) VALUES (?1, 1750000550.0004, 'qq', '700700', NULL, 1750000600.1236, 'qq', 'qq', '10009', 'Carol', '')",
            [legacy_stream_id("qq", StreamKind::Group, "700700")],
        )
        .unwrap();
    }
    let before = raw_rows(&path);
    let mut db = MaiBotDb::open(&path, UtcOffset::UTC).unwrap();
    let r = Registry::in_memory(RegistryOptions::default());
    assert_eq!(r.import_maibot(&db).unwrap(), 4);
    assert_eq!(r.export_maibot(&mut db).unwrap(), 4);
    assert_eq!(raw_rows(&path), before, "nothing touched, nothing changed");

    // New activity on one stream: only that row's time moves, and forward.
    let later = r
        .get_or_create("qq", None, Some(GroupInfo::new("qq", "700700", None)))
        .unwrap();
    assert!(later.last_active_at_ms > 1_750_000_600_124);
    r.export_maibot(&mut db).unwrap();
    drop(db);
    let after = raw_rows(&path);
    assert_eq!(after.len(), before.len());
    for (a, b) in after.iter().zip(&before) {
        if a[1]
            == format!(
                "text {:?}",
                legacy_stream_id("qq", StreamKind::Group, "700700")
            )
        {
            assert_ne!(a[6], b[6], "last_active_time moved");
            let mut a = a.clone();
            a[6].clone_from(&b[6]);
            assert_eq!(&a, b, "and nothing else of the touched row");
        } else {
            assert_eq!(a, b);
        }
    }
    let conn = Connection::open(&path).unwrap();
    let secs: f64 = conn
        .query_row(
            "SELECT last_active_time FROM chat_streams WHERE group_id = '700700'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    #[allow(clippy::cast_precision_loss)]
    let expected = later.last_active_at_ms as f64 / 1000.0;
    assert!((secs - expected).abs() < f64::EPSILON * secs);
}

/// Issue 19: a stream scoped to a bot account or route scope (a 1.x id) has no MaiBot 0.x
/// row: 0.x would look the group up under `md5("qq_941657197")`, never find the 1.x id and
/// create a duplicate. The export is refused, naming the stream, and nothing is written.
#[test]
fn exporting_scoped_streams_to_a_legacy_file_is_refused() {
    let path = legacy_file("scoped");
    let before = raw_rows(&path);
    let mut db = MaiBotDb::open(&path, UtcOffset::UTC).unwrap();
    let r = Registry::in_memory(RegistryOptions::default().route("10001", ""));
    r.get_or_create(
        "qq",
        None,
        Some(GroupInfo::new("qq", "941657197", Some("Test group".into()))),
    )
    .unwrap();
    let unscoped = Registry::in_memory(RegistryOptions::default());
    unscoped
        .get_or_create(
            "qq",
            Some(UserInfo::new("qq", "8888", Some("Eve".into()))),
            None,
        )
        .unwrap();
    r.import_maibot(&MaiBotDb::open(v1_file("scoped-v1", 40), UtcOffset::UTC).unwrap())
        .unwrap();
    let err = r.export_maibot(&mut db).unwrap_err();
    let Error::InvalidInput(message) = &err else {
        panic!("{err:?}")
    };
    assert!(
        message.contains("scoped to a bot account or route scope")
            && message.contains("nothing was written"),
        "{message}"
    );
    assert_eq!(raw_rows(&path), before, "nothing written");
    // The same for a scope without an account, through the lower-level call.
    let s = Registry::in_memory(RegistryOptions::default().route("", "napcat-1"));
    let g = s
        .get_or_create("qq", None, Some(GroupInfo::new("qq", "1", None)))
        .unwrap();
    assert!(matches!(
        db.upsert_streams(&[g]),
        Err(Error::InvalidInput(_))
    ));
    // Unscoped streams still export.
    assert_eq!(unscoped.export_maibot(&mut db).unwrap(), 1);
    assert_eq!(raw_rows(&path).len(), before.len() + 1);
}
