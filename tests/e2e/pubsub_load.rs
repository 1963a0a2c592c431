//! Pub/sub under load: hundreds of subscribers, channels and patterns mixed, every one gets
//! every message in the one order of the bus; a subscriber that stops reading is cut off at
//! `client-output-buffer-limit pubsub` (hard, and soft held too long) while the others get
//! everything and publishers never wait for it. No timing is asserted: every wait is for a
//! condition, with the generous deadline of the socket read timeout.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use super::support::{PATIENCE, Raw, Server, resp};

/// One RESP2 array of bulk strings (what a RESP2 subscriber receives), or `None` at the end
/// of the stream.
fn read_array(r: &mut impl BufRead) -> Option<Vec<Vec<u8>>> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let n: usize = line
        .strip_prefix('*')
        .and_then(|l| l.trim_end().parse().ok())
        .unwrap_or_else(|| panic!("expected an array header, got {line:?}"));
    let mut items = Vec::with_capacity(n);
    for _ in 0..n {
        line.clear();
        r.read_line(&mut line).ok()?;
        if let Some(int) = line.strip_prefix(':') {
            items.push(int.trim_end().as_bytes().to_vec());
            continue;
        }
        let len: usize = line
            .strip_prefix('$')
            .and_then(|l| l.trim_end().parse().ok())
            .unwrap_or_else(|| panic!("expected a bulk header, got {line:?}"));
        let mut body = vec![0; len + 2];
        r.read_exact(&mut body).ok()?;
        body.truncate(len);
        items.push(body);
    }
    Some(items)
}

/// A connection with its subscriptions confirmed.
fn subscriber(server: &Server, channels: &[&[u8]], patterns: &[&[u8]]) -> BufReader<TcpStream> {
    let mut raw = server.raw();
    if !channels.is_empty() {
        raw.send(&resp(&[&[b"SUBSCRIBE".as_slice()], channels].concat()));
    }
    if !patterns.is_empty() {
        raw.send(&resp(&[&[b"PSUBSCRIBE".as_slice()], patterns].concat()));
    }
    let mut r = BufReader::new(raw.stream);
    for _ in 0..channels.len() + patterns.len() {
        let confirmation = read_array(&mut r).expect("a confirmation");
        assert!(confirmation[0].ends_with(b"subscribe"), "{confirmation:?}");
    }
    r
}

/// Reads one integer reply.
fn read_int(r: &mut impl BufRead) -> i64 {
    let mut line = String::new();
    r.read_line(&mut line).expect("a reply");
    line.strip_prefix(':')
        .and_then(|l| l.trim_end().parse().ok())
        .unwrap_or_else(|| panic!("expected an integer reply, got {line:?}"))
}

