//! ACL against a real server: a matrix of users × commands × keys × channels checked against
//! a small model of the rules written out here, ACL through MULTI/EXEC and scripts, the ACL
//! log, killed connections, `requirepass` as the default user's password, and the ACL file.
//! The byte-exact replies are in `tests/e2e/acl.txt`.

use std::io::Write;

use super::support::{Server, TempDir, cmd, err, resp};

/// What a command got: run, or refused for its command, a key or a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Ran,
    Command,
    Key,
    Channel,
}

fn outcome(r: redis::RedisResult<redis::Value>) -> Outcome {
    match r {
        Err(e) if e.code() == Some("NOPERM") => {
            let text = e.detail().unwrap_or_default().to_string();
            if text.contains("to run the") {
                Outcome::Command
            } else if text.contains("keys") {
                Outcome::Key
            } else if text.contains("channels") {
                Outcome::Channel
            } else {
                panic!("unexpected NOPERM text: {text}")
            }
        }
        // Any other reply (a value, WRONGTYPE, ...) means the check let it through.
        _ => Outcome::Ran,
    }
}

const READ: u8 = 1;
const WRITE: u8 = 2;

/// One selector of the model: the commands it allows, key prefixes (`a` for `~a*`) with their
/// access, channel prefixes.
struct Sel {
    commands: &'static [&'static str],
    keys: &'static [(&'static str, u8)],
    channels: &'static [&'static str],
}

struct ModelUser {
    name: &'static str,
    rules: &'static str,
    selectors: &'static [Sel],
}

/// The test's own statement of which commands each category grants (for the commands the
/// matrix uses), so the model does not reuse the server's table.
const READ_CMDS: &[&str] = &["get", "exists"];
const WRITE_CMDS: &[&str] = &["set", "del", "lpush", "mset"];

const USERS: &[ModelUser] = &[
    ModelUser {
        name: "reader",
        rules: "on nopass +@read %R~a* &news.*",
        selectors: &[Sel {
            commands: READ_CMDS,
            keys: &[("a", READ)],
            channels: &["news."],
        }],
    },
    ModelUser {
        name: "writer",
        rules: "on nopass +@write %W~b* ~c*",
        selectors: &[Sel {
            commands: WRITE_CMDS,
            keys: &[("b", WRITE), ("c", READ | WRITE)],
            channels: &[],
        }],
    },
    ModelUser {
        name: "mixed",
        rules: "on nopass +get +set +exists +publish +subscribe +psubscribe ~a* %R~b* &news.*",
        selectors: &[Sel {
            commands: &["get", "set", "exists", "publish", "subscribe", "psubscribe"],
            keys: &[("a", READ | WRITE), ("b", READ)],
            channels: &["news."],
        }],
    },
    ModelUser {
        name: "selectors",
        rules: "on nopass +get ~a* (+set ~b*) (+publish &other*)",
        selectors: &[
            Sel {
                commands: &["get"],
                keys: &[("a", READ | WRITE)],
                channels: &[],
            },
            Sel {
                commands: &["set"],
                keys: &[("b", READ | WRITE)],
                channels: &[],
            },
            Sel {
                commands: &["publish"],
                keys: &[],
                channels: &["other"],
            },
        ],
    },
    ModelUser {
        name: "almostall",
        rules: "on nopass +@all -del allkeys allchannels",
        selectors: &[Sel {
            commands: &[
                "get",
                "exists",
                "set",
                "lpush",
                "mset",
                "publish",
                "subscribe",
                "psubscribe",
            ],
            keys: &[("", READ | WRITE)],
            channels: &[""],
        }],
    },
];

/// The access each matrix command needs on its keys, by Redis's key specs.
fn key_access(command: &str) -> u8 {
    match command {
        "get" => READ,
        "exists" => 0,
        _ => WRITE,
    }
}

