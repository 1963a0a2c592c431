//! A load generator for command sequences redis-benchmark cannot send, such as a whole
//! transaction (MULTI, three INCRs, EXEC) per request: each client thread sends the sequence
//! (`--pipeline` copies of it at once), waits for every reply, and repeats until the clients
//! together have completed `--requests` sequences. Prints redis-benchmark's CSV shape
//! (`"test","rps",` then the average, minimum, p50, p95, p99 and maximum latency in ms), which
//! `tools/bench-vs-redis` and `tools/bench_raft.py` read, so kvserver and Redis are measured
//! with the same client. A sequence's latency runs from the moment its batch (the
//! `--pipeline` copies sent together) starts going out until the sequence's last reply is in.
//!
//! ```text
//! cargo run --release -p kvserver --example loadgen -- --port 6380 --clients 50 \
//!     --requests 100000 'MULTI;INCR a;INCR b;INCR c;EXEC'
//! ```
//!
//! Words are split on spaces; `__rand__` in a word becomes a random number below `--keyspace`
//! for each sequence, so clients can spread over keys, and `__client__` the client's number
//! (0 to `--clients` - 1), so each client can name its own consumer. A word `__ids__` becomes
//! the stream IDs of the entries in the previous command's reply (an XREADGROUP's, say), one
//! word each: the commands before it are sent and answered first, so a read-then-XACK sequence
//! costs two round trips, and `--pipeline` must be 1. A reply without entries fails the run
//! (a drained stream would otherwise be measured as empty reads). Any error reply fails it too.
//!
//! `--trace FILE` also writes every sequence as a line `start latency client`: when its batch
//! went out (microseconds since the run began), its latency in microseconds, and the client's
//! number. Slow sequences that cluster in time point at the server (or the machine) stalling
//! everybody at once rather than at one client's bad luck.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use kvproto::{Frame, Limits, Status, decode_frame};

struct Args {
    host: String,
    port: u16,
    clients: usize,
    requests: u64,
    pipeline: usize,
    keyspace: u64,
    name: Option<String>,
    trace: Option<String>,
    sequence: String,
}

fn parse_args() -> Args {
    let mut a = Args {
        host: "127.0.0.1".into(),
        port: 6380,
        clients: 50,
        requests: 100_000,
        pipeline: 1,
        keyspace: 0,
        name: None,
        trace: None,
        sequence: String::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{arg} needs a value")))
        };
        match arg.as_str() {
            "--host" => a.host = value(),
            "--port" => a.port = value().parse().unwrap_or_else(|_| usage("bad --port")),
            "--clients" => a.clients = value().parse().unwrap_or_else(|_| usage("bad --clients")),
            "--requests" => {
                a.requests = value().parse().unwrap_or_else(|_| usage("bad --requests"));
            }
            "--pipeline" => {
                a.pipeline = value().parse().unwrap_or_else(|_| usage("bad --pipeline"));
            }
            "--keyspace" => {
                a.keyspace = value().parse().unwrap_or_else(|_| usage("bad --keyspace"));
            }
            "--name" => a.name = Some(value()),
            "--trace" => a.trace = Some(value()),
            s if !s.starts_with("--") && a.sequence.is_empty() => a.sequence = s.to_string(),
            s => usage(&format!("unknown argument {s}")),
        }
    }
    if a.sequence.is_empty() || a.clients == 0 || a.pipeline == 0 {
        usage("a non-empty sequence, at least one client and a pipeline of at least 1");
    }
    a
}

fn usage(why: &str) -> ! {
    eprintln!(
        "loadgen: {why}\nusage: loadgen [--host H] [--port P] [--clients C] [--requests N] \
         [--pipeline P] [--keyspace K] [--name TEST] [--trace FILE] 'CMD arg ...;CMD arg ...'"
    );
    std::process::exit(2);
}

/// One RESP array request for a command, `__rand__` replaced by `r`, `__client__` by `client`
/// and a word `__ids__` by the words of `ids`.
fn encode(words: &[String], r: u64, client: usize, ids: &[Vec<u8>], out: &mut Vec<u8>) {
    let count: usize = words
        .iter()
        .map(|w| if w == "__ids__" { ids.len() } else { 1 })
        .sum();
    out.extend_from_slice(format!("*{count}\r\n").as_bytes());
    for w in words {
        if w == "__ids__" {
            for id in ids {
                out.extend_from_slice(format!("${}\r\n", id.len()).as_bytes());
                out.extend_from_slice(id);
                out.extend_from_slice(b"\r\n");
            }
            continue;
        }
        let w = w
            .replace("__rand__", &r.to_string())
            .replace("__client__", &client.to_string());
        out.extend_from_slice(format!("${}\r\n{w}\r\n", w.len()).as_bytes());
    }
}

/// Collects into `ids` the IDs of the stream entries in a reply: the first element of every
/// `[id, fields]` pair, at any depth (XREADGROUP's `[[key, [[id, fields], ...]]]`, XRANGE's
/// `[[id, fields], ...]`, RESP3's maps of streams alike).
fn entry_ids(frame: &Frame, ids: &mut Vec<Vec<u8>>) {
    match frame {
        Frame::Array(items) => {
            if let [
                Frame::Bulk(id),
                Frame::Array(_) | Frame::Null | Frame::NullArray,
            ] = &items[..]
                && id.contains(&b'-')
                && id.iter().all(|b| b.is_ascii_digit() || *b == b'-')
            {
                ids.push(id.clone());
                return;
            }
            for item in items {
                entry_ids(item, ids);
            }
        }
        Frame::Map(pairs) => {
            for (_, v) in pairs {
                entry_ids(v, ids);
            }
        }
        _ => {}
    }
}