#[test]
fn hundreds_of_subscribers_get_every_message_in_one_order() {
    const SUBSCRIBERS: usize = 300;
    const PUBLISHERS: usize = 2;
    const MESSAGES: usize = 200;
    let server = Server::start(&["--maxclients", "1000"]);
    // A third listen to the channel, a third to a pattern, a third to both (two copies each).
    let subs: Vec<_> = (0..SUBSCRIBERS)
        .map(|i| match i % 3 {
            0 => subscriber(&server, &[b"news"], &[]),
            1 => subscriber(&server, &[], &[b"n*"]),
            _ => subscriber(&server, &[b"news", b"other"], &[b"ne?s"]),
        })
        .collect();
    let receivers = SUBSCRIBERS + SUBSCRIBERS / 3;
    let readers: Vec<_> = subs
        .into_iter()
        .enumerate()
        .map(|(i, mut r)| {
            std::thread::Builder::new()
                .stack_size(128 * 1024)
                .spawn(move || {
                    let mut order = Vec::new();
                    for n in 0..PUBLISHERS * MESSAGES {
                        let m = read_array(&mut r)
                            .unwrap_or_else(|| panic!("subscriber {i}: the end after {n}"));
                        let payload = m.last().unwrap().clone();
                        let want: Vec<&[u8]> = match i % 3 {
                            1 => vec![b"pmessage", b"n*", b"news", &payload],
                            _ => vec![b"message", b"news", &payload],
                        };
                        assert_eq!(m, want, "subscriber {i}");
                        if i % 3 == 2 {
                            // The channel's copy first, then the pattern's, as in Redis.
                            let p = read_array(&mut r).expect("the pattern's copy");
                            assert_eq!(p, [&b"pmessage"[..], b"ne?s", b"news", &payload]);
                        }
                        order.push(payload);
                    }
                    order
                })
                .unwrap()
        })
        .collect();
    // Publishers pipeline their messages in bursts; every PUBLISH counts every subscription.
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let mut raw = server.raw();
            std::thread::spawn(move || {
                let mut r = BufReader::new(raw.stream.try_clone().unwrap());
                for burst in (0..MESSAGES).collect::<Vec<_>>().chunks(25) {
                    let batch: Vec<u8> = burst
                        .iter()
                        .flat_map(|k| resp(&[b"PUBLISH", b"news", format!("p{p}-{k}").as_bytes()]))
                        .collect();
                    raw.send(&batch);
                    for _ in burst {
                        assert_eq!(read_int(&mut r), receivers as i64);
                    }
                }
            })
        })
        .collect();
    for p in publishers {
        p.join().unwrap();
    }
    let orders: Vec<Vec<Vec<u8>>> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    for (i, order) in orders.iter().enumerate() {
        // Every message, each publisher's in the order it published them...
        for p in 0..PUBLISHERS {
            let prefix = format!("p{p}-");
            let mine: Vec<&[u8]> = order
                .iter()
                .filter(|m| m.starts_with(prefix.as_bytes()))
                .map(Vec::as_slice)
                .collect();
            let want: Vec<Vec<u8>> = (0..MESSAGES)
                .map(|k| format!("p{p}-{k}").into_bytes())
                .collect();
            assert_eq!(
                mine,
                want.iter().map(Vec::as_slice).collect::<Vec<_>>(),
                "subscriber {i}"
            );
        }
        // ...and all subscribers in the same interleaving: the bus's one order.
        assert_eq!(
            order, &orders[0],
            "subscriber {i} saw another order than subscriber 0"
        );
    }
}

/// Reads a connection to its end (the server closed it); what was in flight is discarded.
fn read_to_end(stream: &mut TcpStream) {
    let mut sink = vec![0; 1 << 16];
    loop {
        match stream.read(&mut sink) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return,
            Err(e) => panic!("the cut-off subscriber's connection did not end: {e}"),
        }
    }
}

fn info_field(raw: &mut Raw, field: &str) -> String {
    raw.send(&resp(&[b"INFO", b"stats"]));
    let text = String::from_utf8(raw.read_bulk()).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("{text}"));
    line.split_once(':').unwrap().1.to_string()
}