/// What the model says for `command` over `keys` and `channels` (a PSUBSCRIBE pattern must
/// be one of the user's patterns literally: `news.*` for the prefix `news.`).
fn expected(user: &ModelUser, command: &str, keys: &[&str], channels: &[&str]) -> Outcome {
    let mut worst = Outcome::Command;
    for s in user.selectors {
        if !s.commands.contains(&command) {
            continue;
        }
        let need = key_access(command);
        let key_ok = |k: &&str| {
            s.keys
                .iter()
                .any(|(prefix, perm)| perm & need == need && k.starts_with(prefix))
        };
        if !keys.iter().all(key_ok) {
            worst = Outcome::Key;
            continue;
        }
        let channel_ok = |c: &&str| {
            s.channels.iter().any(|prefix| {
                if command == "psubscribe" {
                    prefix.is_empty() || **c == format!("{prefix}*")
                } else {
                    c.starts_with(prefix)
                }
            })
        };
        if !channels.iter().all(channel_ok) {
            worst = Outcome::Channel;
            continue;
        }
        return Outcome::Ran;
    }
    worst
}

fn connect_as(server: &Server, user: &str) -> redis::Connection {
    let mut c = server.client();
    cmd(&mut c, &["AUTH", user, "x"]).unwrap();
    c
}

#[test]
fn users_commands_keys_and_channels_as_the_rules_say() {
    let server = Server::start(&[]);
    let mut admin = server.client();
    for u in USERS {
        let mut args = vec!["ACL", "SETUSER", u.name];
        args.extend(u.rules.split(' '));
        cmd(&mut admin, &args).unwrap();
    }
    let keys = ["a1", "b1", "c1", "z1"];
    let channels = ["news.sport", "other", "news.*", "other*"];
    let mut checked = 0;
    for u in USERS {
        let mut c = connect_as(&server, u.name);
        for command in ["get", "exists", "set", "del", "lpush", "mset"] {
            for key in keys {
                let args: Vec<&str> = match command {
                    "get" | "exists" | "del" => vec![command, key],
                    "mset" => vec![command, key, "v", "c9", "v"],
                    _ => vec![command, key, "v"],
                };
                let key_args: Vec<&str> = if command == "mset" {
                    vec![key, "c9"]
                } else {
                    vec![key]
                };
                let want = expected(u, command, &key_args, &[]);
                assert_eq!(outcome(cmd(&mut c, &args)), want, "{} {args:?}", u.name);
                // DRYRUN agrees with the real check.
                let mut dry = vec!["ACL", "DRYRUN", u.name];
                dry.extend(&args);
                let dry_ok = cmd(&mut admin, &dry).unwrap() == redis::Value::Okay;
                assert_eq!(dry_ok, want == Outcome::Ran, "DRYRUN {} {args:?}", u.name);
                checked += 1;
            }
        }
        for channel in channels {
            let args = ["publish", channel, "m"];
            let want = expected(u, "publish", &[], &[channel]);
            assert_eq!(outcome(cmd(&mut c, &args)), want, "{} {args:?}", u.name);
            // A subscription changes the connection: one connection per try.
            for command in ["subscribe", "psubscribe"] {
                let mut sub = connect_as(&server, u.name);
                let want = expected(u, command, &[], &[channel]);
                let got = outcome(cmd(&mut sub, &[command, channel]));
                assert_eq!(got, want, "{} {command} {channel}", u.name);
                checked += 2;
            }
        }
    }
    assert_eq!(checked, USERS.len() * (6 * 4 + 4 * 4));
}

