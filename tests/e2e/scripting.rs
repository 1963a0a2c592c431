//! Scripts against a real kvserver with several clients: BUSY replies and SCRIPT KILL (texts
//! recorded from redis-server 7.0.15), a killed script that catches errors with pcall, the
//! UNKILLABLE script that only SHUTDOWN NOSAVE ends, and scripts' isolation from readers.

use std::time::Instant;

use super::support::{PATIENCE, Raw, Server, resp};

const BUSY: &[u8] =
    b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";

/// Sends PING until the server answers BUSY (a script has passed busy-reply-threshold).
fn wait_for_busy(raw: &mut Raw) {
    let end = Instant::now() + PATIENCE;
    loop {
        raw.send(&resp(&[b"PING"]));
        let line = raw.read_line();
        if line.as_bytes() == BUSY {
            return;
        }
        assert_eq!(line, "+PONG\r\n", "PING before the script is busy");
        assert!(Instant::now() < end, "no BUSY reply while the script ran");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// The error a killed EVAL of `body` answers (its SHA-1 from SCRIPT LOAD).
fn killed(raw: &mut Raw, body: &str) -> String {
    raw.send(&resp(&[b"SCRIPT", b"LOAD", body.as_bytes()]));
    let sha = String::from_utf8(raw.read_bulk()).unwrap();
    format!("-ERR Script killed by user with SCRIPT KILL... script: {sha}, on @user_script:1.\r\n")
}

#[test]
fn a_busy_script_answers_others_busy_until_script_kill_stops_it() {
    let server = Server::start(&[]);
    let mut admin = server.raw();
    admin.roundtrip(
        &resp(&[b"CONFIG", b"SET", b"busy-reply-threshold", b"100"]),
        b"+OK\r\n",
    );
    for body in [
        "local i = 0 while true do i = i + 1 end",
        // pcall cannot catch the kill: the hook raises again on the next line.
        "while true do pcall(function() while true do end end) end",
    ] {
        let expected = killed(&mut admin, body);
        let mut runner = server.raw();
        runner.send(&resp(&[b"EVAL", body.as_bytes(), b"0"]));
        wait_for_busy(&mut admin);
        // Commands that end a transaction or the script are still allowed.
        admin.roundtrip(&resp(&[b"MULTI"]), b"+OK\r\n");
        admin.roundtrip(&resp(&[b"DISCARD"]), b"+OK\r\n");
        admin.roundtrip(&resp(&[b"SCRIPT", b"KILL"]), b"+OK\r\n");
        runner.expect(expected.as_bytes());
        admin.roundtrip(&resp(&[b"PING"]), b"+PONG\r\n");
        admin.roundtrip(
            &resp(&[b"SCRIPT", b"KILL"]),
            b"-NOTBUSY No scripts in execution right now.\r\n",
        );
        runner.roundtrip(&resp(&[b"PING"]), b"+PONG\r\n");
    }
}

#[test]
fn a_script_that_wrote_is_unkillable_and_shutdown_nosave_ends_it() {
    let mut server = Server::start(&[]);
    let mut admin = server.raw();
    admin.roundtrip(
        &resp(&[b"CONFIG", b"SET", b"lua-time-limit", b"100"]),
        b"+OK\r\n",
    );
    let mut runner = server.raw();
    runner.send(&resp(&[
        b"EVAL",
        b"redis.call('set', KEYS[1], 'x') while true do end",
        b"1",
        b"k",
    ]));
    wait_for_busy(&mut admin);
    admin.roundtrip(
        &resp(&[b"SCRIPT", b"KILL"]),
        b"-UNKILLABLE Sorry the script already executed write commands against the dataset. \
          You can either wait the script termination or kill the server in a hard way using \
          the SHUTDOWN NOSAVE command.\r\n",
    );
    admin.roundtrip(&resp(&[b"SHUTDOWN"]), BUSY);
    admin.send(&resp(&[b"SHUTDOWN", b"NOSAVE"]));
    assert!(server.wait_exit().success(), "log:\n{}", server.log());
}

/// Scripts that move money between keys they do not declare, while readers MGET every
/// account: a reader never sees a transfer half done, and the total never changes.
#[test]
fn readers_never_see_half_a_script() {
    let server = Server::start(&[]);
    let accounts: Vec<String> = (0..8).map(|i| format!("acct{i}")).collect();
    let mut setup = server.client();
    for a in &accounts {
        let _: () = redis::cmd("SET").arg(a).arg(100).query(&mut setup).unwrap();
    }
    let transfer = "local from, to = ARGV[1], ARGV[2] \
                    redis.call('incrby', to, 7) redis.call('decrby', from, 7) \
                    redis.call('rpush', KEYS[1], from .. '>' .. to) return 1";
    std::thread::scope(|s| {
        for t in 0..3usize {
            let (server, accounts) = (&server, &accounts);
            s.spawn(move || {
                let mut c = server.client();
                for i in 0..300usize {
                    let from = &accounts[(i * 3 + t) % 8];
                    let to = &accounts[(i * 5 + t + 1) % 8];
                    let n: i64 = redis::cmd("EVAL")
                        .arg(transfer)
                        .arg(1)
                        .arg(format!("log{t}"))
                        .arg(from)
                        .arg(to)
                        .query(&mut c)
                        .unwrap();
                    assert_eq!(n, 1);
                }
            });
        }
        for _ in 0..2 {
            let (server, accounts) = (&server, &accounts);
            s.spawn(move || {
                let mut c = server.client();
                for _ in 0..300 {
                    let values: Vec<i64> = redis::cmd("MGET").arg(accounts).query(&mut c).unwrap();
                    assert_eq!(
                        values.iter().sum::<i64>(),
                        800,
                        "a reader saw a transfer half done"
                    );
                }
            });
        }
    });
    let values: Vec<i64> = redis::cmd("MGET").arg(&accounts).query(&mut setup).unwrap();
    assert_eq!(values.iter().sum::<i64>(), 800);
    for t in 0..3 {
        let n: i64 = redis::cmd("LLEN")
            .arg(format!("log{t}"))
            .query(&mut setup)
            .unwrap();
        assert_eq!(n, 300);
    }
}

/// A loaded function library is acknowledged once it is durable: after `kill -9` and a restart
/// (from the log, then from a snapshot) FCALL finds it; a deleted one stays deleted, and
/// libraries put back by FUNCTION RESTORE (after a FLUSH) are there.
#[test]
fn function_libraries_survive_kill_9() {
    use super::support::TempDir;
    let dir = TempDir::new("functions-kill");
    let lib = "#!lua name=counters\n\
               redis.register_function('bump', function(keys, args) \
               return redis.call('incrby', keys[1], args[1]) end)";
    let gone = "#!lua name=gone\nredis.register_function('gone', function() return 1 end)";
    {
        let server = Server::durable(&dir, "always");
        let mut c = server.client();
        for code in [lib, gone] {
            let name: String = redis::cmd("FUNCTION")
                .arg("LOAD")
                .arg(code)
                .query(&mut c)
                .unwrap();
            assert!(code.contains(&format!("name={name}")));
        }
        let _: () = redis::cmd("FUNCTION")
            .arg("DELETE")
            .arg("gone")
            .query(&mut c)
            .unwrap();
        let extra = "#!lua name=extra\nredis.register_function('seven', function() return 7 end)";
        let _: String = redis::cmd("FUNCTION")
            .arg("LOAD")
            .arg(extra)
            .query(&mut c)
            .unwrap();
        let payload: Vec<u8> = redis::cmd("FUNCTION").arg("DUMP").query(&mut c).unwrap();
        let _: () = redis::cmd("FUNCTION").arg("FLUSH").query(&mut c).unwrap();
        let _: () = redis::cmd("FUNCTION")
            .arg("RESTORE")
            .arg(&payload)
            .arg("FLUSH")
            .query(&mut c)
            .unwrap();
        // Dropping the server sends SIGKILL: no shutdown path runs.
    }
    for round in ["from the log", "from a snapshot"] {
        let server = Server::durable(&dir, "always");
        let mut c = server.client();
        let n: i64 = redis::cmd("FCALL")
            .arg("bump")
            .arg(1)
            .arg("n")
            .arg(5)
            .query(&mut c)
            .unwrap();
        assert!(n == 5 || n == 10, "{round}: {n}");
        let seven: i64 = redis::cmd("FCALL")
            .arg("seven")
            .arg(0)
            .query(&mut c)
            .unwrap();
        assert_eq!(seven, 7, "{round}: the restored library");
        let err = redis::cmd("FCALL")
            .arg("gone")
            .arg(0)
            .query::<i64>(&mut c)
            .unwrap_err();
        assert_eq!(
            super::support::error_text(&err),
            "ERR Function not found",
            "{round}"
        );
        let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    }
}

/// A script that allocates without bound hits the interpreter's memory limit: the script fails
/// with an error, and the server and the interpreter go on.
#[test]
fn a_script_that_exhausts_its_memory_fails_alone() {
    let server = Server::start(&[]);
    let mut c = server.client();
    let hog =
        "local t = {} for i = 1, 100000 do t[i] = string.rep('x', 1048576) .. i end return #t";
    let err = redis::cmd("EVAL")
        .arg(hog)
        .arg(0)
        .query::<i64>(&mut c)
        .unwrap_err();
    let text = super::support::error_text(&err);
    assert!(text.contains("not enough memory"), "{text}");
    let n: i64 = redis::cmd("EVAL")
        .arg("return 1 + 1")
        .arg(0)
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 2);
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
    let sum: i64 = redis::cmd("EVAL")
        .arg("local t = {} for i = 1, 1000 do t[i] = string.rep('y', 1000) end return #t")
        .arg(0)
        .query(&mut c)
        .unwrap();
    assert_eq!(sum, 1000, "the interpreter works after the failure");
}

/// A busy function, as redis-server 7.0.15 answers around it (recorded): other clients get the
/// FUNCTION KILL flavour of BUSY, SCRIPT KILL is refused with it, FUNCTION STATS answers (it
/// must not wait for the running function) with the function and its command, and FUNCTION
/// KILL stops it.
#[test]
fn a_busy_function_is_reported_and_killed_with_function_kill() {
    let server = Server::start(&[]);
    let mut admin = server.raw();
    admin.roundtrip(
        &resp(&[b"CONFIG", b"SET", b"busy-reply-threshold", b"100"]),
        b"+OK\r\n",
    );
    admin.roundtrip(
        &resp(&[
            b"FUNCTION",
            b"LOAD",
            b"#!lua name=spinlib\nredis.register_function{function_name='spin', \
              callback=function() while true do end end, flags={'no-writes'}}",
        ]),
        b"$7\r\nspinlib\r\n",
    );
    let mut runner = server.raw();
    runner.send(&resp(&[b"FCALL", b"spin", b"0"]));
    const BUSY_FUNCTION: &[u8] = b"-BUSY Redis is busy running a script. You can only call \
                                   FUNCTION KILL or SHUTDOWN NOSAVE.\r\n";
    let end = Instant::now() + PATIENCE;
    loop {
        admin.send(&resp(&[b"PING"]));
        let line = admin.read_line();
        if line.as_bytes() == BUSY_FUNCTION {
            break;
        }
        assert_eq!(line, "+PONG\r\n");
        assert!(Instant::now() < end, "no BUSY reply while the function ran");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    admin.roundtrip(&resp(&[b"SCRIPT", b"KILL"]), BUSY_FUNCTION);
    admin.send(&resp(&[b"FUNCTION", b"STATS"]));
    assert_eq!(admin.read_line(), "*4\r\n");
    assert_eq!(admin.read_bulk(), b"running_script");
    assert_eq!(admin.read_line(), "*6\r\n");
    assert_eq!(admin.read_bulk(), b"name");
    assert_eq!(admin.read_bulk(), b"spin");
    assert_eq!(admin.read_bulk(), b"command");
    assert_eq!(admin.read_line(), "*3\r\n");
    for part in [&b"fcall"[..], b"spin", b"0"] {
        assert_eq!(admin.read_bulk(), part);
    }
    assert_eq!(admin.read_bulk(), b"duration_ms");
    assert!(admin.read_line().starts_with(':'));
    assert_eq!(admin.read_bulk(), b"engines");
    assert_eq!(admin.read_line(), "*2\r\n");
    assert_eq!(admin.read_bulk(), b"LUA");
    assert_eq!(admin.read_line(), "*4\r\n");
    assert_eq!(admin.read_bulk(), b"libraries_count");
    assert_eq!(admin.read_line(), ":1\r\n");
    assert_eq!(admin.read_bulk(), b"functions_count");
    assert_eq!(admin.read_line(), ":1\r\n");
    admin.roundtrip(&resp(&[b"FUNCTION", b"KILL"]), b"+OK\r\n");
    runner.expect(
        b"-ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:2.\r\n",
    );
    admin.roundtrip(&resp(&[b"PING"]), b"+PONG\r\n");
}

/// busy-reply-threshold reaches the interpreters from the config file and from CONFIG SET (under
/// either name): they, not each command, notice a script that has run past it.
#[test]
fn the_busy_threshold_comes_from_the_config_file_and_config_set() {
    use super::support::TempDir;
    let dir = TempDir::new("busy-threshold");
    std::fs::create_dir_all(dir.path()).unwrap();
    let body = "while true do end";
    let eval = resp(&[b"EVAL", body.as_bytes(), b"0"]);
    for (file_ms, set) in [("150", None), ("600000", Some(&b"lua-time-limit"[..]))] {
        let path = format!("{}/kv{file_ms}.conf", dir.path());
        std::fs::write(
            &path,
            format!("in-memory yes\nbusy-reply-threshold {file_ms}\n"),
        )
        .unwrap();
        let server = Server::start_raw(&["--bind", "127.0.0.1", "--port", "0", "--config", &path]);
        let mut admin = server.raw();
        // The file's 10 minutes, lowered by CONFIG SET before the script runs.
        if let Some(name) = set {
            admin.roundtrip(&resp(&[b"CONFIG", b"SET", name, b"100"]), b"+OK\r\n");
        }
        let expected = killed(&mut admin, body);
        let mut runner = server.raw();
        runner.send(&eval);
        wait_for_busy(&mut admin);
        admin.roundtrip(&resp(&[b"SCRIPT", b"KILL"]), b"+OK\r\n");
        runner.expect(expected.as_bytes());
    }
}

/// A client's pipelined scripts keep the store's order gate from one to the next (taken once
/// for the run of scripts, not once per script), but never past anything else: a FLUSHDB
/// between scripts (which takes the gate itself), a blocking command after them, and a
/// pipeline whose large replies its client does not read (the connection waits to write)
/// all leave the gate free for other clients' scripts.
#[test]
fn pipelined_scripts_let_go_of_the_gate_before_waiting_or_writing() {
    let server = Server::start(&[]);
    let incr = |key: &[u8]| resp(&[b"EVAL", b"return redis.call('INCR', KEYS[1])", b"1", key]);
    // In database 1, which the FLUSHDB below leaves alone.
    let mut other = server.raw();
    other.roundtrip(&resp(&[b"SELECT", b"1"]), b"+OK\r\n");
    let mut a = server.raw();
    let mut batch = Vec::new();
    for _ in 0..3 {
        batch.extend(incr(b"a"));
    }
    batch.extend(resp(&[b"FLUSHDB"]));
    batch.extend(incr(b"a"));
    batch.extend(resp(&[b"BLPOP", b"q", b"0"]));
    a.send(&batch);
    // `a` waits in BLPOP (its earlier replies go out with BLPOP's): other clients' scripts
    // run meanwhile.
    let mut admin = server.raw();
    let end = Instant::now() + PATIENCE;
    loop {
        admin.send(&resp(&[b"INFO", b"clients"]));
        if String::from_utf8(admin.read_bulk())
            .unwrap()
            .contains("blocked_clients:1\r\n")
        {
            break;
        }
        assert!(Instant::now() < end, "the pipeline's BLPOP never blocked");
    }
    other.roundtrip(&incr(b"o"), b":1\r\n");
    admin.roundtrip(&resp(&[b"LPUSH", b"q", b"x"]), b":1\r\n");
    a.expect(b":1\r\n:2\r\n:3\r\n+OK\r\n:1\r\n*2\r\n$1\r\nq\r\n$1\r\nx\r\n");

    // 1000 replies of 64 KiB (62.5 MiB), more than the sockets buffer (loopback buffers grow to
    // 32 MiB or so): the server waits to write
    // until `slow` reads, and meanwhile other clients' scripts run.
    let mut slow = server.raw();
    let big = resp(&[b"EVAL", b"return string.rep('x', 65536)", b"0"]);
    slow.send(&big.repeat(1000));
    for n in 2..=5 {
        other.roundtrip(&incr(b"o"), format!(":{n}\r\n").as_bytes());
    }
    for _ in 0..1000 {
        assert_eq!(slow.read_bulk().len(), 65536);
    }
    slow.roundtrip(&incr(b"a"), b":2\r\n");

    // A long pipeline of small scripts, which hands the gate over every 64 scripts.
    let expected: String = (1..=300).map(|n| format!(":{n}\r\n")).collect();
    slow.roundtrip(&incr(b"p").repeat(300), expected.as_bytes());
}

/// EVAL with more keys and arguments than the server passes on the stack, and with a few.
#[test]
fn scripts_get_every_key_and_argument() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    let body: &[u8] = b"return {#KEYS, #ARGV, KEYS[#KEYS], ARGV[#ARGV]}";
    let keys: Vec<Vec<u8>> = (1..=20).map(|i| format!("k{i}").into_bytes()).collect();
    let argv: Vec<Vec<u8>> = (1..=5).map(|i| format!("a{i}").into_bytes()).collect();
    let mut args: Vec<&[u8]> = vec![b"EVAL", body, b"20"];
    args.extend(keys.iter().map(Vec::as_slice));
    args.extend(argv.iter().map(Vec::as_slice));
    c.roundtrip(
        &resp(&args),
        b"*4\r\n:20\r\n:5\r\n$3\r\nk20\r\n$2\r\na5\r\n",
    );
    c.roundtrip(
        &resp(&[b"EVAL", body, b"1", b"k", b"a"]),
        b"*4\r\n:1\r\n:1\r\n$1\r\nk\r\n$1\r\na\r\n",
    );
}

/// CLIENT LIST's `cmd` is the client's own command, as Redis shows it: EVAL, not the commands
/// its script called; EXEC, not the commands it ran.
#[test]
fn client_list_names_the_clients_own_command_not_those_it_ran() {
    let server = Server::start(&[]);
    let mut admin = server.raw();
    let mut c = server.raw();
    c.send(&resp(&[b"CLIENT", b"ID"]));
    let id = c.read_line();
    let id = id.trim_end().trim_start_matches(':').to_string();
    let cmd_of = |admin: &mut Raw| {
        admin.send(&resp(&[b"CLIENT", b"LIST", b"ID", id.as_bytes()]));
        let line = String::from_utf8(admin.read_bulk()).unwrap();
        line.split(' ')
            .find_map(|f| f.strip_prefix("cmd="))
            .expect("a cmd field")
            .to_string()
    };
    c.roundtrip(
        &resp(&[
            b"EVAL",
            b"redis.call('TIME') return redis.call('INCR', 'n')",
            b"0",
        ]),
        b":1\r\n",
    );
    assert_eq!(cmd_of(&mut admin), "eval");
    let mut tx = resp(&[b"MULTI"]);
    tx.extend(resp(&[b"SET", b"x", b"1"]));
    tx.extend(resp(&[b"EXEC"]));
    c.roundtrip(&tx, b"+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n");
    assert_eq!(cmd_of(&mut admin), "exec");
    c.roundtrip(&resp(&[b"GET", b"x"]), b"$1\r\n1\r\n");
    assert_eq!(cmd_of(&mut admin), "get");
}

/// Several clients pipelining scripts (which keep the order gate from one script to the
/// next), while others take the gate for themselves (FLUSHDB, EXEC of a script), each get
/// exactly their own replies in order, and every script ran once.
#[test]
fn pipelined_scripts_from_many_clients_get_their_own_replies_in_order() {
    let server = Server::start(&[]);
    const CLIENTS: usize = 5;
    const ROUNDS: usize = 60;
    std::thread::scope(|s| {
        for t in 0..CLIENTS {
            let server = &server;
            s.spawn(move || {
                let mut c = server.raw();
                let key = format!("k{t}");
                let incr = resp(&[
                    b"EVAL",
                    b"return redis.call('INCR', KEYS[1])",
                    b"1",
                    key.as_bytes(),
                ]);
                let mut n = 0;
                for _ in 0..ROUNDS {
                    // Eight scripts, a plain command, four more.
                    let mut batch = incr.repeat(8);
                    batch.extend(resp(&[b"GET", key.as_bytes()]));
                    batch.extend(incr.repeat(4));
                    let mut expected = String::new();
                    for _ in 0..8 {
                        n += 1;
                        expected.push_str(&format!(":{n}\r\n"));
                    }
                    let len = n.to_string().len();
                    expected.push_str(&format!("${len}\r\n{n}\r\n"));
                    for _ in 0..4 {
                        n += 1;
                        expected.push_str(&format!(":{n}\r\n"));
                    }
                    c.roundtrip(&batch, expected.as_bytes());
                }
            });
        }
        // Gate holders that do not run queued scripts.
        let server = &server;
        s.spawn(move || {
            let mut c = server.raw();
            c.roundtrip(&resp(&[b"SELECT", b"1"]), b"+OK\r\n");
            for _ in 0..ROUNDS {
                c.roundtrip(&resp(&[b"FLUSHDB"]), b"+OK\r\n");
            }
        });
        s.spawn(move || {
            let mut c = server.raw();
            for n in 1..=ROUNDS {
                let mut tx = resp(&[b"MULTI"]);
                tx.extend(resp(&[
                    b"EVAL",
                    b"return redis.call('INCR', KEYS[1])",
                    b"1",
                    b"shared",
                ]));
                tx.extend(resp(&[b"EXEC"]));
                c.roundtrip(&tx, format!("+OK\r\n+QUEUED\r\n*1\r\n:{n}\r\n").as_bytes());
            }
        });
    });
    let mut c = server.raw();
    for t in 0..CLIENTS {
        let total = (ROUNDS * 12).to_string();
        c.roundtrip(
            &resp(&[b"GET", format!("k{t}").as_bytes()]),
            format!("${}\r\n{total}\r\n", total.len()).as_bytes(),
        );
    }
}

/// Scripts run side by side: while one client's script loops (on no key), other clients'
/// scripts and functions run and answer, whether they stay in their keys or not; SCRIPT KILL
/// then stops the loop. With scripts run one at a time (one interpreter, or the order gate
/// taken by every script) the other clients would wait for the loop forever.
#[test]
fn scripts_and_functions_run_while_another_script_loops() {
    let server = Server::start(&[]);
    let mut admin = server.raw();
    // Nobody is told BUSY while the loop runs (the test stops it itself).
    admin.roundtrip(
        &resp(&[b"CONFIG", b"SET", b"busy-reply-threshold", b"600000"]),
        b"+OK\r\n",
    );
    let lib = b"#!lua name=side\nredis.register_function('bump', function(keys) \
                return redis.call('INCR', keys[1]) end)";
    admin.send(&resp(&[b"FUNCTION", b"LOAD", lib]));
    assert_eq!(admin.read_line(), "$4\r\n");
    assert_eq!(admin.read_line(), "side\r\n");
    let body = "while true do end";
    let expected = killed(&mut admin, body);
    let mut runner = server.raw();
    runner.send(&resp(&[b"CLIENT", b"ID"]));
    let id = runner.read_line();
    let id = id.trim_end().trim_start_matches(':').to_string();
    runner.send(&resp(&[b"EVAL", body.as_bytes(), b"0"]));
    // Wait until the runner's connection is in its EVAL.
    let end = Instant::now() + PATIENCE;
    loop {
        admin.send(&resp(&[b"CLIENT", b"LIST", b"ID", id.as_bytes()]));
        let line = String::from_utf8(admin.read_bulk()).unwrap();
        if line.contains(" cmd=eval ") {
            break;
        }
        assert!(Instant::now() < end, "the loop never started: {line}");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let mut others: Vec<Raw> = (0..3).map(|_| server.raw()).collect();
    for (i, c) in others.iter_mut().enumerate() {
        let n = format!(":{}\r\n", i + 1);
        c.roundtrip(
            &resp(&[b"EVAL", b"return redis.call('INCR', KEYS[1])", b"1", b"n"]),
            n.as_bytes(),
        );
        // A key it did not declare.
        c.roundtrip(
            &resp(&[b"EVAL", b"return redis.call('INCR', 'undeclared')", b"0"]),
            n.as_bytes(),
        );
        c.roundtrip(&resp(&[b"FCALL", b"bump", b"1", b"f"]), n.as_bytes());
    }
    admin.roundtrip(&resp(&[b"SCRIPT", b"KILL"]), b"+OK\r\n");
    runner.expect(expected.as_bytes());
    runner.roundtrip(&resp(&[b"GET", b"n"]), b"$1\r\n3\r\n");
}
