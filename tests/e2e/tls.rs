//! TLS on `tls-port` (issue 18): certificates made in the test with the openssl CLI, clients
//! that speak TLS (redis-cli `--tls`, a rustls client, redis-py with `ssl=True`), mutual TLS,
//! plaintext and TLS side by side, TLS only, and certificates reloaded by CONFIG SET.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use super::ports::free_port;
use super::support::{PATIENCE, Server, TempDir};

/// Runs a command, panicking with its output if it fails.
fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("the command runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A test CA, and server and client certificates it signed (X.509 v3, as rustls requires).
pub(super) struct Certs {
    dir: TempDir,
}

impl Certs {
    /// A copy of one set made once per test process (four RSA keys take seconds).
    pub(super) fn new(name: &str) -> Certs {
        static MADE: std::sync::OnceLock<Vec<(std::ffi::OsString, Vec<u8>)>> =
            std::sync::OnceLock::new();
        let files = MADE.get_or_init(|| {
            let made = Certs::make("tls-certs");
            std::fs::read_dir(made.dir.path())
                .unwrap()
                .map(|e| {
                    let e = e.unwrap();
                    (e.file_name(), std::fs::read(e.path()).unwrap())
                })
                .collect()
        });
        let dir = TempDir::new(name);
        std::fs::create_dir_all(dir.path()).unwrap();
        for (file, bytes) in files {
            std::fs::write(std::path::Path::new(dir.path()).join(file), bytes).unwrap();
        }
        Certs { dir }
    }

    /// A new set with its own CA (`new` hands out copies of one).
    pub(super) fn make(name: &str) -> Certs {
        let dir = TempDir::new(name);
        std::fs::create_dir_all(dir.path()).unwrap();
        let certs = Certs { dir };
        let ossl = |args: &[&str]| {
            run(Command::new("openssl")
                .args(args)
                .current_dir(certs.dir.path()))
        };
        ossl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=kv test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
        ]);
        std::fs::write(
            certs.path("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
        )
        .unwrap();
        std::fs::write(certs.path("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
        certs.sign("server", "localhost");
        certs.sign("server2", "localhost");
        certs.sign("client", "client");
        certs
    }

    /// Makes `<name>.key` and `<name>.crt` for `cn`, signed by the CA.
    fn sign(&self, name: &str, cn: &str) {
        let ext = if name.starts_with("server") {
            "server.ext"
        } else {
            "client.ext"
        };
        let (key, csr, crt) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
        );
        let subj = format!("/CN={cn}");
        let ossl = |args: &[&str]| {
            run(Command::new("openssl")
                .args(args)
                .current_dir(self.dir.path()))
        };
        ossl(&[
            "req", "-newkey", "rsa:2048", "-nodes", "-subj", &subj, "-keyout", &key, "-out", &csr,
        ]);
        ossl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            ext,
            "-out",
            &crt,
        ]);
    }

    pub(super) fn path(&self, file: &str) -> String {
        format!("{}/{file}", self.dir.path())
    }

    /// A kvserver config file with TLS on `tls_port`, plaintext on `port` (0: TLS only) and
    /// `extra` lines.
    pub(super) fn config(&self, port: u16, tls_port: u16, extra: &str) -> String {
        let file = self.path(&format!("kv-{tls_port}.conf"));
        std::fs::write(
            &file,
            format!(
                "port {port}\ntls-port {tls_port}\ntls-cert-file {}\ntls-key-file {}\n\
                 tls-ca-cert-file {}\n{extra}",
                self.path("server.crt"),
                self.path("server.key"),
                self.path("ca.crt"),
            ),
        )
        .unwrap();
        file
    }

    /// A rustls client configuration that trusts the test CA, with the client certificate
    /// when `with_cert`.
    pub(super) fn client_config(&self, with_cert: bool) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(self.path("ca.crt")).unwrap() {
            roots.add(c.unwrap()).unwrap();
        }
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
        let config = if with_cert {
            let certs = CertificateDer::pem_file_iter(self.path("client.crt"))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let key = PrivateKeyDer::from_pem_file(self.path("client.key")).unwrap();
            builder.with_client_auth_cert(certs, key).unwrap()
        } else {
            builder.with_no_client_auth()
        };
        Arc::new(config)
    }

    /// redis-cli over TLS to `port` with `args`; its stdout, and whether it succeeded.
    fn redis_cli(&self, port: u16, with_cert: bool, args: &[&str]) -> (String, bool) {
        let mut cmd = Command::new("redis-cli");
        cmd.args([
            "-p",
            &port.to_string(),
            "--tls",
            "--cacert",
            &self.path("ca.crt"),
        ]);
        if with_cert {
            cmd.args([
                "--cert",
                &self.path("client.crt"),
                "--key",
                &self.path("client.key"),
            ]);
        }
        let out = cmd.args(args).output().expect("redis-cli runs");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        // redis-cli exits 0 after printing an error reply; a failed connection is an exit 1
        // or an "Error:" line.
        let ok = out.status.success() && !String::from_utf8_lossy(&out.stderr).contains("Error");
        (text, ok)
    }
}

