//! One TLS handshake that reads the server's chain without trusting it: a
//! verifier that accepts any certificate and records it, and still checks the
//! server's handshake signature (so the server holds the key of what it sent).
//! Bounded: connect and handshake together within the timeout.

use std::io::{self, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};

use crate::domain::cert::Fingerprint;
use crate::domain::live::Outcome;

/// Records the chain a server sends and accepts it (`danger`: a probe only
/// reads; a health request is sent only to a server whose leaf was pinned).
#[derive(Debug)]
struct DangerRecordAnyServer {
    provider: Arc<CryptoProvider>,
    chain: Mutex<Option<Vec<Vec<u8>>>>,
}

impl ServerCertVerifier for DangerRecordAnyServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let chain = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|cert| cert.as_ref().to_vec())
            .collect();
        if let Ok(mut recorded) = self.chain.lock() {
            *recorded = Some(chain);
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Connects to `address`, sends `server_name` (none: as a client dialling an
/// IP) and returns the chain the server sent, or why there is none.
pub(super) fn served_chain(
    address: SocketAddr,
    server_name: Option<&str>,
    timeout: Duration,
) -> Outcome {
    let deadline = Instant::now() + timeout;
    let (mut conn, mut stream, verifier) = match connect(address, server_name, timeout) {
        Ok(session) => session,
        Err(outcome) => return outcome,
    };
    let result = drive(&mut conn, &mut stream, deadline);
    let chain = verifier
        .chain
        .lock()
        .ok()
        .and_then(|mut chain| chain.take());
    if result.is_ok() {
        conn.send_close_notify();
        let _ = conn.write_tls(&mut stream);
        let _ = stream.flush();
    }
    match (chain, result) {
        (Some(chain), _) => Outcome::Served(chain),
        (None, Err(Stop::TimedOut)) => Outcome::TimedOut,
        (None, Err(Stop::Failed(why))) => Outcome::Failed(why),
        (None, Ok(())) => Outcome::Failed("the server sent no certificate".into()),
    }
}

/// Asks `GET path` (no credentials) of the server at `address`, but only once
/// it has shown the certificate whose SHA-256 is `leaf`: a health endpoint
/// (`/livez`, `/readyz`) of the component just judged to serve it. `Ok` is a
/// 200 answer; an error says what came instead. Bounded by `timeout`.
pub(crate) fn healthy(
    address: SocketAddr,
    server_name: Option<&str>,
    leaf: Fingerprint,
    path: &str,
    timeout: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let outcome = |outcome: Outcome| match outcome {
        Outcome::Refused => "nothing listens".to_owned(),
        Outcome::TimedOut => "no answer in time".to_owned(),
        Outcome::Failed(why) | Outcome::Skipped(why) => why,
        Outcome::Served(_) => "the handshake did not end".to_owned(),
    };
    let stop = |stop: Stop| match stop {
        Stop::TimedOut => "no answer in time".to_owned(),
        Stop::Failed(why) => why,
    };
    let (mut conn, mut stream, verifier) =
        connect(address, server_name, timeout).map_err(outcome)?;
    drive(&mut conn, &mut stream, deadline).map_err(stop)?;
    let served = verifier
        .chain
        .lock()
        .ok()
        .and_then(|chain| chain.as_ref().and_then(|chain| chain.first().cloned()));
    if served.is_none_or(|der| Fingerprint::of(&der) != leaf) {
        return Err("it serves another certificate than the one judged in use".into());
    }
    let host = server_name.map_or_else(|| address.ip().to_string(), str::to_owned);
    conn.writer()
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .map_err(|err| format!("cannot ask ({err})"))?;
    let mut answer = Vec::new();
    let left = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
            .ok_or_else(|| "no answer in time".to_owned())
    };
    loop {
        while conn.wants_write() {
            stream
                .set_write_timeout(Some(left()?))
                .map_err(|err| err.to_string())?;
            conn.write_tls(&mut stream).map_err(|err| err.to_string())?;
        }
        let mut chunk = [0; 1024];
        match conn.reader().read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                answer.extend_from_slice(&chunk[..n]);
                if answer.windows(2).any(|pair| pair == b"\r\n") || answer.len() > 4096 {
                    break;
                }
                continue;
            }
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => break,
        }
        stream
            .set_read_timeout(Some(left()?))
            .map_err(|err| err.to_string())?;
        match conn.read_tls(&mut stream) {
            Ok(0) => break,
            Ok(_) => {
                conn.process_new_packets()
                    .map_err(|err| format!("TLS: {err}"))?;
            }
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err("no answer in time".into());
            }
            Err(err) => return Err(format!("connection: {err}")),
        }
    }
    let status = answer
        .split(|byte| *byte == b'\n')
        .next()
        .map(|line| String::from_utf8_lossy(line).trim().to_owned())
        .unwrap_or_default();
    if status.starts_with("HTTP/1.1 200") || status.starts_with("HTTP/1.0 200") {
        Ok(())
    } else if status.is_empty() {
        Err(format!("{path} gave no answer"))
    } else {
        Err(format!(
            "{path} answered `{}`",
            crate::domain::exact::printable(&status.chars().take(80).collect::<String>())
        ))
    }
}

