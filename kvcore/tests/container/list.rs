//! Lists through `ListStore`.

use kvcore::{End, Error, KeyType, ListStore, Store};

use super::{strs, wrongtype};
use crate::store;

#[test]
fn lists_are_created_and_deleted_as_in_redis() {
    let (_kv, db, _) = store();
    assert_eq!(db.push_existing("l", End::Left, &["a"]).unwrap(), 0);
    assert_eq!(db.exists(&["l"]).unwrap(), 0, "LPUSHX creates nothing");
    assert_eq!(db.push("l", End::Left, &["a", "b", "c"]).unwrap(), 3);
    assert_eq!(strs(db.lrange("l", 0, -1).unwrap()), ["c", "b", "a"]);
    assert_eq!(db.push_existing("l", End::Right, &["z"]).unwrap(), 4);
    assert_eq!(db.key_type("l").unwrap(), Some(KeyType::List));
    assert_eq!(db.llen("l").unwrap(), 4);
    assert_eq!(db.lindex("l", -1).unwrap(), Some(b"z".to_vec()));
    assert_eq!(db.lset("nope", 0, "x"), Err(Error::NoSuchKey));
    assert_eq!(db.lset("l", 9, "x"), Err(Error::IndexOutOfRange));
    db.lset("l", 0, "C").unwrap();
    assert_eq!(db.linsert("l", true, "zz", "q").unwrap(), -1);
    assert_eq!(db.linsert("nope", true, "a", "q").unwrap(), 0);
    assert_eq!(db.linsert("l", false, "a", "q").unwrap(), 5);
    assert_eq!(db.lrem("l", 0, "q").unwrap(), 1);
    assert_eq!(db.lpos("l", "z", 1, 1, 0).unwrap(), vec![3]);
    assert_eq!(db.pop_count("nope", End::Left, 2).unwrap(), None);
    assert_eq!(db.pop_count("l", End::Left, 0).unwrap(), Some(vec![]));
    assert_eq!(
        strs(db.pop_count("l", End::Left, 2).unwrap().unwrap()),
        ["C", "b"]
    );
    db.ltrim("l", 5, 10).unwrap();
    assert_eq!(db.exists(&["l"]).unwrap(), 0, "an emptied list is deleted");
    assert_eq!(db.pop("l", End::Left).unwrap(), None);
}

#[test]
fn lmove_checks_both_types_first_and_rotates_in_place() {
    let (_kv, db, _) = store();
    db.push("src", End::Right, &["a", "b", "c"]).unwrap();
    db.set("str", "v").unwrap();
    wrongtype("dst string", db.lmove("src", "str", End::Left, End::Left));
    assert_eq!(db.llen("src").unwrap(), 3, "nothing moved");
    assert_eq!(
        db.lmove("src", "src", End::Left, End::Right).unwrap(),
        Some(b"a".to_vec())
    );
    assert_eq!(strs(db.lrange("src", 0, -1).unwrap()), ["b", "c", "a"]);
    assert_eq!(
        db.lmove("src", "dst", End::Right, End::Left).unwrap(),
        Some(b"a".to_vec())
    );
    assert_eq!(
        db.lmove("missing", "dst", End::Right, End::Left).unwrap(),
        None
    );
    db.push("solo", End::Left, &["only"]).unwrap();
    assert_eq!(
        db.lmove("solo", "solo", End::Left, End::Left).unwrap(),
        Some(b"only".to_vec())
    );
    assert_eq!(strs(db.lrange("solo", 0, -1).unwrap()), ["only"]);
    let (k, v) = db
        .lmpop(&["missing", "dst", "src"], End::Left, 5)
        .unwrap()
        .unwrap();
    assert_eq!((k, strs(v)), (b"dst".to_vec(), vec!["a".to_string()]));
    assert_eq!(db.lmpop(&["nope"], End::Left, 1).unwrap(), None);
}
