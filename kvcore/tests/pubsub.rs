//! The in-process bus through the public API: publish counts, patterns and shard channels,
//! blocking and timed receive, one order for every subscriber, a subscriber that does not read.

use std::sync::Arc;
use std::time::Duration;

use kvcore::{Error, Kind, Kv, Options, SubscriptionOptions};

fn kv() -> Kv {
    Kv::in_memory(Options::new().shards(4).databases(1))
}

/// Generous: CI shares two cores between many test binaries.
const PATIENCE: Duration = Duration::from_secs(30);

#[test]
fn publish_counts_every_receiving_subscription() {
    let kv = kv();
    assert_eq!(kv.publish("news", "nobody listens"), 0);
    let a = kv.subscribe(["news", "sport"]);
    let b = kv.psubscribe(["n*", "*s"]);
    let c = kv.ssubscribe(["news"]);
    // a by channel, b by both of its patterns; the shard channel is another namespace.
    assert_eq!(kv.publish("news", "1"), 3);
    assert_eq!(kv.spublish("news", "2"), 1);
    assert_eq!(kv.publish("sport", "3"), 1);
    assert_eq!(kv.publish("nx", "4"), 1);
    let got: Vec<_> = std::iter::from_fn(|| a.try_recv().unwrap()).collect();
    assert_eq!(
        got.iter()
            .map(|m| (m.channel(), m.payload()))
            .collect::<Vec<_>>(),
        [(&b"news"[..], &b"1"[..]), (b"sport", b"3")]
    );
    assert!(
        got.iter()
            .all(|m| m.kind() == Kind::Channel && m.pattern().is_none())
    );
    let got: Vec<_> = std::iter::from_fn(|| b.try_recv().unwrap()).collect();
    let seen: Vec<_> = got
        .iter()
        .map(|m| (m.pattern().unwrap(), m.channel(), m.payload()))
        .collect();
    assert_eq!(
        seen,
        [
            (&b"n*"[..], &b"news"[..], &b"1"[..]),
            (b"*s", b"news", b"1"),
            (b"n*", b"nx", b"4")
        ]
    );
    let m = c.try_recv().unwrap().unwrap();
    assert_eq!(
        (m.kind(), m.channel(), m.payload()),
        (Kind::Shard, &b"news"[..], &b"2"[..])
    );
    assert_eq!(c.try_recv().unwrap(), None);
}

#[test]
fn introspection_matches_pubsub_subcommands() {
    let kv = kv();
    let a = kv.subscribe(["x1", "x2", "y"]);
    let _b = kv.subscribe(["x1"]);
    let _p = kv.psubscribe(["x*", "x*", "q?"]);
    let _s = kv.ssubscribe(["sh"]);
    let mut channels = kv.pubsub_channels(Kind::Channel, Some(b"x*"));
    channels.sort();
    assert_eq!(channels, [b"x1", b"x2"]);
    assert_eq!(kv.pubsub_channels(Kind::Channel, None).len(), 3);
    assert_eq!(kv.pubsub_channels(Kind::Shard, None), [b"sh"]);
    assert_eq!(
        kv.pubsub_numsub(Kind::Channel, ["x1", "y", "x*", "sh"]),
        [2, 1, 0, 0]
    );
    assert_eq!(kv.pubsub_numsub(Kind::Shard, ["sh"]), [1]);
    let counts = kv.pubsub_counts();
    assert_eq!(
        (counts.channels, counts.patterns, counts.shard_channels),
        (3, 2, 1)
    );
    assert_eq!(a.counts().channels, 3);
    a.unsubscribe(["x2"]);
    assert_eq!(kv.pubsub_numsub(Kind::Channel, ["x2"]), [0]);
    drop(a);
    assert_eq!(kv.pubsub_counts().channels, 1, "dropping unsubscribes");
}

#[test]
fn recv_blocks_until_a_message_arrives_from_another_thread() {
    let kv = kv();
    let sub = kv.subscribe(["jobs"]);
    let publisher = {
        let kv = kv.clone();
        std::thread::spawn(move || {
            for i in 0..100 {
                kv.publish("jobs", format!("job {i}"));
            }
        })
    };
    for i in 0..100 {
        let m = sub
            .recv_timeout(PATIENCE)
            .unwrap()
            .expect("a message in time");
        assert_eq!(m.payload(), format!("job {i}").as_bytes());
    }
    publisher.join().unwrap();
    // Nothing more: a short timeout passes with nothing.
    assert_eq!(sub.recv_timeout(Duration::from_millis(10)).unwrap(), None);
    assert_eq!(sub.try_recv().unwrap(), None);
}

