//! `ReplicatedStore` behind kvcore's `Store` trait: the same generic code against a plain
//! `Db` and against a group's leader; a follower refuses; a new leader has every
//! acknowledged write.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kvcore::{ExpireCondition, Kv, Options, ScanOptions, Store, Ttl};

use crate::group_tests::Group;
use crate::{RaftNode, ReplicatedStore};

/// Strings, counters, expiry, multi-key reads and a SCAN walk, asserting every answer: code
/// that knows nothing of where the store lives.
fn exercise<S: Store>(s: &S) {
    s.set("greeting", "hello").unwrap();
    assert_eq!(s.get("greeting").unwrap().as_deref(), Some(&b"hello"[..]));
    assert_eq!(
        s.get_with("greeting", |v| v.map(<[u8]>::len)).unwrap(),
        Some(5)
    );
    assert_eq!(s.incr("visits").unwrap(), 1);
    assert_eq!(s.incrby("visits", 41).unwrap(), 42);
    assert!(s.expire("greeting", 100, ExpireCondition::None).unwrap());
    assert!(!s.expire("missing", 100, ExpireCondition::None).unwrap());
    let left = match s.ttl("greeting").unwrap() {
        Ttl::ExpiresIn(left) => left,
        other => panic!("TTL greeting: {other:?}"),
    };
    assert!(left <= Duration::from_secs(100), "{left:?}");
    assert_eq!(s.ttl("visits").unwrap(), Ttl::Persistent);
    assert_eq!(s.ttl("missing").unwrap(), Ttl::Missing);
    assert_eq!(
        s.mget(&["greeting", "visits", "missing"]).unwrap(),
        [Some(b"hello".to_vec()), Some(b"42".to_vec()), None]
    );
    assert_eq!(
        s.exists(&["greeting", "visits", "missing", "greeting"])
            .unwrap(),
        3
    );
    s.set("doomed", "x").unwrap();
    assert_eq!(s.del(&["doomed", "missing"]).unwrap(), 1);
    assert_eq!(s.exists(&["doomed"]).unwrap(), 0);
    for i in 0..10 {
        s.set(format!("item:{i}"), i.to_string()).unwrap();
    }
    let mut seen = BTreeSet::new();
    let mut cursor = 0;
    let opts = ScanOptions::new().pattern("item:*").count(3);
    loop {
        let (next, keys) = s.scan(cursor, &opts).unwrap();
        seen.extend(keys);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    let want: BTreeSet<Vec<u8>> = (0..10).map(|i| format!("item:{i}").into_bytes()).collect();
    assert_eq!(seen, want);
}

/// What `exercise` left, read from a node's own store (no Raft involved).
fn check_left(kv: &Kv) {
    let db = kv.db(0).unwrap();
    assert_eq!(db.get("greeting").unwrap().as_deref(), Some(&b"hello"[..]));
    assert!(matches!(db.ttl("greeting").unwrap(), Ttl::ExpiresIn(_)));
    assert_eq!(db.get("visits").unwrap().as_deref(), Some(&b"42"[..]));
    assert_eq!(db.exists(&["doomed"]).unwrap(), 0);
    assert_eq!(db.keys("item:*").unwrap().len(), 10);
}

/// Waits until `node` has applied everything the group had committed at the call (polling
/// the applied index, within 20 s).
fn wait_applied(node: &RaftNode, index: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while node.status().applied < index {
        assert!(
            Instant::now() < deadline,
            "node {} never applied {index}",
            node.id()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A follower's index in `g` once it knows the leader and the leader's clients' address.
fn follower_knowing_the_leader(g: &Group, leader: usize) -> usize {
    let follower = (0..g.nodes.len()).find(|&i| i != leader).unwrap();
    let (node, _) = g.nodes[follower].as_ref().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while node.leader() != leader as u64 + 1 || node.client_addr(leader as u64 + 1).is_none() {
        assert!(
            Instant::now() < deadline,
            "the follower never learnt the leader"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    follower
}

#[test]
fn the_same_generic_code_runs_on_a_db_and_on_the_leaders_replicated_store() {
    exercise(&Kv::in_memory(Options::default()).db(0).unwrap());

    let g = Group::start(3, "store-seam");
    // A first write, retried through any change of leader, so the leader below is settled.
    g.set("warm", "1");
    let leader = g.leader();
    let (node, _) = g.nodes[leader].as_ref().unwrap();
    exercise(&ReplicatedStore::new(Arc::clone(node)));
    // Every write returned once committed and applied on the leader; the followers apply
    // the same entries.
    let committed = node.status().commit;
    for n in g.nodes.iter().flatten() {
        wait_applied(&n.0, committed);
        check_left(&n.1);
    }

    // A follower refuses a read and a write, naming the leader, and runs neither.
    let follower = follower_knowing_the_leader(&g, leader);
    let (fnode, fkv) = g.nodes[follower].as_ref().unwrap();
    let fstore = ReplicatedStore::new(Arc::clone(fnode));
    let addr = fnode.client_addr(leader as u64 + 1).unwrap();
    let refusals = [
        fstore.get("greeting").map(drop),
        fstore.set("refused", "x"),
        fstore.incr("visits").map(drop),
    ];
    for res in refusals {
        match res {
            Err(kvcore::Error::Unavailable { reason, retry_at }) => {
                assert!(
                    reason.contains(&format!("node {} leads", leader + 1)),
                    "{reason}"
                );
                assert_eq!(retry_at.as_deref(), Some(&*addr));
            }
            other => panic!("a follower answered: {other:?}"),
        }
    }
    let lstore = ReplicatedStore::new(Arc::clone(node));
    assert_eq!(lstore.get("refused").unwrap(), None);
    assert_eq!(lstore.get("visits").unwrap().as_deref(), Some(&b"42"[..]));
    wait_applied(fnode, node.status().commit);
    assert_eq!(fkv.db(0).unwrap().get("refused").unwrap(), None);
    assert_eq!(
        fkv.db(0).unwrap().get("visits").unwrap().as_deref(),
        Some(&b"42"[..])
    );

    // Another database of the group, and one it does not have.
    let db3 = lstore.select(3);
    db3.set("k", "three").unwrap();
    assert_eq!(lstore.get("k").unwrap(), None);
    assert_eq!(db3.get("k").unwrap().as_deref(), Some(&b"three"[..]));
    assert_eq!(
        lstore.select(99).get("k"),
        Err(kvcore::Error::DbIndexOutOfRange)
    );
}

#[test]
fn a_new_leader_has_every_write_the_old_leaders_store_acknowledged() {
    let mut g = Group::start(3, "store-failover");
    g.set("warm", "1");
    let mut old = g.leader();
    let mut store = ReplicatedStore::new(Arc::clone(&g.nodes[old].as_ref().unwrap().0));
    // Each write that returned Ok is acknowledged; one refused (leadership moved under load)
    // may or may not have happened, and is retried on the leader of the moment.
    let mut acked = Vec::new();
    let mut counted = 0;
    for i in 0..50 {
        let res = store
            .set(format!("k{i}"), i.to_string())
            .and_then(|()| store.incr("counter"));
        match res {
            Ok(n) => {
                acked.push(i);
                counted = n;
            }
            Err(kvcore::Error::Unavailable { .. }) => {
                old = g.leader();
                store = ReplicatedStore::new(Arc::clone(&g.nodes[old].as_ref().unwrap().0));
            }
            Err(e) => panic!("SET k{i}: {e}"),
        }
    }
    assert!(!acked.is_empty(), "no write went through");
    let (node, _) = g.nodes[old].take().unwrap();
    node.stop();
    drop(node);
    // The old leader's store, stopped, refuses everything.
    assert!(matches!(
        store.get("k0"),
        Err(kvcore::Error::Unavailable { .. })
    ));

    let new = g.leader();
    assert_ne!(new, old);
    let store = ReplicatedStore::new(Arc::clone(&g.nodes[new].as_ref().unwrap().0));
    for i in acked {
        let got = store.get(format!("k{i}")).unwrap();
        assert_eq!(got, Some(i.to_string().into_bytes()), "k{i}");
    }
    // Every acknowledged INCR is in the count (an unacknowledged one may be too).
    let now = store.incr("counter").unwrap();
    assert!(now > counted, "counter {now} after {counted} acknowledged");
}
