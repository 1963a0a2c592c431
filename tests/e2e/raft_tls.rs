//! The Raft mode with `tls-cluster yes`: a group whose nodes take clients on `tls-port` only
//! talks Raft over mutual TLS and forwards over TLS; a peer that skips TLS, or comes without a
//! certificate or with one another CA signed, is refused and changes nothing, where the same forged frames on a plain
//! group's link depose its leader. With `raft-secret` as well, the secret's handshake runs
//! inside the TLS session: a peer with the CA's certificate but not the secret is refused too.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::ports::free_port;
use super::support::{PATIENCE, Server, TempDir, resp};
use super::tls::{Certs, TlsClient};

/// A raw-frame peer's bytes: a hello from node `from` (kvraft/src/transport.rs's frame), then
/// a raft-rs `MsgHeartbeat` to node `to` at `term`, in protobuf written by hand (field 1
/// msg_type = 8, 2 to, 3 from, 4 term).
fn forged(from: u8, to: u8, term: u16) -> Vec<u8> {
    let mut f = vec![11, 0, 0, 0, 0, from, 0, 0, 0, 0, 0, 0, 0, 1, 0];
    let mut msg = vec![0x08, 8, 0x10, to, 0x18, from, 0x20];
    let mut t = term;
    while t >= 0x80 {
        msg.push((t as u8 & 0x7f) | 0x80);
        t >>= 7;
    }
    msg.push(t as u8);
    f.extend_from_slice(&(msg.len() as u32 + 1).to_le_bytes());
    f.push(1);
    f.extend_from_slice(&msg);
    f
}

/// One reply (a simple line, or a bulk string's contents) to `args`.
fn query(c: &mut TlsClient, args: &[&[u8]]) -> String {
    c.tls.write_all(&resp(args)).expect("request sent");
    c.tls.flush().expect("request sent");
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        c.tls.read_exact(&mut byte).expect("a reply");
        line.push(byte[0]);
    }
    let line = String::from_utf8_lossy(&line[..line.len() - 2]).into_owned();
    match line.strip_prefix('$') {
        Some(n) if n != "-1" => {
            let mut body = vec![0u8; n.parse::<usize>().expect("a bulk length") + 2];
            c.tls.read_exact(&mut body).expect("the bulk");
            String::from_utf8_lossy(&body[..body.len() - 2]).into_owned()
        }
        _ => line,
    }
}

/// A field of `INFO raft`.
fn field(info: &str, name: &str) -> String {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in {info}"))
        .trim()
        .to_string()
}

/// Reads what the node sends until it closes the link; true if it did (EOF or a reset).
fn closed_by_node(s: &mut impl Read) -> bool {
    let mut sink = Vec::new();
    match s.read_to_end(&mut sink) {
        Ok(_) => true,
        Err(e) => matches!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
        ),
    }
}

/// Raft ports for `n` nodes and the `--raft-peers` list naming them.
fn peers(n: usize) -> (Vec<u16>, String) {
    let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
    let list = ports
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{}=127.0.0.1:{p}", i + 1))
        .collect::<Vec<_>>()
        .join(",");
    (ports, list)
}

/// Node `id` of a `tls-cluster yes` group (`peers`), with `port 0` and a TLS port: clients
/// reach it over TLS only.
fn start_node(certs: &Certs, dir: &TempDir, id: u64, peers: &str, extra: &[&str]) -> Server {
    let config = certs.config(0, free_port(), "tls-cluster yes\n");
    let data = format!("{}/{id}", dir.path());
    let id = id.to_string();
    let mut args = vec![
        "--bind",
        "127.0.0.1",
        "--config",
        &config,
        "--data-dir",
        &data,
        "--raft-id",
        &id,
        "--raft-peers",
        peers,
    ];
    args.extend_from_slice(extra);
    Server::start_raw(&args)
}