#[test]
fn every_subscriber_sees_concurrent_publishers_in_one_order() {
    let kv = kv();
    let subs: Vec<_> = (0..4)
        .map(|i| {
            let s = kv.subscribe(["a", "b"]);
            if i % 2 == 0 {
                s.psubscribe(["zzz*"]);
            }
            s
        })
        .collect();
    let publishers: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|ch| {
            let kv = kv.clone();
            std::thread::spawn(move || {
                for i in 0..500 {
                    assert_eq!(kv.publish(ch, format!("{ch}{i}")), 4);
                }
            })
        })
        .collect();
    let mut orders = Vec::new();
    for s in &subs {
        let order: Vec<Vec<u8>> = (0..1000)
            .map(|_| {
                s.recv_timeout(PATIENCE)
                    .unwrap()
                    .expect("in time")
                    .into_payload()
            })
            .collect();
        // Each publisher's own messages in its order.
        for ch in ["a", "b"] {
            let mine: Vec<_> = order
                .iter()
                .filter(|p| p.starts_with(ch.as_bytes()))
                .collect();
            let want: Vec<Vec<u8>> = (0..500).map(|i| format!("{ch}{i}").into_bytes()).collect();
            assert_eq!(mine, want.iter().collect::<Vec<_>>());
        }
        orders.push(order);
    }
    for p in publishers {
        p.join().unwrap();
    }
    assert!(orders.windows(2).all(|w| w[0] == w[1]), "one global order");
}

#[test]
fn iterator_yields_messages_in_order() {
    let kv = kv();
    let sub = kv.subscribe(["it"]);
    for i in 0..5 {
        kv.publish("it", i.to_string());
    }
    let got: Vec<Vec<u8>> = sub.iter().take(5).map(|m| m.into_payload()).collect();
    assert_eq!(got, [b"0", b"1", b"2", b"3", b"4"]);
}

#[test]
fn a_subscriber_that_does_not_read_is_cut_off_at_its_bound() {
    let kv = kv();
    let payload = vec![b'x'; 1000];
    let slow = kv.subscription(SubscriptionOptions::new().max_pending_bytes(10_000));
    slow.subscribe(["feed"]);
    let fast = kv.subscribe(["feed"]);
    let mut cut_at = None;
    for i in 0..100 {
        let receivers = kv.publish("feed", &payload);
        assert_eq!(fast.try_recv().unwrap().unwrap().payload(), &payload[..]);
        if receivers == 1 && cut_at.is_none() {
            cut_at = Some(i);
        }
    }
    // About ten 1000-byte messages fit in 10 000 bytes; the one after them closed it.
    let cut_at = cut_at.expect("the slow subscriber was cut off");
    assert!(
        (5..=10).contains(&cut_at),
        "cut off after {cut_at} messages"
    );
    assert!(slow.counts().total() == 0, "it lost its subscriptions");
    assert_eq!(slow.pending(), cut_at - 1);
    let queued: Vec<_> = std::iter::from_fn(|| slow.try_recv().transpose())
        .map_while(Result::ok)
        .collect();
    assert_eq!(
        queued.len(),
        cut_at - 1,
        "what was queued can still be read"
    );
    assert_eq!(
        slow.recv(),
        Err(Error::SubscriptionOverflowed { limit: 10_000 })
    );
    assert_eq!(slow.iter().count(), 0);
    // Closed for good; the store's other subscribers are unaffected.
    slow.subscribe(["feed"]);
    assert_eq!(kv.publish("feed", "after"), 1);
    assert_eq!(fast.recv().unwrap().payload(), b"after");
}

#[test]
fn a_custom_sink_shares_the_bus_with_subscriptions() {
    use kvcore::{Delivery, Event, Sink};
    use std::sync::Mutex;

    #[derive(Default)]
    struct Lines(Mutex<Vec<String>>, Mutex<usize>);
    impl Sink for Lines {
        fn deliver(&self, event: &Event<'_>) -> Delivery {
            if let Event::Message { payload, .. } = event {
                let line = String::from_utf8_lossy(payload).into_owned();
                self.0.lock().unwrap().push(line);
            }
            Delivery::Flush
        }
        fn flush(&self) {
            *self.1.lock().unwrap() += 1;
        }
    }

    let kv = kv();
    let lines = Arc::new(Lines::default());
    let sub = kv.subscriber(lines.clone());
    sub.subscribe(["log"]);
    let program = kv.subscribe(["log"]);
    let mut pending = kvcore::PendingFlush::new();
    for i in 0..3 {
        assert_eq!(
            kv.publish_deferred("log", format!("line {i}"), &mut pending),
            2
        );
    }
    let flushes_before = *lines.1.lock().unwrap();
    pending.flush();
    // One flush per sink for the three publishes.
    assert_eq!(*lines.1.lock().unwrap(), flushes_before + 1);
    assert_eq!(lines.0.lock().unwrap().len(), 3);
    assert_eq!(program.pending(), 3);
}
