//! Test doubles for `--live`: TLS servers that stand in for the components
//! this machine cannot run (each loads its certificate as the real one does:
//! once at start, or from its files on every handshake), a fake `/proc` that
//! says which process runs since when, and a real etcd started on loopback.
//! Every wait here is bounded.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs
)]

use std::fs;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use kubecred::domain::issue::{self, KeyAlgorithm};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use time::OffsetDateTime;

/// A loopback port nothing listens on (it was free a moment ago).
pub fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Where a double's certificate comes from.
#[derive(Clone)]
pub enum Source {
    /// Made or read once, when the double starts.
    Fixed(Arc<CertifiedKey>),
    /// Read from these files (certificate, key) on every handshake.
    Files(PathBuf, PathBuf),
}

impl Source {
    /// The files, read now and kept: a component that loads them at start.
    pub fn loaded_once(cert: &Path, key: &Path) -> Self {
        Self::Fixed(Arc::new(certified(
            &fs::read(cert).unwrap(),
            &fs::read(key).unwrap(),
        )))
    }

    /// A self-signed certificate made now, valid until `not_after`, as
    /// kube-controller-manager, kube-scheduler and kube-apiserver's loopback
    /// make theirs in memory.
    pub fn in_memory(common_name: &str, not_after: OffsetDateTime) -> Self {
        let key = issue::generate_key(KeyAlgorithm::EcdsaP256).unwrap();
        let mut params = rcgen::CertificateParams::new(vec![common_name.to_owned()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        params.not_before = not_after - time::Duration::days(365);
        params.not_after = not_after;
        let cert = params.self_signed(&key.pair).unwrap();
        Self::Fixed(Arc::new(certified(
            cert.pem().as_bytes(),
            key.pem.as_bytes(),
        )))
    }

    fn resolve(&self) -> Option<Arc<CertifiedKey>> {
        match self {
            Self::Fixed(key) => Some(key.clone()),
            Self::Files(cert, key) => {
                let cert = fs::read(cert).ok()?;
                let key = fs::read(key).ok()?;
                Some(Arc::new(certified(&cert, &key)))
            }
        }
    }
}

fn certified(cert_pem: &[u8], key_pem: &[u8]) -> CertifiedKey {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(key_pem).unwrap();
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    CertifiedKey::from_der(chain, key, &provider).unwrap()
}

/// Picks the certificate by the server name asked, as Go's SNI certificates do.
#[derive(Debug)]
struct BySni {
    names: Vec<(String, SourceBox)>,
    default: SourceBox,
}

#[derive(Clone)]
struct SourceBox(Source);

impl std::fmt::Debug for SourceBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Source")
    }
}

impl ResolvesServerCert for BySni {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let asked = hello.server_name().map(str::to_owned);
        self.names
            .iter()
            .find(|(name, _)| Some(name) == asked.as_ref())
            .map_or(&self.default, |(_, source)| source)
            .0
            .resolve()
    }
}

/// How a double answers a connection.
#[derive(Clone)]
pub enum Behaviour {
    /// TLS with these certificates (by SNI, else the default).
    Tls {
        default: Source,
        by_name: Vec<(String, Source)>,
    },
    /// Accepts the connection and says nothing until the double stops.
    Silent,
}

/// A running double: a TLS server on a loopback port.
pub struct Double {
    pub address: SocketAddr,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    /// How many connections it accepted.
    pub accepted: Arc<Mutex<usize>>,
}

impl Double {
    /// Starts a double on `address` (port 0: any free port).
    pub fn start(address: &str, behaviour: Behaviour) -> Self {
        Self::start_ready(address, behaviour, true)
    }

    /// As [`Double::tls`], but its `/livez` and `/readyz` answer 503: a
    /// kube-apiserver that serves but never becomes ready.
    pub fn tls_unready(address: &str, source: Source) -> Self {
        Self::start_ready(
            address,
            Behaviour::Tls {
                default: source,
                by_name: Vec::new(),
            },
            false,
        )
    }

