//! Byte-exact protocol checks over raw TCP: inline commands, pipelining, RESP3, protocol errors.

use super::support::{Server, resp};

#[test]
fn netcat_session_from_the_readme() {
    let server = Server::start(&[]);
    // netcat sends bare "\n" line ends; telnet and `nc -C` send "\r\n". Both work.
    for eol in ["\n", "\r\n"] {
        let mut c = server.raw();
        c.roundtrip(format!("SET mykey myvalue{eol}").as_bytes(), b"+OK\r\n");
        c.roundtrip(format!("GET mykey{eol}").as_bytes(), b"$7\r\nmyvalue\r\n");
        c.roundtrip(format!("DEL mykey{eol}").as_bytes(), b":1\r\n");
    }
}

#[test]
fn pipelined_requests_get_replies_in_order() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    c.roundtrip(
        b"SET a 1\r\nSET b 2\r\nGET a\r\n",
        b"+OK\r\n+OK\r\n$1\r\n1\r\n",
    );
    // A mix of RESP arrays and inline commands in one packet.
    let mut batch = resp(&[b"INCR", b"n"]);
    batch.extend_from_slice(b"INCR n\r\n");
    batch.extend(resp(&[b"GET", b"n"]));
    batch.extend_from_slice(b"PING\r\n");
    c.roundtrip(&batch, b":1\r\n:2\r\n$1\r\n2\r\n+PONG\r\n");
    // A long pipeline: 1000 INCRs in one write.
    let many: Vec<u8> = resp(&[b"INCR", b"m"]).repeat(1000);
    c.send(&many);
    let expected: Vec<u8> = (1..=1000)
        .flat_map(|i| format!(":{i}\r\n").into_bytes())
        .collect();
    c.expect(&expected);
}

#[test]
fn a_request_split_across_packets_waits_for_the_rest() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    let req = resp(&[b"SET", b"split", b"value"]);
    for cut in [1, 4, 9, req.len() - 1] {
        c.send(&req[..cut]);
        std::thread::sleep(std::time::Duration::from_millis(20));
        c.send(&req[cut..]);
        c.expect(b"+OK\r\n");
    }
    c.send(b"GET spl");
    c.roundtrip(b"it\r\n", b"$5\r\nvalue\r\n");
}

#[test]
fn binary_and_large_values_round_trip() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    let binary: Vec<u8> = (0..=255u8).collect();
    c.roundtrip(&resp(&[b"SET", b"bin\r\nkey", &binary]), b"+OK\r\n");
    c.send(&resp(&[b"GET", b"bin\r\nkey"]));
    assert_eq!(c.read_bulk(), binary);
    let big = vec![b'x'; 3 * 1024 * 1024 + 7];
    c.roundtrip(&resp(&[b"SET", b"big", &big]), b"+OK\r\n");
    c.send(&resp(&[b"GET", b"big"]));
    assert_eq!(c.read_bulk(), big);
    c.roundtrip(b"STRLEN big\r\n", format!(":{}\r\n", big.len()).as_bytes());
    c.roundtrip(&resp(&[b"SET", b"", b""]), b"+OK\r\n");
    c.roundtrip(&resp(&[b"GET", b""]), b"$0\r\n\r\n");
}

#[test]
fn unknown_command_and_wrong_arity_use_redis_strings() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    c.roundtrip(
        b"foo bar\r\n",
        b"-ERR unknown command 'foo', with args beginning with: 'bar' \r\n",
    );
    c.roundtrip(
        b"FOO\r\n",
        b"-ERR unknown command 'FOO', with args beginning with: \r\n",
    );
    c.roundtrip(
        b"GET\r\n",
        b"-ERR wrong number of arguments for 'get' command\r\n",
    );
    c.roundtrip(
        b"get a b\r\n",
        b"-ERR wrong number of arguments for 'get' command\r\n",
    );
    c.roundtrip(
        b"CLIENT SETNAME\r\n",
        b"-ERR wrong number of arguments for 'client|setname' command\r\n",
    );
    c.roundtrip(
        b"CLIENT FOO\r\n",
        b"-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n",
    );
    c.roundtrip(b"SET k v XX NX\r\n", b"-ERR syntax error\r\n");
    c.roundtrip(
        b"SET k v EX 0\r\n",
        b"-ERR invalid expire time in 'set' command\r\n",
    );
    c.roundtrip(
        b"SET k v EX x\r\n",
        b"-ERR value is not an integer or out of range\r\n",
    );
    c.roundtrip(
        b"SET k v\r\nLPUSH k x\r\nNOSUCHADD k * f v\r\n",
        b"+OK\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n\
          -ERR unknown command 'NOSUCHADD', with args beginning with: 'k' '*' 'f' 'v' \r\n",
    );
    c.roundtrip(
        b"INCR k\r\n",
        b"-ERR value is not an integer or out of range\r\n",
    );
    c.roundtrip(
        b"SET n 9223372036854775807\r\nINCR n\r\n",
        b"+OK\r\n-ERR increment or decrement would overflow\r\n",
    );
    c.roundtrip(
        b"INCRBYFLOAT k 1\r\n",
        b"-ERR value is not a valid float\r\n",
    );
    c.roundtrip(
        b"DECRBY n -9223372036854775808\r\n",
        b"-ERR decrement would overflow\r\n",
    );
    c.roundtrip(b"RENAME nosuch x\r\n", b"-ERR no such key\r\n");
    c.roundtrip(b"SELECT 99\r\n", b"-ERR DB index is out of range\r\n");
    c.roundtrip(
        b"SELECT x\r\n",
        b"-ERR value is not an integer or out of range\r\n",
    );
    c.roundtrip(
        b"EXPIRE k 10 NX XX\r\n",
        b"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n",
    );
    // The connection is still fine after all those errors.
    c.roundtrip(b"PING\r\n", b"+PONG\r\n");
}

