//! Linearizability under faults: clients run GET, SET, INCR, SET ... GET and DEL on a few keys
//! against a real server while a nemesis pauses it (SIGSTOP/SIGCONT) and kills it (SIGKILL)
//! and restarts it on the same data directory; every key's history is then checked by
//! `linearizable.rs`. With `--sync always` or `everysec` an acknowledged write survives a
//! process crash, so the history must be linearizable. An in-memory server loses everything on
//! a kill, and the same check must refuse its history: the control that shows the check can
//! fail.
//!
//! Each client sends one command at a time with a 1 s timeout; a command whose answer never
//! came (a timeout while the server was paused, a connection cut by the kill) has an unknown
//! outcome, which the checker accepts as applied or not. A command that could not be sent
//! (no connection) is not in the history. `KV_FAULT_OPS` (default 1500 per run, in total)
//! and `KV_FAULT_EVENTS` (default 6) make a longer run by hand.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use super::linearizable::{self, Event, Op, Out, Refusal};
use super::support::{Server, TempDir};

const CLIENTS: usize = 4;
const KEYS: usize = 3;
const TIMEOUT: Duration = Duration::from_secs(1);

/// A small deterministic generator (xorshift), seeded per client.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Which commands clients send.
#[derive(Clone, Copy)]
enum Mix {
    /// Every command, DEL included.
    All,
    /// No DEL: after a write, nothing can make a key absent again (the in-memory control).
    NoDelete,
}

fn random_op(rng: &mut Rng, mix: Mix, unique: &mut i64) -> Op {
    *unique += 1;
    let limit = match mix {
        Mix::All => 10,
        Mix::NoDelete => 9,
    };
    match rng.below(limit) {
        0..=3 => Op::Get,
        4 | 5 => Op::Set(*unique),
        6 | 7 => Op::Incr,
        8 => Op::Swap(*unique),
        _ => Op::Del,
    }
}

fn args(op: Op, key: &str) -> redis::Cmd {
    let mut c = redis::Cmd::new();
    match op {
        Op::Get => c.arg("GET").arg(key),
        Op::Set(v) => c.arg("SET").arg(key).arg(v),
        Op::Incr => c.arg("INCR").arg(key),
        Op::Swap(v) => c.arg("SET").arg(key).arg(v).arg("GET"),
        Op::Del => c.arg("DEL").arg(key),
    };
    c
}

/// The reply as the checker's output; `None` for an error reply (treated as unknown: a write
/// may have been applied before its acknowledgement failed).
fn output(op: Op, reply: &redis::Value) -> Option<Out> {
    use redis::Value as V;
    let value = |v: &V| match v {
        V::Nil => Some(None),
        V::BulkString(b) => std::str::from_utf8(b).ok()?.parse().ok().map(Some),
        _ => None,
    };
    match (op, reply) {
        (Op::Get | Op::Swap(_), v) => value(v).map(Out::Value),
        (Op::Set(_), V::Okay) => Some(Out::Done),
        (Op::Incr | Op::Del, V::Int(n)) => Some(Out::Int(*n)),
        _ => None,
    }
}

/// What the clients share with the nemesis.
struct Shared {
    addr: RwLock<SocketAddr>,
    origin: Instant,
    stop: AtomicBool,
    /// Commands answered, all clients together.
    answered: AtomicUsize,
    history: Mutex<Vec<(usize, Event)>>,
}

impl Shared {
    fn now(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).expect("a test lasts less than 500 years")
    }
}

fn connect(addr: SocketAddr) -> Option<redis::Connection> {
    let client = redis::Client::open(format!("redis://{addr}/")).ok()?;
    let con = client.get_connection_with_timeout(TIMEOUT).ok()?;
    con.set_read_timeout(Some(TIMEOUT)).ok()?;
    con.set_write_timeout(Some(TIMEOUT)).ok()?;
    Some(con)
}

