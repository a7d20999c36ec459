//! rustls configurations for `acceptTLS` and `connectTLS`, built from script
//! options, and the certificate verifiers that give upstream's semantics:
//! the peer is checked only against `trusted` certificates (never the
//! system's), and only when some are given; a `verify` callback has the last
//! word on each certificate of the peer's chain.

use pipy_js::api::crypto::{Certificate, PrivateKey};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, Error, RootCertStore,
    SignatureScheme, SupportedProtocolVersion,
};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

/// TLS versions scripts name (`minVersion`, `maxVersion`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// TLS 1.0 (rustls speaks 1.2 at the least: treated as 1.2).
    Tls1,
    /// TLS 1.1 (treated as 1.2).
    Tls11,
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

impl TlsVersion {
    /// The version a script's name stands for.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "TLS1" => TlsVersion::Tls1,
            "TLS1.1" => TlsVersion::Tls11,
            "TLS1.2" => TlsVersion::Tls12,
            "TLS1.3" => TlsVersion::Tls13,
            _ => return None,
        })
    }
}

/// The versions between `min` and `max` that rustls speaks.
pub(super) fn versions(min: TlsVersion, max: TlsVersion) -> Vec<&'static SupportedProtocolVersion> {
    let mut v = Vec::new();
    if max >= TlsVersion::Tls13 && min <= TlsVersion::Tls13 {
        v.push(&rustls::version::TLS13);
    }
    if min <= TlsVersion::Tls12 && max >= TlsVersion::Tls1 {
        v.push(&rustls::version::TLS12);
    }
    v
}

pub(super) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A certificate and its key, as a `certificate` option gives them.
#[derive(Clone)]
pub struct CertifiedKey {
    /// The leaf first, then its chain.
    pub chain: Rc<Vec<Rc<Certificate>>>,
    /// The leaf's key.
    pub key: Rc<PrivateKey>,
}

impl CertifiedKey {
    pub(super) fn ders(&self) -> Vec<CertificateDer<'static>> {
        self.chain.iter().map(|c| c.der.clone()).collect()
    }
}