#[test]
fn protocol_error_closes_only_that_connection() {
    let server = Server::start(&[]);
    let mut bystander = server.raw();
    bystander.roundtrip(b"SET keep 1\r\n", b"+OK\r\n");
    let mut bad = server.raw();
    bad.roundtrip(
        b"*1\r\n$x\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    );
    bad.expect_closed();
    let mut bad = server.raw();
    bad.roundtrip(
        b"*a\r\n",
        b"-ERR Protocol error: invalid multibulk length\r\n",
    );
    bad.expect_closed();
    let mut bad = server.raw();
    bad.roundtrip(
        b"SET k \"unclosed\r\n",
        b"-ERR Protocol error: unbalanced quotes in request\r\n",
    );
    bad.expect_closed();
    // Replies to requests before the bad one are still sent.
    let mut bad = server.raw();
    bad.roundtrip(
        b"PING\r\n*1\r\n+x\r\n",
        b"+PONG\r\n-ERR Protocol error: expected '$', got '+'\r\n",
    );
    bad.expect_closed();
    bystander.roundtrip(b"GET keep\r\n", b"$1\r\n1\r\n");
}

#[test]
fn resp3_after_hello_3() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    c.roundtrip(b"GET missing\r\n", b"$-1\r\n");
    c.send(b"HELLO 3\r\n");
    assert_eq!(c.read_line(), "%7\r\n");
    let mut fields = Vec::new();
    for _ in 0..7 {
        let key = String::from_utf8(c.read_bulk()).unwrap();
        let value = c.read_line();
        let value = if let Some(len) = value.strip_prefix('$') {
            let n: usize = len.trim_end().parse().unwrap();
            let body = c.read_n(n + 2);
            String::from_utf8_lossy(&body[..n]).into_owned()
        } else {
            value.trim_end().to_string()
        };
        fields.push((key, value));
    }
    let get = |k: &str| fields.iter().find(|(f, _)| f == k).map(|(_, v)| v.clone());
    assert_eq!(get("server").as_deref(), Some("redis"));
    assert_eq!(get("proto").as_deref(), Some(":3"));
    assert_eq!(get("mode").as_deref(), Some("standalone"));
    assert_eq!(get("modules").as_deref(), Some("*0"));
    // RESP3 null, and a map for CONFIG GET.
    c.roundtrip(b"GET missing\r\n", b"_\r\n");
    c.roundtrip(
        b"CONFIG GET maxclients\r\n",
        b"%1\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n",
    );
    c.roundtrip(b"HELLO 4\r\n", b"-NOPROTO unsupported protocol version\r\n");
    c.send(b"HELLO 2\r\n");
    assert_eq!(c.read_line(), "*14\r\n");
}

#[test]
fn client_reply_off_and_skip() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    c.send(b"CLIENT REPLY OFF\r\nSET a 1\r\nGET a\r\nCLIENT REPLY ON\r\n");
    c.expect(b"+OK\r\n");
    c.send(b"CLIENT REPLY SKIP\r\nSET b 2\r\nGET b\r\n");
    c.expect(b"$1\r\n2\r\n");
    // Errors are silenced too.
    c.send(b"CLIENT REPLY OFF\r\nNOSUCH\r\nGET\r\nINCR b x\r\nCLIENT REPLY ON\r\nPING\r\n");
    c.expect(b"+OK\r\n+PONG\r\n");
}

#[test]
fn quit_replies_then_closes() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    c.roundtrip(b"QUIT\r\nPING\r\n", b"+OK\r\n");
    c.expect_closed();
}

#[test]
fn query_buffer_limit_closes_the_client() {
    let server = Server::start(&["--query-buffer-limit", "1mb"]);
    let mut c = server.raw();
    // A 4 MiB bulk string is within the protocol's limits but not within this server's buffer.
    c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4194304\r\n");
    let chunk = vec![b'x'; 64 * 1024];
    let mut closed = false;
    for _ in 0..64 {
        if std::io::Write::write_all(&mut c.stream, &chunk).is_err() {
            closed = true;
            break;
        }
    }
    if !closed {
        c.expect_closed();
    }
    let mut other = server.raw();
    other.roundtrip(b"PING\r\n", b"+PONG\r\n");
    let log = server.log_with("max query buffer length");
    assert!(log.contains("max query buffer length"), "{log}");
}

#[test]
fn output_buffer_limit_closes_a_client_with_a_too_large_reply() {
    let server = Server::start(&["--output-buffer-limit", "1mb"]);
    let mut c = server.raw();
    let big = vec![b'v'; 2 * 1024 * 1024];
    c.roundtrip(&resp(&[b"SET", b"big", &big]), b"+OK\r\n");
    c.roundtrip(&resp(&[b"SET", b"small", b"1"]), b"+OK\r\n");
    c.send(&resp(&[b"GET", b"big"]));
    c.expect_closed();
    let mut other = server.raw();
    other.roundtrip(b"GET small\r\n", b"$1\r\n1\r\n");
    let log = server.log_with("output buffer limit");
    assert!(log.contains("output buffer limit"), "{log}");
}