/// A TLS session over a raw socket, speaking RESP by hand.
pub(super) struct TlsClient {
    pub(super) tls: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
}

impl TlsClient {
    /// Connects and completes the handshake.
    pub(super) fn connect(
        port: u16,
        config: Arc<rustls::ClientConfig>,
    ) -> std::io::Result<TlsClient> {
        let tcp = TcpStream::connect(("127.0.0.1", port))?;
        tcp.set_read_timeout(Some(PATIENCE))?;
        let name = ServerName::try_from("localhost").unwrap();
        let conn = rustls::ClientConnection::new(config, name).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        while tls.conn.is_handshaking() {
            tls.conn.complete_io(&mut tls.sock)?;
        }
        Ok(TlsClient { tls })
    }

    /// Sends `request` and reads until `expected.len()` bytes came back.
    pub(super) fn roundtrip(&mut self, request: &[u8], want: usize) -> std::io::Result<String> {
        self.tls.write_all(request)?;
        self.tls.flush()?;
        let mut got = vec![0; want];
        self.tls.read_exact(&mut got)?;
        Ok(String::from_utf8_lossy(&got).into_owned())
    }

    /// The server's certificate (DER).
    fn server_cert(&self) -> Vec<u8> {
        self.tls.conn.peer_certificates().unwrap()[0].to_vec()
    }
}

const PING: &[u8] = b"*1\r\n$4\r\nPING\r\n";

#[test]
fn tls_and_plaintext_ports_serve_the_same_store() {
    let certs = Certs::new("tls-side-by-side");
    let (port, tls_port) = (free_port(), free_port());
    let server = Server::start_raw(&[
        "--in-memory",
        "--bind",
        "127.0.0.1",
        "--config",
        &certs.config(port, tls_port, ""),
    ]);
    assert_eq!(server.port(), port);
    let line = format!("TLS connections on 127.0.0.1:{tls_port}");
    let log = server.log_with(&line);
    assert!(log.contains(&line), "{log}");
    let (out, ok) = certs.redis_cli(tls_port, true, &["SET", "k", "over tls"]);
    assert!(ok && out.trim() == "OK", "{out}");
    let mut plain = server.client();
    let v: String = redis::cmd("GET").arg("k").query(&mut plain).unwrap();
    assert_eq!(v, "over tls");
    redis::cmd("SET")
        .arg("k2")
        .arg("plain")
        .exec(&mut plain)
        .unwrap();
    let (out, ok) = certs.redis_cli(tls_port, true, &["GET", "k2"]);
    assert!(ok && out.trim() == "plain", "{out}");

    // A Rust client (rustls) with its certificate; a pipeline and a larger value.
    let mut c = TlsClient::connect(tls_port, certs.client_config(true)).unwrap();
    assert_eq!(c.roundtrip(PING, 7).unwrap(), "+PONG\r\n");
    let big = "x".repeat(200_000);
    let set = format!(
        "*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n${}\r\n{big}\r\n",
        big.len()
    );
    let pipeline = [set.as_bytes(), PING, b"*2\r\n$6\r\nSTRLEN\r\n$3\r\nbig\r\n"].concat();
    assert_eq!(
        c.roundtrip(&pipeline, 5 + 7 + 9).unwrap(),
        "+OK\r\n+PONG\r\n:200000\r\n"
    );
    let get = b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n";
    let want = format!("$200000\r\n{big}\r\n");
    let reply = c.roundtrip(get, want.len()).unwrap();
    assert!(
        reply == want,
        "a GET reply of {} bytes differs",
        reply.len()
    );
    // The TLS client is listed with its own address.
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut plain).unwrap();
    assert_eq!(list.lines().count(), 2, "{list}");
    assert!(
        list.contains(&format!("laddr=127.0.0.1:{tls_port}")),
        "{list}"
    );
    // QUIT ends the session cleanly.
    assert_eq!(c.roundtrip(b"*1\r\n$4\r\nQUIT\r\n", 5).unwrap(), "+OK\r\n");
}

