//! Imports a MaiBot file into a registry, registers new activity, and writes the registry to a
//! MaiBot 0.x file.
//!
//! ```text
//! cargo run -p chat-streams --example import_export -- [path/to/MaiBot.db]
//! ```
//!
//! Without a path it first makes a small MaiBot 0.x file in the temporary directory. A 0.x
//! file is updated in place (rows nobody touched stay exactly as they were); a 1.x file is
//! only read, and the result goes to a fresh 0.x file beside it.

use std::path::PathBuf;

use chat_streams::{
    Generation, GroupInfo, MaiBotDb, PlatformFilter, Registry, RegistryOptions, UserInfo,
};
use time::UtcOffset;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = match std::env::args_os().nth(1) {
        Some(p) => PathBuf::from(p),
        None => sample_file()?,
    };
    // MaiBot 1.x stores naive local times; read them with the offset of the machine it ran on.
    let mut db = MaiBotDb::open(&path, UtcOffset::UTC)?;
    let registry = Registry::in_memory(RegistryOptions::default());
    let n = registry.import_maibot(&db)?;
    println!("{}: {:?}, {n} stream(s)", path.display(), db.generation());
    for s in registry.get_all_streams(PlatformFilter::All) {
        println!(
            "  {} {} {:?}",
            s.stream_id,
            s.key,
            s.name().unwrap_or_default()
        );
    }

    // New activity: a group message and a private chat.
    registry.get_or_create(
        "qq",
        Some(UserInfo::new("qq", "10001", Some("Alice".into()))),
        Some(GroupInfo::new("qq", "941657197", Some("Test group".into()))),
    )?;
    registry.get_or_create(
        "qq",
        Some(UserInfo::new("qq", "8888", Some("Eve".into()))),
        None,
    )?;

    if let Generation::V1 { .. } = db.generation() {
        let out = path.with_extension("legacy.db");
        db = MaiBotDb::create_legacy(&out)?;
        println!("writing a fresh 0.x file: {}", out.display());
    }
    let written = registry.export_maibot(&mut db)?;
    println!("exported {written} stream(s)");
    Ok(())
}

/// A MaiBot 0.x file with one group, in a fresh temporary directory.
fn sample_file() -> Result<PathBuf, Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("chat-streams-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("MaiBot.db");
    if path.exists() {
        std::fs::remove_file(&path)?;
    }
    let seed = Registry::in_memory(RegistryOptions::default());
    seed.get_or_create(
        "qq",
        None,
        Some(GroupInfo::new("qq", "941657197", Some("Test group".into()))),
    )?;
    seed.export_maibot(&mut MaiBotDb::create_legacy(&path)?)?;
    Ok(path)
}
