//! Consumer groups survive `kill -9` of a server started with `--sync always`. A worker adds
//! entries (XADD), reads them through a group as one of two consumers (XREADGROUP), claims some
//! for the other consumer (XCLAIM with TIME) and acknowledges some (XACK), keeping a model of
//! what the server acknowledged. The server is killed at a random moment (in some cycles after
//! a snapshot), restarted on the same data directory, and the group is compared with the model:
//! every acknowledged entry is there, every acknowledged delivery is pending with its consumer,
//! delivery count and (for claims) delivery time, every acknowledged XACK stays acknowledged,
//! and the last-delivered ID is the last one delivered. The single operation in flight at the
//! kill may or may not have been applied.

use std::collections::BTreeMap;
use std::time::Duration;

use redis::Value;

use super::support::{Server, TempDir};

/// The group as the server must show it: pending ID → (consumer, deliveries, claim time).
#[derive(Clone, Debug, Default, PartialEq)]
struct Model {
    /// Entry IDs `n-1`, as `n` (0 is no entry: `0-0`).
    entries: Vec<u64>,
    pending: BTreeMap<u64, (String, i64, Option<i64>)>,
    last_delivered: u64,
}

#[derive(Clone, Debug)]
enum Op {
    Add(u64),
    Read(String),
    Claim(String, u64, i64),
    Ack(u64),
}

fn id_of(n: u64) -> String {
    format!("{n}-1")
}

fn num(id: &str) -> u64 {
    if id == "0-0" {
        return 0;
    }
    id.strip_suffix("-1").unwrap().parse().unwrap()
}

/// The next operation and what the model becomes if it is acknowledged.
fn step(model: &Model, next_id: &mut u64, rng: &mut u64) -> (Op, Model) {
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    let mut m = model.clone();
    let undelivered = m.entries.iter().any(|e| *e > m.last_delivered);
    let op = match *rng % 10 {
        0..=3 => {
            *next_id += 1;
            m.entries.push(*next_id);
            Op::Add(*next_id)
        }
        4..=6 if undelivered => {
            let id = *m.entries.iter().find(|e| **e > m.last_delivered).unwrap();
            let consumer = if rng.is_multiple_of(2) {
                "alice"
            } else {
                "bob"
            };
            m.pending.insert(id, (consumer.to_string(), 1, None));
            m.last_delivered = id;
            Op::Read(consumer.to_string())
        }
        7 if !m.pending.is_empty() => {
            let ids: Vec<u64> = m.pending.keys().copied().collect();
            let id = ids[(*rng / 16) as usize % ids.len()];
            let time = 1_000 + (*rng % 1000) as i64;
            let p = m.pending.get_mut(&id).unwrap();
            // JUSTID leaves the delivery count alone.
            *p = ("carol".to_string(), p.1, Some(time));
            Op::Claim("carol".to_string(), id, time)
        }
        8 | 9 if !m.pending.is_empty() => {
            let id = *m.pending.keys().next().unwrap();
            m.pending.remove(&id);
            Op::Ack(id)
        }
        _ => {
            *next_id += 1;
            m.entries.push(*next_id);
            Op::Add(*next_id)
        }
    };
    (op, m)
}

fn send(con: &mut redis::Connection, op: &Op) -> redis::RedisResult<Value> {
    let c = match op {
        Op::Add(id) => {
            let mut c = redis::cmd("XADD");
            c.arg("s").arg(id_of(*id)).arg("f").arg(*id);
            c
        }
        Op::Read(consumer) => {
            let mut c = redis::cmd("XREADGROUP");
            c.arg("GROUP").arg("g").arg(consumer).arg("COUNT").arg(1);
            c.arg("STREAMS").arg("s").arg(">");
            c
        }
        Op::Claim(consumer, id, time) => {
            let mut c = redis::cmd("XCLAIM");
            c.arg("s").arg("g").arg(consumer).arg(0).arg(id_of(*id));
            c.arg("TIME").arg(*time).arg("JUSTID");
            c
        }
        Op::Ack(id) => {
            let mut c = redis::cmd("XACK");
            c.arg("s").arg("g").arg(id_of(*id));
            c
        }
    };
    c.query(con)
}