#[test]
fn mutual_tls_refuses_a_client_without_a_certificate() {
    let certs = Certs::new("tls-mutual");
    let (port, tls_port) = (free_port(), free_port());
    let server = Server::start_raw(&[
        "--in-memory",
        "--bind",
        "127.0.0.1",
        "--config",
        &certs.config(port, tls_port, ""),
    ]);
    // tls-auth-clients defaults to yes, as in Redis.
    let (out, ok) = certs.redis_cli(tls_port, false, &["PING"]);
    assert!(!ok, "a client without a certificate was served: {out}");
    let refused = match TlsClient::connect(tls_port, certs.client_config(false)) {
        Err(e) => e.to_string(),
        // rustls may finish its side before it reads the server's alert.
        Ok(mut c) => c.roundtrip(PING, 7).unwrap_err().to_string(),
    };
    assert!(refused.contains("CertificateRequired"), "{refused}");
    let (out, ok) = certs.redis_cli(tls_port, true, &["PING"]);
    assert!(ok && out.trim() == "PONG", "{out}");
    // A refused handshake never became a client: once the served redis-cli's connection is
    // gone (its close reaches the server a moment after redis-cli exits), only this one is.
    let mut plain = server.client();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut plain).unwrap();
        if list.lines().count() == 1 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{list}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }

    // tls-auth-clients optional, then no: a client without a certificate is served.
    for mode in ["optional", "no"] {
        redis::cmd("CONFIG")
            .arg("SET")
            .arg("tls-auth-clients")
            .arg(mode)
            .exec(&mut plain)
            .unwrap();
        let mut c = TlsClient::connect(tls_port, certs.client_config(false)).unwrap();
        assert_eq!(c.roundtrip(PING, 7).unwrap(), "+PONG\r\n", "{mode}");
    }
}

#[test]
fn config_set_reloads_certificates_and_refuses_bad_ones() {
    let certs = Certs::new("tls-reload");
    let (port, tls_port) = (free_port(), free_port());
    let server = Server::start_raw(&[
        "--in-memory",
        "--bind",
        "127.0.0.1",
        "--config",
        &certs.config(port, tls_port, ""),
    ]);
    let mut plain = server.client();
    let served = || {
        TlsClient::connect(tls_port, certs.client_config(true))
            .unwrap()
            .server_cert()
    };
    let first = served();
    let pem_der = |file: &str| {
        CertificateDer::from_pem_file(certs.path(file))
            .unwrap()
            .to_vec()
    };
    assert_eq!(first, pem_der("server.crt"));
    // An open connection keeps its session across the reload.
    let mut open = TlsClient::connect(tls_port, certs.client_config(true)).unwrap();

    redis::cmd("CONFIG")
        .arg("SET")
        .arg("tls-cert-file")
        .arg(certs.path("server2.crt"))
        .arg("tls-key-file")
        .arg(certs.path("server2.key"))
        .exec(&mut plain)
        .unwrap();
    assert_eq!(served(), pem_der("server2.crt"));
    assert_eq!(open.roundtrip(PING, 7).unwrap(), "+PONG\r\n");

    // A key that does not match the certificate, a missing file: refused, nothing changes.
    for (param, value) in [
        ("tls-key-file", certs.path("server.key")),
        ("tls-cert-file", certs.path("missing.crt")),
        ("tls-protocols", "TLSv1.9".to_string()),
    ] {
        let err = redis::cmd("CONFIG")
            .arg("SET")
            .arg(param)
            .arg(&value)
            .exec(&mut plain)
            .unwrap_err();
        assert_eq!(
            super::support::error_text(&err),
            format!(
                "ERR CONFIG SET failed (possibly related to argument '{param}') - Unable to \
                 update TLS configuration. Check server logs."
            ),
            "{param} {value}"
        );
        let got: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg(param)
            .query(&mut plain)
            .unwrap();
        assert_ne!(got[1], value);
    }
    assert_eq!(served(), pem_der("server2.crt"));
    assert!(server.log().contains("cannot update the TLS configuration"));

    // TLS 1.3 only: a TLS 1.2-only client is refused.
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("tls-protocols")
        .arg("TLSv1.3")
        .exec(&mut plain)
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(certs.path("ca.crt")).unwrap())
        .unwrap();
    let tls12 = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS12])
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    assert!(TlsClient::connect(tls_port, Arc::new(tls12)).is_err());
    assert_eq!(served(), pem_der("server2.crt"));
}

