//! Test certificates: a private CA, a server certificate for 127.0.0.1 and a client
//! certificate, written as PEM files (rcgen), and a blocking HTTPS GET and POST (rustls).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

/// PEM files in a fresh folder: `ca.pem`; `server` (for 127.0.0.1), `client`
/// (for `worker`), `a` (for `a.test`) and `b` (for `b.test`), signed by it;
/// `expired` (127.0.0.1, signed by the CA, expired yesterday) and `rogue`
/// (127.0.0.1, self-signed). Each `NAME.pem` has its `NAME-key.pem`.
pub struct TestCerts {
    /// The folder.
    pub dir: PathBuf,
}

impl TestCerts {
    /// Makes a CA and the two certificates it signs.
    pub fn new() -> TestCerts {
        let dir = crate::temp_dir().join("tls");
        std::fs::create_dir_all(&dir).unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "pipy test CA");
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
        let write = |name: &str, cert: &rcgen::Certificate, key: &KeyPair| {
            std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
            std::fs::write(dir.join(format!("{name}-key.pem")), key.serialize_pem()).unwrap();
        };
        for (name, san) in [
            ("server", "127.0.0.1"),
            ("client", "worker"),
            ("a", "a.test"),
            ("b", "b.test"),
        ] {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(vec![san.to_string()]).unwrap();
            params.distinguished_name.push(DnType::CommonName, san);
            let cert = params.signed_by(&key, &issuer).unwrap();
            write(name, &cert, &key);
        }
        // Signed by the CA but no longer valid.
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
        params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(30);
        params.not_after = time::OffsetDateTime::now_utc() - time::Duration::days(1);
        write("expired", &params.signed_by(&key, &issuer).unwrap(), &key);
        // Valid, but from nobody the CA vouches for.
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
        write("rogue", &params.self_signed(&key).unwrap(), &key);
        TestCerts { dir }
    }

    /// The path of one of the files, such as `ca.pem`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The path as a string, for command lines.
    pub fn arg(&self, name: &str) -> String {
        self.path(name).to_string_lossy().into_owned()
    }
}

impl Default for TestCerts {
    fn default() -> Self {
        Self::new()
    }
}

/// One HTTPS GET over a blocking rustls stream with `config`; the raw response, or
/// `None` when the handshake or the request fails.
pub fn https_get(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
    path: &str,
) -> Option<String> {
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").ok()?;
    let conn = rustls::ClientConnection::new(config, name).ok()?;
    let mut tls = rustls::StreamOwned::new(conn, TcpStream::connect(addr).ok()?);
    let req = format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    tls.write_all(req.as_bytes()).ok()?;
    let mut out = String::new();
    // A peer that closes without close_notify still delivered what it sent.
    let _ = tls.read_to_string(&mut out);
    (!out.is_empty()).then_some(out)
}

/// One HTTPS POST of `body` (as `content_type`) over a blocking rustls stream with
/// `config`; the raw response, or `None` when the handshake or the request fails.
pub fn https_post(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> Option<String> {
    https_post_to(addr, "127.0.0.1", config, path, content_type, body)
}

/// Like [`https_post`], verifying the server's certificate for `server_name` (a DNS
/// name such as `svc.ns.svc`) rather than for 127.0.0.1.
pub fn https_post_to(
    addr: SocketAddr,
    server_name: &str,
    config: Arc<rustls::ClientConfig>,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> Option<String> {
    let name = rustls::pki_types::ServerName::try_from(server_name.to_string()).ok()?;
    let conn = rustls::ClientConnection::new(config, name).ok()?;
    let mut tls = rustls::StreamOwned::new(conn, TcpStream::connect(addr).ok()?);
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    tls.write_all(head.as_bytes()).ok()?;
    tls.write_all(body).ok()?;
    let mut out = String::new();
    // A peer that closes without close_notify still delivered what it sent.
    let _ = tls.read_to_string(&mut out);
    (!out.is_empty()).then_some(out)
}

/// A client configuration that trusts the CA in `ca` and, with `cert_and_key`,
/// presents that client certificate.
pub fn client_config(
    ca: &std::path::Path,
    cert_and_key: Option<(&std::path::Path, &std::path::Path)>,
) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match cert_and_key {
        Some((cert, key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            builder
                .with_client_auth_cert(chain, PrivateKeyDer::from_pem_file(key).unwrap())
                .unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    Arc::new(config)
}
