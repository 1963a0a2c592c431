//! Linearizability under faults: clients run GET, SET, INCR, SET ... GET and DEL on a few keys
//! against real servers while a nemesis pauses them (SIGSTOP/SIGCONT), kills them (SIGKILL)
//! and restarts them on the same data directory, and cuts, delays and resets the network in
//! front of them (`nemesis.rs`); every key's history is then checked by `linearizable.rs`. With
//! `--sync always` or `everysec` an acknowledged write survives a process crash, so the history
//! must be linearizable. An in-memory server loses everything on a kill, and the same check
//! must refuse its history; so must two independent servers taken for one: the controls that
//! show the check can fail.
//!
//! The driver (clients, schedule, groups of processes) is in `faults/runner.rs` and
//! `faults/group.rs`. `KV_FAULT_OPS` (default 1500 per run, in total) and `KV_FAULT_EVENTS`
//! (default 6) make a longer run by hand.

mod group;
mod raft_group;
mod runner;

use std::time::Duration;

use self::group::{Fronted, Servers};
use self::raft_group::RaftGroup;
use self::runner::{Fault, Mix, Net, Options, Route, Run, crash, net_for, pause_for};
use super::linearizable::{self, Event, Refusal};
use super::nemesis::{Dir, Link};
use super::support::{Server, TempDir};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The nemesis's schedule for node 1: a phase of progress before each of `events` faults,
/// alternating pauses (short ones that only delay, long ones that make commands time out) and
/// kills with a restart.
fn schedule(events: usize) -> Vec<Fault> {
    let mut out = Vec::new();
    for i in 0..events {
        out.push(Fault::Progress);
        match i % 3 {
            0 => out.extend(pause_for(1, Duration::from_millis(300))),
            1 => out.extend(crash(1)),
            _ => out.extend(pause_for(1, Duration::from_millis(1500))),
        }
    }
    out
}

