//! Webhook TLS without manual steps: a private CA and a serving certificate for the
//! webhook Service, kept in a Secret that every operator replica shares, the CA written
//! into the webhook configurations' `caBundle`, and the serving certificate renewed
//! (signed by the same CA, so the `caBundle` stays valid) well before it expires.
//!
//! The pure part ([`WebhookCerts::generate`], [`WebhookCerts::renew`],
//! [`WebhookCerts::needs_renewal`], [`WebhookCerts::server_config`]) is tested here;
//! [`ensure_secret`] and [`patch_ca_bundles`] talk to the API server.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::ByteString;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use time::{Duration, OffsetDateTime};

/// How long the CA is valid.
const CA_LIFETIME: Duration = Duration::days(3650);
/// How long a serving certificate is valid.
const CERT_LIFETIME: Duration = Duration::days(365);
/// Renew a serving certificate this long before it expires.
const RENEW_BEFORE: Duration = Duration::days(30);
/// The annotation of the Secret that records when the serving certificate expires
/// (seconds since the epoch), so that no X.509 parser is needed to decide on renewal.
pub const NOT_AFTER_ANNOTATION: &str = "pipy.dev/not-after";
/// The annotation of the Secret that lists the serving certificate's names
/// (comma-separated): a replica started with other names (a new `--webhook-url`)
/// renews the certificate.
pub const NAMES_ANNOTATION: &str = "pipy.dev/serving-names";

/// What can go wrong with certificates.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// rcgen refused to make or sign a certificate.
    #[error("generating a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// The Secret holds something that is not a usable certificate or key.
    #[error("the webhook Secret is unusable: {0}")]
    Stored(String),
    /// rustls refused the certificate and key.
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// The API server refused a request.
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
}

/// The CA and the serving certificate of the webhook Service, as PEM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookCerts {
    /// The CA certificate: what `caBundle` holds.
    pub ca_cert: String,
    /// The CA's private key, kept to sign renewed serving certificates.
    pub ca_key: String,
    /// The serving certificate.
    pub cert: String,
    /// Its private key.
    pub key: String,
    /// When the serving certificate expires, in seconds since the epoch.
    pub not_after: i64,
    /// The names (DNS names or IP addresses) the serving certificate is for.
    pub names: Vec<String>,
}

/// The DNS names a Service is reached by from the API server.
pub fn service_names(service: &str, namespace: &str) -> Vec<String> {
    vec![
        service.to_string(),
        format!("{service}.{namespace}"),
        format!("{service}.{namespace}.svc"),
        format!("{service}.{namespace}.svc.cluster.local"),
    ]
}

/// The host of a webhook URL (`https://127.0.0.1:9443/x` gives `127.0.0.1`,
/// `https://[::1]:9443` gives `::1`), `None` when it has none.
pub fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split_once(']').map(|(h, _)| h)?
    } else {
        authority.split(':').next().unwrap_or(authority)
    };
    (!host.is_empty()).then(|| host.to_string())
}

/// The CA's parameters; the same every time, so that an issuer rebuilt from the
/// stored key signs certificates that chain to the stored CA certificate.
fn ca_params(now: OffsetDateTime) -> Result<CertificateParams, CertError> {
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.distinguished_name
        .push(DnType::CommonName, "pipy-operator webhook CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_before = now - Duration::hours(1);
    ca.not_after = now + CA_LIFETIME;
    Ok(ca)
}

fn serving_cert(
    names: Vec<String>,
    issuer: &Issuer<'_, KeyPair>,
    now: OffsetDateTime,
) -> Result<(String, String, i64), CertError> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(names)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "pipy-operator webhook");
    // A little slack for clocks that lag the operator's.
    params.not_before = now - Duration::hours(1);
    params.not_after = now + CERT_LIFETIME;
    let cert = params.signed_by(&key, issuer)?;
    Ok((
        cert.pem(),
        key.serialize_pem(),
        params.not_after.unix_timestamp(),
    ))
}

impl WebhookCerts {
    /// A new CA and a serving certificate for `service` in `namespace`.
    pub fn generate(names: &[String], now: OffsetDateTime) -> Result<Self, CertError> {
        let ca_key = KeyPair::generate()?;
        let params = ca_params(now)?;
        let ca_cert = params.self_signed(&ca_key)?.pem();
        let ca_key_pem = ca_key.serialize_pem();
        let issuer = Issuer::new(params, ca_key);
        let (cert, key, not_after) = serving_cert(names.to_vec(), &issuer, now)?;
        Ok(Self {
            ca_cert,
            ca_key: ca_key_pem,
            cert,
            key,
            not_after,
            names: names.to_vec(),
        })
    }