    fn start_ready(address: &str, behaviour: Behaviour, ready: bool) -> Self {
        let listener = TcpListener::bind(address).unwrap();
        let address = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(Mutex::new(0));
        let config = match behaviour {
            Behaviour::Tls { default, by_name } => {
                let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
                let resolver = BySni {
                    names: by_name
                        .into_iter()
                        .map(|(name, source)| (name, SourceBox(source)))
                        .collect(),
                    default: SourceBox(default),
                };
                Some(Arc::new(
                    rustls::ServerConfig::builder_with_provider(provider)
                        .with_safe_default_protocol_versions()
                        .unwrap()
                        .with_no_client_auth()
                        .with_cert_resolver(Arc::new(resolver)),
                ))
            }
            Behaviour::Silent => None,
        };
        let (flag, count) = (stop.clone(), accepted.clone());
        let handle = thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                *count.lock().unwrap() += 1;
                match &config {
                    Some(config) => {
                        let config = config.clone();
                        thread::spawn(move || serve(stream, config, ready));
                    }
                    None => held.push(stream),
                }
            }
        });
        Self {
            address,
            stop,
            handle: Some(handle),
            accepted,
        }
    }

    /// A double that serves one certificate source to everyone.
    pub fn tls(address: &str, source: Source) -> Self {
        Self::start(
            address,
            Behaviour::Tls {
                default: source,
                by_name: Vec::new(),
            },
        )
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// Stops accepting; the port is closed once this returns.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.address, Duration::from_secs(1));
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

impl Drop for Double {
    fn drop(&mut self) {
        self.halt();
    }
}

/// One connection: the handshake, then, if a request follows, an answer as
/// kube-apiserver's health endpoints give it (`ok`, or 503 when not `ready`).
fn serve(mut stream: TcpStream, config: Arc<rustls::ServerConfig>, ready: bool) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let Ok(mut conn) = rustls::ServerConnection::new(config) else {
        return;
    };
    while conn.is_handshaking() {
        if conn.complete_io(&mut stream).is_err() {
            return;
        }
    }
    // The request may have come with the client's last handshake flight:
    // what is buffered is read before the socket is.
    let mut request = Vec::new();
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 4096 {
        while conn.wants_write() {
            if conn.write_tls(&mut stream).is_err() {
                return;
            }
        }
        let mut chunk = [0; 1024];
        match std::io::Read::read(&mut conn.reader(), &mut chunk) {
            Ok(0) => return,
            Ok(n) => {
                request.extend_from_slice(&chunk[..n]);
                continue;
            }
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return,
        }
        match conn.read_tls(&mut stream) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                if conn.process_new_packets().is_err() {
                    return;
                }
            }
        }
    }
    let health = request.starts_with(b"GET /livez ") || request.starts_with(b"GET /readyz ");
    let answer: &[u8] = match (health, ready) {
        (true, true) => b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
        (true, false) => b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 6\r\nConnection: close\r\n\r\nfailed",
        _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    };
    let _ = std::io::Write::write_all(&mut conn.writer(), answer);
    conn.send_close_notify();
    let _ = conn.complete_io(&mut stream);
}

/// A fake proc filesystem: a boot time and processes with command lines and start times.
pub struct FakeProc {
    pub root: tempfile::TempDir,
    boot: OffsetDateTime,
    ticks: u64,
}

