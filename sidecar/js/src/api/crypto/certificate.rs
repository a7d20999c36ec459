//! `crypto.Certificate` and `crypto.CertificateChain`: X.509 certificates read
//! from PEM (or made and signed from options), as TLS options take them.
//!
//! Upstream reads them with OpenSSL; the fields scripts see follow its shapes:
//! `subject` and `issuer` map OpenSSL's long attribute names (`commonName`,
//! `organizationName`...) to strings, `subjectAltNames` lists DNS names only,
//! and `notBefore`/`notAfter` are milliseconds since the epoch.

use super::key::{key_pair_of, public_key_of};
use crate::api::data::{new_data, to_bytes};
use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::builtins::JsArray;
use boa_engine::object::ObjectInitializer;
use boa_engine::property::{Attribute, PropertyKey};
use boa_engine::{
    js_string, Context, JsData, JsNativeError, JsObject, JsResult, JsValue, NativeFunction,
};
use boa_gc::{Finalize, Trace};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use std::rc::Rc;

/// A parsed certificate: its DER and the fields scripts read.
#[derive(Debug)]
pub struct Certificate {
    /// The certificate as DER, as TLS sends it.
    pub der: CertificateDer<'static>,
    subject: Vec<(String, String)>,
    issuer: Vec<(String, String)>,
    dns_names: Vec<String>,
    not_before_ms: i64,
    not_after_ms: i64,
}

impl Certificate {
    /// Parses a DER certificate.
    pub fn from_der(der: CertificateDer<'static>) -> Result<Self, String> {
        use x509_parser::prelude::*;
        let (_, x) =
            X509Certificate::from_der(&der).map_err(|e| format!("invalid certificate: {e}"))?;
        let names = |n: &X509Name<'_>| -> Vec<(String, String)> {
            n.iter_attributes()
                .map(|a| {
                    let oid = a.attr_type().to_id_string();
                    let value = a
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|_| String::from_utf8_lossy(a.as_slice()).into_owned());
                    (long_name(&oid).map(str::to_string).unwrap_or(oid), value)
                })
                .collect()
        };
        let dns_names = match x.subject_alternative_name() {
            Ok(Some(san)) => san
                .value
                .general_names
                .iter()
                .filter_map(|g| match g {
                    GeneralName::DNSName(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        let validity = x.validity();
        Ok(Certificate {
            subject: names(x.subject()),
            issuer: names(x.issuer()),
            dns_names,
            not_before_ms: validity.not_before.timestamp() * 1000,
            not_after_ms: validity.not_after.timestamp() * 1000,
            der,
        })
    }

    /// The first certificate of a PEM text.
    pub fn from_pem(pem: &[u8]) -> Result<Self, String> {
        if pem.is_empty() {
            return Err("Data size is zero".into());
        }
        let der = CertificateDer::from_pem_slice(pem)
            .map_err(|e| format!("no certificate in PEM: {e}"))?;
        Self::from_der(der)
    }

    /// The certificate as PEM.
    pub fn to_pem(&self) -> String {
        pem_text("CERTIFICATE", &self.der)
    }

    /// The subject's common name, when it has one.
    pub fn common_name(&self) -> Option<&str> {
        self.subject
            .iter()
            .rev()
            .find(|(k, _)| k == "commonName")
            .map(|(_, v)| v.as_str())
    }
}

/// OpenSSL's long name of an attribute OID, for the ones certificates use.
fn long_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "commonName",
        "2.5.4.4" => "surname",
        "2.5.4.5" => "serialNumber",
        "2.5.4.6" => "countryName",
        "2.5.4.7" => "localityName",
        "2.5.4.8" => "stateOrProvinceName",
        "2.5.4.9" => "streetAddress",
        "2.5.4.10" => "organizationName",
        "2.5.4.11" => "organizationalUnitName",
        "2.5.4.12" => "title",
        "2.5.4.17" => "postalCode",
        "2.5.4.42" => "givenName",
        "2.5.4.43" => "initials",
        "2.5.4.46" => "dnQualifier",
        "2.5.4.65" => "pseudonym",
        "1.2.840.113549.1.9.1" => "emailAddress",
        "0.9.2342.19200300.100.1.1" => "userId",
        "0.9.2342.19200300.100.1.25" => "domainComponent",
        _ => return None,
    })
}