    /// A new serving certificate for `names` signed by the same CA (the `caBundle`
    /// stays valid).
    pub fn renew(&self, names: &[String], now: OffsetDateTime) -> Result<Self, CertError> {
        let ca_key = KeyPair::from_pem(&self.ca_key)?;
        let issuer = Issuer::new(ca_params(now)?, ca_key);
        let (cert, key, not_after) = serving_cert(names.to_vec(), &issuer, now)?;
        Ok(Self {
            cert,
            key,
            not_after,
            names: names.to_vec(),
            ..self.clone()
        })
    }

    /// Whether the serving certificate must be renewed to serve `names`: it expires
    /// within the renewal window, or is for other names.
    pub fn needs_renewal(&self, names: &[String], now: OffsetDateTime) -> bool {
        self.not_after - now.unix_timestamp() < RENEW_BEFORE.whole_seconds() || self.names != names
    }

    /// The rustls configuration that serves this certificate (HTTP/1.1).
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, CertError> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let chain = CertificateDer::pem_slice_iter(self.cert.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| CertError::Stored(e.to_string()))?;
        let key = PrivateKeyDer::from_pem_slice(self.key.as_bytes())
            .map_err(|e| CertError::Stored(e.to_string()))?;
        pipy_repo::tls::server_config_with(chain, key, None)
            .map_err(|e| CertError::Stored(e.to_string()))
    }

    /// The Secret's data: `ca.crt`, `ca.key`, `tls.crt`, `tls.key` (the last two are
    /// what a `kubernetes.io/tls` Secret holds).
    pub fn to_secret_data(&self) -> BTreeMap<String, ByteString> {
        [
            ("ca.crt", &self.ca_cert),
            ("ca.key", &self.ca_key),
            ("tls.crt", &self.cert),
            ("tls.key", &self.key),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
        .collect()
    }

    /// Reads what [`to_secret_data`](Self::to_secret_data) wrote.
    pub fn from_secret(secret: &Secret) -> Result<Self, CertError> {
        let data = secret
            .data
            .as_ref()
            .ok_or_else(|| CertError::Stored("no data".into()))?;
        let text = |k: &str| {
            data.get(k)
                .map(|b| String::from_utf8_lossy(&b.0).into_owned())
                .filter(|s| !s.is_empty())
                .ok_or_else(|| CertError::Stored(format!("no {k}")))
        };
        let not_after = secret
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(NOT_AFTER_ANNOTATION))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| CertError::Stored(format!("no {NOT_AFTER_ANNOTATION}")))?;
        let names = secret
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(NAMES_ANNOTATION))
            .map(|v| v.split(',').map(str::to_string).collect())
            .unwrap_or_default();
        Ok(Self {
            ca_cert: text("ca.crt")?,
            ca_key: text("ca.key")?,
            cert: text("tls.crt")?,
            key: text("tls.key")?,
            not_after,
            names,
        })
    }

    fn to_secret(&self, name: &str, resource_version: Option<String>) -> Secret {
        let mut secret = Secret {
            data: Some(self.to_secret_data()),
            type_: Some("kubernetes.io/tls".into()),
            ..Secret::default()
        };
        secret.metadata.name = Some(name.to_string());
        secret.metadata.resource_version = resource_version;
        secret.metadata.annotations = Some(BTreeMap::from([
            (NOT_AFTER_ANNOTATION.to_string(), self.not_after.to_string()),
            (NAMES_ANNOTATION.to_string(), self.names.join(",")),
        ]));
        secret
    }
}