/// A TLS client for `address` with the recording verifier, connected (not yet handshaken).
fn connect(
    address: SocketAddr,
    server_name: Option<&str>,
    timeout: Duration,
) -> Result<(ClientConnection, TcpStream, Arc<DangerRecordAnyServer>), Outcome> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Arc::new(DangerRecordAnyServer {
        provider: provider.clone(),
        chain: Mutex::new(None),
    });
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| Outcome::Failed(format!("TLS setup: {err}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    let name = match server_name {
        Some(name) => ServerName::try_from(name.to_owned())
            .map_err(|_| Outcome::Failed(format!("`{name}` is not a server name")))?,
        None => ServerName::IpAddress(address.ip().into()),
    };
    let conn = ClientConnection::new(Arc::new(config), name)
        .map_err(|err| Outcome::Failed(format!("TLS setup: {err}")))?;
    let stream = match TcpStream::connect_timeout(&address, timeout) {
        Ok(stream) => stream,
        Err(err) if err.kind() == io::ErrorKind::ConnectionRefused => return Err(Outcome::Refused),
        Err(err)
            if matches!(
                err.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ) =>
        {
            return Err(Outcome::TimedOut);
        }
        Err(err) => return Err(Outcome::Failed(format!("cannot connect ({err})"))),
    };
    let _ = stream.set_nodelay(true);
    Ok((conn, stream, verifier))
}

enum Stop {
    TimedOut,
    Failed(String),
}

/// Runs the handshake until it ends, fails or the deadline passes.
fn drive(
    conn: &mut ClientConnection,
    stream: &mut TcpStream,
    deadline: Instant,
) -> Result<(), Stop> {
    let left = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
            .ok_or(Stop::TimedOut)
    };
    let io_stop = |err: io::Error| match err.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Stop::TimedOut,
        _ => Stop::Failed(format!("connection: {err}")),
    };
    while conn.is_handshaking() {
        while conn.wants_write() {
            stream.set_write_timeout(Some(left()?)).map_err(io_stop)?;
            conn.write_tls(stream).map_err(io_stop)?;
        }
        if !conn.is_handshaking() {
            break;
        }
        stream.set_read_timeout(Some(left()?)).map_err(io_stop)?;
        match conn.read_tls(stream) {
            Ok(0) => return Err(Stop::Failed("the server closed the connection".into())),
            Ok(_) => {
                conn.process_new_packets()
                    .map_err(|err| Stop::Failed(format!("TLS: {err}")))?;
            }
            Err(err) => return Err(io_stop(err)),
        }
    }
    // Flush the last flight (our Finished) so the server sees a whole handshake.
    while conn.wants_write() {
        stream.set_write_timeout(Some(left()?)).map_err(io_stop)?;
        conn.write_tls(stream).map_err(io_stop)?;
    }
    Ok(())
}
