//! A script's writes are one log record: clients run a transfer script (DECRBY one account,
//! INCRBY another, append to a ledger list, bump two counters; the ledger, the counters and,
//! in every other call, the destination account are keys the script does not declare) in a
//! loop while the test `kill -9`s the real server, restarts it on the same data directory and
//! checks that every script's effects are all there or none, and every acknowledged one is
//! there. Under `--sync always` and `everysec` (a process crash loses nothing of either).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::support::{Server, TempDir};

/// KEYS[1] pays ARGV[1] to KEYS[2], or to ARGV[3] when the caller declared only the source;
/// ARGV[2] names the transfer in the ledger.
const TRANSFER: &str = "\
local dst = KEYS[2] or ARGV[3]
redis.call('DECRBY', KEYS[1], ARGV[1])
redis.call('INCRBY', dst, ARGV[1])
redis.call('RPUSH', 'ledger', ARGV[2])
redis.call('INCRBY', 'moved', ARGV[1])
return redis.call('INCR', 'transfers')";

const ACCOUNTS: u64 = 8;

/// `kill -9` while clients run transfer scripts: after every restart each script is there
/// whole or not at all, and every acknowledged one is there.
#[test]
fn a_script_is_all_or_nothing_across_kill_9() {
    for sync in ["always", "everysec"] {
        scripts_survive_kill_9(sync);
    }
}

/// A ledger entry `<id>:<from>:<to>:<amount>`.
struct Transfer {
    id: u64,
    from: u64,
    to: u64,
    amount: i64,
}

fn parse(entry: &str) -> Transfer {
    let f: Vec<&str> = entry.split(':').collect();
    assert_eq!(f.len(), 4, "malformed ledger entry {entry}");
    let n = |i: usize| f[i].parse::<u64>().expect("a ledger number");
    Transfer {
        id: n(0),
        from: n(1),
        to: n(2),
        amount: f[3].parse().expect("a ledger amount"),
    }
}

fn int(con: &mut redis::Connection, key: &str) -> i64 {
    let v: Option<i64> = redis::cmd("GET").arg(key).query(con).unwrap();
    v.unwrap_or(0)
}

/// The balances, counters and ledger agree with each other exactly, and hold every
/// acknowledged transfer.
fn check(con: &mut redis::Connection, acked: &BTreeSet<u64>, what: &str) {
    let ledger: Vec<String> = redis::cmd("LRANGE")
        .arg("ledger")
        .arg(0)
        .arg(-1)
        .query(con)
        .unwrap();
    let mut ids = BTreeSet::new();
    let mut balance = BTreeMap::<u64, i64>::new();
    let mut moved = 0;
    for t in ledger.iter().map(|e| parse(e)) {
        assert!(
            ids.insert(t.id),
            "{what}: transfer {} is twice in the ledger",
            t.id
        );
        *balance.entry(t.from).or_default() -= t.amount;
        *balance.entry(t.to).or_default() += t.amount;
        moved += t.amount;
    }
    let len = ledger.len() as i64;
    assert_eq!(
        int(con, "transfers"),
        len,
        "{what}: counter and ledger disagree"
    );
    assert_eq!(
        int(con, "moved"),
        moved,
        "{what}: amount moved and ledger disagree"
    );
    let mut total = 0;
    for a in 0..ACCOUNTS {
        let got = int(con, &format!("acct:{a}"));
        total += got;
        assert_eq!(
            got,
            balance.get(&a).copied().unwrap_or(0),
            "{what}: account {a} disagrees with the ledger of {len} transfers"
        );
    }
    assert_eq!(total, 0, "{what}: money was made or lost");
    let lost: Vec<_> = acked.difference(&ids).collect();
    assert!(
        lost.is_empty(),
        "{what}: acknowledged transfers missing: {lost:?}"
    );
}

fn scripts_survive_kill_9(sync: &str) {
    const CYCLES: u64 = 8;
    const WRITERS: u64 = 3;
    let dir = TempDir::new(&format!("script-kill-{sync}"));
    let mut acked = BTreeSet::new();
    for cycle in 0..=CYCLES {
        let server = Server::durable(&dir, sync);
        let mut con = server.client();
        check(&mut con, &acked, &format!("{sync}, restart {cycle}"));
        if cycle == CYCLES {
            break;
        }
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let mut con = server.client();
                // A restarted server has no scripts: load it on every start, as clients do.
                let sha: String = redis::cmd("SCRIPT")
                    .arg("LOAD")
                    .arg(TRANSFER)
                    .query(&mut con)
                    .unwrap();
                let first = (cycle * WRITERS + w) * 1_000_000;
                std::thread::spawn(move || {
                    let mut done = Vec::new();
                    for n in first.. {
                        let from = n % ACCOUNTS;
                        let to = (n / ACCOUNTS + w + 1 + from) % ACCOUNTS;
                        let to = if to == from { (to + 1) % ACCOUNTS } else { to };
                        let amount = (n % 97 + 1) as i64;
                        let entry = format!("{n}:{from}:{to}:{amount}");
                        let (src, dst) = (format!("acct:{from}"), format!("acct:{to}"));
                        let mut call = redis::cmd("EVALSHA");
                        call.arg(&sha);
                        if n % 2 == 0 {
                            call.arg(2).arg(&src).arg(&dst).arg(amount).arg(&entry);
                        } else {
                            call.arg(1).arg(&src).arg(amount).arg(&entry).arg(&dst);
                        }
                        match call.query::<i64>(&mut con) {
                            Ok(_) => done.push(n),
                            Err(e) if e.is_io_error() || e.is_connection_dropped() => break,
                            Err(e) => panic!("transfer {entry} failed: {e}"),
                        }
                    }
                    done
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(50 + 25 * cycle));
        // Dropping the server sends SIGKILL: no shutdown path runs.
        drop(server);
        for w in writers {
            acked.extend(w.join().expect("a writer thread panicked"));
        }
    }
    assert!(
        !acked.is_empty(),
        "{sync}: no transfer was acknowledged at all"
    );
}