#[test]
fn transactions_are_checked_when_queued_and_at_exec() {
    let server = Server::start(&[]);
    let mut admin = server.client();
    cmd(
        &mut admin,
        &["ACL", "SETUSER", "t", "on", "nopass", "+@all", "~k*"],
    )
    .unwrap();
    let mut c = connect_as(&server, "t");
    // Refused while queueing: EXEC aborts.
    cmd(&mut c, &["MULTI"]).unwrap();
    assert_eq!(
        err(&mut c, &["SET", "other", "v"]),
        "NOPERM this user has no permissions to access one of the keys used as arguments"
    );
    assert_eq!(
        err(&mut c, &["EXEC"]),
        "EXECABORT Transaction discarded because of previous errors."
    );
    // Allowed when queued, refused at EXEC after the rules changed: that command alone fails.
    let mut raw = server.raw();
    raw.roundtrip(&resp(&[b"AUTH", b"t", b"x"]), b"+OK\r\n");
    raw.roundtrip(&resp(&[b"MULTI"]), b"+OK\r\n");
    raw.roundtrip(&resp(&[b"SET", b"k1", b"a"]), b"+QUEUED\r\n");
    raw.roundtrip(&resp(&[b"GET", b"k1"]), b"+QUEUED\r\n");
    cmd(&mut admin, &["ACL", "SETUSER", "t", "-get"]).unwrap();
    raw.roundtrip(
        &resp(&[b"EXEC"]),
        b"*2\r\n+OK\r\n-NOPERM ACLs rules changed between the moment the transaction was \
          accumulated and the EXEC call. This command is no longer allowed for the following \
          reason: no permission to execute the command or subcommand\r\n",
    );
    // Both refusals are in the ACL log with the `multi` context.
    let log = log_entries(&mut admin);
    assert_eq!(log[0]["context"], "multi");
    assert_eq!(log[0]["reason"], "command");
    assert_eq!(log[0]["object"], "get");
    assert_eq!(log[1]["context"], "multi");
    assert_eq!(log[1]["reason"], "key");
    assert_eq!(log[1]["object"], "other");
    assert_eq!(log[1]["username"], "t");
}

#[test]
fn scripts_and_functions_check_each_call() {
    let server = Server::start(&[]);
    let mut admin = server.client();
    cmd(
        &mut admin,
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=lib\nredis.register_function('touch', function(keys) return \
             redis.call('set', keys[1], 'v') end)",
        ],
    )
    .unwrap();
    cmd(
        &mut admin,
        &["ACL", "SETUSER", "s", "on", "nopass", "+@all", "~k*"],
    )
    .unwrap();
    let mut c = connect_as(&server, "s");
    // The script may run, and may touch its own keys, but not others.
    assert_eq!(
        cmd(
            &mut c,
            &["EVAL", "return redis.call('set', 'k1', 'v')", "0"]
        )
        .unwrap(),
        redis::Value::Okay
    );
    let e = err(&mut c, &["EVAL", "return redis.call('get', 'x')", "0"]);
    assert!(
        e.starts_with(
            "ERR The user executing the script can't access at least one of the keys mentioned \
             in the command arguments"
        ),
        "{e}"
    );
    assert_eq!(
        cmd(&mut c, &["FCALL", "touch", "1", "k2"]).unwrap(),
        redis::Value::Okay
    );
    // FCALL's declared key passes the dispatcher's check; the call inside is checked too.
    cmd(&mut admin, &["ACL", "SETUSER", "s", "-set"]).unwrap();
    let e = err(&mut c, &["FCALL", "touch", "1", "k2"]);
    assert!(
        e.starts_with("ERR The user executing the script can't run this command or subcommand"),
        "{e}"
    );
    let log = log_entries(&mut admin);
    assert_eq!(log[0]["context"], "lua");
    assert_eq!(log[0]["object"], "set");
    assert_eq!(log[1]["context"], "lua");
    assert_eq!(log[1]["object"], "x");
}

/// ACL LOG's entries as maps of field to text.
fn log_entries(c: &mut redis::Connection) -> Vec<std::collections::HashMap<String, String>> {
    let reply = cmd(c, &["ACL", "LOG"]).unwrap();
    let redis::Value::Array(entries) = reply else {
        panic!("ACL LOG answers an array, got {reply:?}");
    };
    entries
        .into_iter()
        .map(|e| {
            let redis::Value::Array(fields) = e else {
                panic!("an entry is a flat map in RESP2, got {e:?}");
            };
            fields
                .chunks(2)
                .map(|kv| {
                    let text = |v: &redis::Value| match v {
                        redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
                        redis::Value::Int(n) => n.to_string(),
                        other => panic!("unexpected {other:?}"),
                    };
                    (text(&kv[0]), text(&kv[1]))
                })
                .collect()
        })
        .collect()
}