/// The group's `raft-secret`, checked inside TLS.
const SECRET: &str = "a secret inside the TLS session";

#[test]
fn a_tls_cluster_group_forwards_over_tls_and_refuses_peers_without_a_certificate() {
    let certs = Certs::new("raft-tls-certs");
    let dir = TempDir::new("raft-tls");
    let (raft_ports, peer_list) = peers(3);
    // `port 0` with a TLS port: clients reach the nodes over TLS only, so forwarding works
    // only if it goes over TLS too.
    let nodes: Vec<Server> = (1..=3)
        .map(|id| start_node(&certs, &dir, id, &peer_list, &["--raft-secret", SECRET]))
        .collect();
    let client_config = certs.client_config(true);
    let mut clients: Vec<TlsClient> = nodes
        .iter()
        .map(|n| TlsClient::connect(n.port(), client_config.clone()).expect("a TLS client"))
        .collect();
    let deadline = Instant::now() + PATIENCE;
    let leader = loop {
        let serving = (0..3)
            .find(|&i| field(&query(&mut clients[i], &[b"INFO", b"raft"]), "raft_serving") == "1");
        if let Some(i) = serving {
            break i;
        }
        assert!(
            Instant::now() < deadline,
            "no leader elected over TLS links"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let follower = (leader + 1) % 3;
    // A write through a follower: forwarded to the leader's TLS port.
    assert_eq!(
        query(&mut clients[follower], &[b"SET", b"greeting", b"hello"]),
        "+OK"
    );
    for (i, c) in clients.iter_mut().enumerate() {
        assert_eq!(
            query(c, &[b"GET", b"greeting"]),
            "hello",
            "GET through node {}",
            i + 1
        );
    }

    let target = (leader + 2) % 3;
    let before = query(&mut clients[target], &[b"INFO", b"raft"]);
    let (term, leader_id) = (
        field(&before, "raft_term"),
        field(&before, "raft_leader_id"),
    );
    let to = target as u8 + 1;

    // 1. Plain TCP with a forged hello and a heartbeat from "node 9" at term 1000: the node
    // expects a TLS ClientHello, answers with an alert and closes.
    let mut fake = TcpStream::connect(("127.0.0.1", raft_ports[target])).expect("connects");
    fake.set_read_timeout(Some(PATIENCE)).unwrap();
    fake.write_all(&forged(9, to, 1000)).unwrap();
    assert!(closed_by_node(&mut fake), "the plain link was not closed");
    let log = nodes[target].log_with("refused");
    assert!(
        log.lines()
            .any(|l| l.contains("raft link from 127.0.0.1 refused")),
        "{log}"
    );

    // 2. TLS with the CA's trust but no client certificate: refused after the handshake.
    let no_cert = certs.client_config(false);
    let tcp = TcpStream::connect(("127.0.0.1", raft_ports[target])).expect("connects");
    tcp.set_read_timeout(Some(PATIENCE)).unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(no_cert, name).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let _ = tls
        .write_all(&forged(9, to, 1000))
        .and_then(|()| tls.flush());
    let mut buf = [0u8; 64];
    let answer = tls.read(&mut buf);
    assert!(
        matches!(answer, Ok(0) | Err(_)),
        "the node answered a peer without a certificate: {answer:?}"
    );

    // 3. TLS with a certificate another CA signed (trusting the group's CA for the node's).
    let stranger = Certs::make("raft-tls-stranger");
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(certs.path("ca.crt")).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let chain = CertificateDer::pem_file_iter(stranger.path("client.crt"))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(stranger.path("client.key")).unwrap();
    let foreign = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_client_auth_cert(chain, key)
    .unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", raft_ports[target])).expect("connects");
    tcp.set_read_timeout(Some(PATIENCE)).unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(std::sync::Arc::new(foreign), name).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let _ = tls
        .write_all(&forged(9, to, 1000))
        .and_then(|()| tls.flush());
    let answer = tls.read(&mut buf);
    assert!(
        matches!(answer, Ok(0) | Err(_)),
        "the node answered a peer with a stranger's certificate: {answer:?}"
    );

    // 4. TLS with a certificate the CA signed, but no proof of the secret: inside the TLS
    // session the node sends its challenge (40 bytes) and closes the link.
    let tcp = TcpStream::connect(("127.0.0.1", raft_ports[target])).expect("connects");
    tcp.set_read_timeout(Some(PATIENCE)).unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(client_config.clone(), name).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let mut frames = forged(9, to, 1000);
    frames.extend(forged(9, to, 1000));
    frames.extend(forged(9, to, 1000));
    tls.write_all(&frames).and_then(|()| tls.flush()).unwrap();
    let mut got = Vec::new();
    let _ = tls.read_to_end(&mut got);
    assert!(
        got.len() == 40 && got.starts_with(b"KVRAUTH1"),
        "the node did not send its challenge alone and close the link: {got:?}"
    );

    // No forged heartbeat reached Raft: the node's term and leader are what they were
    // (the same frames depose a plain group's leader, below). Everything still works.
    let after = query(&mut clients[target], &[b"INFO", b"raft"]);
    assert_eq!(field(&after, "raft_term"), term, "{after}");
    assert_eq!(field(&after, "raft_leader_id"), leader_id, "{after}");
    assert_eq!(
        query(&mut clients[target], &[b"INCR", b"after"]),
        ":1",
        "the group still commits"
    );
    // The links keep the TLS they started with.
    let refused = query(
        &mut clients[target],
        &[b"CONFIG", b"SET", b"tls-cluster", b"no"],
    );
    assert!(
        refused.starts_with("-ERR") && refused.contains("tls-cluster cannot change"),
        "{refused}"
    );
    assert_eq!(
        query(
            &mut clients[target],
            &[b"CONFIG", b"SET", b"tls-cluster", b"yes"]
        ),
        "+OK"
    );
    // New certificates: a link accepted after CONFIG SET gets the new one (links already
    // open keep their session), and the group goes on.
    let presented = || {
        let tcp = TcpStream::connect(("127.0.0.1", raft_ports[target])).expect("connects");
        tcp.set_read_timeout(Some(PATIENCE)).unwrap();
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let conn = rustls::ClientConnection::new(client_config.clone(), name).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        while tls.conn.is_handshaking() {
            tls.conn
                .complete_io(&mut tls.sock)
                .expect("a TLS handshake");
        }
        tls.conn.peer_certificates().expect("a certificate")[0].to_vec()
    };
    let der = |file: &str| {
        CertificateDer::pem_file_iter(certs.path(file))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .to_vec()
    };
    assert!(
        presented() == der("server.crt"),
        "not the start-up certificate"
    );
    let (crt, key) = (certs.path("server2.crt"), certs.path("server2.key"));
    assert_eq!(
        query(
            &mut clients[target],
            &[
                b"CONFIG",
                b"SET",
                b"tls-cert-file",
                crt.as_bytes(),
                b"tls-key-file",
                key.as_bytes()
            ]
        ),
        "+OK"
    );
    assert!(
        presented() == der("server2.crt"),
        "a link accepted after CONFIG SET still gets the old certificate"
    );
    assert_eq!(
        query(&mut clients[target], &[b"INCR", b"after"]),
        ":2",
        "the group still commits"
    );

    // A node that joins is sent a snapshot (a fresh one naming it), streamed in chunks over
    // a connection of its own: through TLS as every link, or it would be refused.
    let raft4 = free_port();
    let peers4 = format!("{peer_list},4=127.0.0.1:{raft4}");
    let node4 = start_node(
        &certs,
        &dir,
        4,
        &peers4,
        &["--raft-join", "--raft-secret", SECRET],
    );
    let addr4 = format!("127.0.0.1:{raft4}");
    let deadline = Instant::now() + PATIENCE;
    while !(0..3).any(|i| {
        query(
            &mut clients[i],
            &[b"RAFT", b"ADD-NODE", b"4", addr4.as_bytes()],
        ) == "+OK"
    }) {
        assert!(Instant::now() < deadline, "no node added node 4");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let log = node4.log_with("received snapshot");
    assert!(log.contains("received snapshot"), "{log}");
    let mut c4 = TlsClient::connect(node4.port(), client_config.clone()).expect("a TLS client");
    let deadline = Instant::now() + PATIENCE;
    while field(&query(&mut c4, &[b"INFO", b"raft"]), "raft_members") != "4" {
        assert!(Instant::now() < deadline, "node 4 never saw four members");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // INFO raft counts the transfer on both sides (once, unless a change of leader made
    // another node send one too).
    let info4 = query(&mut c4, &[b"INFO", b"raft"]);
    let received: u64 = field(&info4, "raft_snapshots_received")
        .parse()
        .expect("a count");
    assert!(received >= 1, "{info4}");
    assert_eq!(field(&info4, "raft_snapshots_sent"), "0", "{info4}");
    let sent: u64 = clients
        .iter_mut()
        .map(|c| {
            field(&query(c, &[b"INFO", b"raft"]), "raft_snapshots_sent")
                .parse::<u64>()
                .expect("a count")
        })
        .sum();
    assert!(sent >= 1, "a node sent node 4 its snapshot");
}

#[test]
fn forged_frames_on_a_plain_raft_link_reach_raft() {
    // The control for the test above: without tls-cluster the forged heartbeat is taken
    // (raft-rs follows any leader with a higher term), so the refusal above is the TLS's.
    let dir = TempDir::new("raft-plain-forged");
    let (raft_ports, peer_list) = peers(1);
    let data = format!("{}/1", dir.path());
    let node = Server::start_raw(&[
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
        "--data-dir",
        &data,
        "--raft-id",
        "1",
        "--raft-peers",
        &peer_list,
    ]);
    // Neither raft-secret nor tls-cluster: one warning at start-up says so.
    let log = node.log_with("accepts links from any peer");
    assert_eq!(
        log.matches("accepts links from any peer").count(),
        1,
        "{log}"
    );
    let mut c = node.client();
    let info = |c: &mut redis::Connection| -> String {
        redis::cmd("INFO").arg("raft").query(c).expect("INFO raft")
    };
    let deadline = Instant::now() + PATIENCE;
    while field(&info(&mut c), "raft_serving") != "1" {
        assert!(Instant::now() < deadline, "no leader");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let mut fake = TcpStream::connect(("127.0.0.1", raft_ports[0])).expect("connects");
    fake.write_all(&forged(9, 1, 1000)).unwrap();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let term: u64 = field(&info(&mut c), "raft_term").parse().unwrap();
        if term >= 1000 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the forged heartbeat was not taken"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn tls_cluster_without_a_tls_port_refuses_to_start() {
    let certs = Certs::new("raft-tls-noport");
    let dir = TempDir::new("raft-tls-noport-data");
    let (_, peer_list) = peers(1);
    // The TLS settings without `tls-port`: nothing for a follower to forward to over TLS.
    let config = certs.path("noport.conf");
    std::fs::write(
        &config,
        format!(
            "tls-cert-file {}\ntls-key-file {}\ntls-ca-cert-file {}\ntls-cluster yes\n",
            certs.path("server.crt"),
            certs.path("server.key"),
            certs.path("ca.crt"),
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kvserver"))
        .args(["--bind", "127.0.0.1", "--port", "0", "--config", &config])
        .args([
            "--data-dir",
            dir.path(),
            "--raft-id",
            "1",
            "--raft-peers",
            &peer_list,
        ])
        .output()
        .expect("kvserver runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("tls-cluster yes needs a tls-port"),
        "{stderr}"
    );
}