/// The rcgen attribute type for a name a script gives in a subject: short
/// (`CN`), long (`commonName`) or a dotted OID, as OpenSSL's `OBJ_txt2nid`.
fn dn_type(name: &str) -> Option<rcgen::DnType> {
    use rcgen::DnType;
    let oid = match name {
        "CN" | "commonName" => return Some(DnType::CommonName),
        "C" | "countryName" => return Some(DnType::CountryName),
        "L" | "localityName" => return Some(DnType::LocalityName),
        "ST" | "stateOrProvinceName" => return Some(DnType::StateOrProvinceName),
        "O" | "organizationName" => return Some(DnType::OrganizationName),
        "OU" | "organizationalUnitName" => return Some(DnType::OrganizationalUnitName),
        "emailAddress" => "1.2.840.113549.1.9.1",
        "SN" | "surname" => "2.5.4.4",
        "serialNumber" => "2.5.4.5",
        "street" | "streetAddress" => "2.5.4.9",
        "title" => "2.5.4.12",
        "postalCode" => "2.5.4.17",
        "GN" | "givenName" => "2.5.4.42",
        "DC" | "domainComponent" => "0.9.2342.19200300.100.1.25",
        other if other.contains('.') => other,
        _ => return None,
    };
    let arcs: Option<Vec<u64>> = oid.split('.').map(|p| p.parse().ok()).collect();
    arcs.map(DnType::CustomDnType)
}

