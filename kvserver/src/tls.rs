//! TLS on `tls-port`, through rustls (its `ring` provider).
//!
//! A TLS connection is served by the same connection code as a plaintext one, on its own
//! thread: after the handshake its session ([`Link`]) sits in the connection's
//! [`crate::wire::Wire`], through which the connection's thread reads and writes, and the
//! replier and publishers send without blocking. Every way a reply can reach a client goes
//! through that one session, under its lock, in order; nobody blocks holding the lock.
//!
//! Certificates and settings are read into a [`rustls::ServerConfig`] at start-up and again on
//! CONFIG SET of a `tls-*` parameter; a new connection takes the configuration current when it
//! is accepted, open ones keep theirs (as Redis does).

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection};

/// How long a client has to complete its handshake before it is disconnected (a client that
/// opens a connection and then sends nothing must not hold a thread for ever).
pub(crate) const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);
/// The most encrypted input read from the socket at a time.
const CHUNK: usize = 16 * 1024;

/// The `tls-*` parameters that make up the TLS configuration (CONFIG SET of one rebuilds it).
pub(crate) const PARAMS: &[&str] = &[
    "tls-cert-file",
    "tls-key-file",
    "tls-ca-cert-file",
    "tls-auth-clients",
    "tls-protocols",
    "tls-ciphersuites",
];

/// The values of [`PARAMS`], as the parameter table holds them.
#[derive(Debug, Default, Clone)]
pub(crate) struct Settings {
    pub(crate) cert_file: String,
    pub(crate) key_file: String,
    pub(crate) ca_cert_file: String,
    /// `yes`, `no` or `optional`.
    pub(crate) auth_clients: String,
    /// Space-separated: `TLSv1.2`, `TLSv1.3` (empty: both, Redis's default).
    pub(crate) protocols: String,
    /// TLS 1.3 suites by their OpenSSL names, colon-separated (empty: rustls's).
    pub(crate) ciphersuites: String,
}

impl Settings {
    /// The settings from the parameter table's values (`value(name)`).
    pub(crate) fn from_params(value: impl Fn(&str) -> String) -> Settings {
        Settings {
            cert_file: value("tls-cert-file"),
            key_file: value("tls-key-file"),
            ca_cert_file: value("tls-ca-cert-file"),
            auth_clients: value("tls-auth-clients"),
            protocols: value("tls-protocols"),
            ciphersuites: value("tls-ciphersuites"),
        }
    }

    /// Reads the certificate, key and CA files and builds the server configuration.
    ///
    /// # Errors
    /// What is wrong, for the log: a file that cannot be read or holds no certificate or key,
    /// a key that does not match its certificate, an unknown protocol or suite name.
    pub(crate) fn build(&self) -> Result<Arc<ServerConfig>, String> {
        if self.cert_file.is_empty() || self.key_file.is_empty() {
            return Err("tls-cert-file and tls-key-file must be set".into());
        }
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&self.cert_file)
            .and_then(|it| it.collect::<Result<_, _>>())
            .map_err(|e| format!("cannot load tls-cert-file {}: {e}", self.cert_file))?;
        if certs.is_empty() {
            return Err(format!("no certificate in {}", self.cert_file));
        }
        let key = PrivateKeyDer::from_pem_file(&self.key_file)
            .map_err(|e| format!("cannot load tls-key-file {}: {e}", self.key_file))?;

        let mut provider = rustls::crypto::ring::default_provider();
        if !self.ciphersuites.is_empty() {
            let wanted: Vec<String> = self
                .ciphersuites
                .split(':')
                .filter(|s| !s.is_empty())
                .map(|s| s.to_ascii_uppercase())
                .collect();
            for name in &wanted {
                if !provider
                    .cipher_suites
                    .iter()
                    .any(|s| openssl_name(s).as_deref() == Some(name.as_str()))
                {
                    return Err(format!(
                        "unknown or unsupported TLS 1.3 cipher suite {name}"
                    ));
                }
            }
            // TLS 1.2 suites are tls-ciphers' business (kv keeps rustls's); 1.3 ones are kept
            // when named.
            provider.cipher_suites.retain(|s| match openssl_name(s) {
                Some(n) => wanted.contains(&n),
                None => true,
            });
        }
        let provider = Arc::new(provider);