#[test]
fn port_zero_with_a_tls_port_serves_tls_only() {
    let certs = Certs::new("tls-only");
    let tls_port = free_port();
    let server = Server::start_raw(&[
        "--in-memory",
        "--bind",
        "127.0.0.1",
        "--config",
        &certs.config(0, tls_port, "tls-auth-clients no\n"),
    ]);
    // The one listener is the TLS one.
    assert_eq!(server.port(), tls_port);
    let mut c = TlsClient::connect(tls_port, certs.client_config(false)).unwrap();
    assert_eq!(c.roundtrip(PING, 7).unwrap(), "+PONG\r\n");
    // A plaintext client on the TLS port gets no RESP reply.
    let mut raw = TcpStream::connect(("127.0.0.1", tls_port)).unwrap();
    raw.set_read_timeout(Some(PATIENCE)).unwrap();
    raw.write_all(PING).unwrap();
    let mut buf = Vec::new();
    let _ = raw.read_to_end(&mut buf);
    assert!(!buf.starts_with(b"+PONG"), "{buf:?}");
}

#[test]
fn redis_py_speaks_tls_to_kv() {
    let ok = Command::new("python3")
        .args(["-c", "import redis"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("KV_REQUIRE_CLIENTS").is_none(),
            "python3 cannot import redis, and KV_REQUIRE_CLIENTS is set"
        );
        eprintln!("skipped: python3 cannot import redis");
        return;
    }
    let certs = Certs::new("tls-redis-py");
    let (port, tls_port) = (free_port(), free_port());
    let _server = Server::start_raw(&[
        "--in-memory",
        "--bind",
        "127.0.0.1",
        "--config",
        &certs.config(port, tls_port, ""),
    ]);
    let script = format!(
        "import redis\n\
         r = redis.Redis(host='localhost', port={tls_port}, ssl=True, ssl_ca_certs='{ca}', \
         ssl_certfile='{crt}', ssl_keyfile='{key}')\n\
         assert r.ping()\n\
         r.set('py', 'tls')\n\
         assert r.get('py') == b'tls'\n\
         p = r.pipeline(transaction=True)\n\
         p.incr('n').incr('n')\n\
         assert p.execute() == [1, 2]\n\
         try:\n\
         \x20   redis.Redis(host='localhost', port={tls_port}, ssl=True, ssl_ca_certs='{ca}').ping()\n\
         \x20   raise SystemExit('served without a client certificate')\n\
         except redis.exceptions.ConnectionError:\n\
         \x20   pass\n\
         print('ok')\n",
        ca = certs.path("ca.crt"),
        crt = certs.path("client.crt"),
        key = certs.path("client.key"),
    );
    let out = run(Command::new("python3").args(["-c", &script]));
    assert_eq!(out.trim(), "ok");
}

/// A server with plaintext on a free port and TLS (no client certificates) on another, and
/// `extra` arguments: its plaintext client and the TLS port.
fn tls_server(certs: &Certs, extra: &[&str]) -> (Server, u16) {
    let (port, tls_port) = (free_port(), free_port());
    let config = certs.config(port, tls_port, "tls-auth-clients no\n");
    let mut args = vec!["--bind", "127.0.0.1", "--config", &config];
    args.extend_from_slice(extra);
    let server = Server::start_raw(&args);
    (server, tls_port)
}

/// Sends `request` and checks that exactly `want` comes back.
#[track_caller]
fn exchange(c: &mut TlsClient, request: &[u8], want: &str) {
    assert_eq!(c.roundtrip(request, want.len()).unwrap(), want);
}

