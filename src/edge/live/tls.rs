//! One TLS handshake that reads the server's chain without trusting it: a
//! verifier that accepts any certificate and records it, and still checks the
//! server's handshake signature (so the server holds the key of what it sent).
//! Bounded: connect and handshake together within the timeout.

use std::io::{self, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};

use crate::domain::live::Outcome;

/// Records the chain a server sends and accepts it (`danger`: the probe only
/// reads; it sends nothing over the connection).
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
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Arc::new(DangerRecordAnyServer {
        provider: provider.clone(),
        chain: Mutex::new(None),
    });
    let config =
        match ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions() {
            Ok(builder) => builder
                .dangerous()
                .with_custom_certificate_verifier(verifier.clone())
                .with_no_client_auth(),
            Err(err) => return Outcome::Failed(format!("TLS setup: {err}")),
        };
    let name = match server_name {
        Some(name) => match ServerName::try_from(name.to_owned()) {
            Ok(name) => name,
            Err(_) => return Outcome::Failed(format!("`{name}` is not a server name")),
        },
        None => ServerName::IpAddress(address.ip().into()),
    };
    let mut conn = match ClientConnection::new(Arc::new(config), name) {
        Ok(conn) => conn,
        Err(err) => return Outcome::Failed(format!("TLS setup: {err}")),
    };
    let mut stream = match TcpStream::connect_timeout(&address, timeout) {
        Ok(stream) => stream,
        Err(err) if err.kind() == io::ErrorKind::ConnectionRefused => return Outcome::Refused,
        Err(err)
            if matches!(
                err.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ) =>
        {
            return Outcome::TimedOut;
        }
        Err(err) => return Outcome::Failed(format!("cannot connect ({err})")),
    };
    let _ = stream.set_nodelay(true);
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
