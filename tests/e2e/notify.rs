//! Keyspace notifications as Redis publishes them: `tests/e2e/notify.txt` holds the events
//! redis-server 7.0.15 published for a 200-command script (recorded by `tools/diffnotify.py
//! --record`); this test replays the script against kvserver and compares, command by
//! command, what a subscriber to both channel families receives.
//!
//! `expired` events are compared as one list over the whole run rather than per command:
//! when Redis reclaims an expired key depends on its timer (and kv reclaims a key written with
//! a deadline already past at once). The script ends by reading every key it let expire, so
//! both servers have reported each by then.

use std::time::Duration;

use super::support::{Raw, Server, resp};

const RECORDING: &str = include_str!("notify.txt");
const MARK: &[u8] = b"diffnotify-mark";

/// One subscriber message: (channel, payload).
fn pmessage(sub: &mut Raw) -> (Vec<u8>, Vec<u8>) {
    assert_eq!(sub.read_line(), "*4\r\n");
    assert_eq!(sub.read_bulk(), b"pmessage");
    let _pattern = sub.read_bulk();
    (sub.read_bulk(), sub.read_bulk())
}

/// The events the subscriber got up to the marker published after `line`, as the recording
/// writes them: `event key`, with ` dbN` outside database 0. Checks that each keyevent
/// message comes right after its keyspace twin.
fn events_until_mark(sub: &mut Raw, line: &str) -> Vec<String> {
    let mut events = Vec::new();
    let mut pending: Option<(String, Vec<u8>, Vec<u8>)> = None;
    loop {
        let (channel, payload) = pmessage(sub);
        if channel == MARK {
            assert_eq!(payload, line.as_bytes(), "the marker of another command");
            assert!(
                pending.is_none(),
                "{line}: a keyspace message without its keyevent twin"
            );
            return events;
        }
        let text = String::from_utf8(channel).expect("utf-8 channel");
        let (family, name) = text.split_once(':').expect("a notification channel");
        if let Some(db) = family.strip_prefix("__keyspace@") {
            assert!(pending.is_none(), "{line}: two keyspace messages in a row");
            pending = Some((db.to_string(), name.as_bytes().to_vec(), payload));
        } else {
            let db = family
                .strip_prefix("__keyevent@")
                .expect("keyevent")
                .to_string();
            let twin = pending.take().expect("keyspace message first");
            assert_eq!(
                twin,
                (db.clone(), payload.clone(), name.as_bytes().to_vec()),
                "{line}: the keyevent message does not match its keyspace twin"
            );
            let db = db.trim_end_matches("__");
            let key = String::from_utf8(payload).expect("utf-8 key");
            events.push(if db == "0" {
                format!("{name} {key}")
            } else {
                format!("{name} {key} db{db}")
            });
        }
    }
}

fn split(line: &str) -> Vec<Vec<u8>> {
    line.split_whitespace()
        .map(|w| {
            if w == "''" {
                Vec::new()
            } else {
                w.as_bytes().to_vec()
            }
        })
        .collect()
}

#[test]
fn keyspace_events_match_redis() {
    let server = Server::start(&["--notify-keyspace-events", "KEAmn"]);
    let mut con = server.client();
    let mut sub = server.raw();
    sub.send(&resp(&[b"PSUBSCRIBE", b"__key*__:*", MARK]));
    for _ in 0..2 {
        assert_eq!(sub.read_line(), "*3\r\n");
        sub.read_bulk();
        sub.read_bulk();
        sub.read_line();
    }
    let (mut want_expired, mut got_expired) = (Vec::new(), Vec::new());
    let mut commands = 0;
    for entry in RECORDING.lines().filter(|l| !l.starts_with('#')) {
        if let Some(ms) = entry.strip_prefix("sleep ") {
            // Lets keys expire on their own, as in the recording (the events are compared
            // whenever they come, never how soon).
            std::thread::sleep(Duration::from_millis(ms.parse().unwrap()));
            continue;
        }
        let (line, recorded) = entry.split_once(" =>").expect("COMMAND => events");
        let args = split(line);
        let mut cmd = redis::cmd(std::str::from_utf8(&args[0]).unwrap());
        for a in &args[1..] {
            cmd.arg(a.as_slice());
        }
        // Errors are replies like any other here; only the events are compared.
        let _: redis::RedisResult<redis::Value> = cmd.query(&mut con);
        let _: i64 = redis::cmd("PUBLISH")
            .arg(MARK)
            .arg(line)
            .query(&mut con)
            .unwrap();
        let (expired, got): (Vec<_>, Vec<_>) = events_until_mark(&mut sub, line)
            .into_iter()
            .partition(|e| e.starts_with("expired "));
        got_expired.extend(expired);
        let (expired, want): (Vec<_>, Vec<_>) = recorded
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(str::to_string)
            .partition(|e| e.starts_with("expired "));
        want_expired.extend(expired);
        assert_eq!(got, want, "events of {line}");
        commands += 1;
    }
    want_expired.sort();
    got_expired.sort();
    assert_eq!(got_expired, want_expired, "expired events over the run");
    assert!(
        commands > 150,
        "the recording has its commands ({commands})"
    );
}