/// PEM text of DER bytes under `label`.
pub(crate) fn pem_text(label: &str, der: &[u8]) -> String {
    let b64 = crate::api::data::base64_encode(der, false);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn type_error(msg: impl Into<String>) -> boa_engine::JsError {
    JsNativeError::typ().with_message(msg.into()).into()
}

/// The Rust side of `new crypto.Certificate(pem | options)`.
#[derive(Trace, Finalize, JsData)]
pub struct CertificateObject {
    /// The certificate.
    #[unsafe_ignore_trace]
    pub cert: Rc<Certificate>,
}

/// The certificate behind a script value, if it is a `crypto.Certificate`.
pub fn certificate_of(v: &JsValue) -> Option<Rc<Certificate>> {
    let o = v.as_object()?;
    let c = o.downcast_ref::<CertificateObject>()?;
    Some(c.cert.clone())
}

/// A `crypto.Certificate` object for `cert` (the peer's, in a TLS callback).
pub fn new_certificate(cert: Rc<Certificate>, ctx: &mut Context) -> JsResult<JsValue> {
    let obj = CertificateObject::from_data(CertificateObject { cert }, ctx)?;
    Ok(obj.into())
}

fn this_cert(this: &JsValue) -> JsResult<Rc<Certificate>> {
    certificate_of(this).ok_or_else(|| type_error("not a crypto.Certificate"))
}

fn names_object(names: &[(String, String)], ctx: &mut Context) -> JsValue {
    let mut o = ObjectInitializer::new(ctx);
    for (k, v) in names {
        // A repeated attribute keeps its last value, as upstream.
        o.property(
            js_string!(k.as_str()),
            js_string!(v.as_str()),
            Attribute::all(),
        );
    }
    o.build().into()
}

/// Makes and signs a certificate from `new crypto.Certificate(options)`.
fn from_options(opts: &JsObject, ctx: &mut Context) -> JsResult<Certificate> {
    let get = |k: &str, ctx: &mut Context| opts.get(js_string!(k), ctx);
    let subject = get("subject", ctx)?;
    let subject = subject
        .as_object()
        .ok_or_else(|| type_error("options.subject expects an object"))?;
    let mut params = rcgen::CertificateParams::default();
    for key in subject.own_property_keys(ctx)? {
        let PropertyKey::String(name) = &key else {
            continue;
        };
        let name = name.to_std_string_escaped();
        // Unknown attribute names are skipped, as upstream.
        if let Some(t) = dn_type(&name) {
            let v = subject.get(key.clone(), ctx)?.to_string(ctx)?;
            params.distinguished_name.push(t, v.to_std_string_escaped());
        }
    }
    let signer = key_pair_of(&get("privateKey", ctx)?)
        .ok_or_else(|| {
            type_error("options.privateKey expects an object of type crypto.PrivateKey")
        })?
        .map_err(type_error)?;
    let issuer_cert = certificate_of(&get("issuer", ctx)?);
    let public_key = get("publicKey", ctx)?;
    let spki = match (public_key_of(&public_key), &issuer_cert) {
        (Some(k), _) => k.spki.to_vec(),
        // Upstream defaults to the issuer's key, which makes a certificate
        // for the issuer's own key pair.
        (None, Some(_)) => rcgen::PublicKeyData::subject_public_key_info(&signer),
        (None, None) => return Err(type_error("missing public key")),
    };
    let days = get("days", ctx)?;
    let days = if days.is_undefined() {
        30.0
    } else {
        days.to_number(ctx)?
    };
    let offset = get("timeOffset", ctx)?;
    let offset = if offset.is_undefined() {
        0.0
    } else {
        offset.to_number(ctx)?
    };
    let span = |secs: f64, what: &str| {
        time::Duration::checked_seconds_f64(secs)
            .ok_or_else(|| type_error(format!("options.{what} is out of range")))
    };
    let now = time::OffsetDateTime::now_utc()
        .checked_add(span(offset, "timeOffset")?)
        .ok_or_else(|| type_error("options.timeOffset is out of range"))?;
    params.not_before = now;
    params.not_after = now
        .checked_add(span(days * 86400.0, "days")?)
        .ok_or_else(|| type_error("options.days is out of range"))?;
    let exts = get("extensions", ctx)?;
    if let Some(exts) = exts.as_object() {
        for key in exts.own_property_keys(ctx)? {
            let PropertyKey::String(name) = &key else {
                continue;
            };
            let name = name.to_std_string_escaped();
            let value = exts
                .get(key.clone(), ctx)?
                .to_string(ctx)?
                .to_std_string_escaped();
            apply_extension(&mut params, &name, &value)
                .ok_or_else(|| type_error(format!("invalid extension: {name}")))?;
        }
    }
    let subject_key = rcgen::SubjectPublicKeyInfo::from_der(&spki)
        .map_err(|e| type_error(format!("invalid public key: {e}")))?;
    let cert = match issuer_cert {
        Some(ic) => {
            let issuer = rcgen::Issuer::from_ca_cert_der(&ic.der, &signer)
                .map_err(|e| type_error(format!("invalid issuer: {e}")))?;
            params.signed_by(&subject_key, &issuer)
        }
        None => {
            let issuer = rcgen::Issuer::from_params(&params, &signer);
            params.signed_by(&subject_key, &issuer)
        }
    }
    .map_err(|e| type_error(format!("cannot sign certificate: {e}")))?;
    Certificate::from_der(cert.der().clone()).map_err(type_error)
}

/// Applies one OpenSSL-style extension (`basicConstraints: 'CA:TRUE'`,
/// `subjectAltName: 'DNS:a.example, IP:127.0.0.1'`, `keyUsage: ...`).
fn apply_extension(params: &mut rcgen::CertificateParams, name: &str, value: &str) -> Option<()> {
    use rcgen::{
        BasicConstraints, ExtendedKeyUsagePurpose as Eku, IsCa, KeyUsagePurpose as Ku, SanType,
    };
    let items = value.split(',').map(str::trim).filter(|s| !s.is_empty());
    match name {
        "basicConstraints" => {
            for item in items {
                match item {
                    "critical" => {}
                    "CA:TRUE" | "CA:true" => {
                        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained)
                    }
                    "CA:FALSE" | "CA:false" => params.is_ca = IsCa::ExplicitNoCa,
                    _ => {
                        let n = item.strip_prefix("pathlen:")?.parse().ok()?;
                        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(n));
                    }
                }
            }
        }
        "subjectAltName" => {
            for item in items {
                let (kind, v) = item.split_once(':')?;
                params.subject_alt_names.push(match kind {
                    "DNS" => SanType::DnsName(v.to_string().try_into().ok()?),
                    "IP" => SanType::IpAddress(v.parse().ok()?),
                    "email" => SanType::Rfc822Name(v.to_string().try_into().ok()?),
                    "URI" => SanType::URI(v.to_string().try_into().ok()?),
                    _ => return None,
                });
            }
        }
        "keyUsage" => {
            for item in items {
                params.key_usages.push(match item {
                    "critical" => continue,
                    "digitalSignature" => Ku::DigitalSignature,
                    "nonRepudiation" => Ku::ContentCommitment,
                    "keyEncipherment" => Ku::KeyEncipherment,
                    "dataEncipherment" => Ku::DataEncipherment,
                    "keyAgreement" => Ku::KeyAgreement,
                    "keyCertSign" => Ku::KeyCertSign,
                    "cRLSign" => Ku::CrlSign,
                    "encipherOnly" => Ku::EncipherOnly,
                    "decipherOnly" => Ku::DecipherOnly,
                    _ => return None,
                });
            }
        }
        "extendedKeyUsage" => {
            for item in items {
                params.extended_key_usages.push(match item {
                    "critical" => continue,
                    "serverAuth" => Eku::ServerAuth,
                    "clientAuth" => Eku::ClientAuth,
                    "codeSigning" => Eku::CodeSigning,
                    "emailProtection" => Eku::EmailProtection,
                    "timeStamping" => Eku::TimeStamping,
                    "OCSPSigning" => Eku::OcspSigning,
                    _ => return None,
                });
            }
        }
        _ => return None,
    }
    Some(())
}