        let mut versions: Vec<&'static rustls::SupportedProtocolVersion> = Vec::new();
        let protocols = if self.protocols.trim().is_empty() {
            "TLSv1.2 TLSv1.3"
        } else {
            self.protocols.as_str()
        };
        for p in protocols.split_ascii_whitespace() {
            match p.to_ascii_lowercase().as_str() {
                "tlsv1.2" => versions.push(&rustls::version::TLS12),
                "tlsv1.3" => versions.push(&rustls::version::TLS13),
                "tlsv1" | "tlsv1.1" => {} // rustls refuses them as unsafe
                _ => return Err(format!("invalid tls-protocols value {p:?}")),
            }
        }
        if versions.is_empty() {
            return Err(format!(
                "tls-protocols {protocols:?} names no protocol kv supports (TLSv1.2, TLSv1.3)"
            ));
        }

        let verifier = match self.auth_clients.as_str() {
            "no" => WebPkiClientVerifier::no_client_auth(),
            mode => {
                if self.ca_cert_file.is_empty() {
                    return Err(
                        "tls-ca-cert-file must be set when tls-auth-clients is enabled \
                                (set tls-auth-clients no to accept clients without a certificate)"
                            .into(),
                    );
                }
                let mut roots = RootCertStore::empty();
                let cas = CertificateDer::pem_file_iter(&self.ca_cert_file)
                    .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| {
                        format!("cannot load tls-ca-cert-file {}: {e}", self.ca_cert_file)
                    })?;
                let (added, _) = roots.add_parsable_certificates(cas);
                if added == 0 {
                    return Err(format!("no CA certificate in {}", self.ca_cert_file));
                }
                let builder =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
                let builder = if mode == "optional" {
                    builder.allow_unauthenticated()
                } else {
                    builder
                };
                builder
                    .build()
                    .map_err(|e| format!("cannot verify client certificates: {e}"))?
            }
        };
        let config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&versions)
            .map_err(|e| format!("tls-protocols: {e}"))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs, key)
            .map_err(|e| format!("tls-cert-file and tls-key-file: {e}"))?;
        Ok(Arc::new(config))
    }
}

/// A TLS 1.3 suite's OpenSSL name (`TLS_AES_128_GCM_SHA256`), the one `tls-ciphersuites` uses;
/// `None` for a TLS 1.2 suite.
fn openssl_name(suite: &rustls::SupportedCipherSuite) -> Option<String> {
    let name = format!("{:?}", suite.suite());
    name.strip_prefix("TLS13_")
        .map(|rest| format!("TLS_{rest}"))
}

/// The configuration new TLS connections get; replaced by CONFIG SET.
#[derive(Debug, Default)]
pub(crate) struct Current(RwLock<Option<Arc<ServerConfig>>>);

impl Current {
    pub(crate) fn get(&self) -> Option<Arc<ServerConfig>> {
        self.0.read().clone()
    }

    pub(crate) fn set(&self, config: Arc<ServerConfig>) {
        *self.0.write() = Some(config);
    }
}

/// Completes the TLS handshake on `tcp` (within [`HANDSHAKE_DEADLINE`]) and returns the
/// session, for the connection's [`crate::wire::Wire`]. The socket is left blocking, without
/// timeouts, as a plaintext client's.
///
/// # Errors
/// The handshake failed (the client was refused: no or a bad certificate, no common protocol)
/// or timed out.
pub(crate) fn accept(tcp: &TcpStream, config: Arc<ServerConfig>) -> io::Result<Box<Link>> {
    let mut tls = ServerConnection::new(config).map_err(io::Error::other)?;
    tcp.set_nodelay(true)?;
    handshake(tcp, &mut tls)?;
    // Output is bounded by the callers, which hand over at most SEND_CHUNK at a time and only
    // once what was encrypted before has left.
    tls.set_buffer_limit(None);
    Ok(Box::new(Link {
        session: Mutex::new(tls),
        input: Mutex::new(Input::default()),
    }))
}

