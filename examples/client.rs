//! A template for a client session against a running kvserver, with the `redis` crate: any
//! Redis client works unchanged.
//!
//! Start a server (`cargo run --release -p kvserver`), then run
//! `cargo run -p kvserver --example client [redis://127.0.0.1:6380]`.

fn main() -> redis::RedisResult<()> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "redis://127.0.0.1:6380".to_string());
    let client = redis::Client::open(url.as_str())?;
    let mut con = client.get_connection()?;

    let _: () = redis::cmd("SET")
        .arg("greeting")
        .arg("hello")
        .arg("EX")
        .arg(60)
        .query(&mut con)?;
    let greeting: Option<String> = redis::cmd("GET").arg("greeting").query(&mut con)?;
    let ttl: i64 = redis::cmd("TTL").arg("greeting").query(&mut con)?;
    println!("greeting = {greeting:?}, expires in {ttl}s");

    // A pipeline: sent in one write, answered in one read.
    let (visits, queue_len): (i64, i64) = redis::pipe()
        .cmd("INCR")
        .arg("visits")
        .cmd("RPUSH")
        .arg("queue")
        .arg("job-1")
        .arg("job-2")
        .query(&mut con)?;
    println!("visits = {visits}, queue length = {queue_len}");

    let popped: Option<(String, String)> =
        redis::cmd("BLPOP").arg("queue").arg(1).query(&mut con)?;
    println!("popped {popped:?}");
    Ok(())
}