#[test]
fn the_acl_log_records_denials_and_failed_auths() {
    let server = Server::start(&[]);
    let mut admin = server.client();
    cmd(
        &mut admin,
        &["ACL", "SETUSER", "l", "on", ">pw", "+get", "~k*"],
    )
    .unwrap();
    let mut c = server.client();
    assert!(err(&mut c, &["AUTH", "l", "wrong"]).starts_with("WRONGPASS"));
    cmd(&mut c, &["AUTH", "l", "pw"]).unwrap();
    cmd(&mut c, &["CLIENT", "SETNAME", "x"]).unwrap_err();
    err(&mut c, &["GET", "other"]);
    err(&mut c, &["GET", "other"]);
    let log = log_entries(&mut admin);
    assert_eq!(log.len(), 3);
    // Newest first; the repeated denial is one entry counted twice.
    assert_eq!(log[0]["reason"], "key");
    assert_eq!(log[0]["count"], "2");
    assert_eq!(log[0]["object"], "other");
    assert_eq!(log[0]["context"], "toplevel");
    assert!(
        log[0]["client-info"].contains(" user=l "),
        "{}",
        log[0]["client-info"]
    );
    assert!(log[0]["age-seconds"].parse::<f64>().is_ok());
    assert_eq!(log[1]["reason"], "command");
    assert_eq!(log[1]["object"], "client|setname");
    assert_eq!(log[2]["reason"], "auth");
    assert_eq!(log[2]["object"], "AUTH");
    assert_eq!(log[2]["username"], "l");
    assert_eq!(log_entries_n(&mut admin, "1"), 1);
    // acllog-max-len is live.
    cmd(&mut admin, &["CONFIG", "SET", "acllog-max-len", "1"]).unwrap();
    err(&mut c, &["SET", "k", "v"]);
    assert_eq!(log_entries(&mut admin).len(), 1);
    cmd(&mut admin, &["ACL", "LOG", "RESET"]).unwrap();
    assert!(log_entries(&mut admin).is_empty());
}

