//! Commands through a real client library (the `redis` crate), as applications use them.

use redis::{Commands, Value};

use super::support::{Server, cmd, err};

#[test]
fn strings() {
    let server = Server::start(&[]);
    let mut con = server.client();
    let _: () = con.set("s", "hello").unwrap();
    assert_eq!(con.get::<_, String>("s").unwrap(), "hello");
    assert_eq!(con.get::<_, Option<String>>("missing").unwrap(), None);
    assert_eq!(con.append::<_, _, i64>("s", " world").unwrap(), 11);
    assert_eq!(con.strlen::<_, i64>("s").unwrap(), 11);
    assert_eq!(con.getrange::<_, String>("s", 0, 4).unwrap(), "hello");
    assert_eq!(con.getrange::<_, String>("s", -5, -1).unwrap(), "world");
    assert_eq!(con.setrange::<_, _, i64>("s", 6, "WORLD").unwrap(), 11);
    assert_eq!(
        cmd(&mut con, &["SUBSTR", "s", "6", "-1"]).unwrap(),
        Value::BulkString(b"WORLD".to_vec())
    );
    assert_eq!(
        con.getset::<_, _, String>("s", "new").unwrap(),
        "hello WORLD"
    );
    assert_eq!(con.get_del::<_, String>("s").unwrap(), "new");
    assert!(!con.exists::<_, bool>("s").unwrap());

    // SET options.
    assert_eq!(
        cmd(&mut con, &["SET", "o", "1", "NX"]).unwrap(),
        Value::Okay
    );
    assert_eq!(cmd(&mut con, &["SET", "o", "2", "NX"]).unwrap(), Value::Nil);
    assert_eq!(
        cmd(&mut con, &["SET", "o", "3", "XX", "GET"]).unwrap(),
        Value::BulkString(b"1".to_vec())
    );
    assert_eq!(
        cmd(&mut con, &["SET", "fresh", "3", "XX"]).unwrap(),
        Value::Nil
    );
    assert_eq!(
        cmd(&mut con, &["SET", "o", "4", "EX", "100"]).unwrap(),
        Value::Okay
    );
    let ttl: i64 = con.ttl("o").unwrap();
    assert!((99..=100).contains(&ttl), "ttl {ttl}");
    assert_eq!(
        cmd(&mut con, &["SET", "o", "5", "KEEPTTL"]).unwrap(),
        Value::Okay
    );
    assert!(con.ttl::<_, i64>("o").unwrap() > 0);
    assert_eq!(cmd(&mut con, &["SET", "o", "6"]).unwrap(), Value::Okay);
    assert_eq!(con.ttl::<_, i64>("o").unwrap(), -1);
    assert_eq!(
        cmd(&mut con, &["SET", "o", "7", "PX", "100000", "GET"]).unwrap(),
        Value::BulkString(b"6".to_vec())
    );
    assert_eq!(
        err(&mut con, &["SET", "o", "1", "EX", "10", "PX", "10"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut con, &["SET", "o", "1", "KEEPTTL", "EX", "10"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut con, &["SET", "o", "1", "EX", "-1"]),
        "ERR invalid expire time in 'set' command"
    );
    assert_eq!(
        err(&mut con, &["SETEX", "o", "0", "v"]),
        "ERR invalid expire time in 'setex' command"
    );

    // GETEX.
    let _: () = con.set("g", "v").unwrap();
    assert_eq!(
        cmd(&mut con, &["GETEX", "g", "EX", "50"]).unwrap(),
        Value::BulkString(b"v".to_vec())
    );
    assert!(con.ttl::<_, i64>("g").unwrap() > 0);
    assert_eq!(
        cmd(&mut con, &["GETEX", "g", "PERSIST"]).unwrap(),
        Value::BulkString(b"v".to_vec())
    );
    assert_eq!(con.ttl::<_, i64>("g").unwrap(), -1);
    assert_eq!(
        err(&mut con, &["GETEX", "g", "EX", "5", "PERSIST"]),
        "ERR syntax error"
    );

    // SETNX / SETEX / PSETEX / MSET / MSETNX / MGET.
    assert_eq!(con.set_nx::<_, _, i64>("nx", "1").unwrap(), 1);
    assert_eq!(con.set_nx::<_, _, i64>("nx", "2").unwrap(), 0);
    assert_eq!(
        cmd(&mut con, &["PSETEX", "p", "100000", "v"]).unwrap(),
        Value::Okay
    );
    assert!(con.pttl::<_, i64>("p").unwrap() > 90_000);
    let _: () = con.mset(&[("m1", "a"), ("m2", "b")]).unwrap();
    let got: Vec<Option<String>> = con.mget(&["m1", "nope", "m2"]).unwrap();
    assert_eq!(got, vec![Some("a".into()), None, Some("b".into())]);
    assert_eq!(
        cmd(&mut con, &["MSETNX", "m1", "x", "m3", "y"]).unwrap(),
        Value::Int(0)
    );
    assert_eq!(
        cmd(&mut con, &["MSETNX", "m3", "x", "m4", "y"]).unwrap(),
        Value::Int(1)
    );
    assert_eq!(
        err(&mut con, &["MSET", "a", "1", "b"]),
        "ERR wrong number of arguments for 'mset' command"
    );

    // Counters.
    assert_eq!(con.incr::<_, _, i64>("c", 1).unwrap(), 1);
    assert_eq!(con.incr::<_, _, i64>("c", 10).unwrap(), 11);
    assert_eq!(con.decr::<_, _, i64>("c", 1).unwrap(), 10);
    assert_eq!(cmd(&mut con, &["DECR", "c"]).unwrap(), Value::Int(9));
    assert_eq!(
        cmd(&mut con, &["INCRBYFLOAT", "f", "10.5"]).unwrap(),
        Value::BulkString(b"10.5".to_vec())
    );
    assert_eq!(
        cmd(&mut con, &["INCRBYFLOAT", "f", "0.1"]).unwrap(),
        Value::BulkString(b"10.6".to_vec())
    );
    assert_eq!(
        err(&mut con, &["INCRBY", "c", "1.5"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(&mut con, &["INCRBYFLOAT", "c", "inf"]),
        "ERR increment would produce NaN or Infinity"
    );
    // Sums in x87 long double, as Redis does (replies recorded from redis-server 7.0.15).
    cmd(&mut con, &["INCRBYFLOAT", "ld1", "0.1"]).unwrap();
    assert_eq!(
        cmd(&mut con, &["INCRBYFLOAT", "ld1", "0.2"]).unwrap(),
        Value::BulkString(b"0.3".to_vec())
    );
    cmd(&mut con, &["INCRBYFLOAT", "ld2", "1e308"]).unwrap();
    let Value::BulkString(twice) = cmd(&mut con, &["INCRBYFLOAT", "ld2", "1e308"]).unwrap() else {
        panic!("INCRBYFLOAT replies a bulk string");
    };
    assert!(twice.starts_with(b"199999999999999999993371759311"));
    assert_eq!(twice.len(), 309);
    assert_eq!(
        err(&mut con, &["INCRBYFLOAT", "ld2", "1e5000"]),
        "ERR value is not a valid float"
    );
    // Redis checks the key's type before the increment's text.
    cmd(&mut con, &["RPUSH", "ldlist", "x"]).unwrap();
    assert_eq!(
        err(&mut con, &["INCRBYFLOAT", "ldlist", "abc"]),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
}

#[test]
fn keys_and_expiry() {
    let server = Server::start(&[]);
    let mut con = server.client();
    let _: () = con
        .mset(&[("k1", "1"), ("k2", "2"), ("other", "3")])
        .unwrap();
    assert_eq!(
        cmd(&mut con, &["EXISTS", "k1", "k1", "nope"]).unwrap(),
        Value::Int(2)
    );
    let mut keys: Vec<String> = con.keys("k*").unwrap();
    keys.sort();
    assert_eq!(keys, vec!["k1", "k2"]);
    assert_eq!(
        cmd(&mut con, &["TYPE", "k1"]).unwrap(),
        Value::SimpleString("string".into())
    );
    assert_eq!(
        cmd(&mut con, &["TYPE", "nope"]).unwrap(),
        Value::SimpleString("none".into())
    );
    assert_eq!(cmd(&mut con, &["RENAME", "k1", "k9"]).unwrap(), Value::Okay);
    assert_eq!(
        cmd(&mut con, &["RENAMENX", "k9", "k2"]).unwrap(),
        Value::Int(0)
    );
    assert_eq!(cmd(&mut con, &["COPY", "k9", "k2"]).unwrap(), Value::Int(0));
    assert_eq!(
        cmd(&mut con, &["COPY", "k9", "k2", "REPLACE"]).unwrap(),
        Value::Int(1)
    );
    assert!(cmd(&mut con, &["COPY", "k9", "k9"]).is_err());
    assert_eq!(
        cmd(&mut con, &["COPY", "k9", "elsewhere", "DB", "3"]).unwrap(),
        Value::Int(1)
    );
    assert_eq!(
        err(&mut con, &["COPY", "k9", "x", "DB", "99"]),
        "ERR DB index is out of range"
    );
    assert_eq!(cmd(&mut con, &["DBSIZE"]).unwrap(), Value::Int(3));
    assert!(matches!(
        cmd(&mut con, &["RANDOMKEY"]).unwrap(),
        Value::BulkString(_)
    ));
    assert_eq!(
        cmd(&mut con, &["UNLINK", "k2", "nope"]).unwrap(),
        Value::Int(1)
    );
    assert_eq!(con.del::<_, i64>(&["k9", "other"]).unwrap(), 2);
    assert_eq!(cmd(&mut con, &["RANDOMKEY"]).unwrap(), Value::Nil);

    // EXPIRE and friends, with Redis 7's conditions.
    let _: () = con.set("e", "v").unwrap();
    assert_eq!(
        cmd(&mut con, &["EXPIRE", "e", "100", "XX"]).unwrap(),
        Value::Int(0)
    );
    assert_eq!(
        cmd(&mut con, &["EXPIRE", "e", "100", "NX"]).unwrap(),
        Value::Int(1)
    );
    assert_eq!(
        cmd(&mut con, &["EXPIRE", "e", "50", "GT"]).unwrap(),
        Value::Int(0)
    );
    assert_eq!(
        cmd(&mut con, &["EXPIRE", "e", "50", "LT"]).unwrap(),
        Value::Int(1)
    );
    assert_eq!(
        cmd(&mut con, &["PEXPIRE", "e", "500000", "GT"]).unwrap(),
        Value::Int(1)
    );
    let pttl: i64 = con.pttl("e").unwrap();
    assert!((400_000..=500_000).contains(&pttl), "pttl {pttl}");
    let at: i64 = match cmd(&mut con, &["EXPIRETIME", "e"]).unwrap() {
        Value::Int(n) => n,
        v => panic!("{v:?}"),
    };
    let pat: i64 = match cmd(&mut con, &["PEXPIRETIME", "e"]).unwrap() {
        Value::Int(n) => n,
        v => panic!("{v:?}"),
    };
    // Redis rounds EXPIRETIME to the nearest second, as TTL: `(ms + 500) / 1000`.
    assert_eq!(at, (pat + 500) / 1000);
    assert_eq!(
        cmd(&mut con, &["EXPIREAT", "e", &(at + 10).to_string()]).unwrap(),
        Value::Int(1)
    );
    assert_eq!(cmd(&mut con, &["PERSIST", "e"]).unwrap(), Value::Int(1));
    assert_eq!(cmd(&mut con, &["PERSIST", "e"]).unwrap(), Value::Int(0));
    assert_eq!(
        cmd(&mut con, &["EXPIRE", "e", "10", "XX", "LT"]).unwrap(),
        Value::Int(0)
    );
    assert_eq!(con.ttl::<_, i64>("e").unwrap(), -1);
    assert_eq!(con.ttl::<_, i64>("nope").unwrap(), -2);
    assert_eq!(cmd(&mut con, &["EXPIRETIME", "e"]).unwrap(), Value::Int(-1));
    // With a TTL, XX LT shortens it (one atomic check-and-set in kvcore).
    assert_eq!(
        cmd(&mut con, &["EXPIRE", "e", "100"]).unwrap(),
        Value::Int(1)
    );
    assert_eq!(
        cmd(&mut con, &["EXPIRE", "e", "10", "XX", "LT"]).unwrap(),
        Value::Int(1)
    );
    let ttl: i64 = con.ttl("e").unwrap();
    assert!((1..=10).contains(&ttl), "ttl {ttl}");
    assert_eq!(cmd(&mut con, &["PERSIST", "e"]).unwrap(), Value::Int(1));
    // A past deadline deletes the key.
    assert_eq!(
        cmd(&mut con, &["PEXPIREAT", "e", "1"]).unwrap(),
        Value::Int(1)
    );
    assert!(!con.exists::<_, bool>("e").unwrap());
    assert_eq!(
        err(&mut con, &["EXPIRE", "e", "1", "BOGUS"]),
        "ERR Unsupported option BOGUS"
    );
    // A key with a tiny TTL disappears.
    assert_eq!(
        cmd(&mut con, &["SET", "short", "v", "PX", "30"]).unwrap(),
        Value::Okay
    );
    std::thread::sleep(std::time::Duration::from_millis(60));
    assert_eq!(con.get::<_, Option<String>>("short").unwrap(), None);
}

#[test]
fn scan_visits_every_key() {
    let server = Server::start(&[]);
    let mut con = server.client();
    for i in 0..500 {
        let _: () = con.set(format!("key:{i}"), i).unwrap();
    }
    let _: () = con.set("other", 1).unwrap();
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    loop {
        let (next, batch): (String, Vec<String>) = redis::cmd("SCAN")
            .arg(&cursor)
            .arg("MATCH")
            .arg("key:*")
            .arg("COUNT")
            .arg(50)
            .query(&mut con)
            .unwrap();
        seen.extend(batch);
        if next == "0" {
            break;
        }
        cursor = next;
    }
    assert_eq!(seen.len(), 500);
    assert!(!seen.contains("other"));
    let (_, typed): (String, Vec<String>) = redis::cmd("SCAN")
        .arg(0)
        .arg("TYPE")
        .arg("list")
        .arg("COUNT")
        .arg(1000)
        .query(&mut con)
        .unwrap();
    assert!(typed.is_empty());
    assert_eq!(err(&mut con, &["SCAN", "abc"]), "ERR invalid cursor");
    assert_eq!(
        err(&mut con, &["SCAN", "0", "COUNT", "0"]),
        "ERR syntax error"
    );
}

#[test]
fn databases_select_swap_flush() {
    let server = Server::start(&["--databases", "4"]);
    let mut con = server.client();
    let _: () = con.set("k", "in0").unwrap();
    assert_eq!(cmd(&mut con, &["SELECT", "1"]).unwrap(), Value::Okay);
    assert_eq!(con.get::<_, Option<String>>("k").unwrap(), None);
    let _: () = con.set("k", "in1").unwrap();
    assert_eq!(
        err(&mut con, &["SELECT", "4"]),
        "ERR DB index is out of range"
    );
    assert_eq!(cmd(&mut con, &["SWAPDB", "0", "1"]).unwrap(), Value::Okay);
    assert_eq!(con.get::<_, String>("k").unwrap(), "in0");
    assert_eq!(
        err(&mut con, &["SWAPDB", "x", "1"]),
        "ERR invalid first DB index"
    );
    assert_eq!(
        err(&mut con, &["SWAPDB", "0", "9"]),
        "ERR DB index is out of range"
    );
    assert_eq!(cmd(&mut con, &["FLUSHDB", "ASYNC"]).unwrap(), Value::Okay);
    assert_eq!(cmd(&mut con, &["DBSIZE"]).unwrap(), Value::Int(0));
    assert_eq!(cmd(&mut con, &["SELECT", "0"]).unwrap(), Value::Okay);
    assert_eq!(con.get::<_, String>("k").unwrap(), "in1");
    assert_eq!(err(&mut con, &["FLUSHALL", "LATER"]), "ERR syntax error");
    assert_eq!(cmd(&mut con, &["FLUSHALL"]).unwrap(), Value::Okay);
    assert_eq!(cmd(&mut con, &["DBSIZE"]).unwrap(), Value::Int(0));
}

#[test]
fn auth_flow_with_requirepass() {
    let server = Server::start(&["--requirepass", "s3cret"]);
    let mut c = server.raw();
    c.roundtrip(b"GET k\r\n", b"-NOAUTH Authentication required.\r\n");
    c.roundtrip(b"PING\r\n", b"-NOAUTH Authentication required.\r\n");
    c.roundtrip(
        b"AUTH wrong\r\n",
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    );
    c.roundtrip(
        b"AUTH bob s3cret\r\n",
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    );
    c.roundtrip(
        b"AUTH s3cret\r\nSET k v\r\nGET k\r\n",
        b"+OK\r\n+OK\r\n$1\r\nv\r\n",
    );
    // HELLO with AUTH authenticates and switches protocol in one go.
    let mut h = server.raw();
    h.send(b"HELLO 3\r\n");
    assert!(
        h.read_line()
            .starts_with("-NOAUTH HELLO must be called with the client already authenticated")
    );
    h.send(b"HELLO 3 AUTH default s3cret SETNAME me\r\n");
    assert_eq!(h.read_line(), "%7\r\n");
    // The redis crate authenticates from the URL.
    let url = format!("redis://:s3cret@{}/", server.addr);
    let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
    assert_eq!(con.get::<_, String>("k").unwrap(), "v");
    // Without a password configured, AUTH says so.
    let open = Server::start(&[]);
    let mut c = open.raw();
    c.roundtrip(
        b"AUTH x\r\n",
        b"-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n",
    );
}

#[test]
fn client_command_family() {
    let server = Server::start(&[]);
    let mut a = server.client();
    let mut b = server.client();
    let id_a: i64 = redis::cmd("CLIENT").arg("ID").query(&mut a).unwrap();
    let id_b: i64 = redis::cmd("CLIENT").arg("ID").query(&mut b).unwrap();
    assert_ne!(id_a, id_b);
    assert_eq!(cmd(&mut a, &["CLIENT", "GETNAME"]).unwrap(), Value::Nil);
    assert_eq!(
        cmd(&mut a, &["CLIENT", "SETNAME", "alpha"]).unwrap(),
        Value::Okay
    );
    assert_eq!(
        cmd(&mut a, &["CLIENT", "GETNAME"]).unwrap(),
        Value::BulkString(b"alpha".to_vec())
    );
    assert_eq!(
        err(&mut a, &["CLIENT", "SETNAME", "has space"]),
        "ERR Client names cannot contain spaces, newlines or special characters."
    );
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut b).unwrap();
    assert!(list.lines().count() >= 2, "{list}");
    assert!(
        list.contains(&format!("id={id_a} ")) && list.contains("name=alpha"),
        "{list}"
    );
    let info: String = redis::cmd("CLIENT").arg("INFO").query(&mut a).unwrap();
    assert!(
        info.starts_with(&format!("id={id_a} ")) && info.contains(" db=0 "),
        "{info}"
    );
    // Kill a by id from b: a's next command fails.
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(id_a)
        .query(&mut b)
        .unwrap();
    assert_eq!(killed, 1);
    assert!(cmd(&mut a, &["PING"]).is_err());
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(id_b)
        .query(&mut b)
        .unwrap();
    assert_eq!(killed, 0, "SKIPME yes is the default");
    assert_eq!(
        err(&mut b, &["CLIENT", "KILL", "1.2.3.4:5"]),
        "ERR No such client"
    );
}

#[test]
fn config_info_command_introspection() {
    let server = Server::start(&["--maxclients", "77"]);
    let mut con = server.client();
    let got: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxclients")
        .query(&mut con)
        .unwrap();
    assert_eq!(got, vec!["maxclients", "77"]);
    let got: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("*")
        .query(&mut con)
        .unwrap();
    assert!(got.chunks(2).any(|p| p[0] == "save" && p[1].is_empty()));
    assert!(
        got.chunks(2)
            .any(|p| p[0] == "port" && p[1] == server.port().to_string())
    );
    assert_eq!(
        cmd(
            &mut con,
            &["CONFIG", "SET", "maxclients", "100", "timeout", "0"]
        )
        .unwrap(),
        Value::Okay
    );
    let got: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("MAXCLIENTS")
        .query(&mut con)
        .unwrap();
    // Redis 7 answers a glob-free name as the client spelled it.
    assert_eq!(got, vec!["MAXCLIENTS", "100"]);
    assert_eq!(
        err(&mut con, &["CONFIG", "SET", "port", "1"]),
        "ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port"
    );
    assert_eq!(
        err(&mut con, &["CONFIG", "SET", "nosuch", "1"]),
        "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"
    );
    // All or nothing: the bad second pair keeps the first from applying.
    assert!(
        cmd(
            &mut con,
            &["CONFIG", "SET", "maxclients", "5", "maxclients", "6"]
        )
        .is_err()
    );
    assert!(
        cmd(
            &mut con,
            &["CONFIG", "SET", "maxclients", "5", "timeout", "x"]
        )
        .is_err()
    );
    let got: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxclients")
        .query(&mut con)
        .unwrap();
    assert_eq!(got[1], "100");

    let _: () = con.set("a", 1).unwrap();
    let _: Option<String> = con.get("a").unwrap();
    let _: Option<String> = con.get("zzz").unwrap();
    let info: String = redis::cmd("INFO").query(&mut con).unwrap();
    for header in [
        "# Server",
        "# Clients",
        "# Memory",
        "# Persistence",
        "# Stats",
        "# Replication",
        "# Keyspace",
    ] {
        assert!(
            info.contains(&format!("{header}\r\n")),
            "missing {header}:\n{info}"
        );
    }
    assert!(!info.contains("# Commandstats"));
    assert!(info.contains(&format!("tcp_port:{}\r\n", server.port())));
    assert!(
        info.contains("db0:keys=1,expires=0,avg_ttl=0\r\n"),
        "{info}"
    );
    assert!(
        info.contains("keyspace_hits:1\r\n") && info.contains("keyspace_misses:1\r\n"),
        "{info}"
    );
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut con)
        .unwrap();
    assert!(stats.starts_with("# Commandstats\r\n"));
    assert!(stats.contains("cmdstat_get:calls=2,"), "{stats}");
    assert!(stats.contains("cmdstat_set:calls=1,"), "{stats}");
    assert_eq!(
        cmd(&mut con, &["CONFIG", "RESETSTAT"]).unwrap(),
        Value::Okay
    );
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut con)
        .unwrap();
    assert!(!stats.contains("cmdstat_get"), "{stats}");

    let count: i64 = redis::cmd("COMMAND").arg("COUNT").query(&mut con).unwrap();
    let all: Vec<Value> = redis::cmd("COMMAND").query(&mut con).unwrap();
    assert_eq!(all.len() as i64, count);
    let info: Vec<Value> = redis::cmd("COMMAND")
        .arg("INFO")
        .arg("mset")
        .arg("nosuch")
        .query(&mut con)
        .unwrap();
    match &info[0] {
        Value::Array(f) => {
            assert_eq!(f[0], Value::BulkString(b"mset".to_vec()));
            assert_eq!(&f[1..2], &[Value::Int(-3)]);
            assert_eq!(&f[3..6], &[Value::Int(1), Value::Int(-1), Value::Int(2)]);
        }
        v => panic!("{v:?}"),
    }
    assert_eq!(info[1], Value::Nil);
    let keys: Vec<String> = redis::cmd("COMMAND")
        .arg("GETKEYS")
        .arg("MSET")
        .arg("a")
        .arg("1")
        .arg("b")
        .arg("2")
        .query(&mut con)
        .unwrap();
    assert_eq!(keys, vec!["a", "b"]);
    let names: Vec<String> = redis::cmd("COMMAND").arg("LIST").query(&mut con).unwrap();
    assert!(names.iter().any(|n| n == "get") && names.iter().any(|n| n == "client|list"));
    let names: Vec<String> = redis::cmd("COMMAND")
        .arg("LIST")
        .arg("FILTERBY")
        .arg("PATTERN")
        .arg("CLIENT|*NAME")
        .query(&mut con)
        .unwrap();
    assert_eq!(names, vec!["client|getname", "client|setname"]);

    let t: Vec<String> = redis::cmd("TIME").query(&mut con).unwrap();
    assert!(
        t[0].parse::<u64>().unwrap() > 1_600_000_000 && t[1].parse::<u32>().unwrap() < 1_000_000
    );
    assert_eq!(
        cmd(&mut con, &["ECHO", "hi"]).unwrap(),
        Value::BulkString(b"hi".to_vec())
    );
    assert_eq!(
        cmd(&mut con, &["PING", "x"]).unwrap(),
        Value::BulkString(b"x".to_vec())
    );
    assert_eq!(
        cmd(&mut con, &["OBJECT", "ENCODING", "a"]).unwrap(),
        Value::BulkString(b"int".to_vec())
    );
    assert_eq!(
        cmd(&mut con, &["OBJECT", "ENCODING", "nosuch"]).unwrap(),
        Value::Nil
    );
    assert!(matches!(
        cmd(&mut con, &["OBJECT", "IDLETIME", "a"]).unwrap(),
        Value::Int(0..=5)
    ));
    assert!(matches!(cmd(&mut con, &["MEMORY", "USAGE", "a"]).unwrap(), Value::Int(n) if n > 0));
    assert_eq!(
        cmd(&mut con, &["MEMORY", "USAGE", "nosuch"]).unwrap(),
        Value::Nil
    );
}

#[test]
fn maxclients_refuses_extra_connections() {
    let server = Server::start(&["--maxclients", "2"]);
    let mut a = server.raw();
    let mut b = server.raw();
    a.roundtrip(b"PING\r\n", b"+PONG\r\n");
    b.roundtrip(b"PING\r\n", b"+PONG\r\n");
    let mut c = server.raw();
    c.expect(b"-ERR max number of clients reached\r\n");
    c.expect_closed();
    drop(a);
    // The slot frees once the server notices the close; retry until it has.
    let end = std::time::Instant::now() + super::support::PATIENCE;
    loop {
        let mut d = server.raw();
        d.send(b"PING\r\n");
        let line = d.read_line();
        if line == "+PONG\r\n" {
            break;
        }
        assert_eq!(line, "-ERR max number of clients reached\r\n");
        assert!(std::time::Instant::now() < end, "slot never freed");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn idle_clients_are_closed_after_the_timeout() {
    let server = Server::start(&["--idle-timeout", "1"]);
    let mut c = server.raw();
    c.roundtrip(b"PING\r\n", b"+PONG\r\n");
    // No command for over a second: the server closes (the read below waits for that).
    c.expect_closed();
}