/// Runs the handshake with blocking I/O and a deadline.
fn handshake(mut tcp: &TcpStream, tls: &mut ServerConnection) -> io::Result<()> {
    let deadline = Instant::now() + HANDSHAKE_DEADLINE;
    while tls.is_handshaking() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "TLS handshake timed out",
            ));
        }
        tcp.set_read_timeout(Some(left))?;
        tcp.set_write_timeout(Some(left))?;
        // `complete_io` reads and writes until the handshake needs the peer; an error
        // (a refused client certificate) has its alert written first.
        match tls.complete_io(&mut tcp) {
            Ok((0, 0)) if tls.is_handshaking() => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "client closed during the TLS handshake",
                ));
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "TLS handshake timed out",
                ));
            }
            Err(e) => return Err(e),
        }
    }
    // Whatever rustls still has to send (session tickets) goes out now.
    while tls.wants_write() {
        tls.write_tls(&mut tcp)?;
    }
    tcp.set_read_timeout(None)?;
    tcp.set_write_timeout(None)
}

/// The most plaintext handed to the session per send: what is encrypted but not yet taken by
/// the socket stays below about this much (plus one batch's worth the owner may add).
const SEND_CHUNK: usize = 64 * 1024;
/// Decryption stops once this much plaintext waits (rustls refuses input past 16 KiB of it).
const PLAIN_MAX: usize = 16 * 1024;

/// A TLS connection's session, shared by every thread that writes to the client (its own,
/// the replier, publishers), each under the lock for a non-blocking step: records are
/// encrypted in the order the plaintext was handed over and leave in that order. Nobody
/// blocks while holding it: a writer that finds the socket full waits in `poll` without it,
/// and the connection's thread reads the socket into `input` before it takes the lock to
/// decrypt.
#[derive(Debug)]
pub(crate) struct Link {
    session: Mutex<ServerConnection>,
    /// Encrypted input read from the socket, not yet given to the session. Only the
    /// connection's own thread reads, so this lock is never contended; it is taken before
    /// `session` when both are.
    input: Mutex<Input>,
}

#[derive(Debug, Default)]
struct Input {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The socket reached its end.
    eof: bool,
}

impl Link {
    /// The connection's thread: decrypted input into `buf`, reading the socket (blocking if
    /// `wait`, else `WouldBlock` when no complete record is there) only when the session holds
    /// none. 0: the client closed (`close_notify` or the socket's end).
    ///
    /// # Errors
    /// The socket's, or the client broke the protocol (its alert is sent).
    pub(crate) fn read(&self, tcp: &TcpStream, buf: &mut [u8], wait: bool) -> io::Result<usize> {
        let mut input = self.input.lock();
        loop {
            {
                let mut s = self.session.lock();
                match s.reader().read(buf) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
                if input.start < input.end {
                    feed(&mut s, &mut input, buf.len(), tcp)?;
                    continue;
                }
            }
            if input.eof {
                return Ok(0);
            }
            if input.buf.is_empty() {
                input.buf = vec![0; CHUNK];
            }
            let n = if wait {
                (&*tcp).read(&mut input.buf)?
            } else {
                crate::os::recv_nowait(tcp, &mut input.buf)?
            };
            if n == 0 {
                input.eof = true;
                return Ok(0);
            }
            input.start = 0;
            input.end = n;
        }
    }