impl FakeProc {
    pub fn new(boot: OffsetDateTime) -> Self {
        let root = tempfile::tempdir().unwrap();
        fs::write(
            root.path().join("stat"),
            format!(
                "cpu  1 2 3 4\nbtime {}\nprocesses 100\n",
                boot.unix_timestamp()
            ),
        )
        .unwrap();
        let ticks = String::from_utf8(
            Command::new("getconf")
                .arg("CLK_TCK")
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap()
        .trim()
        .parse()
        .unwrap();
        Self { root, boot, ticks }
    }

    pub fn path(&self) -> &Path {
        self.root.path()
    }

    /// A process `pid` running `argv`, started at `started`.
    pub fn add(&self, pid: u32, argv: &[String], started: OffsetDateTime) {
        let dir = self.root.path().join(pid.to_string());
        fs::create_dir_all(&dir).unwrap();
        let mut cmdline = Vec::new();
        for arg in argv {
            cmdline.extend_from_slice(arg.as_bytes());
            cmdline.push(0);
        }
        fs::write(dir.join("cmdline"), cmdline).unwrap();
        let since = started - self.boot;
        let ticks = u64::try_from(since.whole_milliseconds()).unwrap() * self.ticks / 1000;
        let name: String = Path::new(&argv[0])
            .file_name()
            .unwrap()
            .to_string_lossy()
            .chars()
            .take(15)
            .collect();
        fs::write(
            dir.join("stat"),
            format!(
                "{pid} ({name}) S 1 {pid} {pid} 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 12 0 {ticks} 100000 200 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
            ),
        )
        .unwrap();
    }

    pub fn remove(&self, pid: u32) {
        fs::remove_dir_all(self.root.path().join(pid.to_string())).unwrap();
    }
}

/// Sets a file's modification time.
pub fn touch(path: &Path, when: OffsetDateTime) {
    fs::File::open(path)
        .unwrap()
        .set_modified(SystemTime::from(when))
        .unwrap();
}

/// Waits (bounded) until something accepts TCP connections at `address`.
pub fn wait_for_port(address: SocketAddr, limit: Duration, child: &mut Child, log: &Path) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "the server exited ({status}) before listening:\n{}",
                fs::read_to_string(log).unwrap_or_default()
            );
        }
        if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            return;
        }
        thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "nothing listened at {address} within {limit:?}:\n{}",
        fs::read_to_string(log).unwrap_or_default()
    );
}

/// A real etcd (Debian's `etcd-server`), run with exactly the command of the
/// host's `etcd.yaml` (its container paths are the host's), killed on drop.
pub struct Etcd {
    pub child: Child,
    pub log: PathBuf,
}

impl Etcd {
    pub fn start(command: &[String], log: PathBuf, client: SocketAddr) -> Self {
        let program = which("etcd").unwrap_or_else(|| {
            panic!("this test runs Debian's etcd-server (apt-get install etcd-server); .ci/run installs it")
        });
        let out = fs::File::create(&log).unwrap();
        let mut child = Command::new(&command[0])
            .args(&command[1..])
            .env("PATH", program.parent().unwrap())
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        wait_for_port(client, Duration::from_secs(30), &mut child, &log);
        Self { child, log }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process still runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|path| path.is_file())
    })
}

/// The certificate an endpoint serves now, as `openssl s_client` (an
/// independent judge) receives it, in PEM.
pub fn served_by_openssl(address: SocketAddr, server_name: Option<&str>) -> String {
    let mut args = vec![
        "s_client".to_owned(),
        "-connect".to_owned(),
        address.to_string(),
    ];
    if let Some(name) = server_name {
        args.extend(["-servername".to_owned(), name.to_owned()]);
    }
    let mut child = Command::new("openssl")
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl is needed by this test; .ci/run installs it");
    drop(child.stdin.take());
    let start = Instant::now();
    let mut out = String::new();
    let mut stdout = child.stdout.take().unwrap();
    let reader = thread::spawn(move || {
        let _ = stdout.read_to_string(&mut out);
        out
    });
    while start.elapsed() < Duration::from_secs(10) {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    let out = reader.join().unwrap();
    let begin = out
        .find("-----BEGIN CERTIFICATE-----")
        .expect("no certificate served");
    let end = out[begin..].find("-----END CERTIFICATE-----").unwrap() + begin + 25;
    format!("{}\n", &out[begin..end])
}

/// The SHA-256 fingerprint `openssl x509` prints for a PEM certificate.
pub fn openssl_fingerprint(pem: &[u8]) -> String {
    let mut child = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(pem).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}
