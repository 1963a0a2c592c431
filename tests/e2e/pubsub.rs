//! Pub/sub end to end, byte for byte as redis-server 7.0.15 answered the same sessions
//! (recorded with two raw connections, RESP2 and RESP3): (un)subscribe confirmations and their
//! counts, unsubscribing from nothing, PING and the refused commands of a RESP2 subscriber,
//! `message`/`pmessage`/`smessage`, PUBLISH counts, PUBSUB's subcommands and errors, RESET,
//! QUIT, and `client-output-buffer-limit` through CONFIG. Also CLIENT LIST and INFO fields.

use super::support::{Raw, Server, resp};

/// One step: client `.0` sends the command `.1`; then each client of `.2` must receive exactly
/// those bytes (a publisher its reply, a subscriber its messages).
type Step<'a> = (usize, &'a [&'a [u8]], &'a [(usize, &'a [u8])]);

/// Plays `script` on `clients`, checking every expected byte.
#[track_caller]
fn play(clients: &mut [Raw], script: &[Step<'_>]) {
    for (i, (from, args, expected)) in script.iter().enumerate() {
        clients[*from].send(&resp(args));
        for (to, bytes) in *expected {
            let got = clients[*to].read_n(bytes.len());
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(bytes),
                "step {i}: client {from} sent {:?}; client {to} received",
                args.iter()
                    .map(|a| String::from_utf8_lossy(a))
                    .collect::<Vec<_>>()
            );
        }
    }
}

fn clients(server: &Server, n: usize) -> Vec<Raw> {
    (0..n).map(|_| server.raw()).collect()
}

/// HELLO `proto`, its reply read whole (it names kv's version and the client's id).
fn hello(c: &mut Raw, proto: &[u8]) {
    c.send(&resp(&[b"HELLO", proto]));
    let mut got = Vec::new();
    while !got.ends_with(b"$7\r\nmodules\r\n*0\r\n") {
        got.extend(c.read_n(1));
    }
}

#[test]
#[rustfmt::skip]
fn resp2_subscriber_session() {
    let server = Server::start(&[]);
    play(&mut clients(&server, 2), &[
        (0, &[b"SUBSCRIBE", b"a", b"b"], &[(0, b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n")]),
        (0, &[b"SUBSCRIBE", b"a"], &[(0, b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:2\r\n")]),
        (0, &[b"PSUBSCRIBE", b"p*"], &[(0, b"*3\r\n$10\r\npsubscribe\r\n$2\r\np*\r\n:3\r\n")]),
        (0, &[b"PING"], &[(0, b"*2\r\n$4\r\npong\r\n$0\r\n\r\n")]),
        (0, &[b"PING", b"hello"], &[(0, b"*2\r\n$4\r\npong\r\n$5\r\nhello\r\n")]),
        (0, &[b"PING", b"a", b"b"], &[(0, b"-ERR wrong number of arguments for 'ping' command\r\n")]),
        (0, &[b"GET", b"x"], &[(0, b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n")]),
        (0, &[b"CONFIG", b"GET", b"x"], &[(0, b"-ERR Can't execute 'config|get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n")]),
        (0, &[b"CONFIG", b"NOPE"], &[(0, b"-ERR unknown subcommand 'NOPE'. Try CONFIG HELP.\r\n")]),
        (0, &[b"NOSUCH"], &[(0, b"-ERR unknown command 'NOSUCH', with args beginning with: \r\n")]),
        (0, &[b"HELLO", b"3"], &[(0, b"-ERR Can't execute 'hello': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n")]),
        (0, &[b"PUBLISH", b"a", b"x"], &[(0, b"-ERR Can't execute 'publish': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n")]),
        (0, &[b"SUBSCRIBE"], &[(0, b"-ERR wrong number of arguments for 'subscribe' command\r\n")]),
        (1, &[b"PUBLISH", b"a", b"hi"], &[(0, b"*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nhi\r\n"), (1, b":1\r\n")]),
        (1, &[b"PUBLISH", b"pa", b"hi"], &[(0, b"*4\r\n$8\r\npmessage\r\n$2\r\np*\r\n$2\r\npa\r\n$2\r\nhi\r\n"), (1, b":1\r\n")]),
        (1, &[b"PUBLISH", b"nobody", b"hi"], &[(1, b":0\r\n")]),
        (0, &[b"SUBSCRIBE", b"pa"], &[(0, b"*3\r\n$9\r\nsubscribe\r\n$2\r\npa\r\n:4\r\n")]),
        (1, &[b"PUBLISH", b"pa", b"both"], &[(0, b"*3\r\n$7\r\nmessage\r\n$2\r\npa\r\n$4\r\nboth\r\n*4\r\n$8\r\npmessage\r\n$2\r\np*\r\n$2\r\npa\r\n$4\r\nboth\r\n"), (1, b":2\r\n")]),
        (0, &[b"UNSUBSCRIBE", b"a", b"zz"], &[(0, b"*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:3\r\n*3\r\n$11\r\nunsubscribe\r\n$2\r\nzz\r\n:3\r\n")]),
        (0, &[b"UNSUBSCRIBE", b"b"], &[(0, b"*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:2\r\n")]),
        (0, &[b"UNSUBSCRIBE"], &[(0, b"*3\r\n$11\r\nunsubscribe\r\n$2\r\npa\r\n:1\r\n")]),
        (0, &[b"UNSUBSCRIBE"], &[(0, b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:1\r\n")]),
        (0, &[b"PUNSUBSCRIBE", b"q*"], &[(0, b"*3\r\n$12\r\npunsubscribe\r\n$2\r\nq*\r\n:1\r\n")]),
        (0, &[b"PUNSUBSCRIBE"], &[(0, b"*3\r\n$12\r\npunsubscribe\r\n$2\r\np*\r\n:0\r\n")]),
        (0, &[b"PUNSUBSCRIBE"], &[(0, b"*3\r\n$12\r\npunsubscribe\r\n$-1\r\n:0\r\n")]),
        (0, &[b"GET", b"x"], &[(0, b"$-1\r\n")]),
        (0, &[b"PING"], &[(0, b"+PONG\r\n")]),
        (0, &[b"UNSUBSCRIBE"], &[(0, b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n")]),
        (0, &[b"PING"], &[(0, b"+PONG\r\n")]),
        (0, &[b"PUNSUBSCRIBE", b"x", b"y"], &[(0, b"*3\r\n$12\r\npunsubscribe\r\n$1\r\nx\r\n:0\r\n*3\r\n$12\r\npunsubscribe\r\n$1\r\ny\r\n:0\r\n")]),
        (0, &[b"PING"], &[(0, b"+PONG\r\n")]),
    ]);
}

#[test]
#[rustfmt::skip]
fn resp2_shard_channels() {
    let server = Server::start(&[]);
    play(&mut clients(&server, 2), &[
        (0, &[b"SSUBSCRIBE", b"s1", b"s2"], &[(0, b"*3\r\n$10\r\nssubscribe\r\n$2\r\ns1\r\n:1\r\n*3\r\n$10\r\nssubscribe\r\n$2\r\ns2\r\n:2\r\n")]),
        (0, &[b"SUBSCRIBE", b"c"], &[(0, b"*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n")]),
        (0, &[b"GET", b"x"], &[(0, b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n")]),
        (1, &[b"SPUBLISH", b"s1", b"m"], &[(0, b"*3\r\n$8\r\nsmessage\r\n$2\r\ns1\r\n$1\r\nm\r\n"), (1, b":1\r\n")]),
        (1, &[b"PUBLISH", b"s1", b"m"], &[(1, b":0\r\n")]),
        (1, &[b"SPUBLISH", b"c", b"m"], &[(1, b":0\r\n")]),
        (1, &[b"PUBSUB", b"SHARDCHANNELS", b"s1"], &[(1, b"*1\r\n$2\r\ns1\r\n")]),
        (1, &[b"PUBSUB", b"SHARDCHANNELS", b"z*"], &[(1, b"*0\r\n")]),
        (1, &[b"PUBSUB", b"SHARDNUMSUB", b"s1", b"c", b"zz"], &[(1, b"*6\r\n$2\r\ns1\r\n:1\r\n$1\r\nc\r\n:0\r\n$2\r\nzz\r\n:0\r\n")]),
        (1, &[b"PUBSUB", b"SHARDNUMSUB"], &[(1, b"*0\r\n")]),
        (1, &[b"PUBSUB", b"CHANNELS"], &[(1, b"*1\r\n$1\r\nc\r\n")]),
        (1, &[b"PUBSUB", b"NUMSUB", b"c", b"s1"], &[(1, b"*4\r\n$1\r\nc\r\n:1\r\n$2\r\ns1\r\n:0\r\n")]),
        (0, &[b"SUNSUBSCRIBE", b"s1"], &[(0, b"*3\r\n$12\r\nsunsubscribe\r\n$2\r\ns1\r\n:1\r\n")]),
        (0, &[b"SUNSUBSCRIBE"], &[(0, b"*3\r\n$12\r\nsunsubscribe\r\n$2\r\ns2\r\n:0\r\n")]),
        (0, &[b"SUNSUBSCRIBE"], &[(0, b"*3\r\n$12\r\nsunsubscribe\r\n$-1\r\n:0\r\n")]),
        (0, &[b"UNSUBSCRIBE"], &[(0, b"*3\r\n$11\r\nunsubscribe\r\n$1\r\nc\r\n:0\r\n")]),
        (0, &[b"GET", b"x"], &[(0, b"$-1\r\n")]),
        (0, &[b"SUNSUBSCRIBE", b"q"], &[(0, b"*3\r\n$12\r\nsunsubscribe\r\n$1\r\nq\r\n:0\r\n")]),
    ]);
}

#[test]
#[rustfmt::skip]
fn patterns_pubsub_introspection_and_reset() {
    let server = Server::start(&[]);
    play(&mut clients(&server, 2), &[
        (1, &[b"PUBSUB", b"NUMPAT"], &[(1, b":0\r\n")]),
        (0, &[b"PSUBSCRIBE", b"a*", b"b?"], &[(0, b"*3\r\n$10\r\npsubscribe\r\n$2\r\na*\r\n:1\r\n*3\r\n$10\r\npsubscribe\r\n$2\r\nb?\r\n:2\r\n")]),
        (1, &[b"PUBSUB", b"NUMPAT"], &[(1, b":2\r\n")]),
        (1, &[b"PUBSUB", b"NUMSUB", b"a*"], &[(1, b"*2\r\n$2\r\na*\r\n:0\r\n")]),
        (1, &[b"PUBSUB", b"CHANNELS"], &[(1, b"*0\r\n")]),
        (1, &[b"PUBSUB", b"HELP"], &[(1, b"*14\r\n+PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+CHANNELS [<pattern>]\r\n+    Return the currently active channels matching a <pattern> (default: '*').\r\n+NUMPAT\r\n+    Return number of subscriptions to patterns.\r\n+NUMSUB [<channel> ...]\r\n+    Return the number of subscribers for the specified channels, excluding\r\n+    pattern subscriptions(default: no channels).\r\n+SHARDCHANNELS [<pattern>]\r\n+    Return the currently active shard level channels matching a <pattern> (default: '*').\r\n+SHARDNUMSUB [<shardchannel> ...]\r\n+    Return the number of subscribers for the specified shard level channel(s)\r\n+HELP\r\n+    Prints this help.\r\n")]),
        (1, &[b"PUBSUB", b"FOO"], &[(1, b"-ERR unknown subcommand 'FOO'. Try PUBSUB HELP.\r\n")]),
        (1, &[b"PUBSUB"], &[(1, b"-ERR wrong number of arguments for 'pubsub' command\r\n")]),
        (1, &[b"PUBSUB", b"NUMPAT", b"x"], &[(1, b"-ERR wrong number of arguments for 'pubsub|numpat' command\r\n")]),
        (1, &[b"PUBSUB", b"CHANNELS", b"a", b"b"], &[(1, b"-ERR unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB HELP.\r\n")]),
        (1, &[b"PUBSUB", b"HELP", b"x"], &[(1, b"-ERR wrong number of arguments for 'pubsub|help' command\r\n")]),
        (1, &[b"PUBLISH", b"a"], &[(1, b"-ERR wrong number of arguments for 'publish' command\r\n")]),
        (1, &[b"SUBSCRIBE"], &[(1, b"-ERR wrong number of arguments for 'subscribe' command\r\n")]),
        (1, &[b"PUBLISH", b"abc", b"1"], &[(0, b"*4\r\n$8\r\npmessage\r\n$2\r\na*\r\n$3\r\nabc\r\n$1\r\n1\r\n"), (1, b":1\r\n")]),
        (1, &[b"PUBLISH", b"bc", b"2"], &[(0, b"*4\r\n$8\r\npmessage\r\n$2\r\nb?\r\n$2\r\nbc\r\n$1\r\n2\r\n"), (1, b":1\r\n")]),
        (1, &[b"PUBLISH", b"b", b"3"], &[(1, b":0\r\n")]),
        (1, &[b"PUBLISH", b"", b"4"], &[(1, b":0\r\n")]),
        (0, &[b"RESET"], &[(0, b"+RESET\r\n")]),
        (1, &[b"PUBSUB", b"NUMPAT"], &[(1, b":0\r\n")]),
        (0, &[b"GET", b"x"], &[(0, b"$-1\r\n")]),
    ]);
}

#[test]
#[rustfmt::skip]
fn an_empty_channel_matches_only_the_empty_pattern() {
    let server = Server::start(&[]);
    play(&mut clients(&server, 2), &[
        (0, &[b"PSUBSCRIBE", b""], &[(0, b"*3\r\n$10\r\npsubscribe\r\n$0\r\n\r\n:1\r\n")]),
        (1, &[b"PUBLISH", b"", b"x"], &[(0, b"*4\r\n$8\r\npmessage\r\n$0\r\n\r\n$0\r\n\r\n$1\r\nx\r\n"), (1, b":1\r\n")]),
        (0, &[b"SUBSCRIBE", b""], &[(0, b"*3\r\n$9\r\nsubscribe\r\n$0\r\n\r\n:2\r\n")]),
        (1, &[b"PUBSUB", b"CHANNELS", b"*"], &[(1, b"*0\r\n")]),
        (1, &[b"PUBSUB", b"CHANNELS", b""], &[(1, b"*1\r\n$0\r\n\r\n")]),
        (1, &[b"PUBSUB", b"CHANNELS"], &[(1, b"*1\r\n$0\r\n\r\n")]),
        (1, &[b"PUBLISH", b"", b"y"], &[(0, b"*3\r\n$7\r\nmessage\r\n$0\r\n\r\n$1\r\ny\r\n*4\r\n$8\r\npmessage\r\n$0\r\n\r\n$0\r\n\r\n$1\r\ny\r\n"), (1, b":2\r\n")]),
    ]);
}

#[test]
#[rustfmt::skip]
fn resp3_subscriber_gets_push_frames_and_keeps_every_command() {
    let server = Server::start(&[]);
    let mut c = clients(&server, 2);
    hello(&mut c[0], b"3");
    play(&mut c, &[
        (0, &[b"SUBSCRIBE", b"a"], &[(0, b">3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n")]),
        (0, &[b"GET", b"x"], &[(0, b"_\r\n")]),
        (0, &[b"PING"], &[(0, b"+PONG\r\n")]),
        (0, &[b"PING", b"m"], &[(0, b"$1\r\nm\r\n")]),
        (0, &[b"PUBLISH", b"a", b"self"], &[(0, b">3\r\n$7\r\nmessage\r\n$1\r\na\r\n$4\r\nself\r\n:1\r\n")]),
    ]);
    // A pipeline that publishes to itself: the message sits between the replies of the
    // commands around the PUBLISH, and before PUBLISH's own reply, as in Redis.
    c[0].send(b"*1\r\n$4\r\nPING\r\n*3\r\n$7\r\nPUBLISH\r\n$1\r\na\r\n$2\r\nme\r\n*2\r\n$4\r\nECHO\r\n$1\r\ne\r\n");
    c[0].expect(b"+PONG\r\n>3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nme\r\n:1\r\n$1\r\ne\r\n");
    play(&mut c, &[
        (0, &[b"PSUBSCRIBE", b"*"], &[(0, b">3\r\n$10\r\npsubscribe\r\n$1\r\n*\r\n:2\r\n")]),
        (1, &[b"PUBLISH", b"a", b"hi"], &[(0, b">3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nhi\r\n>4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$1\r\na\r\n$2\r\nhi\r\n"), (1, b":2\r\n")]),
        (1, &[b"PUBLISH", b"", b"empty"], &[(1, b":0\r\n")]),
        (1, &[b"SPUBLISH", b"a", b"hi"], &[(1, b":0\r\n")]),
        (0, &[b"SSUBSCRIBE", b"s"], &[(0, b">3\r\n$10\r\nssubscribe\r\n$1\r\ns\r\n:1\r\n")]),
        (1, &[b"SPUBLISH", b"s", b"hi"], &[(0, b">3\r\n$8\r\nsmessage\r\n$1\r\ns\r\n$2\r\nhi\r\n"), (1, b":1\r\n")]),
        (0, &[b"PUBSUB", b"NUMSUB", b"a"], &[(0, b"*2\r\n$1\r\na\r\n:1\r\n")]),
        (0, &[b"PUBSUB", b"CHANNELS"], &[(0, b"*1\r\n$1\r\na\r\n")]),
        (0, &[b"UNSUBSCRIBE", b"a"], &[(0, b">3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n")]),
        (0, &[b"UNSUBSCRIBE"], &[(0, b">3\r\n$11\r\nunsubscribe\r\n_\r\n:1\r\n")]),
        (0, &[b"PUNSUBSCRIBE"], &[(0, b">3\r\n$12\r\npunsubscribe\r\n$1\r\n*\r\n:0\r\n")]),
        (0, &[b"PUNSUBSCRIBE"], &[(0, b">3\r\n$12\r\npunsubscribe\r\n_\r\n:0\r\n")]),
        (0, &[b"SUNSUBSCRIBE"], &[(0, b">3\r\n$12\r\nsunsubscribe\r\n$1\r\ns\r\n:0\r\n")]),
        (0, &[b"SUNSUBSCRIBE"], &[(0, b">3\r\n$12\r\nsunsubscribe\r\n_\r\n:0\r\n")]),
        (0, &[b"SUBSCRIBE", b"b"], &[(0, b">3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:1\r\n")]),
    ]);
    // Back to RESP2 with a subscription: RESP2's rules apply again.
    hello(&mut c[0], b"2");
    play(&mut c, &[
        (0, &[b"GET", b"x"], &[(0, b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n")]),
        (0, &[b"PING"], &[(0, b"*2\r\n$4\r\npong\r\n$0\r\n\r\n")]),
        (0, &[b"RESET"], &[(0, b"+RESET\r\n")]),
        (0, &[b"PING"], &[(0, b"+PONG\r\n")]),
        (1, &[b"PUBLISH", b"b", b"gone"], &[(1, b":0\r\n")]),
    ]);
}

#[test]
#[rustfmt::skip]
fn quit_and_inline_pipelines_in_subscribed_mode() {
    let server = Server::start(&[]);
    let mut c = clients(&server, 2);
    play(&mut c, &[
        (0, &[b"SUBSCRIBE", b"a"], &[(0, b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n")]),
        (0, &[b"QUIT"], &[(0, b"+OK\r\n")]),
    ]);
    c[0].expect_closed();
    // The subscription ended with the connection.
    let deadline = std::time::Instant::now() + super::support::PATIENCE;
    loop {
        const NONE: &[u8] = b"*2\r\n$1\r\na\r\n:0\r\n";
        c[1].send(&resp(&[b"PUBSUB", b"NUMSUB", b"a"]));
        if c[1].read_n(NONE.len()) == NONE {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "a still has a subscriber");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // Inline commands pipelined around a SUBSCRIBE: the reply before it is a plain PONG, the
    // one after it the subscribed form.
    let mut c = clients(&server, 2);
    c[0].send(b"PING\r\nSUBSCRIBE a\r\nPING\r\n");
    c[0].expect(b"+PONG\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    play(&mut c, &[
        (1, &[b"PUBLISH", b"a", b"x"], &[(0, b"*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nx\r\n"), (1, b":1\r\n")]),
        (0, &[b"CLIENT", b"REPLY", b"OFF"], &[(0, b"-ERR Can't execute 'client|reply': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n")]),
        (1, &[b"PUBLISH", b"a", b"y"], &[(0, b"*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\ny\r\n"), (1, b":1\r\n")]),
        (0, &[b"SUBSCRIBE", b"b"], &[(0, b"*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n")]),
        (1, &[b"PUBLISH", b"a", b"z"], &[(0, b"*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nz\r\n"), (1, b":1\r\n")]),
        (0, &[b"CLIENT", b"REPLY", b"ON"], &[(0, b"-ERR Can't execute 'client|reply': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n")]),
    ]);
}

#[test]
#[rustfmt::skip]
fn client_output_buffer_limit_through_config() {
    let server = Server::start(&[]);
    play(&mut clients(&server, 1), &[
        (0, &[b"CONFIG", b"GET", b"client-output-buffer-limit"], &[(0, b"*2\r\n$26\r\nclient-output-buffer-limit\r\n$67\r\nnormal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60\r\n")]),
        (0, &[b"CONFIG", b"SET", b"client-output-buffer-limit", b"pubsub 1mb 512kb 10"], &[(0, b"+OK\r\n")]),
        (0, &[b"CONFIG", b"GET", b"client-output-buffer-limit"], &[(0, b"*2\r\n$26\r\nclient-output-buffer-limit\r\n$65\r\nnormal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 524288 10\r\n")]),
        (0, &[b"CONFIG", b"SET", b"client-output-buffer-limit", b"normal 10mb 5mb 3 pubsub 0 0 0"], &[(0, b"+OK\r\n")]),
        (0, &[b"CONFIG", b"GET", b"client-output-buffer-limit"], &[(0, b"*2\r\n$26\r\nclient-output-buffer-limit\r\n$66\r\nnormal 10485760 5242880 3 slave 268435456 67108864 60 pubsub 0 0 0\r\n")]),
        (0, &[b"CONFIG", b"SET", b"client-output-buffer-limit", b"replica 1 2 3"], &[(0, b"+OK\r\n")]),
        (0, &[b"CONFIG", b"GET", b"client-output-buffer-limit"], &[(0, b"*2\r\n$26\r\nclient-output-buffer-limit\r\n$50\r\nnormal 10485760 5242880 3 slave 1 2 3 pubsub 0 0 0\r\n")]),
        (0, &[b"CONFIG", b"SET", b"client-output-buffer-limit", b"pubsub 1 2"], &[(0, b"-ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Wrong number of arguments in buffer limit configuration.\r\n")]),
        (0, &[b"CONFIG", b"SET", b"client-output-buffer-limit", b"bogus 1 2 3"], &[(0, b"-ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Invalid client class specified in buffer limit configuration.\r\n")]),
        (0, &[b"CONFIG", b"SET", b"client-output-buffer-limit", b"pubsub x 2 3"], &[(0, b"-ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Error in hard, soft or soft_seconds setting in buffer limit configuration.\r\n")]),
        (0, &[b"CONFIG", b"SET", b"client-output-buffer-limit", b"pubsub 1 2 x"], &[(0, b"-ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Error in hard, soft or soft_seconds setting in buffer limit configuration.\r\n")]),
        (0, &[b"CONFIG", b"SET", b"client-output-buffer-limit", b"pubsub 1 2 -1"], &[(0, b"-ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Error in hard, soft or soft_seconds setting in buffer limit configuration.\r\n")]),
        (0, &[b"CONFIG", b"SET", b"client-output-buffer-limit", b"pubsub 1 -2 1"], &[(0, b"-ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Error in hard, soft or soft_seconds setting in buffer limit configuration.\r\n")]),
        (0, &[b"CONFIG", b"SET", b"client-output-buffer-limit", b""], &[(0, b"+OK\r\n")]),
        (0, &[b"CONFIG", b"SET", b"client-output-buffer-limit", b"1mb"], &[(0, b"-ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Wrong number of arguments in buffer limit configuration.\r\n")]),
        (0, &[b"CONFIG", b"SET", b"client-output-buffer-limit", b"PUBSUB 1K 2G 3"], &[(0, b"+OK\r\n")]),
        (0, &[b"CONFIG", b"GET", b"client-output-buffer-limit"], &[(0, b"*2\r\n$26\r\nclient-output-buffer-limit\r\n$62\r\nnormal 10485760 5242880 3 slave 1 2 3 pubsub 1000 2000000000 3\r\n")]),
        (0, &[b"CONFIG", b"SET", b"client-output-buffer-limit", b"pubsub 32mb 8mb 60 normal 0 0 0 slave 256mb 64mb 60"], &[(0, b"+OK\r\n")]),
        (0, &[b"CONFIG", b"GET", b"client-output-buffer-limit"], &[(0, b"*2\r\n$26\r\nclient-output-buffer-limit\r\n$67\r\nnormal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60\r\n")]),
        (0, &[b"CONFIG", b"GET", b"client-output*"], &[(0, b"*2\r\n$26\r\nclient-output-buffer-limit\r\n$67\r\nnormal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60\r\n")]),
    ]);
}

/// The value of `field=` in a CLIENT LIST line, or of `field:` in INFO.
fn field<'a>(text: &'a str, field: &str) -> &'a str {
    text.split([' ', '\n', '\r'])
        .find_map(|f| {
            f.strip_prefix(field)
                .and_then(|v| v.strip_prefix('=').or_else(|| v.strip_prefix(':')))
        })
        .unwrap_or_else(|| panic!("no {field} in {text}"))
}

fn text(c: &mut Raw, args: &[&[u8]]) -> String {
    c.send(&resp(args));
    String::from_utf8(c.read_bulk()).unwrap()
}

#[test]
fn client_list_info_and_kill_see_subscribers() {
    let server = Server::start(&[]);
    let mut c = clients(&server, 2);
    play(&mut c, &[
        (0, &[b"SUBSCRIBE", b"a", b"b"], &[(0, b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n")]),
        (0, &[b"PSUBSCRIBE", b"p*"], &[(0, b"*3\r\n$10\r\npsubscribe\r\n$2\r\np*\r\n:3\r\n")]),
        (0, &[b"SSUBSCRIBE", b"s"], &[(0, b"*3\r\n$10\r\nssubscribe\r\n$1\r\ns\r\n:1\r\n")]),
    ]);
    let admin = &mut c[1];
    let pubsub = text(admin, &[b"CLIENT", b"LIST", b"TYPE", b"pubsub"]);
    assert_eq!(pubsub.lines().count(), 1, "{pubsub}");
    for (name, value) in [
        ("flags", "P"),
        ("sub", "2"),
        ("psub", "1"),
        ("ssub", "1"),
        ("omem", "0"),
        ("oll", "0"),
        ("cmd", "ssubscribe"),
    ] {
        assert_eq!(field(&pubsub, name), value, "{pubsub}");
    }
    let normal = text(admin, &[b"CLIENT", b"LIST", b"TYPE", b"normal"]);
    assert_eq!(
        normal.lines().count(),
        1,
        "only the admin connection: {normal}"
    );
    assert_eq!(field(&normal, "flags"), "N");
    assert_eq!(text(admin, &[b"CLIENT", b"LIST"]).lines().count(), 2);
    let info = text(admin, &[b"INFO", b"stats"]);
    for (name, value) in [
        ("pubsub_channels", "2"),
        ("pubsub_patterns", "1"),
        ("pubsubshard_channels", "1"),
        ("client_output_buffer_limit_disconnections", "0"),
    ] {
        assert_eq!(field(&info, name), value, "{info}");
    }
    // CLIENT KILL TYPE pubsub ends it, and its subscriptions with it.
    admin.roundtrip(&resp(&[b"CLIENT", b"KILL", b"TYPE", b"pubsub"]), b":1\r\n");
    c[0].expect_closed();
    let admin = &mut c[1];
    let deadline = std::time::Instant::now() + super::support::PATIENCE;
    while field(&text(admin, &[b"INFO", b"stats"]), "pubsub_channels") != "0" {
        assert!(
            std::time::Instant::now() < deadline,
            "the killed client's channels stayed"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
#[rustfmt::skip]
fn a_resp3_subscriber_blocked_in_blpop_still_gets_its_messages() {
    let server = Server::start(&[]);
    let mut c = clients(&server, 2);
    hello(&mut c[0], b"3");
    play(&mut c, &[
        (0, &[b"SUBSCRIBE", b"ch"], &[(0, b">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n")]),
        (0, &[b"BLPOP", b"k", b"0"], &[]),
        (1, &[b"PUBLISH", b"ch", b"while blocked"], &[(0, b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$13\r\nwhile blocked\r\n"), (1, b":1\r\n")]),
        (1, &[b"LPUSH", b"k", b"v"], &[(0, b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n"), (1, b":1\r\n")]),
        (0, &[b"PING"], &[(0, b"+PONG\r\n")]),
    ]);
}

#[test]
fn a_resp3_subscriber_pipelining_large_replies_gets_them_whole_between_messages() {
    let server = Server::start(&[]);
    let mut c = clients(&server, 2);
    hello(&mut c[0], b"3");
    let value = vec![b'v'; 10_000];
    c[1].roundtrip(&resp(&[b"SET", b"big", &value]), b"+OK\r\n");
    c[0].roundtrip(
        &resp(&[b"SUBSCRIBE", b"ch"]),
        b">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n",
    );
    // 20 MB of replies in one pipeline (written in pieces, as the client reads), with
    // messages published meanwhile: each lands between two replies, never inside one.
    const GETS: usize = 2000;
    let pipeline = resp(&[b"GET", b"big"]).repeat(GETS);
    let mut sender = c[0].stream.try_clone().unwrap();
    let writer = std::thread::spawn(move || std::io::Write::write_all(&mut sender, &pipeline));
    let mut publisher = c.pop().unwrap();
    let publish = std::thread::spawn(move || {
        for i in 0..100 {
            publisher.roundtrip(
                &resp(&[b"PUBLISH", b"ch", format!("m{i:02}").as_bytes()]),
                b":1\r\n",
            );
        }
    });
    let reply = [
        format!("${}\r\n", value.len()).into_bytes(),
        value,
        b"\r\n".to_vec(),
    ]
    .concat();
    let (mut replies, mut messages) = (0, 0);
    while replies < GETS || messages < 100 {
        let head = c[0].read_n(2);
        if head == b">3" {
            let want = format!("\r\n$7\r\nmessage\r\n$2\r\nch\r\n$3\r\nm{messages:02}\r\n");
            c[0].expect(want.as_bytes());
            messages += 1;
        } else {
            assert_eq!(head, &reply[..2]);
            c[0].expect(&reply[2..]);
            replies += 1;
        }
    }
    writer.join().unwrap().unwrap();
    publish.join().unwrap();
}