/// Encrypts `request` for `c`'s session without sending it: the TLS records, as bytes.
fn records(c: &mut TlsClient, request: &[u8]) -> Vec<u8> {
    c.tls.conn.writer().write_all(request).unwrap();
    let mut wire = Vec::new();
    while c.tls.conn.wants_write() {
        c.tls.conn.write_tls(&mut wire).unwrap();
    }
    wire
}

/// `n` pub/sub messages of `payload` on `channel`, as a RESP2 subscriber receives them.
fn messages(channel: &str, payload: &str, n: usize) -> String {
    format!(
        "*3\r\n$7\r\nmessage\r\n${}\r\n{channel}\r\n${}\r\n{payload}\r\n",
        channel.len(),
        payload.len()
    )
    .repeat(n)
}

#[test]
fn pubsub_over_tls_delivers_more_than_the_socket_holds_in_order() {
    let certs = Certs::new("tls-pubsub");
    let (server, tls_port) = tls_server(&certs, &["--in-memory"]);
    let mut sub = TlsClient::connect(tls_port, certs.client_config(false)).unwrap();
    exchange(
        &mut sub,
        b"*2\r\n$9\r\nSUBSCRIBE\r\n$2\r\nch\r\n",
        "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n",
    );
    // Published from a plaintext client while the subscriber reads nothing: about 4 MB, far
    // more than the sockets hold, so most of it waits in the subscriber's queue and leaves
    // through its own thread (woken by the publisher) as the subscriber reads.
    let mut plain = server.client();
    let payloads: Vec<String> = (0..4000)
        .map(|i| format!("{i:04}{}", "m".repeat(996)))
        .collect();
    for p in &payloads {
        let n: i64 = redis::cmd("PUBLISH")
            .arg("ch")
            .arg(p)
            .query(&mut plain)
            .unwrap();
        assert_eq!(n, 1);
    }
    let want: String = payloads.iter().map(|p| messages("ch", p, 1)).collect();
    let got = sub.roundtrip(b"", want.len()).unwrap();
    assert!(got == want, "the messages differ from what was published");
    // RESP2 PING while subscribed, then the subscription ends and the client is direct again.
    exchange(
        &mut sub,
        b"*1\r\n$4\r\nPING\r\n*1\r\n$11\r\nUNSUBSCRIBE\r\n",
        "*2\r\n$4\r\npong\r\n$0\r\n\r\n*3\r\n$11\r\nunsubscribe\r\n$2\r\nch\r\n:0\r\n",
    );
    exchange(&mut sub, PING, "+PONG\r\n");
}

#[test]
fn blocking_commands_over_tls_wake_and_answer() {
    let certs = Certs::new("tls-blocking");
    let (server, tls_port) = tls_server(&certs, &["--in-memory"]);
    let mut blocked = TlsClient::connect(tls_port, certs.client_config(false)).unwrap();
    blocked
        .tls
        .write_all(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n")
        .unwrap();
    blocked.tls.flush().unwrap();
    let mut plain = server.client();
    // Pushed once the TLS client is blocked (CLIENT LIST shows it), so BLPOP does wait.
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut plain).unwrap();
        if list.contains("cmd=blpop") && list.contains("flags=b") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{list}");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let _: i64 = redis::cmd("RPUSH")
        .arg("q")
        .arg("v")
        .query(&mut plain)
        .unwrap();
    exchange(&mut blocked, b"", "*2\r\n$1\r\nq\r\n$1\r\nv\r\n");
    // And a TLS client can wake a plaintext one.
    let mut waiter = server.raw();
    waiter.send(b"*3\r\n$5\r\nBRPOP\r\n$2\r\nq2\r\n$1\r\n0\r\n");
    let mut pusher = TlsClient::connect(tls_port, certs.client_config(false)).unwrap();
    loop {
        let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut plain).unwrap();
        if list.contains("cmd=brpop") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    exchange(
        &mut pusher,
        b"*3\r\n$5\r\nLPUSH\r\n$2\r\nq2\r\n$1\r\nw\r\n",
        ":1\r\n",
    );
    waiter.expect(b"*2\r\n$2\r\nq2\r\n$1\r\nw\r\n");
}

