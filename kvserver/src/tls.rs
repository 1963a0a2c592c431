//! TLS on `tls-port`, through rustls (its `ring` provider).
//!
//! A TLS connection is served by the same connection code as a plaintext one: after the
//! handshake, a relay thread ("pump") moves bytes between the client's TCP socket, where they
//! are encrypted, and one end of a local socket pair, where they are plain; the connection
//! thread serves the other end of the pair as it serves any client socket (reads, writes, the
//! replier's and publishers' non-blocking sends, shutdown by CLIENT KILL). So the plaintext path
//! is untouched, and every way a reply can reach a client (its own thread, the replier,
//! another client's PUBLISH) goes through one TLS session, in order.
//!
//! Certificates and settings are read into a [`rustls::ServerConfig`] at start-up and again on
//! CONFIG SET of a `tls-*` parameter; a new connection takes the configuration current when it
//! is accepted, open ones keep theirs (as Redis does).

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::RwLock;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection};

/// How long a client has to complete its handshake before it is disconnected (a client that
/// opens a connection and then sends nothing must not hold a thread for ever).
pub(crate) const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);
/// The most plaintext read from either side at a time.
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

/// Completes the TLS handshake on `tcp` (within [`HANDSHAKE_DEADLINE`]), then starts relaying:
/// returns the plaintext end of a socket pair, as a `TcpStream` for the connection code (only
/// the calls that every stream socket answers are made on it: read, write, send/recv flags,
/// shutdown, timeouts, peek), and the relay's thread.
///
/// # Errors
/// The handshake failed (the client was refused: no or a bad certificate, no common protocol)
/// or timed out, or the socket pair or thread could not be made.
pub(crate) fn accept(
    tcp: TcpStream,
    config: Arc<ServerConfig>,
    stack: usize,
) -> io::Result<(TcpStream, std::thread::JoinHandle<()>)> {
    let mut tls = ServerConnection::new(config).map_err(io::Error::other)?;
    tcp.set_nodelay(true)?;
    handshake(&tcp, &mut tls)?;
    let (inner, outer) = UnixStream::pair()?;
    let pump = Pump {
        tcp,
        plain: outer,
        tls,
    };
    let thread = std::thread::Builder::new()
        .name("tls-pump".into())
        .stack_size(stack)
        .spawn(move || pump.run())?;
    // SAFETY: the descriptor comes from `into_raw_fd`, so it is open and owned by no one else;
    // the TcpStream takes ownership. It is used only through calls that behave alike on
    // AF_UNIX and AF_INET stream sockets (the caller has the TCP socket's addresses).
    let inner = unsafe { TcpStream::from_raw_fd(inner.into_raw_fd()) };
    Ok((inner, thread))
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
    tcp.set_write_timeout(None)?;
    tcp.set_nonblocking(true)
}

/// Relays between a TLS client and the connection thread's plaintext socket.
struct Pump {
    tcp: TcpStream,
    plain: UnixStream,
    tls: ServerConnection,
}

impl Pump {
    fn run(mut self) {
        if let Err(e) = self.relay() {
            crate::log::verbose!("TLS connection ended: {e}");
        }
        // Ends the connection thread's reads (it sees end-of-file) whatever ended the relay.
        let _ = self.plain.shutdown(std::net::Shutdown::Both);
        let _ = self.tcp.shutdown(std::net::Shutdown::Both);
    }

    /// Decrypts what was read from the client into `to_plain` (empty before); true when the
    /// client has closed its side.
    fn take_plaintext(&mut self, to_plain: &mut Vec<u8>) -> io::Result<bool> {
        let state = match self.tls.process_new_packets() {
            Ok(state) => state,
            Err(e) => {
                // Its alert goes out before the connection closes.
                let _ = self.tls.write_tls(&mut self.tcp);
                return Err(io::Error::other(e));
            }
        };
        let n = state.plaintext_bytes_to_read();
        if n > 0 {
            to_plain.resize(n, 0);
            self.tls.reader().read_exact(to_plain)?;
        }
        Ok(state.peer_has_closed())
    }

    /// Moves bytes until either side is done. Never blocks on a write: each direction holds at
    /// most one chunk in flight, and a side is read only when the other can take what it gives,
    /// so a client that stops reading stops its connection's replies, not the relay of its
    /// requests (and the connection thread's output limits apply as for any client).
    fn relay(&mut self) -> io::Result<()> {
        self.plain.set_nonblocking(true)?;
        let mut to_plain: Vec<u8> = Vec::new();
        let mut sent = 0usize;
        let mut buf = vec![0u8; CHUNK];
        // The handshake may have read the client's first requests along with its last
        // handshake message.
        let mut client_done = self.take_plaintext(&mut to_plain)?;
        loop {
            // Flush what rustls holds for the client.
            while self.tls.wants_write() {
                match self.tls.write_tls(&mut self.tcp) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
            // Hand the connection thread what the client sent.
            while sent < to_plain.len() {
                match self.plain.write(&to_plain[sent..]) {
                    Ok(n) => sent += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
            if sent == to_plain.len() {
                to_plain.clear();
                sent = 0;
                if client_done {
                    // The client closed: so does the connection's input, once handed over.
                    let _ = self.plain.shutdown(std::net::Shutdown::Write);
                }
            }

            let read_client = !client_done && to_plain.is_empty();
            let read_plain = !self.tls.wants_write();
            let mut fds = [
                libc::pollfd {
                    fd: self.tcp.as_raw_fd(),
                    events: (if read_client { libc::POLLIN } else { 0 })
                        | (if self.tls.wants_write() {
                            libc::POLLOUT
                        } else {
                            0
                        }),
                    revents: 0,
                },
                libc::pollfd {
                    fd: self.plain.as_raw_fd(),
                    events: (if read_plain { libc::POLLIN } else { 0 })
                        | (if to_plain.is_empty() {
                            0
                        } else {
                            libc::POLLOUT
                        }),
                    revents: 0,
                },
            ];
            // SAFETY: `fds` is a valid array of two pollfd for the duration of the call.
            let r = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
            if r < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let hup = libc::POLLHUP | libc::POLLERR;
            if read_client && fds[0].revents & (libc::POLLIN | hup) != 0 {
                match self.tls.read_tls(&mut self.tcp) {
                    Ok(0) => client_done = true,
                    Ok(_) => client_done = self.take_plaintext(&mut to_plain)?,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
                if client_done && to_plain.is_empty() {
                    let _ = self.plain.shutdown(std::net::Shutdown::Write);
                }
            } else if fds[0].revents & libc::POLLERR != 0 {
                return Err(io::Error::other("client socket error"));
            }
            if read_plain && fds[1].revents & (libc::POLLIN | hup) != 0 {
                match self.plain.read(&mut buf) {
                    Ok(0) => {
                        // The connection thread is done (QUIT, CLIENT KILL, an error): say
                        // goodbye properly and send what is left.
                        self.tls.send_close_notify();
                        self.tcp.set_nonblocking(false)?;
                        self.tcp.set_write_timeout(Some(HANDSHAKE_DEADLINE))?;
                        while self.tls.wants_write() {
                            self.tls.write_tls(&mut self.tcp)?;
                        }
                        return Ok(());
                    }
                    Ok(n) => self.tls.writer().write_all(&buf[..n])?,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
}