    /// Whether [`Link::read`] would return without the socket: plaintext or undecrypted
    /// input is held, or the client closed.
    pub(crate) fn has_input(&self) -> bool {
        let input = self.input.lock();
        if input.start < input.end || input.eof {
            return true;
        }
        match self.session.lock().process_new_packets() {
            Ok(state) => state.plaintext_bytes_to_read() > 0 || state.peer_has_closed(),
            Err(_) => true,
        }
    }

    /// The connection's thread, while its client is blocked (BLPOP & co.): whether the client
    /// closed (`close_notify`, the socket's end) or the connection failed. Decrypts what has
    /// arrived without losing it.
    pub(crate) fn peer_closed(&self, tcp: &TcpStream) -> bool {
        let mut input = self.input.lock();
        if input.eof {
            return true;
        }
        if input.start == input.end {
            if input.buf.is_empty() {
                input.buf = vec![0; CHUNK];
            }
            match crate::os::recv_nowait(tcp, &mut input.buf) {
                Ok(0) => {
                    input.eof = true;
                    return true;
                }
                Ok(n) => {
                    input.start = 0;
                    input.end = n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return true,
            }
        }
        let mut s = self.session.lock();
        let Ok(state) = s.process_new_packets() else {
            return true;
        };
        if state.plaintext_bytes_to_read() == 0
            && input.start < input.end
            && feed(&mut s, &mut input, PLAIN_MAX, tcp).is_err()
        {
            return true;
        }
        s.process_new_packets()
            .map_or(true, |state| state.peer_has_closed())
    }

    /// Any thread, without blocking: sends what the session holds encrypted; if all of it
    /// left, encrypts up to [`SEND_CHUNK`] of `buf` and sends what the socket takes. Returns
    /// how much of `buf` was taken (its encrypted form may still be held: [`Link::unsent`]);
    /// `WouldBlock` if none (earlier records are still waiting for room).
    ///
    /// # Errors
    /// The socket's.
    pub(crate) fn send_nowait(&self, tcp: &TcpStream, buf: &[u8]) -> io::Result<usize> {
        let mut s = self.session.lock();
        flush(&mut s, tcp)?;
        Ok(encrypt(&mut s, tcp, buf)?.0)
    }

    /// Any thread, without blocking: sends what the session holds encrypted; whether some is
    /// still left.
    ///
    /// # Errors
    /// The socket's.
    pub(crate) fn flush_nowait(&self, tcp: &TcpStream) -> io::Result<bool> {
        let mut s = self.session.lock();
        match flush(&mut s, tcp) {
            Ok(()) => Ok(false),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(true),
            Err(e) => Err(e),
        }
    }

    /// Encrypted bytes the socket has not taken yet.
    pub(crate) fn unsent(&self) -> usize {
        let mut s = self.session.lock();
        if !s.wants_write() {
            return 0;
        }
        s.process_new_packets()
            .map_or(1, |state| state.tls_bytes_to_write().max(1))
    }

    /// The connection's thread: writes all of `buf` and everything held before it, waiting for
    /// room in `poll` (without the lock) as long as the socket's send timeout allows each
    /// wait.
    ///
    /// # Errors
    /// The socket's; `WouldBlock` when a wait timed out.
    pub(crate) fn write_all(&self, tcp: &TcpStream, mut buf: &[u8]) -> io::Result<()> {
        loop {
            let (taken, left) = self.step(tcp, buf)?;
            buf = &buf[taken..];
            if !left && buf.is_empty() {
                return Ok(());
            }
            if left {
                wait_writable(tcp, tcp.write_timeout()?)?;
            }
        }
    }

    /// The connection's thread: takes some of `buf` (not empty), waiting for room as
    /// [`Link::write_all`] does; what it took may still be held encrypted.
    ///
    /// # Errors
    /// As [`Link::write_all`].
    pub(crate) fn write(&self, tcp: &TcpStream, buf: &[u8]) -> io::Result<usize> {
        loop {
            let (taken, left) = self.step(tcp, buf)?;
            if taken > 0 || buf.is_empty() {
                return Ok(taken);
            }
            if left {
                wait_writable(tcp, tcp.write_timeout()?)?;
            }
        }
    }

    /// The connection's thread: sends everything held encrypted, waiting at most `timeout`
    /// for room each time.
    ///
    /// # Errors
    /// The socket's; `WouldBlock` when a wait timed out.
    pub(crate) fn flush_wait(&self, tcp: &TcpStream, timeout: Option<Duration>) -> io::Result<()> {
        loop {
            if !self.flush_nowait(tcp)? {
                return Ok(());
            }
            wait_writable(tcp, timeout)?;
        }
    }

    /// One non-blocking step of a blocking write: how much of `buf` was taken, and whether
    /// encrypted bytes are still held.
    fn step(&self, tcp: &TcpStream, buf: &[u8]) -> io::Result<(usize, bool)> {
        let mut s = self.session.lock();
        match flush(&mut s, tcp) {
            Ok(()) => encrypt(&mut s, tcp, buf),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok((0, true)),
            Err(e) => Err(e),
        }
    }

    /// The connection's end: `close_notify`, if the socket takes it at once.
    pub(crate) fn close(&self, tcp: &TcpStream) {
        let mut s = self.session.lock();
        s.send_close_notify();
        let _ = flush(&mut s, tcp);
    }
}

/// Gives the session what `input` holds, decrypting as it goes, until it is all taken or
/// `want` bytes of plaintext (at most [`PLAIN_MAX`]) wait; sends what the records call for
/// (an alert, a key update's answer) if the socket takes it.
fn feed(
    s: &mut ServerConnection,
    input: &mut Input,
    want: usize,
    tcp: &TcpStream,
) -> io::Result<()> {
    while input.start < input.end {
        let mut rd = &input.buf[input.start..input.end];
        let n = s.read_tls(&mut rd)?;
        input.start += n;
        let state = match s.process_new_packets() {
            Ok(state) => state,
            Err(e) => {
                // Its alert goes out before the connection closes.
                let _ = flush(s, tcp);
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
        };
        if state.peer_has_closed() || state.plaintext_bytes_to_read() >= want.clamp(1, PLAIN_MAX) {
            break;
        }
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the TLS session took no more input",
            ));
        }
    }
    match flush(s, tcp) {
        Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
        _ => Ok(()),
    }
}

