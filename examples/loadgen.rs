//! A load generator for command sequences redis-benchmark cannot send, such as a whole
//! transaction (MULTI, three INCRs, EXEC) per request: each client thread sends the sequence
//! (`--pipeline` copies of it at once), waits for every reply, and repeats until the clients
//! together have completed `--requests` sequences. Prints redis-benchmark's CSV shape
//! (`"test","rps"`), which `tools/bench-vs-redis` reads, so kvserver and Redis are measured with
//! the same client.
//!
//! ```text
//! cargo run --release -p kvserver --example loadgen -- --port 6380 --clients 50 \
//!     --requests 100000 'MULTI;INCR a;INCR b;INCR c;EXEC'
//! ```
//!
//! Words are split on spaces; `__rand__` in a word becomes a random number below `--keyspace`
//! for each sequence, so clients can spread over keys. Any error reply fails the run.

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
         [--pipeline P] [--keyspace K] [--name TEST] 'CMD arg ...;CMD arg ...'"
    );
    std::process::exit(2);
}

/// One RESP array request per command of the sequence, `__rand__` replaced by `r`.
fn encode(commands: &[Vec<String>], r: u64, out: &mut Vec<u8>) {
    for words in commands {
        out.extend_from_slice(format!("*{}\r\n", words.len()).as_bytes());
        for w in words {
            let w = w.replace("__rand__", &r.to_string());
            out.extend_from_slice(format!("${}\r\n{w}\r\n", w.len()).as_bytes());
        }
    }
}

/// Reads until `n` complete replies arrived; panics on an error reply or a closed connection.
fn read_replies(stream: &mut TcpStream, buf: &mut Vec<u8>, n: usize) {
    let limits = Limits::default();
    let mut got = 0;
    let mut start = 0;
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
}

fn main() {
    let args = parse_args();
    let commands: Vec<Vec<String>> = args
        .sequence
        .split(';')
        .map(|c| c.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .filter(|c| !c.is_empty())
        .collect();
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
                let per = (args.pipeline * commands.len()) as u64;
                while done.fetch_add(args.pipeline as u64, Ordering::Relaxed) < args.requests {
                    out.clear();
                    for _ in 0..args.pipeline {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        encode(&commands, x % args.keyspace.max(1), &mut out);
                    }
                    stream.write_all(&out).expect("send");
                    read_replies(&mut stream, &mut inbuf, per as usize);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a client thread failed");
    }
    let secs = started.elapsed().as_secs_f64();
    let rps = args.requests as f64 / secs;
    let name = args.name.clone().unwrap_or_else(|| args.sequence.clone());
    println!("\"test\",\"rps\"");
    println!("\"{name}\",\"{rps:.2}\"");
}