fn run_client(shared: &Shared, client: usize, mix: Mix) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ ((client as u64 + 1) * 0x2545_f491));
    let mut unique = (client as i64 + 1) * 1_000_000_000;
    let mut con: Option<redis::Connection> = None;
    while !shared.stop.load(Ordering::Relaxed) {
        let Some(c) = con.as_mut() else {
            con = connect(*shared.addr.read().unwrap());
            if con.is_none() {
                std::thread::sleep(Duration::from_millis(20));
            }
            continue;
        };
        let key = rng.below(KEYS as u64) as usize;
        let op = random_op(&mut rng, mix, &mut unique);
        let call = shared.now();
        let reply: redis::RedisResult<redis::Value> = args(op, &format!("lin:{key}")).query(c);
        let ret = shared.now();
        let (out, ret) = match &reply {
            Ok(v) => match output(op, v) {
                Some(out) => (out, Some(ret)),
                None => (Out::Unknown, None),
            },
            Err(e)
                if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::ResponseError) =>
            {
                (Out::Unknown, None)
            }
            Err(_) => {
                con = None;
                (Out::Unknown, None)
            }
        };
        if ret.is_some() {
            shared.answered.fetch_add(1, Ordering::Relaxed);
        }
        let event = Event {
            client,
            op,
            out,
            call,
            ret,
        };
        shared.history.lock().unwrap().push((key, event));
    }
}

/// What the nemesis does to the server.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// SIGSTOP for this long, then SIGCONT.
    Pause(Duration),
    /// SIGKILL, then a restart on the same data directory.
    Kill,
}

fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{name} {pid}");
}

/// A run's outcome: each key's history, and how many faults of each kind happened.
struct Run {
    by_key: BTreeMap<usize, Vec<Event>>,
    kills: usize,
    pauses: usize,
    answered_after_last_kill: usize,
}

