//! A template for a durable embedded store: open a directory, write, close, open it again and
//! find everything there, TTLs still counting down.
//!
//! Run it with `cargo run -p kvcore --example persistent [DIR]` (default `./data-example`).

use kvcore::{
    End, HashStore, Kv, ListStore, Options, PersistOptions, SetExpiry, SetOptions, Store, SyncMode,
};

fn main() -> kvcore::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "data-example".to_string());
    // `Always` acknowledges a write only once its log record is on disk; many threads writing
    // at once share one fdatasync (group commit).
    // The store's own settings (`Options`) are the in-memory defaults; `PersistOptions` are
    // those of its directory: sync mode, snapshot rules, log segments.
    let persist = || PersistOptions::new().sync(SyncMode::Always);

    {
        let kv = Kv::open(&dir, Options::default(), persist())?;
        // Snapshots by the save rules and the everysec flusher run in this task.
        let _persistence = kv.start_persistence();
        let db = kv.db(0)?;
        db.set("config:motd", "hello from the last run")?;
        db.set_with(
            "lease",
            "worker-7",
            &SetOptions::new().expiry(SetExpiry::Ex(600)),
        )?;
        db.incr("runs")?;
        db.push("events", End::Right, &["opened", "wrote"])?;
        db.hset("user:1", &[("name", "Ada"), ("lang", "en")])?;
        kv.save()?; // a snapshot now; without it the log alone would be replayed
    } // dropping the store closes the log; a crash here would lose nothing acknowledged

    let kv = Kv::open(&dir, Options::default(), persist())?;
    let db = kv.db(0)?;
    let text = |v: Option<Vec<u8>>| v.map(|v| String::from_utf8_lossy(&v).into_owned());
    println!("runs so far: {:?}", text(db.get("runs")?));
    println!("motd: {:?}", text(db.get("config:motd")?));
    println!("lease ttl: {:?}", db.ttl("lease")?);
    println!("events: {}", db.llen("events")?);
    println!("user:1 name: {:?}", text(db.hget("user:1", "name")?));
    Ok(())
}
