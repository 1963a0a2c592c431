//! A template for embedding kvcore: open a store, write keys with and without TTLs, read them
//! back, and let active expiry reclaim what nobody reads.
//!
//! Run it with `cargo run -p kvcore --example embedded`.

use std::time::Duration;

use kvcore::{ExpireCondition, Kv, Options, SetExpiry, SetOptions, Store, Ttl};

fn main() -> kvcore::Result<()> {
    // 16 databases of 64 shards, on the system clock: the defaults.
    let kv = Kv::in_memory(Options::default());
    // Reclaim expired keys in the background; stops when `_expiry` is dropped.
    let _expiry = kv.start_active_expiry(Duration::from_millis(100));
    let db = kv.db(0)?;

    db.set("user:1:name", "Ada")?;
    db.set_with(
        "session:abc",
        "user:1",
        &SetOptions::new().expiry(SetExpiry::Ex(3600)),
    )?;
    db.set_with(
        "otp:1",
        "493201",
        &SetOptions::new().nx().expiry(SetExpiry::Px(30_000)),
    )?;
    db.incr("visits")?;
    db.incrby("visits", 41)?;
    db.expire("visits", 86_400, ExpireCondition::Nx)?;

    for key in ["user:1:name", "session:abc", "otp:1", "visits", "missing"] {
        let value = db
            .get(key)?
            .map(|v| String::from_utf8_lossy(&v).into_owned());
        let ttl = match db.ttl(key)? {
            Ttl::Missing => "missing".to_string(),
            Ttl::Persistent => "no expiry".to_string(),
            Ttl::ExpiresIn(left) => format!("expires in {}s", left.as_secs()),
        };
        println!(
            "{key:<12} = {:<10} ({ttl})",
            value.unwrap_or_else(|| "(nil)".into())
        );
    }

    let mut sessions = db.keys("session:*")?;
    sessions.sort();
    println!("sessions: {}", sessions.len());
    println!("keys in db 0: {}", db.dbsize()?);
    Ok(())
}
