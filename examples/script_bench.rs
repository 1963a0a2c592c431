//! Measures kvcore's script engine alone (numbers for docs/benchmarks.md; nothing is
//! asserted): EVALSHA and FCALL of the script `tools/bench-vs-redis --suite script` sends
//! (`redis.call('INCR', KEYS[1])`, then `GET`), on one thread, with a host that answers each
//! command at once, so what is measured is the engine's own cost per call: the interpreter,
//! the conversions, the bookkeeping around a script, and not the store, the network or the
//! other threads. Prints nanoseconds per call, the median of five runs of each.
//!
//! Run: `cargo run --release -p kvcore --example script_bench [calls per run]`

use std::time::Instant;

use kvcore::script::{Call, Engine, EngineOptions, Host, Policy, Source, Value};

const SCRIPT: &[u8] = b"redis.call('INCR', KEYS[1]); return redis.call('GET', KEYS[1])";
const LIBRARY: &[u8] = b"#!lua name=benchlib\nredis.register_function('incrget', \
    function(keys) redis.call('INCR', keys[1]); return redis.call('GET', keys[1]) end)";

/// Answers INCR with 1 and anything else with the bulk string "1".
struct AtOnce;

impl Host for AtOnce {
    fn call(&mut self, args: &[&[u8]], _call: &Call) -> (Value, bool) {
        if args[0].eq_ignore_ascii_case(b"incr") {
            (Value::Int(1), true)
        } else {
            (Value::Bulk(b"1".to_vec()), false)
        }
    }

    fn log(&mut self, _level: u8, _message: &[u8]) {}
}

/// Nanoseconds per call of `calls` calls of `run`, with keys `s:00000` to `s:99999`.
fn per_call(calls: usize, mut run: impl FnMut(&[u8]) -> Value) -> f64 {
    let mut key = *b"s:00000";
    let started = Instant::now();
    for i in 0..calls {
        // The key's five digits, written in place: the harness allocates nothing per call.
        let mut n = i % 100_000;
        for d in key[2..].iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
        }
        let reply = run(&key);
        assert_eq!(reply, Value::Bulk(b"1".to_vec()), "the script's reply");
    }
    started.elapsed().as_nanos() as f64 / calls as f64
}

fn median(mut runs: Vec<f64>) -> f64 {
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

fn main() {
    let calls: usize = std::env::args()
        .nth(1)
        .map_or(1_000_000, |n| n.parse().expect("calls per run: a number"));
    let engine = Engine::new(EngineOptions::default());
    let sha = engine.load(SCRIPT).expect("the script compiles");
    engine
        .function_load(LIBRARY, Policy::Replace, |_, _| Ok(()))
        .expect("the library loads");
    let mut host = AtOnce;
    let (mut evalsha, mut fcall) = (Vec::new(), Vec::new());
    // Alternating, so that neither runs only on a warmer or quieter machine.
    for _ in 0..5 {
        evalsha.push({
            let _interpreter = engine.reserve();
            per_call(calls, |key| {
                engine.eval(Source::Sha(sha.as_bytes()), &[key], &[], false, &mut host)
            })
        });
        fcall.push({
            let _interpreter = engine.reserve_function();
            per_call(calls, |key| {
                engine.fcall(b"incrget", &[key], &[], false, &mut host)
            })
        });
    }
    println!("EVALSHA: {:.0} ns per call", median(evalsha));
    println!("FCALL:   {:.0} ns per call", median(fcall));
}
