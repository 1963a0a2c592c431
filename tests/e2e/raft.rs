//! The Raft mode (`--raft-id`, `--raft-peers`): three kvserver processes on loopback elect a
//! leader, any node takes any command (followers forward to the leader), and a SIGKILLed
//! leader loses no acknowledged write.

use std::io::Read;
use std::time::{Duration, Instant};

use super::ports::free_port;
use super::support::{Server, TempDir, cmd, error_text, info_field, resp};

/// A group of kvservers in Raft mode, each with its own data directory under `dir`.
struct Group {
    dir: TempDir,
    peers: String,
    nodes: Vec<Option<Server>>,
    extra: Vec<String>,
}

impl Group {
    fn start(name: &str, n: usize) -> Group {
        Group::start_with(name, n, &[])
    }

    fn start_with(name: &str, n: usize, extra: &[&str]) -> Group {
        let mut g = Group::new(name, n, extra);
        for i in 1..=n {
            g.launch(i);
        }
        g
    }

    /// A group of `n` nodes, none started yet (each with `launch` or `launch_with`).
    fn new(name: &str, n: usize, extra: &[&str]) -> Group {
        let peers = (1..=n)
            .map(|i| format!("{i}=127.0.0.1:{}", free_port()))
            .collect::<Vec<_>>()
            .join(",");
        Group {
            dir: TempDir::new(name),
            peers,
            nodes: (0..n).map(|_| None).collect(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn launch(&mut self, id: usize) {
        self.launch_with(id, &[]);
    }

    /// Starts node `id` on its data directory, with `more` flags after the group's.
    fn launch_with(&mut self, id: usize, more: &[&str]) {
        let dir = format!("{}/{id}", self.dir.path());
        let id_s = id.to_string();
        let mut args = vec![
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--data-dir",
            &dir,
            "--raft-id",
            &id_s,
            "--raft-peers",
            &self.peers,
        ];
        args.extend(self.extra.iter().map(String::as_str));
        args.extend_from_slice(more);
        let server = Server::start_raw(&args);
        self.nodes[id - 1] = Some(server);
    }

    fn node(&self, id: usize) -> &Server {
        self.nodes[id - 1].as_ref().expect("a running node")
    }

    fn info(&self, id: usize) -> String {
        let mut c = self.node(id).client();
        redis::cmd("INFO")
            .arg("raft")
            .query(&mut c)
            .expect("INFO raft")
    }

    /// Node `id`'s current term (INFO raft).
    fn term(&self, id: usize) -> u64 {
        let mut c = self.node(id).client();
        info_field(&mut c, "raft", "raft_term")
            .and_then(|t| t.parse().ok())
            .expect("INFO raft has raft_term")
    }

    /// The serving leader's ID, waiting for one.
    fn leader(&self) -> usize {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            for (i, n) in self.nodes.iter().enumerate() {
                if n.is_some() && self.info(i + 1).contains("raft_serving:1") {
                    return i + 1;
                }
            }
            assert!(Instant::now() < deadline, "no leader within 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn every_node_takes_every_command_and_sees_every_write() {
    let g = Group::start("raft-basic", 3);
    let leader = g.leader();
    // Writes through each node, reads through each node.
    for id in 1..=3 {
        let mut c = g.node(id).client();
        let key = format!("k{id}");
        let v = cmd(&mut c, &["SET", &key, &format!("v{id}")]).expect("SET through a node");
        assert_eq!(v, redis::Value::Okay);
        assert_eq!(
            cmd(&mut c, &["INCR", "counter"]).expect("INCR"),
            redis::Value::Int(id as i64)
        );
    }
    for id in 1..=3 {
        let mut c = g.node(id).client();
        for k in 1..=3 {
            let got: Option<String> = redis::cmd("GET")
                .arg(format!("k{k}"))
                .query(&mut c)
                .expect("GET through a node");
            assert_eq!(got.as_deref(), Some(format!("v{k}").as_str()));
        }
        // A transaction through a follower runs on the leader as one.
        let (a, b): (i64, i64) = redis::pipe()
            .atomic()
            .cmd("INCR")
            .arg("counter")
            .cmd("INCR")
            .arg("counter")
            .query(&mut c)
            .expect("MULTI/EXEC through a node");
        assert_eq!(b, a + 1);
    }
    // ROLE in Redis's shapes: the leader a master with two members, a follower a replica
    // of the leader's client address.
    let role: Vec<redis::Value> = redis::cmd("ROLE")
        .query(&mut g.node(leader).client())
        .expect("ROLE");
    assert_eq!(role[0], redis::Value::BulkString(b"master".to_vec()));
    assert!(
        matches!(&role[2], redis::Value::Array(m) if m.len() == 2),
        "{role:?}"
    );
    let other = if leader == 1 { 2 } else { 1 };
    let role: Vec<redis::Value> = redis::cmd("ROLE")
        .query(&mut g.node(other).client())
        .expect("ROLE");
    assert_eq!(role[0], redis::Value::BulkString(b"slave".to_vec()));
    assert_eq!(
        role[2],
        redis::Value::Int(i64::from(g.node(leader).addr.port()))
    );
    // A message published through any node reaches subscribers on every node: PUBLISH goes
    // to the leader and through the log.
    let mut subs: Vec<_> = (1..=3)
        .map(|id| {
            let mut raw = g.node(id).raw();
            raw.send(&resp(&[b"SUBSCRIBE", b"news"]));
            raw.expect(b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n");
            raw
        })
        .collect();
    let publisher = if leader == 3 { 2 } else { 3 };
    let n: i64 = redis::cmd("PUBLISH")
        .arg("news")
        .arg("hello")
        .query(&mut g.node(publisher).client())
        .expect("PUBLISH through a node");
    assert_eq!(n, 1, "the leader's own subscriber");
    for raw in &mut subs {
        raw.expect(b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n");
    }
    let info = g.info(leader);
    assert!(info.contains("raft_role:leader"), "{info}");
    assert!(info.contains("raft_members:3"), "{info}");
    let follower = if leader == 1 { 2 } else { 1 };
    let info = g.info(follower);
    assert!(info.contains("raft_role:follower"), "{info}");
    assert!(info.contains(&format!("raft_leader_id:{leader}")), "{info}");
}

/// A client that pipelines without reading gets every reply, in order, with each GET
/// showing the INCR before it, through the leader and through a follower: the leader's
/// connection thread runs its next batches while the replier still holds the last one for
/// its commit (replies wait for their batch to settle, in request order).
#[test]
fn a_pipelining_client_gets_its_replies_in_order_while_its_batches_settle() {
    let g = Group::start("raft-pipeline", 3);
    // (key, count) of every run that got all its replies.
    let mut done: Vec<(String, i64)> = Vec::new();
    for role in ["leader", "follower"] {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let leader = g.leader();
            let term = g.term(leader);
            let id = if role == "leader" {
                leader
            } else {
                (1..=3).find(|&id| id != leader).expect("a follower")
            };
            let key = format!("p{role}{attempt}");
            let mut raw = g.node(id).raw();
            let mut expected = Vec::new();
            for i in 1..=200 {
                // One write per pair: most arrive as batches of their own.
                raw.send(
                    &[
                        resp(&[b"INCR", key.as_bytes()]),
                        resp(&[b"GET", key.as_bytes()]),
                    ]
                    .concat(),
                );
                let n = i.to_string();
                expected.extend_from_slice(format!(":{n}\r\n${}\r\n{n}\r\n", n.len()).as_bytes());
            }
            let mut got = vec![0; expected.len()];
            match raw.stream.read_exact(&mut got) {
                Ok(()) => {
                    assert_eq!(
                        String::from_utf8_lossy(&got),
                        String::from_utf8_lossy(&expected),
                        "the {role}'s replies"
                    );
                    done.push((key, 200));
                    break;
                }
                // A follower closes a client whose forwarded command lost its leader (the
                // command's outcome is unknown): on this busy machine an election can come
                // in the middle of the run. Only that may end it early, and then the run
                // starts again on a new key with the new leader.
                Err(e) => {
                    let now = g.term(g.leader());
                    assert_ne!(
                        now, term,
                        "the {role}'s replies stopped ({e}) without an election"
                    );
                    assert!(attempt < 3, "elections cut three runs of the {role} short");
                }
            }
        }
    }
    // Every node has the counters of the complete runs once the group applied them.
    for id in 1..=3 {
        let mut c = g.node(id).client();
        for (key, count) in &done {
            let n: i64 = redis::cmd("GET").arg(key).query(&mut c).expect("GET");
            assert_eq!(n, *count, "{key} on node {id}");
        }
    }
}

#[test]
fn a_node_alone_answers_tryagain_and_changes_nothing() {
    let mut g = Group::start("raft-alone", 1);
    // A group of three with only node 1 running: no majority, no leader.
    g.peers = format!(
        "{},2=127.0.0.1:{},3=127.0.0.1:{}",
        g.peers,
        free_port(),
        free_port()
    );
    g.nodes[0] = None;
    g.nodes.resize_with(3, || None);
    std::fs::remove_dir_all(g.dir.path()).ok();
    g.launch(1);
    let mut c = g.node(1).client();
    let e = cmd(&mut c, &["SET", "a", "1"]).expect_err("no leader");
    assert!(error_text(&e).starts_with("TRYAGAIN"), "{}", error_text(&e));
    // Connection commands still work on the node itself.
    assert_eq!(
        cmd(&mut c, &["PING"]).expect("PING"),
        redis::Value::SimpleString("PONG".into())
    );
    assert!(g.info(1).contains("raft_serving:0"));
    // Redis replication is not offered in this mode.
    for args in [
        &["REPLICAOF", "127.0.0.1", "1"][..],
        &["PSYNC", "?", "-1"],
        &["FAILOVER"],
    ] {
        let e = cmd(&mut c, args).expect_err("refused in raft mode");
        assert!(
            error_text(&e).contains("not available in raft mode"),
            "{}",
            error_text(&e)
        );
    }
}

#[test]
fn a_killed_leader_loses_no_acknowledged_write() {
    let mut g = Group::start("raft-kill", 3);
    let leader = g.leader();
    let other = if leader == 1 { 2 } else { 1 };
    // A writer on a follower: every INCR it got an answer to is acknowledged.
    let addr = g.node(other).addr;
    let writer = std::thread::spawn(move || {
        let client = redis::Client::open(format!("redis://{addr}")).unwrap();
        let mut acked = 0i64;
        let mut attempts = 0i64;
        let deadline = Instant::now() + Duration::from_secs(8);
        while Instant::now() < deadline {
            let Ok(mut c) = client.get_connection_with_timeout(Duration::from_secs(2)) else {
                continue;
            };
            let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
            loop {
                attempts += 1;
                match redis::cmd("INCR").arg("n").query::<i64>(&mut c) {
                    Ok(v) => {
                        assert!(v > acked, "INCR went back: {v} after {acked}");
                        acked = v;
                    }
                    Err(_) => break,
                }
                if Instant::now() >= deadline {
                    break;
                }
            }
        }
        (acked, attempts)
    });
    std::thread::sleep(Duration::from_millis(1500));
    g.node(leader).signal("KILL");
    g.nodes[leader - 1] = None;
    let (acked, attempts) = writer.join().expect("writer");
    assert!(acked > 0, "no INCR was acknowledged");
    let new = g.leader();
    assert_ne!(new, leader);
    let mut c = g.node(new).client();
    let n: i64 = redis::cmd("GET").arg("n").query(&mut c).expect("GET n");
    assert!(
        n >= acked && n <= attempts,
        "n = {n}, acknowledged {acked}, attempted {attempts}"
    );
}

#[test]
fn a_node_joins_with_raft_add_node_and_takes_over_the_lead() {
    let mut g = Group::start("raft-join", 3);
    let leader = g.leader();
    let mut c = g.node(leader).client();
    for i in 0..100 {
        cmd(&mut c, &["SET", &format!("k{i}"), &i.to_string()]).expect("SET");
    }
    // Node 4 starts knowing the others, joins when the leader adds it.
    let raft4 = format!("127.0.0.1:{}", free_port());
    g.peers = format!("{},4={raft4}", g.peers);
    g.nodes.push(None);
    g.launch_with(4, &["--raft-join"]);
    assert_eq!(
        cmd(&mut c, &["RAFT", "ADD-NODE", "4", &raft4]).expect("RAFT ADD-NODE"),
        redis::Value::Okay
    );
    let e = cmd(&mut c, &["RAFT", "ADD-NODE", "0", &raft4]).expect_err("node 0");
    assert!(
        error_text(&e).contains("positive integer"),
        "{}",
        error_text(&e)
    );
    let e = cmd(&mut c, &["RAFT", "SOMETHING"]).expect_err("unknown subcommand");
    assert!(
        error_text(&e).contains("syntax error"),
        "{}",
        error_text(&e)
    );
    // Leadership goes to node 4, which must then hold everything: its reads are its own.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !g.info(4).contains("raft_serving:1") {
        let mut c = g.node(g.leader()).client();
        let _ = cmd(&mut c, &["RAFT", "TRANSFER-LEADER", "4"]);
        assert!(Instant::now() < deadline, "node 4 never led: {}", g.info(4));
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut c4 = g.node(4).client();
    for i in 0..100 {
        let v: Option<String> = redis::cmd("GET")
            .arg(format!("k{i}"))
            .query(&mut c4)
            .expect("GET on node 4");
        assert_eq!(v, Some(i.to_string()));
    }
    let leader: Vec<redis::Value> = redis::cmd("RAFT")
        .arg("LEADER")
        .query(&mut g.node(1).client())
        .expect("RAFT LEADER");
    assert_eq!(leader[0], redis::Value::Int(4));
    assert!(g.info(4).contains("raft_members:4"));
}

/// A follower killed while the others go on writing catches up when it restarts: from its own
/// log, and from a snapshot once the leader compacted past it (`--raft-snapshot-entries`).
#[test]
fn a_killed_follower_restarts_from_its_log_and_catches_up() {
    let mut g = Group::start_with("raft-restart", 3, &["--raft-snapshot-entries", "64"]);
    let leader = g.leader();
    let follower = if leader == 3 { 2 } else { 3 };
    let mut c = g.node(leader).client();
    for i in 0..50 {
        cmd(&mut c, &["SET", &format!("a{i}"), "1"]).expect("SET");
    }
    g.node(follower).signal("KILL");
    g.nodes[follower - 1] = None;
    // Enough entries for the others to snapshot and compact past where it stopped.
    for i in 0..300 {
        cmd(&mut c, &["RPUSH", "list", &i.to_string()]).expect("RPUSH");
    }
    g.launch(follower);
    // Leadership goes to the restarted node: everything must then be in its own store.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !g.info(follower).contains("raft_serving:1") {
        let mut c = g.node(g.leader()).client();
        let _ = cmd(&mut c, &["RAFT", "TRANSFER-LEADER", &follower.to_string()]);
        assert!(
            Instant::now() < deadline,
            "never led: {}\n{}",
            g.info(follower),
            g.node(follower).log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut c = g.node(follower).client();
    let n: i64 = redis::cmd("LLEN").arg("list").query(&mut c).expect("LLEN");
    assert_eq!(n, 300);
    let v: Option<String> = redis::cmd("GET").arg("a49").query(&mut c).expect("GET");
    assert_eq!(v.as_deref(), Some("1"));
}

/// A follower makes its log durable once per entry it receives, not a second time when the
/// leader's next message only advances its commit index (which it may lose in a crash and
/// learn again): one client writing one key after another makes one entry per write, and a
/// follower synced about twice per entry before.
#[test]
fn a_follower_syncs_once_per_entry_not_again_for_the_commit_index() {
    let g = Group::start("raft-syncs", 3);
    let leader = g.leader();
    let follower = if leader == 1 { 2 } else { 1 };
    let mut f = g.node(follower).client();
    let number = |c: &mut redis::Connection, field: &str| -> u64 {
        info_field(c, "raft", field)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("INFO raft {field}"))
    };
    let (syncs0, last0) = (
        number(&mut f, "raft_log_syncs"),
        number(&mut f, "raft_last_index"),
    );
    let mut c = g.node(leader).client();
    for i in 0..200 {
        cmd(&mut c, &["SET", &format!("k{i}"), "v"]).expect("SET");
    }
    let commit = number(&mut c, "raft_commit_index");
    let deadline = Instant::now() + Duration::from_secs(30);
    while number(&mut f, "raft_applied_index") < commit {
        assert!(
            Instant::now() < deadline,
            "the follower did not apply {commit}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let entries = number(&mut f, "raft_last_index") - last0;
    let syncs = number(&mut f, "raft_log_syncs") - syncs0;
    assert!(entries >= 200, "one entry per write: {entries}");
    // A few more for heartbeats that carried a term or snapshot work: none expected here.
    assert!(
        syncs >= entries / 2 && syncs <= entries + 10,
        "{syncs} syncs for {entries} entries"
    );
}

/// With passwords and ACL users, a follower's client runs on the leader as its own user:
/// the follower replays the client's AUTH on its link, so a script's calls are checked there
/// against that user's keys, and a RESET drops the link with any transaction on it.
/// Runs `args` on `c`, which must refuse them; the error's text.
#[track_caller]
fn refused(c: &mut redis::Connection, args: &[&str], why: &str) -> String {
    error_text(&cmd(c, args).expect_err(why))
}

/// EXISTS `key` on `c`.
fn exists(c: &mut redis::Connection, key: &str) -> i64 {
    redis::cmd("EXISTS").arg(key).query(c).unwrap()
}

#[test]
fn forwarded_commands_run_on_the_leader_as_the_clients_user() {
    let g = Group::start_with("raft-auth", 3, &["--requirepass", "s3cret"]);
    let admin = |id: usize| {
        let url = format!("redis://:s3cret@{}/", g.node(id).addr);
        redis::Client::open(url)
            .unwrap()
            .get_connection()
            .expect("the default user authenticates")
    };
    // ACL users are per node: the same user on each.
    for id in 1..=3 {
        let mut c = admin(id);
        cmd(
            &mut c,
            &["ACL", "SETUSER", "app", "on", ">apppass", "~app:*", "+@all"],
        )
        .expect("ACL SETUSER");
    }
    let leader = {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let found = (1..=3).find(|&id| {
                let info: String = redis::cmd("INFO")
                    .arg("raft")
                    .query(&mut admin(id))
                    .unwrap();
                info.contains("raft_serving:1")
            });
            if let Some(id) = found {
                break id;
            }
            assert!(Instant::now() < deadline, "no leader within 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let follower = if leader == 1 { 2 } else { 1 };

    let mut c = g.node(follower).client();
    let e = refused(&mut c, &["SET", "app:1", "x"], "not authenticated");
    assert!(e.starts_with("NOAUTH"), "{e}");
    cmd(&mut c, &["AUTH", "app", "apppass"]).expect("AUTH as app");
    assert_eq!(
        cmd(&mut c, &["SET", "app:1", "x"]).expect("SET through the follower"),
        redis::Value::Okay
    );
    let got: Option<String> = redis::cmd("GET")
        .arg("app:1")
        .query(&mut admin(leader))
        .unwrap();
    assert_eq!(got.as_deref(), Some("x"));
    // A script declares a key of its user's but reaches another: the leader checks the call
    // against `app`, not against the default user the link would otherwise have.
    let e = cmd(
        &mut c,
        &[
            "EVAL",
            "return redis.call('SET', 'other:1', 'y')",
            "1",
            "app:2",
        ],
    )
    .expect_err("the script's call is refused");
    assert!(
        error_text(&e).contains("can't access at least one of the keys"),
        "{}",
        error_text(&e)
    );
    assert_eq!(
        exists(&mut admin(leader), "other:1"),
        0,
        "the refused call wrote nothing"
    );
    // A transaction begun through the follower and then RESET is gone on the leader too.
    assert_eq!(cmd(&mut c, &["MULTI"]).unwrap(), redis::Value::Okay);
    assert_eq!(
        cmd(&mut c, &["SET", "app:3", "queued"]).unwrap(),
        redis::Value::SimpleString("QUEUED".into())
    );
    assert_eq!(
        cmd(&mut c, &["RESET"]).unwrap(),
        redis::Value::SimpleString("RESET".into())
    );
    let e = refused(&mut c, &["SET", "app:3", "y"], "RESET deauthenticates");
    assert!(e.starts_with("NOAUTH"), "{e}");
    cmd(&mut c, &["AUTH", "app", "apppass"]).expect("AUTH again");
    assert_eq!(
        cmd(&mut c, &["SET", "app:3", "now"]).expect("not queued"),
        redis::Value::Okay
    );
    let got: Option<String> = redis::cmd("GET").arg("app:3").query(&mut c).unwrap();
    assert_eq!(got.as_deref(), Some("now"));
    // A command the follower refuses inside a forwarded transaction aborts it, as in Redis:
    // EXEC answers EXECABORT and the queued SET never runs.
    assert_eq!(cmd(&mut c, &["MULTI"]).unwrap(), redis::Value::Okay);
    cmd(&mut c, &["SET", "app:5", "queued"]).unwrap();
    let e = refused(
        &mut c,
        &["SET", "other:5", "v"],
        "refused by the follower's ACL",
    );
    assert!(e.starts_with("NOPERM"), "{e}");
    let e = refused(&mut c, &["EXEC"], "the transaction is aborted");
    assert!(e.starts_with("EXECABORT"), "{e}");
    assert_eq!(
        exists(&mut admin(leader), "app:5"),
        0,
        "nothing of the aborted transaction ran"
    );
    // Inside a forwarded transaction PING is queued on the leader too, so EXEC's answer has
    // one item per command (redis-py and the redis crate check the count); so is SELECT,
    // which selects at EXEC for the commands after it and for the client afterwards, as in
    // Redis; CLIENT, which would act on this node before the transaction, is refused and
    // aborts it.
    let (set, pong, got): (String, String, String) = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("app:6")
        .arg("v")
        .cmd("PING")
        .cmd("GET")
        .arg("app:6")
        .query(&mut c)
        .expect("a transaction with PING through the follower");
    assert_eq!(
        (set.as_str(), pong.as_str(), got.as_str()),
        ("OK", "PONG", "v")
    );
    let (a, b, got): (String, String, Option<String>) = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("app:s")
        .arg("db0")
        .cmd("SELECT")
        .arg("1")
        .cmd("GET")
        .arg("app:s")
        .query(&mut c)
        .expect("a transaction with SELECT through the follower");
    assert_eq!((a.as_str(), b.as_str(), got), ("OK", "OK", None));
    cmd(&mut c, &["SET", "app:s", "db1"]).unwrap();
    let got: String = redis::cmd("GET").arg("app:s").query(&mut c).unwrap();
    assert_eq!(got, "db1", "the client stays in database 1 after EXEC");
    cmd(&mut c, &["SELECT", "0"]).unwrap();
    let got: String = redis::cmd("GET").arg("app:s").query(&mut c).unwrap();
    assert_eq!(got, "db0");
    assert_eq!(cmd(&mut c, &["MULTI"]).unwrap(), redis::Value::Okay);
    cmd(&mut c, &["SET", "app:7", "queued"]).unwrap();
    let e = refused(
        &mut c,
        &["CLIENT", "SETNAME", "x"],
        "refused inside a forwarded MULTI",
    );
    assert!(
        e.contains("not available inside MULTI through a raft follower"),
        "{e}"
    );
    let e = refused(&mut c, &["EXEC"], "the transaction is aborted");
    assert!(e.starts_with("EXECABORT"), "{e}");
    assert_eq!(
        exists(&mut admin(leader), "app:7"),
        0,
        "nothing was written"
    );
    // A finished transaction does not tie the client to its leader; open watches do.
    let (x,): (i64,) = redis::pipe()
        .atomic()
        .cmd("INCR")
        .arg("app:n")
        .query(&mut c)
        .unwrap();
    assert_eq!(x, 1);
    let mut w = g.node(follower).client();
    cmd(&mut w, &["AUTH", "app", "apppass"]).unwrap();
    cmd(&mut w, &["WATCH", "app:n"]).unwrap();
    let third = 6 - leader - follower;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let info: String = redis::cmd("INFO")
            .arg("raft")
            .query(&mut admin(third))
            .unwrap();
        if info.contains("raft_serving:1") {
            break;
        }
        let _ = cmd(
            &mut admin(leader),
            &["RAFT", "TRANSFER-LEADER", &third.to_string()],
        );
        assert!(Instant::now() < deadline, "node {third} never led: {info}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let n: i64 = redis::cmd("INCR")
        .arg("app:n")
        .query(&mut c)
        .expect("goes on");
    assert_eq!(n, 2);
    assert!(
        cmd(&mut w, &["MULTI"]).is_err(),
        "a watch begun with the old leader cannot go on with the new one"
    );
    let leader = third;
    // A password the leader does not know: its refusal is the answer, and nothing ran.
    cmd(
        &mut admin(leader),
        &["ACL", "SETUSER", "app", "resetpass", ">changed"],
    )
    .unwrap();
    let mut d = g.node(follower).client();
    cmd(&mut d, &["AUTH", "app", "apppass"]).expect("the follower still knows the old one");
    let e = refused(&mut d, &["SET", "app:4", "z"], "the leader refuses");
    assert!(e.starts_with("WRONGPASS"), "{e}");
    assert_eq!(
        exists(&mut admin(leader), "app:4"),
        0,
        "nothing was written"
    );
}

const SECRET: &str = "a long random string every node is given";

/// Issue 20's gap ("the Raft port has no authentication without tls-cluster"): with
/// `raft-secret`, nodes 1 and 2 (one given it by its flag, one by its config file) elect a
/// leader and serve, while node 3, given another secret, is refused by both and refuses them:
/// it never learns a leader or a write, and the two others go on without it. CONFIG GET does
/// not show the secret. Restarted with the group's secret, node 3 catches up.
#[test]
fn raft_secret_keeps_a_node_with_another_secret_out() {
    let mut g = Group::new("raft-secret", 3, &[]);
    std::fs::create_dir_all(g.dir.path()).unwrap();
    let config = format!("{}/node2.conf", g.dir.path());
    std::fs::write(&config, format!("raft-secret \"{SECRET}\"\n")).unwrap();
    g.launch_with(1, &["--raft-secret", SECRET]);
    g.launch_with(2, &["--config", &config]);
    g.launch_with(3, &["--raft-secret", "another secret"]);
    let leader = g.leader();
    assert_ne!(leader, 3, "node 3 cannot have won a vote");
    let follower = 3 - leader;
    for id in [leader, follower] {
        let mut c = g.node(id).client();
        let v = cmd(&mut c, &["SET", &format!("k{id}"), "v"]).expect("SET through a node");
        assert_eq!(v, redis::Value::Okay);
    }
    for id in [leader, follower] {
        let log = g.node(id).log_with("raft link from 127.0.0.1 refused");
        assert!(
            log.contains("raft link from 127.0.0.1 refused: a wrong raft-secret proof"),
            "node {id}: {log}"
        );
        assert!(!log.contains("accepts links from any peer"), "{log}");
    }
    let log = g.node(3).log_with("refused this node's raft-secret proof");
    assert!(
        log.contains("refused this node's raft-secret proof"),
        "{log}"
    );
    // Node 3 knows no leader: nothing reached it, and it answers as a node without one.
    let info = g.info(3);
    assert!(info.contains("raft_leader_id:0\r\n"), "{info}");
    assert!(info.contains("raft_committed_offset:0\r\n"), "{info}");
    let e = cmd(&mut g.node(3).client(), &["SET", "k3", "v"]).expect_err("no leader known");
    assert!(error_text(&e).starts_with("TRYAGAIN"), "{}", error_text(&e));
    // Not a Redis parameter: CONFIG GET has nothing to show, and no value is the secret.
    let mut c = g.node(1).client();
    let got: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("raft-secret")
        .query(&mut c)
        .expect("CONFIG GET");
    assert!(got.is_empty(), "{got:?}");
    let all: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("*")
        .query(&mut c)
        .expect("CONFIG GET *");
    assert!(all.iter().all(|v| !v.contains(SECRET)));

    // With the group's secret, node 3 gets the log: both keys, in its own store.
    g.nodes[2] = None;
    g.launch_with(3, &["--raft-secret", SECRET]);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let keys: String = redis::cmd("INFO")
            .arg("keyspace")
            .query(&mut g.node(3).client())
            .expect("INFO keyspace");
        if keys.contains("db0:keys=2,") {
            break;
        }
        assert!(Instant::now() < deadline, "node 3 never caught up: {keys}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