#[test]
fn tls_replies_wait_for_the_log_with_sync_always() {
    // With `--sync always` replies are sent by the replier thread through the client's
    // session, after the fsync that covers their writes.
    let certs = Certs::new("tls-sync-always");
    let dir = super::support::TempDir::new("tls-sync-always-data");
    let (_server, tls_port) = tls_server(&certs, &["--data-dir", dir.path(), "--sync", "always"]);
    let mut c = TlsClient::connect(tls_port, certs.client_config(false)).unwrap();
    let big = "y".repeat(300_000);
    // Requests large, replies small; then requests small, replies large (a client that sent
    // megabytes without reading would hold up its own replies, as with any server).
    let mut sets = Vec::new();
    for i in 0..20 {
        sets.extend_from_slice(&super::support::resp(&[
            b"SET",
            format!("k{i}").as_bytes(),
            big.as_bytes(),
        ]));
    }
    assert_eq!(c.roundtrip(&sets, 5 * 20).unwrap(), "+OK\r\n".repeat(20));
    let mut gets = Vec::new();
    for i in 0..5 {
        gets.extend_from_slice(&super::support::resp(&[b"GET", format!("k{i}").as_bytes()]));
    }
    let one = format!("$300000\r\n{big}\r\n");
    let got = c.roundtrip(&gets, one.len() * 5).unwrap();
    assert!(got == one.repeat(5), "the replies differ");
    exchange(&mut c, PING, "+PONG\r\n");
}