/// Encrypts up to [`SEND_CHUNK`] of `buf` (the session holds nothing unsent) and sends what
/// the socket takes: how much was taken, and whether encrypted bytes are still held.
fn encrypt(s: &mut ServerConnection, tcp: &TcpStream, buf: &[u8]) -> io::Result<(usize, bool)> {
    let n = buf.len().min(SEND_CHUNK);
    if n > 0 {
        s.writer().write_all(&buf[..n])?;
    }
    match flush(s, tcp) {
        Ok(()) => Ok((n, false)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok((n, true)),
        Err(e) => Err(e),
    }
}

/// Sends what the session holds encrypted, without blocking: `WouldBlock` if the socket is
/// full before all of it left.
fn flush(s: &mut ServerConnection, tcp: &TcpStream) -> io::Result<()> {
    while s.wants_write() {
        match s.write_tls(&mut NoWait(tcp)) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Waits until `tcp` can take more (or failed); `WouldBlock` if `timeout` passed first.
fn wait_writable(tcp: &TcpStream, timeout: Option<Duration>) -> io::Result<()> {
    if crate::os::wait_writable(tcp, timeout)? {
        Ok(())
    } else {
        Err(io::ErrorKind::WouldBlock.into())
    }
}

/// The socket as rustls writes records to it: non-blocking sends, several records per call.
struct NoWait<'a>(&'a TcpStream);

impl Write for NoWait<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        crate::os::send_nowait(self.0, buf)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        crate::os::sendmsg_nowait(self.0, bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