fn log_entries_n(c: &mut redis::Connection, n: &str) -> usize {
    match cmd(c, &["ACL", "LOG", n]).unwrap() {
        redis::Value::Array(v) => v.len(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn deleting_or_disabling_a_user_closes_its_connections() {
    let server = Server::start(&[]);
    let mut admin = server.client();
    for u in ["gone", "off"] {
        cmd(
            &mut admin,
            &["ACL", "SETUSER", u, "on", "nopass", "+@all", "~*"],
        )
        .unwrap();
    }
    let mut gone = connect_as(&server, "gone");
    let mut off = connect_as(&server, "off");
    let mut other = server.client();
    let list = String::from_utf8(match cmd(&mut admin, &["CLIENT", "LIST"]).unwrap() {
        redis::Value::BulkString(b) => b,
        v => panic!("{v:?}"),
    })
    .unwrap();
    assert!(list.contains(" user=gone ") && list.contains(" user=off "));
    assert_eq!(
        cmd(&mut admin, &["ACL", "DELUSER", "gone"]).unwrap(),
        redis::Value::Int(1)
    );
    cmd(&mut admin, &["ACL", "SETUSER", "off", "off"]).unwrap();
    assert!(
        cmd(&mut gone, &["PING"]).is_err(),
        "a deleted user's connection is closed"
    );
    assert!(
        cmd(&mut off, &["PING"]).is_err(),
        "a disabled user's connection is closed"
    );
    assert!(cmd(&mut other, &["PING"]).is_ok());
    // A disabled user cannot authenticate.
    let mut c = server.client();
    assert!(err(&mut c, &["AUTH", "off", "x"]).starts_with("WRONGPASS"));
}

#[test]
fn requirepass_is_the_default_users_password() {
    let server = Server::start(&["--requirepass", "s3cret"]);
    let mut c = server.client();
    assert_eq!(
        err(&mut c, &["GET", "k"]),
        "NOAUTH Authentication required."
    );
    cmd(&mut c, &["AUTH", "default", "s3cret"]).unwrap();
    let user = cmd(&mut c, &["ACL", "LIST"]).unwrap();
    let redis::Value::Array(lines) = user else {
        panic!("{user:?}");
    };
    // SHA-256 of `s3cret`.
    assert_eq!(
        lines[0],
        redis::Value::BulkString(
            b"user default on #1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0 \
              ~* &* +@all"
                .to_vec()
        )
    );
    cmd(&mut c, &["CONFIG", "SET", "requirepass", "other"]).unwrap();
    let mut fresh = server.client();
    assert!(err(&mut fresh, &["AUTH", "s3cret"]).starts_with("WRONGPASS"));
    cmd(&mut fresh, &["AUTH", "other"]).unwrap();
    cmd(&mut c, &["CONFIG", "SET", "requirepass", ""]).unwrap();
    let mut open = server.client();
    cmd(&mut open, &["GET", "k"]).unwrap();
    // A password set with ACL SETUSER asks new connections to authenticate too.
    cmd(&mut c, &["ACL", "SETUSER", "default", ">pw"]).unwrap();
    let mut locked = server.client();
    assert_eq!(
        err(&mut locked, &["GET", "k"]),
        "NOAUTH Authentication required."
    );
    cmd(&mut locked, &["AUTH", "pw"]).unwrap();
}

#[test]
fn the_acl_file_is_saved_atomically_and_a_bad_one_changes_nothing() {
    let dir = TempDir::new("aclfile");
    std::fs::create_dir_all(dir.path()).unwrap();
    let aclfile = format!("{}/users.acl", dir.path());
    std::fs::write(&aclfile, "user app on >apppw ~app:* +@read\n").unwrap();
    let conf = format!("{}/kv.conf", dir.path());
    std::fs::write(&conf, format!("aclfile {aclfile}\n")).unwrap();
    let server = Server::start(&["--config", &conf]);
    let mut admin = server.client();
    let mut app = server.client();
    cmd(&mut app, &["AUTH", "app", "apppw"]).unwrap();
    assert_eq!(
        err(&mut app, &["SET", "app:1", "v"]),
        "NOPERM this user has no permissions to run the 'set' command"
    );
    cmd(
        &mut admin,
        &["ACL", "SETUSER", "ops", "on", ">o", "+@all", "~*"],
    )
    .unwrap();
    cmd(&mut admin, &["ACL", "SAVE"]).unwrap();
    let saved = std::fs::read_to_string(&aclfile).unwrap();
    assert_eq!(
        saved,
        "user app on #71d3d4e36cf4bc4309fd7390ba79fc6a1d03d8d7b45ef26f04bcdff3ff116868 \
         ~app:* resetchannels -@all +@read\nuser default on nopass ~* &* +@all\nuser ops on \
         #65c74c15a686187bb6bbf9958f494fc6b80068034a659a9ad44991b08c58f2d2 ~* resetchannels \
         +@all\n"
    );
    // No temporary file is left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    // A bad file is refused with its line and nothing changes.
    let mut f = std::fs::File::create(&aclfile).unwrap();
    writeln!(f, "user ops on nopass +@all ~*\nuser broken on +nosuch").unwrap();
    drop(f);
    let e = err(&mut admin, &["ACL", "LOAD"]);
    assert_eq!(
        e,
        format!(
            "ERR {aclfile}:2: Error in applying operation '+nosuch': Unknown command or category \
             name in ACL. WARNING: ACL errors detected, no change to the previously active ACL \
             rules was performed"
        )
    );
    let users = cmd(&mut admin, &["ACL", "USERS"]).unwrap();
    assert_eq!(
        users,
        redis::Value::Array(vec![
            redis::Value::BulkString(b"app".to_vec()),
            redis::Value::BulkString(b"default".to_vec()),
            redis::Value::BulkString(b"ops".to_vec()),
        ])
    );
    cmd(&mut app, &["GET", "app:1"]).unwrap();
    // A good file replaces every user; their connections end.
    std::fs::write(&aclfile, "user ops on nopass +@all ~*\n").unwrap();
    cmd(&mut admin, &["ACL", "LOAD"]).unwrap();
    assert!(cmd(&mut app, &["PING"]).is_err());
    let mut c = server.client();
    assert!(err(&mut c, &["AUTH", "app", "apppw"]).starts_with("WRONGPASS"));
    cmd(&mut c, &["AUTH", "ops", "x"]).unwrap();
    drop(server);
    // A bad file stops the server at start-up.
    std::fs::write(&aclfile, "user x on +nosuch\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kvserver"))
        .args(["--port", "0", "--in-memory", "--config", &conf])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("users.acl:1: Error in applying operation"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn user_lines_in_the_config_file() {
    let dir = TempDir::new("acl-user-lines");
    std::fs::create_dir_all(dir.path()).unwrap();
    let conf = format!("{}/kv.conf", dir.path());
    std::fs::write(
        &conf,
        "user default on >adminpw ~* &* +@all\nuser web on >webpw ~cache:* +get +set\n",
    )
    .unwrap();
    let server = Server::start(&["--config", &conf]);
    let mut c = server.client();
    assert_eq!(err(&mut c, &["PING"]), "NOAUTH Authentication required.");
    cmd(&mut c, &["AUTH", "web", "webpw"]).unwrap();
    cmd(&mut c, &["SET", "cache:1", "v"]).unwrap();
    assert!(err(&mut c, &["SET", "x", "v"]).starts_with("NOPERM"));
    cmd(&mut c, &["AUTH", "adminpw"]).unwrap();
    cmd(&mut c, &["SET", "x", "v"]).unwrap();
    // CONFIG REWRITE writes the users back as `user` lines, in place of the file's.
    cmd(&mut c, &["ACL", "SETUSER", "web", "~more:*"]).unwrap();
    cmd(&mut c, &["CONFIG", "REWRITE"]).unwrap();
    let text = std::fs::read_to_string(&conf).unwrap();
    let users: Vec<&str> = text.lines().filter(|l| l.starts_with("user ")).collect();
    assert_eq!(users.len(), 2, "{text}");
    assert!(users[0].starts_with("user default on "), "{text}");
    assert!(
        users[1].starts_with("user web on #") && users[1].contains("~cache:* ~more:*"),
        "{text}"
    );
    drop(c);
    drop(server);
    let server = Server::start(&["--config", &conf]);
    let mut c = server.client();
    cmd(&mut c, &["AUTH", "web", "webpw"]).unwrap();
    cmd(&mut c, &["SET", "more:1", "v"]).unwrap();
    drop(server);
    // A bad user line is refused when the file is read.
    std::fs::write(&conf, "user web on +nosuch\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kvserver"))
        .args(["--port", "0", "--in-memory", "--config", &conf])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Unknown command or category name in ACL"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn taking_channels_away_closes_the_users_subscribers() {
    let server = Server::start(&[]);
    let mut admin = server.client();
    cmd(
        &mut admin,
        &["ACL", "SETUSER", "sub", "on", "nopass", "+@all", "&news.*"],
    )
    .unwrap();
    let mut subscriber = server.raw();
    subscriber.roundtrip(&resp(&[b"AUTH", b"sub", b"x"]), b"+OK\r\n");
    subscriber.roundtrip(
        &resp(&[b"SUBSCRIBE", b"news.a"]),
        b"*3\r\n$9\r\nsubscribe\r\n$6\r\nnews.a\r\n:1\r\n",
    );
    let mut other = server.raw();
    other.roundtrip(&resp(&[b"AUTH", b"sub", b"x"]), b"+OK\r\n");
    // More channels: nothing happens.
    cmd(&mut admin, &["ACL", "SETUSER", "sub", "&more.*"]).unwrap();
    other.roundtrip(&resp(&[b"PING"]), b"+PONG\r\n");
    // Fewer: the subscriber goes, the user's other connection stays.
    cmd(
        &mut admin,
        &["ACL", "SETUSER", "sub", "resetchannels", "&more.*"],
    )
    .unwrap();
    subscriber.expect_closed();
    other.roundtrip(&resp(&[b"PING"]), b"+PONG\r\n");
}