#[test]
fn a_tls_client_stalled_mid_record_holds_up_only_itself() {
    let certs = Certs::new("tls-stall");
    let (server, tls_port) = tls_server(&certs, &["--in-memory"]);
    // A client sends half of a record and stops.
    let mut stalled = TlsClient::connect(tls_port, certs.client_config(false)).unwrap();
    let rec = records(
        &mut stalled,
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n",
    );
    let half = rec.len() / 2;
    stalled.tls.sock.write_all(&rec[..half]).unwrap();
    // Others are served meanwhile, over TLS and plaintext.
    let mut other = TlsClient::connect(tls_port, certs.client_config(false)).unwrap();
    exchange(&mut other, PING, "+PONG\r\n");
    let mut plain = server.client();
    let v: Option<String> = redis::cmd("GET").arg("k").query(&mut plain).unwrap();
    assert_eq!(v, None, "half a record ran nothing");
    // The rest of the record arrives: the command runs and is answered.
    stalled.tls.sock.write_all(&rec[half..]).unwrap();
    exchange(&mut stalled, b"", "+OK\r\n");

    // A subscriber that stalls mid-record keeps receiving its messages: its thread waits for
    // the rest of the record and for room in its socket together.
    let mut sub = TlsClient::connect(tls_port, certs.client_config(false)).unwrap();
    exchange(
        &mut sub,
        b"*2\r\n$9\r\nSUBSCRIBE\r\n$2\r\nch\r\n",
        "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n",
    );
    let rec = records(&mut sub, PING);
    let half = rec.len() / 2;
    sub.tls.sock.write_all(&rec[..half]).unwrap();
    let payload = "p".repeat(1000);
    for _ in 0..6000 {
        let _: i64 = redis::cmd("PUBLISH")
            .arg("ch")
            .arg(&payload)
            .query(&mut plain)
            .unwrap();
    }
    let want = messages("ch", &payload, 6000);
    let got = sub.roundtrip(b"", want.len()).unwrap();
    assert!(got == want, "the messages differ from what was published");
    sub.tls.sock.write_all(&rec[half..]).unwrap();
    exchange(&mut sub, b"", "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
}

/// CONFIG SET of `pairs` on `plain`, unwrapped.
fn config_set(plain: &mut redis::Connection, pairs: &[(&str, &str)]) -> redis::RedisResult<()> {
    let mut cmd = redis::cmd("CONFIG");
    cmd.arg("SET");
    for (k, v) in pairs {
        cmd.arg(*k).arg(*v);
    }
    cmd.exec(plain)
}

/// A rustls client configuration with the test CA, for TLS 1.2 only if `tls12`, preferring
/// the CHACHA20 suites if `chacha_first`.
fn client_config_versions(
    certs: &Certs,
    tls12: bool,
    chacha_first: bool,
) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(certs.path("ca.crt")).unwrap())
        .unwrap();
    let versions: &[&rustls::SupportedProtocolVersion] = if tls12 {
        &[&rustls::version::TLS12]
    } else {
        rustls::DEFAULT_VERSIONS
    };
    let mut provider = rustls::crypto::ring::default_provider();
    if chacha_first {
        provider
            .cipher_suites
            .sort_by_key(|s| !format!("{:?}", s.suite()).contains("CHACHA20"));
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

#[test]
fn tls_ciphers_prefer_server_ciphers_and_session_caching_apply() {
    let certs = Certs::new("tls-ciphers");
    let (server, tls_port) = tls_server(&certs, &["--in-memory"]);
    let mut plain = server.client();
    // tls-ciphers picks the TLS 1.2 suites; among them the client's order wins, or the
    // server's with tls-prefer-server-ciphers (rustls's order: AES-256-GCM before ChaCha20).
    config_set(
        &mut plain,
        &[(
            "tls-ciphers",
            "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305",
        )],
    )
    .unwrap();
    let suite = |plain: &mut redis::Connection, prefer: &str| {
        config_set(plain, &[("tls-prefer-server-ciphers", prefer)]).unwrap();
        let mut c =
            TlsClient::connect(tls_port, client_config_versions(&certs, true, true)).unwrap();
        exchange(&mut c, PING, "+PONG\r\n");
        c.tls.conn.negotiated_cipher_suite().unwrap().suite()
    };
    assert_eq!(
        suite(&mut plain, "no"),
        rustls::CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
    );
    assert_eq!(
        suite(&mut plain, "yes"),
        rustls::CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
    );
    config_set(
        &mut plain,
        &[("tls-ciphers", "ECDHE-RSA-CHACHA20-POLY1305")],
    )
    .unwrap();
    assert_eq!(
        suite(&mut plain, "yes"),
        rustls::CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
    );
    // A list that selects nothing kv has is refused, and nothing changes.
    let err = config_set(&mut plain, &[("tls-ciphers", "AES128-SHA")]).unwrap_err();
    assert!(
        super::support::error_text(&err).contains("Unable to update TLS configuration"),
        "{err}"
    );
    let got: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("tls-ciphers")
        .query(&mut plain)
        .unwrap();
    assert_eq!(got, ["tls-ciphers", "ECDHE-RSA-CHACHA20-POLY1305"]);

    // Session caching: a second connection with the same client configuration resumes;
    // with tls-session-caching no it cannot.
    for (caching, want) in [
        ("yes", rustls::HandshakeKind::Resumed),
        ("no", rustls::HandshakeKind::Full),
    ] {
        config_set(&mut plain, &[("tls-session-caching", caching)]).unwrap();
        let config = client_config_versions(&certs, false, false);
        let mut first = TlsClient::connect(tls_port, Arc::clone(&config)).unwrap();
        // TLS 1.3 tickets arrive after the handshake: a round trip collects them.
        exchange(&mut first, PING, "+PONG\r\n");
        let mut second = TlsClient::connect(tls_port, config).unwrap();
        exchange(&mut second, PING, "+PONG\r\n");
        assert_eq!(second.tls.conn.handshake_kind(), Some(want), "{caching}");
    }
}

#[test]
fn tls_ca_cert_dir_verifies_clients_and_encrypted_keys_are_refused() {
    let certs = Certs::new("tls-ca-dir");
    let cas = format!("{}/cas", certs.dir.path());
    std::fs::create_dir_all(&cas).unwrap();
    std::fs::copy(certs.path("ca.crt"), format!("{cas}/ca.pem")).unwrap();
    let (port, tls_port) = (free_port(), free_port());
    let config = certs.config(port, tls_port, &format!("tls-ca-cert-dir {cas}\n"));
    // The config file's tls-ca-cert-file is replaced by the directory.
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace(&format!("tls-ca-cert-file {}\n", certs.path("ca.crt")), "");
    std::fs::write(&config, text).unwrap();
    let server = Server::start_raw(&["--in-memory", "--bind", "127.0.0.1", "--config", &config]);
    let mut c = TlsClient::connect(tls_port, certs.client_config(true)).unwrap();
    exchange(&mut c, PING, "+PONG\r\n");
    let refused = match TlsClient::connect(tls_port, certs.client_config(false)) {
        Err(e) => e.to_string(),
        Ok(mut c) => c.roundtrip(PING, 7).unwrap_err().to_string(),
    };
    assert!(refused.contains("CertificateRequired"), "{refused}");

    // An encrypted key: refused with the reason in the log (kv cannot decrypt keys).
    run(Command::new("openssl")
        .args([
            "pkcs8",
            "-topk8",
            "-in",
            "server.key",
            "-out",
            "enc.key",
            "-passout",
            "pass:pw",
        ])
        .current_dir(certs.dir.path()));
    let mut plain = server.client();
    let err = config_set(
        &mut plain,
        &[
            ("tls-key-file-pass", "pw"),
            ("tls-key-file", &certs.path("enc.key")),
        ],
    )
    .unwrap_err();
    assert!(
        super::support::error_text(&err).contains("Unable to update TLS configuration"),
        "{err}"
    );
    let log = server.log_with("kv cannot decrypt private keys");
    assert!(
        log.contains("is encrypted (tls-key-file-pass is set)"),
        "{log}"
    );
    let mut c = TlsClient::connect(tls_port, certs.client_config(true)).unwrap();
    exchange(&mut c, PING, "+PONG\r\n");
}

/// Waits until `con` reads `value` at `key`.
fn wait_value(con: &mut redis::Connection, key: &str, value: &str, what: &str) {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let got: Option<String> = redis::cmd("GET").arg(key).query(con).ok().flatten();
        if got.as_deref() == Some(value) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what} never read {key}={value}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn replication_runs_over_tls_to_kv_and_redis_replicas() {
    let certs = Certs::new("tls-repl");
    // The primary wants client certificates (tls-auth-clients defaults to yes).
    let (port, tls_port) = (free_port(), free_port());
    let config = certs.config(port, tls_port, "");
    let primary = Server::start_raw(&["--bind", "127.0.0.1", "--in-memory", "--config", &config]);
    let mut p = primary.client();
    let _: () = redis::cmd("SET")
        .arg("before")
        .arg("1")
        .query(&mut p)
        .unwrap();
    // A kv replica that connects with TLS, presenting the client certificate.
    let replica_config = certs.config(
        free_port(),
        free_port(),
        &format!(
            "tls-replication yes\ntls-client-cert-file {}\ntls-client-key-file {}\n\
             replicaof 127.0.0.1 {tls_port}\n",
            certs.path("client.crt"),
            certs.path("client.key")
        ),
    );
    let replica = Server::start_raw(&[
        "--bind",
        "127.0.0.1",
        "--in-memory",
        "--config",
        &replica_config,
    ]);
    let mut r = replica.client();
    wait_value(&mut r, "before", "1", "the kv replica");
    let _: () = redis::cmd("SET")
        .arg("after")
        .arg("2")
        .query(&mut p)
        .unwrap();
    wait_value(&mut r, "after", "2", "the kv replica");
    // A redis-server replica over TLS too (it checks kv's certificate against the CA).
    let dir = TempDir::new("tls-repl-redis");
    let tls = tls_port.to_string();
    let redis_tls_port = free_port().to_string();
    let Some(redis) = super::support::RedisServer::start(
        dir.path(),
        &[
            "--tls-port",
            &redis_tls_port,
            "--tls-cert-file",
            &certs.path("server.crt"),
            "--tls-key-file",
            &certs.path("server.key"),
            "--tls-ca-cert-file",
            &certs.path("ca.crt"),
            "--tls-client-cert-file",
            &certs.path("client.crt"),
            "--tls-client-key-file",
            &certs.path("client.key"),
            "--tls-replication",
            "yes",
            "--replicaof",
            "127.0.0.1",
            &tls,
        ],
    ) else {
        return;
    };
    let mut rr = redis::Client::open(format!("unix://{}", redis.socket))
        .unwrap()
        .get_connection()
        .unwrap();
    wait_value(&mut rr, "after", "2", "the redis-server replica");
    let _: () = redis::cmd("SET")
        .arg("last")
        .arg("3")
        .query(&mut p)
        .unwrap();
    wait_value(&mut rr, "last", "3", "the redis-server replica");
    wait_value(&mut r, "last", "3", "the kv replica");
    let info: String = redis::cmd("INFO").arg("replication").query(&mut p).unwrap();
    assert!(info.contains("connected_slaves:2"), "{info}");
}
