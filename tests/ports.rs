//! Loopback ports for test servers that must be told their port before they start (Raft peers,
//! replicas, sentinels): one file, included by kvserver's end-to-end tests and kvraft's group
//! tests.
//!
//! Asking the kernel with `bind(0)` and closing the probe is racy: the port goes back to the
//! ephemeral range, and the kernel may hand it to any outgoing connection (a node dialling its
//! peer, a client) before the server binds it, which then fails with "address in use". So these
//! ports come from below the ephemeral range, where the kernel never picks on its own; each is
//! handed out once per process, and only after a bind shows nobody holds it.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};

/// The lowest port handed out; ports between it and the ephemeral range are used.
const LOWEST: u32 = 10_000;

/// The first port of the kernel's ephemeral range (Linux's default when it cannot be read).
fn ephemeral_start() -> u32 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

/// A loopback port nobody listens on, that this process has not handed out before and that the
/// kernel does not give to outgoing connections.
pub(crate) fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let top = ephemeral_start().min(u32::from(u16::MAX));
    if top <= LOWEST + 1_000 {
        // An unusual ephemeral range leaves no room below it: fall back on the kernel.
        return kernel_port();
    }
    let span = top - LOWEST;
    // Where this process starts in the range: spread by process id, so that a test binary run
    // right after another does not reuse its ports while they may linger.
    let start = std::process::id().wrapping_mul(7_919) % span;
    for _ in 0..span {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = LOWEST + (start + n) % span;
        let port = u16::try_from(port).expect("below the ephemeral range");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port below {top}");
}

/// A port the kernel picks: free now, but it may be taken before it is used.
fn kernel_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[test]
fn ports_are_handed_out_once_and_never_from_the_ephemeral_range() {
    let top = ephemeral_start();
    let ports: Vec<u16> = (0..50).map(|_| free_port()).collect();
    let mut unique = ports.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(
        unique.len(),
        ports.len(),
        "a port handed out twice: {ports:?}"
    );
    if top > LOWEST + 1_000 {
        assert!(
            ports
                .iter()
                .all(|&p| u32::from(p) >= LOWEST && u32::from(p) < top),
            "{ports:?} against the ephemeral range from {top}"
        );
    }
}
