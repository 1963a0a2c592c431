//! raft-rs's `RawNode` over a `LogStore`: a single voter elects itself, commits proposals,
//! compacts, and a new `RawNode` over the reopened store recovers the same state.

use kvraft::{LogOptions, LogStore};
use raft::eraftpb::{ConfState, Entry, EntryType};
use raft::{Config, GetEntriesContext, RawNode, StateRole, Storage};

use crate::TempDir;

fn logger() -> slog::Logger {
    slog::Logger::root(slog::Discard, slog::o!())
}

fn node(store: &LogStore, applied: u64) -> RawNode<LogStore> {
    let config = Config {
        id: 1,
        election_tick: 10,
        heartbeat_tick: 1,
        applied,
        ..Config::default()
    };
    RawNode::new(&config, store.clone(), &logger()).unwrap()
}

/// Handles every ready as a host does: persist, sync, apply. Returns the applied normal
/// entries' data.
fn drive(node: &mut RawNode<LogStore>, applied: &mut u64) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut apply = |entries: Vec<Entry>, out: &mut Vec<Vec<u8>>| {
        for e in entries {
            if e.get_entry_type() == EntryType::EntryNormal && !e.data.is_empty() {
                out.push(e.data.to_vec());
            }
            *applied = e.index;
        }
    };
    while node.has_ready() {
        let mut rd = node.ready();
        assert!(rd.messages().is_empty(), "a single voter sends nothing");
        let store = node.store().clone();
        if !rd.snapshot().is_empty() {
            store.apply_snapshot(rd.snapshot()).unwrap();
        }
        apply(rd.take_committed_entries(), &mut out);
        store.append(rd.entries()).unwrap();
        if let Some(hs) = rd.hs() {
            store.set_hard_state(hs).unwrap();
        }
        store.sync().unwrap();
        let mut light = node.advance(rd);
        if let Some(commit) = light.commit_index() {
            store.set_commit(commit).unwrap();
            store.sync().unwrap();
        }
        apply(light.take_committed_entries(), &mut out);
        node.advance_apply();
    }
    out
}

fn entries(store: &LogStore) -> Vec<Entry> {
    let ctx = GetEntriesContext::empty(false);
    Storage::entries(
        store,
        store.first_index(),
        store.last_index() + 1,
        None,
        ctx,
    )
    .unwrap()
}

#[test]
fn a_single_voter_commits_and_recovers_after_reopening() {
    let dir = TempDir::new("rawnode");
    let store = LogStore::open(&dir.0, LogOptions::new().keep_entries(1)).unwrap();
    assert!(store.is_new());
    store
        .set_conf_state(ConfState::from((vec![1], vec![])))
        .unwrap();
    store.sync().unwrap();
    let mut applied = 0;
    let mut n = node(&store, applied);
    n.campaign().unwrap();
    drive(&mut n, &mut applied);
    assert_eq!(n.raft.state, StateRole::Leader);
    n.propose(vec![], b"first".to_vec()).unwrap();
    assert_eq!(drive(&mut n, &mut applied), [b"first".to_vec()]);
    let hs = store.hard_state();
    assert_eq!((hs.term, hs.vote, hs.commit), (1, 1, applied));
    let before = entries(&store);
    assert_eq!(before.last().unwrap().data.as_ref(), b"first");
    drop(n);
    drop(store);

    // A new node over the reopened store: same hard state and entries; it campaigns again
    // and commits a second proposal in the next term.
    let store = LogStore::open(&dir.0, LogOptions::new().keep_entries(1)).unwrap();
    assert!(!store.is_new());
    assert_eq!(store.hard_state(), hs);
    assert_eq!(entries(&store), before);
    let mut n = node(&store, applied);
    assert_eq!(n.raft.raft_log.committed, applied);
    n.campaign().unwrap();
    drive(&mut n, &mut applied);
    assert_eq!((n.raft.state, n.raft.term), (StateRole::Leader, 2));
    n.propose(vec![], b"second".to_vec()).unwrap();
    assert_eq!(drive(&mut n, &mut applied), [b"second".to_vec()]);

    // A snapshot of the applied state, then a restart from it.
    store
        .compact(applied, store.conf_state(), b"state machine".to_vec())
        .unwrap();
    assert_eq!(store.first_index(), applied);
    let hs = store.hard_state();
    drop(n);
    drop(store);
    let store = LogStore::open(&dir.0, LogOptions::new().keep_entries(1)).unwrap();
    let snap = store.load_snapshot().unwrap().unwrap();
    assert_eq!(snap.get_metadata().index, applied);
    assert_eq!(snap.get_data(), b"state machine");
    assert_eq!(store.hard_state(), hs);
    let mut n = node(&store, snap.get_metadata().index);
    n.campaign().unwrap();
    drive(&mut n, &mut applied);
    assert_eq!((n.raft.state, n.raft.term), (StateRole::Leader, 3));
    n.propose(vec![], b"third".to_vec()).unwrap();
    assert_eq!(drive(&mut n, &mut applied), [b"third".to_vec()]);
    assert_eq!(entries(&store).last().unwrap().data.as_ref(), b"third");
}
