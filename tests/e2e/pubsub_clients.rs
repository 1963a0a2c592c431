//! The `redis` crate's pub/sub API, used unchanged (RESP2 and RESP3). redis-py's is in
//! `tests/clients/redis_py/test_pubsub.py`, run by `clients.rs`.

use super::support::{PATIENCE, Server};

fn client(server: &Server, resp3: bool) -> redis::Connection {
    let query = if resp3 { "?protocol=resp3" } else { "" };
    let url = format!("redis://{}/{query}", server.addr);
    redis::Client::open(url)
        .unwrap()
        .get_connection()
        .expect("redis client connects")
}

fn publish(con: &mut redis::Connection, channel: &str, payload: &str) -> i64 {
    redis::cmd("PUBLISH")
        .arg(channel)
        .arg(payload)
        .query(con)
        .unwrap()
}

/// Waits until the server shows `channel` with `subscribers` and `patterns` distinct patterns:
/// the `redis` crate's `subscribe` returns before the server has seen the command (in RESP2
/// after the first confirmation of the batch, in RESP3 at once).
fn wait_subscribed(con: &mut redis::Connection, channel: &str, subscribers: i64, patterns: i64) {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let (_, n): (String, i64) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(channel)
            .query(con)
            .unwrap();
        let p: i64 = redis::cmd("PUBSUB").arg("NUMPAT").query(con).unwrap();
        if (n, p) == (subscribers, patterns) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "subscriptions never showed"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

fn redis_crate_session(resp3: bool) {
    let server = Server::start(&[]);
    let mut publisher = client(&server, false);
    let mut con = client(&server, resp3);
    {
        let mut pubsub = con.as_pubsub();
        pubsub.set_read_timeout(Some(PATIENCE)).unwrap();
        pubsub.subscribe(&["news", "sport"]).unwrap();
        pubsub.psubscribe("n*").unwrap();
        wait_subscribed(&mut publisher, "sport", 1, 1);
        assert_eq!(publish(&mut publisher, "news", "hello"), 2);
        assert_eq!(publish(&mut publisher, "sport", "goal"), 1);
        let m = pubsub.get_message().unwrap();
        assert_eq!(
            (m.get_channel_name(), m.get_payload::<String>().unwrap()),
            ("news", "hello".to_string())
        );
        assert!(!m.from_pattern());
        let m = pubsub.get_message().unwrap();
        assert!(m.from_pattern());
        assert_eq!(m.get_pattern::<String>().unwrap(), "n*");
        assert_eq!(m.get_payload_bytes(), b"hello");
        let m = pubsub.get_message().unwrap();
        assert_eq!(m.get_channel_name(), "sport");
        // PING while subscribed (RESP2 answers it as a `pong` array).
        let _: redis::Value = pubsub.ping().unwrap();
        pubsub.unsubscribe("sport").unwrap();
        wait_subscribed(&mut publisher, "sport", 0, 1);
        assert_eq!(publish(&mut publisher, "sport", "ignored"), 0);
        // Many messages in a row arrive in order.
        for i in 0..100 {
            assert_eq!(publish(&mut publisher, "news", &i.to_string()), 2);
        }
        for i in 0..100 {
            for from_pattern in [false, true] {
                let m = pubsub.get_message().unwrap();
                assert_eq!(m.from_pattern(), from_pattern);
                assert_eq!(m.get_payload::<String>().unwrap(), i.to_string());
            }
        }
        // Dropping the PubSub unsubscribes from everything (UNSUBSCRIBE and PUNSUBSCRIBE
        // without arguments).
    }
    // The connection is an ordinary one again.
    redis::cmd("SET").arg("k").arg("v").exec(&mut con).unwrap();
    let v: String = redis::cmd("GET").arg("k").query(&mut con).unwrap();
    assert_eq!(v, "v");
    wait_subscribed(&mut publisher, "news", 0, 0);
    assert_eq!(publish(&mut publisher, "news", "nobody"), 0);
}

#[test]
fn redis_crate_pubsub_resp2() {
    redis_crate_session(false);
}

#[test]
fn redis_crate_pubsub_resp3() {
    redis_crate_session(true);
}
