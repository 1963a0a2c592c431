//! Hashes through `HashStore`.

use kvcore::{Error, HashStore, ScanOptions, Store};

use super::sorted;
use crate::store;

#[test]
fn hashes_through_the_store() {
    let (_kv, db, _) = store();
    assert_eq!(
        db.hset("h", &[("a", "1"), ("b", "2"), ("a", "3")]).unwrap(),
        2
    );
    assert_eq!(db.hget("h", "a").unwrap(), Some(b"3".to_vec()));
    assert!(!db.hsetnx("h", "a", "x").unwrap());
    assert_eq!(
        db.hmget("h", &["a", "zz"]).unwrap(),
        vec![Some(b"3".to_vec()), None]
    );
    assert_eq!(db.hmget("nope", &["a"]).unwrap(), vec![None]);
    assert_eq!(db.hincrby("h", "b", 5).unwrap(), 7);
    assert_eq!(db.hincrby("h", "a", i64::MAX), Err(Error::Overflow));
    db.hset("h", &[("s", "abc")]).unwrap();
    assert_eq!(db.hincrby("h", "s", 1), Err(Error::HashValueNotInteger));
    assert_eq!(
        db.hincrbyfloat("h", "s", 1.0),
        Err(Error::HashValueNotFloat)
    );
    assert_eq!(db.hincrbyfloat("h", "f", 1.5).unwrap(), b"1.5".to_vec());
    assert_eq!(db.hlen("h").unwrap(), 4);
    assert_eq!(db.hstrlen("h", "s").unwrap(), 3);
    assert!(db.hexists("h", "s").unwrap());
    assert_eq!(sorted(db.hkeys("h").unwrap()), ["a", "b", "f", "s"]);
    assert_eq!(db.hgetall("h").unwrap().len(), 4);
    assert_eq!(db.hrandfield_count("h", -10).unwrap().len(), 10);
    assert!(db.hrandfield("h").unwrap().is_some());
    let (cursor, pairs) = db
        .hscan("h", 0, &ScanOptions::new().pattern("[ab]").count(100))
        .unwrap();
    assert_eq!(cursor, 0);
    assert_eq!(pairs.len(), 2);
    assert_eq!(db.hdel("h", &["a", "b", "f", "zz"]).unwrap(), 3);
    assert_eq!(db.hdel("h", &["s"]).unwrap(), 1);
    assert_eq!(db.exists(&["h"]).unwrap(), 0, "an emptied hash is deleted");
    assert_eq!(db.hlen("h").unwrap(), 0);
}