/// Reads the webhook Secret, creating it or renewing its serving certificate when
/// needed (near expiry, or for other `names`), and returns the certificates every
/// replica should serve. Replicas race
/// safely: creation and replacement are conditional (a conflict means another replica
/// won, and its result is read back).
pub async fn ensure_secret(
    client: Client,
    namespace: &str,
    secret_name: &str,
    names: &[String],
) -> Result<WebhookCerts, CertError> {
    let secrets: Api<Secret> = Api::namespaced(client, namespace);
    for _ in 0..3 {
        let now = OffsetDateTime::now_utc();
        match secrets.get_opt(secret_name).await? {
            None => {
                let certs = WebhookCerts::generate(names, now)?;
                match secrets
                    .create(&PostParams::default(), &certs.to_secret(secret_name, None))
                    .await
                {
                    Ok(_) => return Ok(certs),
                    Err(kube::Error::Api(e)) if e.code == 409 => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            Some(secret) => {
                let version = secret.metadata.resource_version.clone();
                let current = WebhookCerts::from_secret(&secret);
                let next = match &current {
                    Ok(c) if !c.needs_renewal(names, now) => return Ok(c.clone()),
                    Ok(c) => c.renew(names, now)?,
                    // Unusable content (edited by hand?): start over with a new CA.
                    Err(e) => {
                        tracing::warn!("{e}; generating new webhook certificates");
                        WebhookCerts::generate(names, now)?
                    }
                };
                match secrets
                    .replace(
                        secret_name,
                        &PostParams::default(),
                        &next.to_secret(secret_name, version),
                    )
                    .await
                {
                    Ok(_) => return Ok(next),
                    Err(kube::Error::Api(e)) if e.code == 409 => continue,
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    Err(CertError::Stored(
        "the webhook Secret kept changing under us".into(),
    ))
}

/// Writes `ca_cert` into the `caBundle` of every webhook of the two configurations
/// (a missing configuration is skipped: the chart may not install both).
pub async fn patch_ca_bundles(
    client: Client,
    mutating: &str,
    validating: &str,
    ca_cert: &str,
) -> Result<(), CertError> {
    let bundle = ByteString(ca_cert.as_bytes().to_vec());
    let params = PatchParams::default();
    let mutating_api: Api<MutatingWebhookConfiguration> = Api::all(client.clone());
    if let Some(config) = mutating_api.get_opt(mutating).await? {
        let count = config.webhooks.map_or(0, |w| w.len());
        let patch = ca_bundle_patch(count, &bundle);
        mutating_api
            .patch(mutating, &params, &Patch::Json::<()>(patch))
            .await?;
    }
    let validating_api: Api<ValidatingWebhookConfiguration> = Api::all(client);
    if let Some(config) = validating_api.get_opt(validating).await? {
        let count = config.webhooks.map_or(0, |w| w.len());
        let patch = ca_bundle_patch(count, &bundle);
        validating_api
            .patch(validating, &params, &Patch::Json::<()>(patch))
            .await?;
    }
    Ok(())
}

/// Whether every webhook of a configuration carries `ca` as its `caBundle`.
fn bundles_match<'a>(mut bundles: impl Iterator<Item = Option<&'a ByteString>>, ca: &str) -> bool {
    bundles.all(|b| b.is_some_and(|b| b.0 == ca.as_bytes()))
}

/// The `caBundle` of each webhook's client configuration.
fn bundles_of(
    configs: impl Iterator<Item = k8s_openapi::api::admissionregistration::v1::WebhookClientConfig>,
) -> Vec<Option<ByteString>> {
    configs.map(|c| c.ca_bundle).collect()
}

/// Reads the CA every replica should publish: from the shared Secret, with the
/// replica's own serving certificate refreshed on the way (so that a CA replaced by
/// another replica is served here too). `None` when it cannot be read now.
pub type CurrentCa = std::sync::Arc<
    dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<String>> + Send>>
        + Send
        + Sync,
>;

/// Keeps the CA in the `caBundle` of both webhook configurations: watches them and,
/// when a bundle differs from the CA, reads the CA again from the shared Secret
/// (`current_ca`) and writes that, until the process ends. Replicas that disagree
/// therefore converge on the Secret's CA instead of overwriting each other. A
/// configuration that does not exist is skipped until it appears.
pub async fn keep_ca_bundles(
    client: Client,
    mutating: String,
    validating: String,
    current_ca: CurrentCa,
) {
    use futures_util::StreamExt;
    use kube::runtime::{watcher, WatchStreamExt};
    let by_name = |name: &str| watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mutating_api: Api<MutatingWebhookConfiguration> = Api::all(client.clone());
    let validating_api: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    let mutating_changes = watcher(mutating_api, by_name(&mutating))
        .default_backoff()
        .applied_objects()
        .filter_map(|r| async move { r.ok() })
        .map(|c: MutatingWebhookConfiguration| {
            bundles_of(c.webhooks.into_iter().flatten().map(|w| w.client_config))
        });
    let validating_changes = watcher(validating_api, by_name(&validating))
        .default_backoff()
        .applied_objects()
        .filter_map(|r| async move { r.ok() })
        .map(|c: ValidatingWebhookConfiguration| {
            bundles_of(c.webhooks.into_iter().flatten().map(|w| w.client_config))
        });
    let mut changes =
        futures_util::stream::select(mutating_changes.boxed(), validating_changes.boxed());
    while let Some(bundles) = changes.next().await {
        let Some(ca) = current_ca().await else {
            continue;
        };
        if bundles_match(bundles.iter().map(Option::as_ref), &ca) {
            continue;
        }
        match patch_ca_bundles(client.clone(), &mutating, &validating, &ca).await {
            Ok(()) => tracing::info!("caBundle of the webhook configurations written"),
            Err(e) => tracing::warn!("writing the caBundle: {e}"),
        }
    }
}

/// A JSON patch that sets `caBundle` on `count` webhooks.
pub fn ca_bundle_patch(count: usize, bundle: &ByteString) -> json_patch::Patch {
    let value = serde_json::to_value(bundle).unwrap_or_default();
    let ops = (0..count)
        .map(|i| {
            json_patch::PatchOperation::Add(json_patch::AddOperation {
                path: json_patch::jsonptr::PointerBuf::parse(format!(
                    "/webhooks/{i}/clientConfig/caBundle"
                ))
                .unwrap_or_default(),
                value: value.clone(),
            })
        })
        .collect();
    json_patch::Patch(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    #[test]
    fn generated_certificates_serve_and_renewals_keep_the_ca() {
        let names = service_names("pipy-webhook", "pipy-system");
        let certs = WebhookCerts::generate(&names, now()).unwrap();
        assert!(certs.server_config().is_ok());
        assert!(!certs.needs_renewal(&names, now()));
        assert!(certs.needs_renewal(&names, now() + CERT_LIFETIME - Duration::days(29)));
        let mut more = names.clone();
        more.push("127.0.0.1".into());
        assert!(certs.needs_renewal(&more, now()));
        let renewed = certs.renew(&names, now() + Duration::days(340)).unwrap();
        assert_eq!(renewed.ca_cert, certs.ca_cert);
        assert_ne!(renewed.cert, certs.cert);
        assert!(renewed.not_after > certs.not_after);
        assert!(renewed.server_config().is_ok());
    }

    #[test]
    fn secrets_round_trip() {
        let certs = WebhookCerts::generate(&service_names("svc", "ns"), now()).unwrap();
        let secret = certs.to_secret("tls", Some("7".into()));
        assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/tls"));
        assert_eq!(WebhookCerts::from_secret(&secret).unwrap(), certs);
        let mut broken = secret.clone();
        broken.metadata.annotations = None;
        assert!(WebhookCerts::from_secret(&broken).is_err());
    }

    #[test]
    fn hosts_of_webhook_urls() {
        assert_eq!(
            url_host("https://127.0.0.1:9443/x").as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(url_host("https://[::1]:9443").as_deref(), Some("::1"));
        assert_eq!(
            url_host("https://hook.example").as_deref(),
            Some("hook.example")
        );
        assert_eq!(url_host("https://u@h:1?q").as_deref(), Some("h"));
        assert_eq!(url_host("https://:1"), None);
    }

    #[test]
    fn ca_bundle_patches_every_webhook() {
        let patch = ca_bundle_patch(2, &ByteString(b"PEM".to_vec()));
        let text = serde_json::to_string(&patch).unwrap();
        assert_eq!(
            text,
            r#"[{"op":"add","path":"/webhooks/0/clientConfig/caBundle","value":"UEVN"},{"op":"add","path":"/webhooks/1/clientConfig/caBundle","value":"UEVN"}]"#
        );
    }

    /// A TLS handshake over loopback with the name the API server uses, trusting only
    /// the CA: a renewed certificate still chains to the stored CA.
    #[test]
    fn renewed_certificates_chain_to_the_stored_ca() {
        use rustls::pki_types::pem::PemObject;
        use std::io::{Read, Write};
        let names = service_names("hook", "ops");
        let certs = WebhookCerts::generate(&names, now()).unwrap();
        let renewed = certs.renew(&names, now()).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let config = renewed.server_config().unwrap();
        let server = std::thread::spawn(move || {
            let (tcp, _) = listener.accept().unwrap();
            let conn = rustls::ServerConnection::new(config).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            let mut buf = [0u8; 5];
            tls.read_exact(&mut buf).unwrap();
            tls.write_all(b"pong!").unwrap();
            tls.flush().unwrap();
        });
        let mut roots = rustls::RootCertStore::empty();
        let ca =
            rustls::pki_types::CertificateDer::from_pem_slice(certs.ca_cert.as_bytes()).unwrap();
        roots.add(ca).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from("hook.ops.svc").unwrap();
        let conn = rustls::ClientConnection::new(Arc::new(client), name).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, std::net::TcpStream::connect(addr).unwrap());
        tls.write_all(b"ping!").unwrap();
        let mut buf = [0u8; 5];
        tls.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"pong!");
        server.join().unwrap();
    }
}