#[test]
fn a_subscriber_that_stops_reading_is_cut_off_and_the_others_get_everything() {
    let server = Server::start(&[]);
    let mut admin = server.raw();
    admin.roundtrip(
        &resp(&[
            b"CONFIG",
            b"SET",
            b"client-output-buffer-limit",
            b"pubsub 1mb 0 0",
        ]),
        b"+OK\r\n",
    );
    let mut stuck = subscriber(&server, &[b"feed"], &[]);
    const FAST: usize = 3;
    let fast: Vec<_> = (0..FAST)
        .map(|_| subscriber(&server, &[b"feed"], &[]))
        .collect();
    // The fast ones read everything until the marker that follows the cut-off.
    let readers: Vec<_> = fast
        .into_iter()
        .map(|mut r| {
            std::thread::spawn(move || {
                let mut got = 0usize;
                loop {
                    let m = read_array(&mut r).expect("a message");
                    if m[2] == b"end" {
                        return got;
                    }
                    assert_eq!(m[2].len(), 16 * 1024);
                    assert_eq!(
                        &m[2][..8],
                        format!("{got:08}").as_bytes(),
                        "in order, none lost"
                    );
                    got += 1;
                }
            })
        })
        .collect();
    // The stuck one reads nothing: the socket buffers fill (some MiB on loopback), then its
    // queue, until the hard limit cuts it off and PUBLISH counts only the fast ones. (1 MiB,
    // no soft limit: a fast reader descheduled for a moment on a busy machine has room.)
    let mut publisher = server.raw();
    let mut published = 0;
    let mut r = BufReader::new(publisher.stream.try_clone().unwrap());
    let cut_at = loop {
        let mut payload = format!("{published:08}").into_bytes();
        payload.resize(16 * 1024, b'.');
        publisher.send(&resp(&[b"PUBLISH", b"feed", &payload]));
        published += 1;
        match read_int(&mut r) {
            n if n == FAST as i64 + 1 => assert!(published < 100_000, "never cut off"),
            n if n == FAST as i64 => break published,
            n => panic!("PUBLISH answered {n}"),
        }
    };
    publisher.send(&resp(&[b"PUBLISH", b"feed", b"end"]));
    assert_eq!(read_int(&mut r), FAST as i64);
    for reader in readers {
        assert_eq!(
            reader.join().unwrap(),
            cut_at,
            "a fast subscriber missed messages"
        );
    }
    // The stuck one's connection ends; the cut-off was logged and counted as Redis does.
    read_to_end(stuck.get_mut());
    let log = server.log_with("client-output-buffer-limit pubsub");
    assert!(
        log.contains("scheduled to be closed ASAP for overcoming of output buffer limits"),
        "{log}"
    );
    assert_eq!(
        info_field(&mut admin, "client_output_buffer_limit_disconnections"),
        "1"
    );
}

#[test]
fn a_subscriber_over_the_soft_limit_for_too_long_is_cut_off_without_new_messages() {
    let server = Server::start(&[]);
    let mut admin = server.raw();
    // No hard limit; 64 KiB held for more than a second is too much.
    admin.roundtrip(
        &resp(&[
            b"CONFIG",
            b"SET",
            b"client-output-buffer-limit",
            b"pubsub 0 64kb 1",
        ]),
        b"+OK\r\n",
    );
    let mut stuck = subscriber(&server, &[b"feed"], &[]);
    let mut publisher = server.raw();
    let mut r = BufReader::new(publisher.stream.try_clone().unwrap());
    let payload = vec![b'x'; 64 * 1024];
    // Fill the socket buffers and then the queue past the soft limit; stop publishing as soon
    // as CLIENT LIST shows output waiting in the queue.
    let started = Instant::now();
    loop {
        publisher.send(&resp(&[b"PUBLISH", b"feed", &payload]));
        assert_eq!(read_int(&mut r), 1);
        admin.send(&resp(&[b"CLIENT", b"LIST", b"TYPE", b"pubsub"]));
        let list = String::from_utf8(admin.read_bulk()).unwrap();
        let omem: u64 = list
            .split(' ')
            .find_map(|f| f.strip_prefix("omem="))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{list}"));
        if omem >= 64 * 1024 {
            assert!(
                list.contains(" flags=P ") && list.contains(" sub=1 "),
                "{list}"
            );
            break;
        }
        assert!(started.elapsed() < PATIENCE, "the queue never grew: {list}");
    }
    // Nothing more is published: the subscriber's own thread notices the soft limit held past
    // its second and cuts it off. (Reading its socket before that would let it catch up.)
    let log = server.log_with("client-output-buffer-limit pubsub 0 65536 1");
    assert!(log.contains("over the soft limit 65536 for 1s"), "{log}");
    read_to_end(stuck.get_mut());
    publisher.send(&resp(&[b"PUBLISH", b"feed", b"x"]));
    assert_eq!(read_int(&mut r), 0);
    let _ = publisher.stream.flush();
}