/// Starts a server with `start`, runs the clients while the nemesis injects `faults` (waiting
/// for `ops / (faults + 1)` more answered commands before each, and as many after the last),
/// and returns the history.
fn run(start: &dyn Fn() -> Server, faults: &[Fault], ops: usize, mix: Mix) -> Run {
    let mut server = start();
    let shared = Arc::new(Shared {
        addr: RwLock::new(server.addr),
        origin: Instant::now(),
        stop: AtomicBool::new(false),
        answered: AtomicUsize::new(0),
        history: Mutex::new(Vec::new()),
    });
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || run_client(&shared, client, mix))
        })
        .collect();
    let per_phase = ops / (faults.len() + 1);
    // Waits until `per_phase` more commands have been answered since the last fault.
    let next_phase = || {
        let target = shared.answered.load(Ordering::Relaxed) + per_phase;
        let deadline = Instant::now() + Duration::from_secs(60);
        while shared.answered.load(Ordering::Relaxed) < target {
            assert!(Instant::now() < deadline, "clients stopped making progress");
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    let (mut kills, mut pauses, mut after_kill) = (0, 0, 0);
    for fault in faults {
        next_phase();
        match *fault {
            Fault::Pause(d) => {
                signal(server.pid(), "STOP");
                std::thread::sleep(d);
                signal(server.pid(), "CONT");
                pauses += 1;
            }
            Fault::Kill => {
                drop(server); // SIGKILL, and wait for the process to be gone
                server = start();
                *shared.addr.write().unwrap() = server.addr;
                kills += 1;
                after_kill = shared.answered.load(Ordering::Relaxed);
            }
        }
    }
    next_phase();
    shared.stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().expect("a client thread panicked");
    }
    let answered_after_last_kill = shared.answered.load(Ordering::Relaxed) - after_kill;
    drop(server);
    let mut by_key: BTreeMap<usize, Vec<Event>> = BTreeMap::new();
    for (key, e) in shared.history.lock().unwrap().drain(..) {
        by_key.entry(key).or_default().push(e);
    }
    Run {
        by_key,
        kills,
        pauses,
        answered_after_last_kill,
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The nemesis's schedule: alternating pauses (short ones that only delay, long ones that
/// make commands time out) and kills.
fn schedule(events: usize) -> Vec<Fault> {
    (0..events)
        .map(|i| match i % 3 {
            0 => Fault::Pause(Duration::from_millis(300)),
            1 => Fault::Kill,
            _ => Fault::Pause(Duration::from_millis(1500)),
        })
        .collect()
}

/// Where the search got stuck: the end of the longest order it found, then the operations it
/// could not place that were called before the first of them returned.
fn explain(history: &[Event], longest: &[Event]) -> String {
    let placed = |e: &Event| {
        longest
            .iter()
            .any(|l| l.client == e.client && l.call == e.call)
    };
    let mut rest: Vec<&Event> = history.iter().filter(|e| !placed(e)).collect();
    rest.sort_by_key(|e| e.call);
    let stuck = rest.iter().filter_map(|e| e.ret).min().unwrap_or(u64::MAX);
    let mut lines = vec![format!(
        "longest linearizable order: {} ops, ending",
        longest.len()
    )];
    let from = longest.len().saturating_sub(12);
    lines.extend(longest[from..].iter().map(|e| format!("  {e}")));
    lines.push("not placed, called before the first of them returned:".to_string());
    lines.extend(
        rest.iter()
            .filter(|e| e.call <= stuck)
            .map(|e| format!("  {e}")),
    );
    lines.join("\n")
}

/// Checks every key; returns the refusals as text.
fn refusals(run: &Run) -> Vec<String> {
    let mut out = Vec::new();
    for (key, history) in &run.by_key {
        match linearizable::check(history, 50_000_000) {
            Ok(()) => {}
            Err(Refusal::NotLinearizable { longest }) => {
                out.push(format!(
                    "key lin:{key}: not linearizable ({} ops)\n{}",
                    history.len(),
                    explain(history, &longest)
                ));
            }
            Err(Refusal::TooLong(steps)) => {
                out.push(format!(
                    "key lin:{key}: the search gave up after {steps} steps"
                ));
            }
        }
    }
    out
}

fn durable_run(sync: &'static str, name: &str) {
    let dir = TempDir::new(name);
    let start = || Server::durable(&dir, sync);
    let faults = schedule(env_usize("KV_FAULT_EVENTS", 6));
    let run = run(&start, &faults, env_usize("KV_FAULT_OPS", 1500), Mix::All);
    let expected_kills = faults.iter().filter(|f| matches!(f, Fault::Kill)).count();
    assert_eq!(run.kills, expected_kills);
    assert!(run.pauses > 0);
    assert!(
        run.answered_after_last_kill > 0,
        "nothing was answered after the last restart"
    );
    let total: usize = run.by_key.values().map(Vec::len).sum();
    let unknown: usize = run
        .by_key
        .values()
        .flatten()
        .filter(|e| e.ret.is_none())
        .count();
    eprintln!(
        "faults ({sync}): {total} operations ({unknown} with unknown outcome), {} kills, {} pauses",
        run.kills, run.pauses
    );
    let refused = refusals(&run);
    assert!(refused.is_empty(), "{}", refused.join("\n\n"));
}

#[test]
fn histories_stay_linearizable_across_pauses_and_kills_with_sync_always() {
    durable_run("always", "faults-always");
}

#[test]
fn histories_stay_linearizable_across_pauses_and_kills_with_sync_everysec() {
    durable_run("everysec", "faults-everysec");
}

#[test]
fn the_check_refuses_the_history_of_a_store_that_forgets_on_a_kill() {
    // An in-memory server comes back empty: a read after the restart finds absent a key whose
    // write was acknowledged, and without DEL nothing explains that.
    let start = || Server::start(&[]);
    let run = run(&start, &[Fault::Kill], 600, Mix::NoDelete);
    assert_eq!(run.kills, 1);
    let refused = refusals(&run);
    assert!(
        !refused.is_empty(),
        "a store that lost every acknowledged write passed the check"
    );
    assert!(
        refused.iter().all(|r| r.contains("not linearizable")),
        "{refused:?}"
    );
}
