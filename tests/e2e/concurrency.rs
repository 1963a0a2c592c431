//! Many clients at once, every reply checked.

use redis::Commands;

use super::support::{Server, resp};

#[test]
fn two_hundred_clients_mixed_commands() {
    const CLIENTS: usize = 200;
    const ROUNDS: usize = 25;
    let server = Server::start(&[]);
    let threads: Vec<_> = (0..CLIENTS)
        .map(|id| {
            let addr = server.addr;
            std::thread::spawn(move || {
                let mut con = redis::Client::open(format!("redis://{addr}/"))
                    .unwrap()
                    .get_connection()
                    .unwrap();
                let mine = format!("client:{id}");
                for round in 0..ROUNDS {
                    let value = format!("{id}-{round}");
                    let _: () = con.set(&mine, &value).unwrap();
                    assert_eq!(con.get::<_, String>(&mine).unwrap(), value);
                    assert_eq!(
                        con.append::<_, _, usize>(&mine, "!").unwrap(),
                        value.len() + 1
                    );
                    let n: i64 = con.incr("shared:counter", 1).unwrap();
                    assert!(n >= 1);
                    let own: i64 = con.incr(format!("count:{id}"), 1).unwrap();
                    assert_eq!(own, round as i64 + 1);
                    assert!(con.exists::<_, bool>(&mine).unwrap());
                    assert_eq!(con.expire::<_, i64>(&mine, 1000).unwrap(), 1);
                    let ttl: i64 = con.ttl(&mine).unwrap();
                    assert!(ttl > 0 && ttl <= 1000);
                    let got: Vec<Option<String>> =
                        con.mget(&[mine.clone(), format!("missing:{id}")]).unwrap();
                    assert_eq!(got, vec![Some(format!("{value}!")), None]);
                    assert_eq!(con.del::<_, i64>(&mine).unwrap(), 1);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("client thread passed its checks");
    }
    let mut con = server.client();
    let total: i64 = con.get("shared:counter").unwrap();
    assert_eq!(total, (CLIENTS * ROUNDS) as i64);
    let dbsize: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(dbsize, CLIENTS as i64 + 1);
}

#[test]
fn pipelining_clients_do_not_interfere() {
    let server = Server::start(&[]);
    let threads: Vec<_> = (0..16)
        .map(|id| {
            let addr = server.addr;
            std::thread::spawn(move || {
                let mut c = super::support::Raw::connect(addr);
                let key = format!("p{id}");
                let mut batch = Vec::new();
                for _ in 0..200 {
                    batch.extend(resp(&[b"INCR", key.as_bytes()]));
                }
                c.send(&batch);
                let expected: Vec<u8> = (1..=200)
                    .flat_map(|i| format!(":{i}\r\n").into_bytes())
                    .collect();
                c.expect(&expected);
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}