/// Runs operations until the connection breaks; returns the acknowledged model and the
/// operation in flight (with the model it would have made).
fn work(mut con: redis::Connection, mut model: Model, seed: u64) -> (Model, Option<Model>, usize) {
    let mut rng = seed | 1;
    let mut next_id = model.entries.last().copied().unwrap_or(0);
    let mut acked = 0;
    loop {
        let (op, after) = step(&model, &mut next_id, &mut rng);
        match send(&mut con, &op) {
            Ok(reply) => {
                // The claims and reads answer what the model predicted.
                if let Op::Claim(_, id, _) = &op {
                    assert_eq!(
                        reply,
                        Value::Array(vec![Value::BulkString(id_of(*id).into())])
                    );
                }
                model = after;
                acked += 1;
            }
            Err(_) => return (model, Some(after), acked),
        }
    }
}

fn observe(con: &mut redis::Connection) -> Model {
    let range: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg("s")
        .arg("-")
        .arg("+")
        .query(con)
        .unwrap();
    let pending: Vec<(String, String, i64, i64)> = redis::cmd("XPENDING")
        .arg("s")
        .arg("g")
        .arg("-")
        .arg("+")
        .arg(1_000_000)
        .query(con)
        .unwrap();
    // Delivery times: XINFO STREAM FULL shows them; a claim's is its TIME.
    let full: Value = redis::cmd("XINFO")
        .arg("STREAM")
        .arg("s")
        .arg("FULL")
        .arg("COUNT")
        .arg(0)
        .query(con)
        .unwrap();
    let Value::Array(full) = full else {
        panic!("{full:?}")
    };
    let Value::Array(groups) = &full[17] else {
        panic!("{full:?}")
    };
    let Value::Array(group) = &groups[0] else {
        panic!("{groups:?}")
    };
    let last_delivered: String = redis::from_redis_value(group[3].clone()).unwrap();
    let last_delivered = num(&last_delivered);
    let Value::Array(pel) = &group[11] else {
        panic!("{group:?}")
    };
    let times: BTreeMap<u64, i64> = pel
        .iter()
        .map(|p| {
            let (id, _, time, _): (String, String, i64, i64) =
                redis::from_redis_value(p.clone()).unwrap();
            (num(&id), time)
        })
        .collect();
    Model {
        entries: range.into_iter().map(|(id, _)| num(&id)).collect(),
        pending: pending
            .into_iter()
            .map(|(id, consumer, _, n)| {
                let id = num(&id);
                let claimed = (consumer == "carol").then(|| times[&id]);
                (id, (consumer, n, claimed))
            })
            .collect(),
        last_delivered,
    }
}

#[test]
fn groups_survive_kill_9_with_always() {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("crash_groups: seed {seed}");
    let dir = TempDir::new("crash-groups");
    let mut model = Model::default();
    let mut in_flight: Option<Model> = None;
    let mut acked = 0;
    for cycle in 0..=5u64 {
        let server = Server::durable(&dir, "always");
        let mut con = server.client();
        if cycle == 0 {
            let _: () = redis::cmd("XGROUP")
                .arg("CREATE")
                .arg("s")
                .arg("g")
                .arg("$")
                .arg("MKSTREAM")
                .query(&mut con)
                .unwrap();
        }
        let got = observe(&mut con);
        if got != model {
            assert_eq!(
                Some(&got),
                in_flight.as_ref(),
                "seed {seed}, restart {cycle}: the group lost or invented state; acknowledged: {model:?}"
            );
            model = got;
        }
        if cycle == 5 {
            break;
        }
        if cycle % 2 == 1 {
            let _: Value = redis::cmd("SAVE").query(&mut con).unwrap();
        }
        let worker = {
            let (con, model) = (server.client(), model.clone());
            let seed = seed.wrapping_add(cycle.wrapping_mul(0x9e37_79b9));
            std::thread::spawn(move || work(con, model, seed))
        };
        std::thread::sleep(Duration::from_millis(100 + seed % 150));
        drop(server); // SIGKILL
        let (m, f, n) = worker.join().unwrap();
        model = m;
        in_flight = f;
        acked += n;
    }
    eprintln!("crash_groups: {acked} acknowledged operations over 5 kills");
    assert!(acked > 20, "too few operations were acknowledged: {acked}");
    assert!(!model.pending.is_empty() || !model.entries.is_empty());
}
