//! Sets through `SetStore`.

use kvcore::{ScanOptions, SetOp, SetStore, Store};

use super::{sorted, wrongtype};
use crate::store;

#[test]
fn sets_through_the_store() {
    let (_kv, db, _) = store();
    assert_eq!(db.sadd("a", &["1", "2", "3", "2"]).unwrap(), 3);
    db.sadd("b", &["2", "3", "4"]).unwrap();
    assert_eq!(db.srem("a", &["9"]).unwrap(), 0);
    assert!(db.sismember("a", "1").unwrap());
    assert_eq!(db.smismember("a", &["1", "9"]).unwrap(), vec![true, false]);
    assert_eq!(sorted(db.sinter(&["a", "b"]).unwrap()), ["2", "3"]);
    assert_eq!(db.sinter(&["a", "missing"]).unwrap().len(), 0);
    assert_eq!(db.sintercard(&["a", "b"], 1).unwrap(), 1);
    assert_eq!(
        sorted(db.sunion(&["a", "b", "missing"]).unwrap()),
        ["1", "2", "3", "4"]
    );
    assert_eq!(sorted(db.sdiff(&["a", "b"]).unwrap()), ["1"]);
    assert_eq!(db.sstore(SetOp::Inter, "dst", &["a", "b"]).unwrap(), 2);
    assert_eq!(db.scard("dst").unwrap(), 2);
    assert_eq!(
        db.sstore(SetOp::Inter, "dst", &["a", "missing"]).unwrap(),
        0
    );
    assert_eq!(
        db.exists(&["dst"]).unwrap(),
        0,
        "an empty result deletes the destination"
    );
    assert_eq!(
        db.sstore(SetOp::Union, "a", &["a", "b"]).unwrap(),
        4,
        "dst may be a source"
    );
    assert!(db.smove("a", "c", "4").unwrap());
    assert!(!db.smove("a", "c", "4").unwrap());
    assert!(db.smove("c", "c", "4").unwrap());
    db.set("str", "v").unwrap();
    wrongtype("smove to string", db.smove("a", "str", "1"));
    assert!(db.sismember("a", "1").unwrap(), "nothing moved");
    assert_eq!(db.spop_count("a", 10).unwrap().len(), 3);
    assert_eq!(db.exists(&["a"]).unwrap(), 0);
    assert_eq!(db.srandmember_count("b", -5).unwrap().len(), 5);
    assert_eq!(db.srandmember_count("b", 5).unwrap().len(), 3);
    let (_, members) = db.sscan("b", 0, &ScanOptions::new().count(100)).unwrap();
    assert_eq!(members.len(), 3);
}