/// Where the search got stuck: the end of the longest order it found, then the operations it
/// could not place that were called before the first of them returned.
fn explain(run: &Run, history: &[Event], longest: &[Event]) -> String {
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
    let show = |e: &Event| format!("  node {}: {e}", run.node_of[&(e.client, e.call)]);
    lines.extend(longest[from..].iter().map(show));
    lines.push("not placed, called before the first of them returned:".to_string());
    lines.extend(rest.iter().filter(|e| e.call <= stuck).map(|e| show(e)));
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
                    explain(run, history, &longest)
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

/// Prints what a run did (seen with `--nocapture`), and returns its refusals.
fn summary(name: &str, run: &Run) -> Vec<String> {
    let total: usize = run.by_key.values().map(Vec::len).sum();
    let unknown: usize = run
        .by_key
        .values()
        .flatten()
        .filter(|e| e.ret.is_none())
        .count();
    eprintln!(
        "faults ({name}): {total} operations ({unknown} with unknown outcome), {} kills, \
         {} pauses, {} network faults, answered per node {:?}",
        run.kills, run.pauses, run.nets, run.answered_by_node
    );
    refusals(run)
}

fn durable_run(sync: &'static str, name: &str) {
    let dir = TempDir::new(name);
    let mut group = Servers::start(1, |_| Server::durable(&dir, sync));
    let faults = schedule(env_usize("KV_FAULT_EVENTS", 6));
    let opts = Options::new(env_usize("KV_FAULT_OPS", 1500), Mix::All);
    let run = runner::run(&mut group, &faults, &opts);
    let expected_kills = faults
        .iter()
        .filter(|f| matches!(f, Fault::Kill(_)))
        .count();
    assert_eq!(run.kills, expected_kills);
    assert!(run.pauses > 0);
    assert!(
        run.answered_after_last_restart > 0,
        "nothing was answered after the last restart"
    );
    let refused = summary(sync, &run);
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
    // write was acknowledged, and without DEL nothing explains that. Only a key whose first
    // command after the restart is a plain SET (2 in 9 of the mix) hides the loss, so the run
    // spreads over 12 keys: with the usual 3, all of them did so about once in 90 runs.
    let mut group = Servers::start(1, |_| Server::start(&[]));
    let schedule = [Fault::Progress, Fault::Kill(1), Fault::Restart(1)];
    let opts = Options {
        keys: 12,
        ..Options::new(600, Mix::NoDelete)
    };
    let run = runner::run(&mut group, &schedule, &opts);
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

#[test]
fn the_check_refuses_two_independent_servers_taken_for_one() {
    // Clients spread their commands over two in-memory servers that share nothing: a key
    // written on one is absent, or older, on the other. This shows that a client's commands
    // really go to several nodes, and that the check sees it.
    let mut group = Servers::start(2, |_| Server::start(&[]));
    let opts = Options {
        route: Route::Random,
        ..Options::new(600, Mix::NoDelete)
    };
    let run = runner::run(&mut group, &[], &opts);
    assert!(
        run.answered_by_node.iter().all(|&n| n > 0),
        "{run_nodes:?}",
        run_nodes = run.answered_by_node
    );
    let refused = refusals(&run);
    assert!(!refused.is_empty(), "two separate stores passed for one");
    assert!(
        refused.iter().all(|r| r.contains("not linearizable")),
        "{refused:?}"
    );
}

/// The schedule for one server behind three proxies: a phase of progress before each of
/// `events` faults, cycling through an isolated proxy (past the clients' timeout), a delay on
/// every proxy, a reset of every connection, a kill with a restart and a long pause; the last
/// isolation is left for the run to heal.
fn proxied_schedule(events: usize) -> Vec<Fault> {
    let mut out = Vec::new();
    for i in 0..events {
        out.push(Fault::Progress);
        let node = i % 3 + 1;
        let long = Duration::from_millis(1500);
        match i % 5 {
            0 if i + 1 == events => out.push(Fault::Net(Net::Isolate(node))),
            0 => out.extend(net_for(Net::Isolate(node), long)),
            1 => out.extend(net_for(
                Net::Delay(Duration::from_millis(20)),
                Duration::from_millis(500),
            )),
            2 => out.push(Fault::Net(Net::Reset)),
            3 => out.extend(crash(node)),
            _ => out.extend(pause_for(node, long)),
        }
    }
    out
}

#[test]
fn histories_stay_linearizable_through_proxies_that_cut_delay_and_reset_clients() {
    // Three client addresses for one `--sync always` server, each through its own proxy;
    // clients pick one at random per command. An isolated proxy black-holes commands (their
    // outcome is unknown once the client times out; the proxy ends those connections when
    // healed), a delay slows them, a reset cuts them, and the server is paused and killed.
    let dir = TempDir::new("faults-proxied");
    let mut group = Fronted::start(3, || Server::durable(&dir, "always"));
    let opts = Options {
        route: Route::Random,
        ..Options::new(env_usize("KV_FAULT_OPS", 1500), Mix::All)
    };
    let schedule = proxied_schedule(env_usize("KV_FAULT_EVENTS", 6));
    let run = runner::run(&mut group, &schedule, &opts);
    let count = |f: fn(&Fault) -> bool| schedule.iter().filter(|x| f(x)).count();
    assert_eq!(run.kills, count(|f| matches!(f, Fault::Kill(_))));
    assert_eq!(run.pauses, count(|f| matches!(f, Fault::Pause(_))));
    assert_eq!(run.nets, count(|f| matches!(f, Fault::Net(_))));
    assert!(run.kills > 0 && run.pauses > 0 && run.nets > 0);
    assert!(run.answered_by_node.iter().all(|&n| n > 0));
    assert!(run.answered_after_last_restart > 0);
    // The run mended the isolation the schedule left.
    for id in 1..=3 {
        assert_eq!(group.proxy(id).link(Dir::Up), Link::Pass);
        assert_eq!(group.proxy(id).link(Dir::Down), Link::Pass);
    }
    let refused = summary("proxied", &run);
    assert!(refused.is_empty(), "{}", refused.join("\n\n"));
}

/// The Raft group's schedule: `events` faults rotating over the nodes: an isolated node (its
/// links cut both ways past an election timeout), a kill and restart, a long pause, a split
/// of one node from the two others, a one-way cut, and delayed links.
fn raft_schedule(events: usize) -> Vec<Fault> {
    let mut out = Vec::new();
    let long = Duration::from_millis(2500);
    for i in 0..events {
        out.push(Fault::Progress);
        let node = i % 3 + 1;
        let other = node % 3 + 1;
        match i % 6 {
            0 => out.extend(net_for(Net::Isolate(node), long)),
            1 => out.extend(crash(node)),
            2 => out.extend(pause_for(node, long)),
            3 => {
                let rest: Vec<usize> = (1..=3).filter(|&n| n != node).collect();
                out.extend(net_for(Net::Split(vec![node], rest), long));
            }
            4 => out.extend(net_for(Net::OneWay(node, other), long)),
            _ => out.extend(net_for(
                Net::Delay(Duration::from_millis(30)),
                Duration::from_millis(800),
            )),
        }
    }
    out
}

#[test]
fn a_raft_group_stays_linearizable_through_partitions_kills_and_pauses() {
    // Three Raft nodes; clients pick a node at random per command (followers forward to the
    // leader). The nemesis cuts links between nodes through the mesh, kills and restarts
    // nodes on their data, and pauses them.
    let mut group = RaftGroup::start("faults-raft", 3);
    let opts = Options {
        route: Route::Random,
        clients: 5,
        timeout: Duration::from_secs(3),
        ..Options::new(env_usize("KV_FAULT_OPS", 1200), Mix::All)
    };
    let schedule = raft_schedule(env_usize("KV_FAULT_EVENTS", 6));
    let run = runner::run(&mut group, &schedule, &opts);
    let count = |f: fn(&Fault) -> bool| schedule.iter().filter(|x| f(x)).count();
    assert_eq!(run.kills, count(|f| matches!(f, Fault::Kill(_))));
    assert_eq!(run.nets, count(|f| matches!(f, Fault::Net(_))));
    assert!(run.kills > 0 && run.pauses > 0 && run.nets > 0);
    assert!(run.answered_after_last_restart > 0);
    let refused = summary("raft", &run);
    assert!(refused.is_empty(), "{}", refused.join("\n\n"));
}

#[test]
fn an_isolated_raft_leader_acknowledges_nothing_and_the_majority_goes_on() {
    let group = RaftGroup::start("faults-raft-minority", 3);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let old = loop {
        if let Some(id) = group.leader() {
            break id;
        }
        assert!(std::time::Instant::now() < deadline, "no leader");
        std::thread::sleep(Duration::from_millis(50));
    };
    group.mesh().isolate(old);
    // Writes sent to the isolated leader: none may be acknowledged (they time out, the
    // connection closes, or the node, no longer leading, answers TRYAGAIN).
    let client = redis::Client::open(format!("redis://{}", group.server(old).addr)).unwrap();
    let mut acked = Vec::new();
    for i in 0..5 {
        let Ok(mut c) = client.get_connection_with_timeout(Duration::from_secs(2)) else {
            continue;
        };
        c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        if redis::cmd("SET")
            .arg("minority")
            .arg(i)
            .query::<()>(&mut c)
            .is_ok()
        {
            acked.push(i);
        }
    }
    assert!(
        acked.is_empty(),
        "the isolated leader acknowledged {acked:?}"
    );
    // The majority elects another leader and takes writes, through either of its nodes.
    let other = (1..=3).find(|&id| id != old).unwrap();
    let mut c = group.server(other).client();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let done: redis::RedisResult<()> =
            redis::cmd("SET").arg("majority").arg("yes").query(&mut c);
        if done.is_ok() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the majority never wrote: {done:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
        c = group.server(other).client();
    }
    group.mesh().heal();
    // Once healed, the old leader follows: nothing it took while isolated is there.
    let mut c = group.server(old).client();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let v: redis::RedisResult<Option<String>> = redis::cmd("GET").arg("majority").query(&mut c);
        if matches!(v.as_ref().map(|v| v.as_deref()), Ok(Some("yes"))) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the old leader never followed: {v:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
        c = group.server(old).client();
    }
    let v: Option<String> = redis::cmd("GET").arg("minority").query(&mut c).unwrap();
    assert_eq!(v, None);
}