/// Reads until `n` complete replies arrived and returns the last; panics on an error reply or
/// a closed connection. With `per` > 0, every `per`-th reply ends a sequence: its latency
/// since `sent` goes into `lat` (microseconds).
fn read_replies(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    n: usize,
    per: usize,
    sent: Instant,
    lat: &mut Vec<u32>,
) -> Option<Frame> {
    let limits = Limits::default();
    let mut got = 0;
    let mut start = 0;
    let mut last = None;
    let mut chunk = [0u8; 64 * 1024];
    while got < n {
        loop {
            match decode_frame(&buf[start..], &limits) {
                Ok(Status::Complete((frame, used))) => {
                    if let Frame::Error(e) | Frame::BulkError(e) = &frame {
                        panic!("error reply: {}", String::from_utf8_lossy(e));
                    }
                    start += used;
                    got += 1;
                    if per > 0 && got % per == 0 {
                        let us = sent.elapsed().as_micros();
                        lat.push(u32::try_from(us).unwrap_or(u32::MAX));
                    }
                    last = Some(frame);
                    if got == n {
                        break;
                    }
                }
                Ok(Status::Incomplete) => break,
                Err(e) => panic!("bad reply: {e}"),
            }
        }
        if got == n {
            break;
        }
        let read = stream.read(&mut chunk).expect("read a reply");
        assert!(read > 0, "the server closed the connection");
        buf.extend_from_slice(&chunk[..read]);
    }
    buf.drain(..start);
    last
}

fn main() {
    let args = parse_args();
    let commands: Vec<Vec<String>> = args
        .sequence
        .split(';')
        .map(|c| c.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .filter(|c| !c.is_empty())
        .collect();
    let needs_ids = commands.iter().any(|c| c.iter().any(|w| w == "__ids__"));
    if needs_ids && args.pipeline != 1 {
        usage("a sequence with __ids__ takes --pipeline 1");
    }
    let args = Arc::new(args);
    let commands = Arc::new(commands);
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let threads: Vec<_> = (0..args.clients)
        .map(|c| {
            let (args, commands, done) = (args.clone(), commands.clone(), done.clone());
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect((args.host.as_str(), args.port))
                    .expect("connect to the server");
                stream.set_nodelay(true).expect("TCP_NODELAY");
                let (mut out, mut inbuf) = (Vec::new(), Vec::new());
                // A cheap per-client generator for `__rand__`.
                let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ (c as u64 + 1);
                let mut ids = Vec::new();
                let mut lat = Vec::new();
                let mut starts = Vec::new();
                while done.fetch_add(args.pipeline as u64, Ordering::Relaxed) < args.requests {
                    out.clear();
                    let sent = Instant::now();
                    let mut queued = 0;
                    for _ in 0..args.pipeline {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        let r = x % args.keyspace.max(1);
                        for words in commands.iter() {
                            if words.iter().any(|w| w == "__ids__") {
                                // The previous reply's IDs: send what is queued, wait for it.
                                stream.write_all(&out).expect("send");
                                out.clear();
                                // (`--pipeline` is 1 here: the sequence ends later.)
                                let last = read_replies(
                                    &mut stream,
                                    &mut inbuf,
                                    queued,
                                    0,
                                    sent,
                                    &mut lat,
                                );
                                queued = 0;
                                ids.clear();
                                entry_ids(&last.expect("a command before __ids__"), &mut ids);
                                assert!(!ids.is_empty(), "no entries to use for __ids__");
                            }
                            encode(words, r, c, &ids, &mut out);
                            queued += 1;
                        }
                    }
                    stream.write_all(&out).expect("send");
                    // The replies still awaited end the sequences of this batch (all of them
                    // at `--pipeline` 1 with `__ids__`, where `queued` is its tail).
                    let per = (queued / args.pipeline).max(1);
                    let before = lat.len();
                    read_replies(&mut stream, &mut inbuf, queued, per, sent, &mut lat);
                    let at = sent.duration_since(started).as_micros() as u64;
                    starts.resize(starts.len() + lat.len() - before, at);
                }
                (lat, starts)
            })
        })
        .collect();
    let mut lat: Vec<u32> = Vec::new();
    let mut trace = String::new();
    for (c, t) in threads.into_iter().enumerate() {
        let (l, starts) = t.join().expect("a client thread failed");
        if args.trace.is_some() {
            for (us, at) in l.iter().zip(&starts) {
                trace.push_str(&format!("{at} {us} {c}\n"));
            }
        }
        lat.extend(l);
    }
    let secs = started.elapsed().as_secs_f64();
    if let Some(path) = &args.trace {
        std::fs::write(path, trace).expect("write the trace");
    }
    let rps = args.requests as f64 / secs;
    let name = args.name.clone().unwrap_or_else(|| args.sequence.clone());
    lat.sort_unstable();
    if lat.is_empty() {
        lat.push(0); // `--requests 0`: nothing was timed
    }
    let ms = |us: u32| f64::from(us) / 1000.0;
    // The nearest-rank percentile.
    let at = |q: f64| ms(lat[((q * lat.len() as f64).ceil() as usize).clamp(1, lat.len()) - 1]);
    let avg = lat.iter().map(|&us| f64::from(us)).sum::<f64>() / lat.len() as f64 / 1000.0;
    println!(
        "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\",\
         \"p95_latency_ms\",\"p99_latency_ms\",\"max_latency_ms\""
    );
    println!(
        "\"{name}\",\"{rps:.2}\",\"{avg:.3}\",\"{:.3}\",\"{:.3}\",\"{:.3}\",\"{:.3}\",\"{:.3}\"",
        ms(lat[0]),
        at(0.50),
        at(0.95),
        at(0.99),
        ms(lat[lat.len() - 1]),
    );
}
