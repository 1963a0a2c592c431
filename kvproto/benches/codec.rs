//! Request decoding and reply encoding, with the `redis-protocol` crate run on the same input as
//! a yardstick. Run with `cargo bench -p kvproto`; criterion prints MB/s, frames/s follow from
//! the frame counts in the group names.

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use kvproto::{Frame, Limits, RequestDecoder, Status, Version, Writer, decode_request, encode};
use redis_protocol::resp2::decode::decode_range;
use redis_protocol::resp2::encode::encode_borrowed;
use redis_protocol::resp2::types::BorrowedFrame;

fn command(args: &[&[u8]], out: &mut Vec<u8>) {
    let mut w = Writer::new(out, Version::Resp2);
    w.array_len(args.len());
    for a in args {
        w.bulk(a);
    }
}

/// 16 pipelined commands: alternating `SET key:N value-N` and `GET key:N`.
fn pipeline16() -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..8 {
        let key = format!("key:{i:06}");
        let value = format!("value-{i:010}");
        command(&[b"SET", key.as_bytes(), value.as_bytes()], &mut out);
        command(&[b"GET", key.as_bytes()], &mut out);
    }
    out
}

fn set16k() -> Vec<u8> {
    let mut out = Vec::new();
    command(&[b"SET", b"key:000001", &vec![b'x'; 16 * 1024]], &mut out);
    out
}

fn group<'c>(c: &'c mut Criterion, name: &str, bytes: usize) -> BenchmarkGroup<'c, WallTime> {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(bytes as u64));
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));
    g.sample_size(30);
    g
}

fn decode_kvproto(buf: &[u8], limits: &Limits) -> usize {
    let mut pos = 0;
    let mut args = 0;
    while let Ok(Status::Complete((req, used))) = decode_request(&buf[pos..], limits) {
        args += req.len();
        pos += used;
    }
    args
}

fn decode_redis_protocol(buf: &[u8]) -> usize {
    let mut pos = 0;
    let mut frames = 0;
    while let Ok(Some((frame, used))) = decode_range(&buf[pos..]) {
        black_box(&frame);
        frames += 1;
        pos += used;
    }
    frames
}

fn decoding(c: &mut Criterion) {
    let limits = Limits::default();
    for (name, buf) in [
        ("decode pipeline of 16 GET-SET", pipeline16()),
        ("decode 1 SET of 16 KiB", set16k()),
    ] {
        let mut g = group(c, name, buf.len());
        g.bench_function("kvproto", |b| {
            b.iter(|| decode_kvproto(black_box(&buf), &limits))
        });
        g.bench_function("redis-protocol", |b| {
            b.iter(|| decode_redis_protocol(black_box(&buf)))
        });
        g.finish();
    }

    // The 16 KiB SET arriving in 1460-byte TCP segments: the caller retries on the grown buffer
    // after each one, so the cost of an Incomplete attempt matters.
    let buf = set16k();
    let mut g = group(c, "decode 1 SET of 16 KiB in 1460-byte segments", buf.len());
    let ends: Vec<usize> = (1460..buf.len()).step_by(1460).chain([buf.len()]).collect();
    g.bench_function("kvproto", |b| {
        b.iter(|| {
            ends.iter()
                .filter(|&&end| {
                    matches!(
                        decode_request(&buf[..end], &limits),
                        Ok(Status::Complete(_))
                    )
                })
                .count()
        })
    });
    g.bench_function("kvproto RequestDecoder", |b| {
        let mut decoder = RequestDecoder::new(limits);
        b.iter(|| {
            ends.iter()
                .filter(|&&end| matches!(decoder.decode(&buf[..end]), Ok(Status::Complete(_))))
                .count()
        })
    });
    g.bench_function("redis-protocol", |b| {
        b.iter(|| {
            ends.iter()
                .filter(|&&end| matches!(decode_range(&buf[..end]), Ok(Some(_))))
                .count()
        })
    });
    g.finish();
}

/// 16 typical replies: +OK, bulk values, integers, a null and a 10-element array.
fn replies16() -> Vec<Frame> {
    let mut out = Vec::new();
    for i in 0..4 {
        out.push(Frame::simple("OK"));
        out.push(Frame::bulk(format!("value-{i:010}")));
        out.push(Frame::Integer(i * 1_000_003));
        if i % 2 == 0 {
            out.push(Frame::Null);
        } else {
            out.push(Frame::Array(
                (0..10)
                    .map(|j| Frame::bulk(format!("member:{j:04}")))
                    .collect(),
            ));
        }
    }
    out
}

fn borrowed(f: &Frame) -> BorrowedFrame<'_> {
    match f {
        Frame::Simple(s) => BorrowedFrame::SimpleString(s),
        Frame::Bulk(b) => BorrowedFrame::BulkString(b),
        Frame::Integer(n) => BorrowedFrame::Integer(*n),
        Frame::Null => BorrowedFrame::Null,
        other => unreachable!("not used by the benchmark: {other:?}"),
    }
}

fn encoding(c: &mut Criterion) {
    let replies = replies16();
    let value = vec![b'x'; 16 * 1024];
    let cases: [(&str, Vec<Frame>); 2] = [
        ("encode 16 replies", replies),
        ("encode 1 bulk reply of 16 KiB", vec![Frame::Bulk(value)]),
    ];
    for (name, frames) in cases {
        let mut size = Vec::new();
        frames
            .iter()
            .for_each(|f| encode(f, Version::Resp2, &mut size));
        let mut g = group(c, name, size.len());
        let mut out = Vec::with_capacity(size.len());
        g.bench_function("kvproto Writer", |b| {
            b.iter(|| {
                out.clear();
                let mut w = Writer::new(&mut out, Version::Resp2);
                for f in black_box(&frames) {
                    match f {
                        Frame::Simple(s) => w.simple(s),
                        Frame::Bulk(v) => w.bulk(v),
                        Frame::Integer(n) => w.integer(*n),
                        Frame::Null => w.null(),
                        Frame::Array(items) => {
                            w.array_len(items.len());
                            for i in items {
                                if let Frame::Bulk(v) = i {
                                    w.bulk(v);
                                }
                            }
                        }
                        other => w.frame(other),
                    }
                }
                out.len()
            })
        });
        g.bench_function("kvproto encode(Frame)", |b| {
            b.iter(|| {
                out.clear();
                black_box(&frames)
                    .iter()
                    .for_each(|f| encode(f, Version::Resp2, &mut out));
                out.len()
            })
        });
        // redis-protocol encodes borrowed frames into a caller-sized slice.
        let inner: Vec<Vec<BorrowedFrame<'_>>> = frames
            .iter()
            .map(|f| match f {
                Frame::Array(items) => items.iter().map(borrowed).collect(),
                _ => Vec::new(),
            })
            .collect();
        let theirs: Vec<BorrowedFrame<'_>> = frames
            .iter()
            .zip(&inner)
            .map(|(f, items)| match f {
                Frame::Array(_) => BorrowedFrame::Array(items),
                other => borrowed(other),
            })
            .collect();
        let mut buf = vec![0u8; size.len()];
        g.bench_function("redis-protocol", |b| {
            b.iter(|| {
                let mut pos = 0;
                for f in black_box(&theirs) {
                    // Invariant: buf was sized from kvproto's encoding of the same frames.
                    pos += encode_borrowed(&mut buf[pos..], f, false).expect("buffer sized to fit");
                }
                pos
            })
        });
        g.finish();
    }
}

criterion_group!(benches, decoding, encoding);
criterion_main!(benches);
