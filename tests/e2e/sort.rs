//! SORT with BY and GET patterns reads keys its arguments do not name; it runs in an open
//! transaction, so it sees one state of all of them, and its STORE lands in the same step.

use super::support::Server;

/// Writers move "balance" between accounts with MULTI/EXEC (the total stays 800); readers
/// sort the account list by balance and GET every balance: each reply must add up, so no
/// SORT saw half a transfer, although the balances live in keys SORT never declared.
#[test]
fn sort_by_and_get_see_one_state() {
    let server = Server::start(&[]);
    let accounts: Vec<String> = (0..16).map(|i| format!("{i}")).collect();
    let mut setup = server.client();
    for a in &accounts {
        let _: () = redis::cmd("SET")
            .arg(format!("bal_{a}"))
            .arg(50)
            .query(&mut setup)
            .unwrap();
        let _: () = redis::cmd("HSET")
            .arg(format!("acct_{a}"))
            .arg("owner")
            .arg(format!("o{a}"))
            .query(&mut setup)
            .unwrap();
    }
    let _: () = redis::cmd("RPUSH")
        .arg("accounts")
        .arg(&accounts)
        .query(&mut setup)
        .unwrap();
    std::thread::scope(|s| {
        for t in 0..2usize {
            let (server, accounts) = (&server, &accounts);
            s.spawn(move || {
                let mut c = server.client();
                for i in 0..300usize {
                    let from = &accounts[(i * 3 + t) % 16];
                    let to = &accounts[(i * 7 + t + 1) % 16];
                    let _: () = redis::pipe()
                        .atomic()
                        .cmd("DECRBY")
                        .arg(format!("bal_{from}"))
                        .arg(3)
                        .ignore()
                        .cmd("INCRBY")
                        .arg(format!("bal_{to}"))
                        .arg(3)
                        .ignore()
                        .query(&mut c)
                        .unwrap();
                }
            });
        }
        for r in 0..2usize {
            let server = &server;
            s.spawn(move || {
                let mut c = server.client();
                for i in 0..200usize {
                    let mut cmd = redis::cmd("SORT");
                    cmd.arg("accounts").arg("BY").arg("bal_*");
                    if (i + r) % 2 == 1 {
                        cmd.arg("DESC");
                    }
                    cmd.arg("GET").arg("bal_*").arg("GET").arg("acct_*->owner");
                    let out: Vec<String> = cmd.query(&mut c).unwrap();
                    assert_eq!(out.len(), 32);
                    let balances: Vec<i64> =
                        out.iter().step_by(2).map(|b| b.parse().unwrap()).collect();
                    assert_eq!(
                        balances.iter().sum::<i64>(),
                        800,
                        "SORT saw half a transfer"
                    );
                    let mut sorted = balances.clone();
                    sorted.sort_unstable();
                    if (i + r) % 2 == 1 {
                        sorted.reverse();
                    }
                    assert_eq!(balances, sorted, "sorted by the balances it read");
                }
            });
        }
    });
    // STORE in the same step: the stored balances add up too.
    let n: i64 = redis::cmd("SORT")
        .arg("accounts")
        .arg("BY")
        .arg("bal_*")
        .arg("GET")
        .arg("bal_*")
        .arg("STORE")
        .arg("snapshot")
        .query(&mut setup)
        .unwrap();
    assert_eq!(n, 16);
    let stored: Vec<i64> = redis::cmd("LRANGE")
        .arg("snapshot")
        .arg(0)
        .arg(-1)
        .query(&mut setup)
        .unwrap();
    assert_eq!(stored.iter().sum::<i64>(), 800);
}

/// SORT with patterns inside MULTI/EXEC and from a script (which forces ALPHA for a set
/// sorted BY a constant, as Redis does), and COMMAND GETKEYS as Redis's `sortGetKeys`.
#[test]
fn sort_in_exec_in_scripts_and_getkeys() {
    let server = Server::start(&[]);
    let mut c = server.client();
    let _: () = redis::cmd("RPUSH")
        .arg("l")
        .arg(&["2", "1", "3"])
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("MSET")
        .arg(&["w_1", "30", "w_2", "20", "w_3", "10"])
        .query(&mut c)
        .unwrap();
    let (sorted, n): (Vec<String>, i64) = redis::pipe()
        .atomic()
        .cmd("SORT")
        .arg(&["l", "BY", "w_*", "GET", "w_*"])
        .cmd("SORT")
        .arg(&["l", "BY", "w_*", "STORE", "dst"])
        .query(&mut c)
        .unwrap();
    assert_eq!(sorted, ["10", "20", "30"]);
    assert_eq!(n, 3);
    let stored: Vec<String> = redis::cmd("LRANGE")
        .arg(&["dst", "0", "-1"])
        .query(&mut c)
        .unwrap();
    assert_eq!(stored, ["3", "2", "1"]);
    let _: () = redis::cmd("SADD")
        .arg(&["s", "b", "c", "a"])
        .query(&mut c)
        .unwrap();
    let from_script: Vec<String> = redis::cmd("EVAL")
        .arg("return redis.call('sort', KEYS[1], 'by', 'nosort')")
        .arg(1)
        .arg("s")
        .query(&mut c)
        .unwrap();
    assert_eq!(from_script, ["a", "b", "c"]);
    let keys: Vec<String> = redis::cmd("COMMAND")
        .arg(&[
            "GETKEYS", "SORT", "l", "BY", "x", "STORE", "a", "LIMIT", "0", "1", "STORE", "b",
        ])
        .query(&mut c)
        .unwrap();
    assert_eq!(keys, ["l", "b"]);
    let keys: Vec<String> = redis::cmd("COMMAND")
        .arg(&["GETKEYS", "SORT_RO", "l", "GET", "x"])
        .query(&mut c)
        .unwrap();
    assert_eq!(keys, ["l"]);
}