/// What the `verify` callback decides for one certificate of the peer's
/// chain, given whether the chain verified: installed around each rustls
/// call on this thread, because rustls verifies synchronously inside it and
/// its verifiers must be `Send`, which a script callback is not.
pub(super) type VerifyHook = dyn FnMut(bool, &CertificateDer<'_>) -> bool;

thread_local! {
    static VERIFY_HOOK: RefCell<Option<Box<VerifyHook>>> = const { RefCell::new(None) };
}

/// Runs `f` with `hook` as the current verify callback.
pub(super) fn with_verify_hook<R>(hook: Option<Box<VerifyHook>>, f: impl FnOnce() -> R) -> R {
    let Some(hook) = hook else { return f() };
    let prev = VERIFY_HOOK.with(|h| h.replace(Some(hook)));
    let r = f();
    VERIFY_HOOK.with(|h| *h.borrow_mut() = prev);
    r
}

/// Asks the current verify hook about each certificate of a chain, from
/// the one nearest the root to the leaf (OpenSSL's order); without a hook,
/// the verification result stands.
fn ask_hook(
    ok: bool,
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
) -> bool {
    VERIFY_HOOK.with(|h| {
        let mut h = h.borrow_mut();
        let Some(hook) = h.as_mut() else { return ok };
        intermediates
            .iter()
            .rev()
            .chain(std::iter::once(end_entity))
            .all(|c| hook(ok, c))
    })
}

/// The verdict on a peer's chain: the verifier's `result`, then the hook's
/// word on each certificate (a refusal keeps the verifier's reason, if any).
fn decide<T>(
    result: Result<T, Error>,
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
) -> Result<(), Error> {
    if ask_hook(result.is_ok(), end_entity, intermediates) {
        Ok(())
    } else {
        Err(result.err().unwrap_or(Error::InvalidCertificate(
            CertificateError::ApplicationVerificationFailure,
        )))
    }
}

fn roots(trusted: &[Rc<Certificate>]) -> Result<Arc<RootCertStore>, Error> {
    let mut store = RootCertStore::empty();
    for c in trusted {
        store
            .add(c.der.clone())
            .map_err(|e| Error::General(format!("trusted certificate refused: {e}")))?;
    }
    Ok(Arc::new(store))
}

/// Verifies client certificates against `trusted`, then asks the hook.
#[derive(Debug)]
pub(super) struct ClientVerifier {
    inner: Arc<dyn ClientCertVerifier>,
}

impl ClientVerifier {
    pub(super) fn new(trusted: &[Rc<Certificate>]) -> Result<Arc<Self>, Error> {
        let inner = rustls::server::WebPkiClientVerifier::builder_with_provider(
            roots(trusted)?,
            provider(),
        )
        .build()
        .map_err(|e| Error::General(e.to_string()))?;
        Ok(Arc::new(Self { inner }))
    }
}

impl ClientCertVerifier for ClientVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }
    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        let result = self
            .inner
            .verify_client_cert(end_entity, intermediates, now);
        decide(result, end_entity, intermediates).map(|()| ClientCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls12_signature(m, c, d)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls13_signature(m, c, d)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Verifies server certificates as upstream does: with `trusted`, the chain
/// must lead to one of them (the host name is not checked: upstream's
/// OpenSSL setup never asks for it, and scripts connect by address to
/// certificates that name a service); without, any certificate is taken.
/// The handshake's signatures are always checked.
#[derive(Debug)]
pub(super) struct ServerVerifier {
    inner: Option<Arc<rustls::client::WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl ServerVerifier {
    pub(super) fn new(trusted: &[Rc<Certificate>]) -> Result<Arc<Self>, Error> {
        let provider = provider();
        let inner = if trusted.is_empty() {
            None
        } else {
            Some(
                rustls::client::WebPkiServerVerifier::builder_with_provider(
                    roots(trusted)?,
                    provider.clone(),
                )
                .build()
                .map_err(|e| Error::General(e.to_string()))?,
            )
        };
        Ok(Arc::new(Self { inner, provider }))
    }
}

impl ServerVerifier {
    /// Without `trusted`, a certificate webpki will not read (an X.509 v1
    /// one, as `openssl req -x509` made without extensions, which upstream
    /// takes) still proves its key: the handshake's signature is checked
    /// against the key it carries (TLS 1.3 signature schemes).
    fn by_raw_key(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
        err: Error,
    ) -> Result<HandshakeSignatureValid, Error> {
        use x509_parser::prelude::FromDer;
        if self.inner.is_some() {
            return Err(err);
        }
        let (_, cert) = x509_parser::certificate::X509Certificate::from_der(c).map_err(|_| err)?;
        let spki = rustls::pki_types::SubjectPublicKeyInfoDer::from(cert.public_key().raw);
        rustls::crypto::verify_tls13_signature_with_raw_key(
            m,
            &spki,
            d,
            &self.provider.signature_verification_algorithms,
        )
    }
}

impl ServerCertVerifier for ServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let Some(inner) = &self.inner else {
            return Ok(ServerCertVerified::assertion());
        };
        let result =
            match inner.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
                Err(Error::InvalidCertificate(
                    CertificateError::NotValidForName
                    | CertificateError::NotValidForNameContext { .. },
                )) => Ok(ServerCertVerified::assertion()),
                other => other,
            };
        decide(result, end_entity, intermediates).map(|()| ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        let algs = &self.provider.signature_verification_algorithms;
        verify_tls12_signature(m, c, d, algs).or_else(|e| self.by_raw_key(m, c, d, e))
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        let algs = &self.provider.signature_verification_algorithms;
        verify_tls13_signature(m, c, d, algs).or_else(|e| self.by_raw_key(m, c, d, e))
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A certificate with its signing key. Unlike rustls's own constructors this
/// does not parse the certificate to match it with the key, so that X.509 v1
/// certificates (which webpki refuses to read, and upstream serves) work.
fn signed(cert: &CertifiedKey) -> Result<Arc<rustls::sign::CertifiedKey>, Error> {
    let key = provider()
        .key_provider
        .load_private_key(cert.key.der.clone_key())?;
    Ok(Arc::new(rustls::sign::CertifiedKey::new(cert.ders(), key)))
}

/// Always the same certificate (the script chose it for this connection).
#[derive(Debug)]
struct Fixed(Arc<rustls::sign::CertifiedKey>);

impl rustls::server::ResolvesServerCert for Fixed {
    fn resolve(
        &self,
        _: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
}

impl rustls::client::ResolvesClientCert for Fixed {
    fn resolve(
        &self,
        _: &[&[u8]],
        _: &[SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
    fn has_certs(&self) -> bool {
        true
    }
}

/// A server configuration for one certificate and one chosen ALPN protocol.
pub(super) fn server_config(
    versions: &[&'static SupportedProtocolVersion],
    trusted: &[Rc<Certificate>],
    cert: &CertifiedKey,
    alpn: Option<&[u8]>,
) -> Result<Arc<rustls::ServerConfig>, Error> {
    if cert.chain.is_empty() {
        return Err(Error::General("empty certificate chain".into()));
    }
    let builder =
        rustls::ServerConfig::builder_with_provider(provider()).with_protocol_versions(versions)?;
    let builder = if trusted.is_empty() {
        builder.with_no_client_auth()
    } else {
        builder.with_client_cert_verifier(ClientVerifier::new(trusted)?)
    };
    let mut config = builder.with_cert_resolver(Arc::new(Fixed(signed(cert)?)));
    config.alpn_protocols = alpn.map(|p| vec![p.to_vec()]).unwrap_or_default();
    Ok(Arc::new(config))
}

/// A client configuration.
pub(super) fn client_config(
    versions: &[&'static SupportedProtocolVersion],
    trusted: &[Rc<Certificate>],
    cert: Option<&CertifiedKey>,
    alpn: &[String],
) -> Result<Arc<rustls::ClientConfig>, Error> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)?
        .dangerous()
        .with_custom_certificate_verifier(ServerVerifier::new(trusted)?);
    let mut config = match cert {
        Some(c) if !c.chain.is_empty() => {
            builder.with_client_cert_resolver(Arc::new(Fixed(signed(c)?)))
        }
        Some(_) => return Err(Error::General("empty certificate chain".into())),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    Ok(Arc::new(config))
}