impl Class for CertificateObject {
    const NAME: &'static str = "Certificate";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let a0 = args.first().cloned().unwrap_or_default();
        let cert = if a0.is_string() || crate::api::data::data_of(&a0).is_some() {
            let pem = to_bytes(&a0, None, ctx)?.to_vec();
            Certificate::from_pem(&pem).map_err(type_error)?
        } else if let Some(o) = a0.as_object() {
            from_options(&o, ctx)?
        } else {
            return Err(type_error("argument #1 expects a string or an object"));
        };
        Ok(CertificateObject {
            cert: Rc::new(cert),
        })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        type Getter = fn(&Certificate, &mut Context) -> JsValue;
        let getters: [(&str, Getter); 5] = [
            ("subject", |c, ctx| names_object(&c.subject, ctx)),
            ("issuer", |c, ctx| names_object(&c.issuer, ctx)),
            ("subjectAltNames", |c, ctx| {
                let names: Vec<JsValue> = c
                    .dns_names
                    .iter()
                    .map(|n| js_string!(n.as_str()).into())
                    .collect();
                JsArray::from_iter(names, ctx).into()
            }),
            ("notBefore", |c, _| JsValue::from(c.not_before_ms as f64)),
            ("notAfter", |c, _| JsValue::from(c.not_after_ms as f64)),
        ];
        for (name, getter) in getters {
            let f = NativeFunction::from_copy_closure(move |this, _, ctx| {
                let c = this_cert(this)?;
                Ok(getter(&c, ctx))
            })
            .to_js_function(class.context().realm());
            class.accessor(js_string!(name), Some(f), None, Attribute::CONFIGURABLE);
        }
        class.method(
            js_string!("toPEM"),
            0,
            NativeFunction::from_fn_ptr(|this, _, ctx| {
                let c = this_cert(this)?;
                new_data(c.to_pem().into_bytes().into(), ctx)
            }),
        );
        Ok(())
    }
}

/// The Rust side of `new crypto.CertificateChain(pem)`.
#[derive(Trace, Finalize, JsData)]
pub struct CertificateChainObject {
    /// The certificates in file order: the leaf first.
    #[unsafe_ignore_trace]
    pub certs: Rc<Vec<Rc<Certificate>>>,
}

/// The certificates behind a script value, if it is a `crypto.CertificateChain`.
pub fn certificate_chain_of(v: &JsValue) -> Option<Rc<Vec<Rc<Certificate>>>> {
    let o = v.as_object()?;
    let c = o.downcast_ref::<CertificateChainObject>()?;
    Some(c.certs.clone())
}

impl Class for CertificateChainObject {
    const NAME: &'static str = "CertificateChain";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let a0 = args.first().cloned().unwrap_or_default();
        if !a0.is_string() && crate::api::data::data_of(&a0).is_none() {
            return Err(type_error("argument #1 expects a string or a Data object"));
        }
        let pem = to_bytes(&a0, None, ctx)?.to_vec();
        let mut certs = Vec::new();
        // Every CERTIFICATE block in order; other text between them is skipped.
        for der in CertificateDer::pem_slice_iter(&pem) {
            let der = der.map_err(|e| type_error(format!("invalid PEM: {e}")))?;
            certs.push(Rc::new(Certificate::from_der(der).map_err(type_error)?));
        }
        // An empty chain is refused later, where TLS needs a certificate.
        Ok(CertificateChainObject {
            certs: Rc::new(certs),
        })
    }

    fn init(_: &mut ClassBuilder<'_>) -> JsResult<()> {
        Ok(())
    }
}
