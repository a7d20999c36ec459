//! `crypto.PrivateKey` and `crypto.PublicKey`: keys read from PEM (RSA, ECDSA,
//! Ed25519), as TLS options and certificate signing take them.

use super::certificate::pem_text;
use crate::api::data::{data_of, new_data, to_bytes};
use boa_engine::class::{Class, ClassBuilder};
use boa_engine::{js_string, Context, JsData, JsNativeError, JsResult, JsValue, NativeFunction};
use boa_gc::{Finalize, Trace};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{PrivateKeyDer, SubjectPublicKeyInfoDer};
use std::rc::Rc;

/// A private key as DER, in the form its PEM had (PKCS#8, PKCS#1 or SEC1).
#[derive(Debug)]
pub struct PrivateKey {
    /// The key.
    pub der: PrivateKeyDer<'static>,
}

impl PrivateKey {
    /// The first private key of a PEM text.
    pub fn from_pem(pem: &[u8]) -> Result<Self, String> {
        if pem.is_empty() {
            return Err("Data size is zero".into());
        }
        let der = PrivateKeyDer::from_pem_slice(pem)
            .map_err(|e| format!("no private key in PEM: {e}"))?;
        Ok(PrivateKey { der })
    }

    /// The key as PKCS#8 PEM (`BEGIN PRIVATE KEY`), as upstream writes it.
    pub fn to_pem(&self) -> String {
        match (self.pkcs8(), &self.der) {
            (Some(der), _) => pem_text("PRIVATE KEY", &der),
            // A form we cannot wrap keeps its own label.
            (None, PrivateKeyDer::Pkcs1(_)) => pem_text("RSA PRIVATE KEY", self.der.secret_der()),
            (None, _) => pem_text("EC PRIVATE KEY", self.der.secret_der()),
        }
    }

    /// The key as PKCS#8 DER: PKCS#1 (RSA) and SEC1 (EC) keys are wrapped in
    /// a PrivateKeyInfo (RFC 5208) with their algorithm.
    pub(crate) fn pkcs8(&self) -> Option<Vec<u8>> {
        const RSA: &[u8] = &[
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
        ];
        const EC: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
        let (algorithm, inner): (Vec<u8>, std::borrow::Cow<'_, [u8]>) = match &self.der {
            PrivateKeyDer::Pkcs8(k) => return Some(k.secret_pkcs8_der().to_vec()),
            PrivateKeyDer::Pkcs1(k) => (RSA.to_vec(), k.secret_pkcs1_der().into()),
            PrivateKeyDer::Sec1(k) => {
                let (curve, inner) = sec1_split(k.secret_sec1_der())?;
                let mut alg = EC.to_vec();
                alg.extend_from_slice(curve);
                (alg, inner.into())
            }
            _ => return None,
        };
        let mut body = vec![0x02, 0x01, 0x00];
        body.extend(der_tlv(0x30, &algorithm));
        body.extend(der_tlv(0x04, &inner));
        Some(der_tlv(0x30, &body))
    }

    /// The key as a signer (rcgen on *ring* reads PKCS#8).
    pub fn key_pair(&self) -> Result<rcgen::KeyPair, String> {
        let der = self.pkcs8().ok_or("unsupported private key form")?;
        rcgen::KeyPair::try_from(der.as_slice())
            .map_err(|e| format!("unsupported private key: {e}"))
    }
}

/// A DER element: tag, length, value.
fn der_tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = value.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(value);
    out
}

/// The named curve (the OID element) of a SEC1 `ECPrivateKey` (RFC 5915),
/// and the key without it, as PKCS#8 holds it (the curve moves to the
/// algorithm; OpenSSL writes it so).
fn sec1_split(der: &[u8]) -> Option<(&[u8], Vec<u8>)> {
    // SEQUENCE { INTEGER 1, OCTET STRING key, [0] OID, [1] BIT STRING }
    let (body, _) = der_read(der, 0x30)?;
    let (_, after_version) = der_read(body, 0x02)?;
    let (_, after_key) = der_read(after_version, 0x04)?;
    let (curve, after_params) = der_read(after_key, 0xa0)?;
    let mut inner = body[..body.len() - after_key.len()].to_vec();
    inner.extend_from_slice(after_params);
    Some((curve, der_tlv(0x30, &inner)))
}

/// Reads one DER element of `tag`: its value and what follows it.
pub(super) fn der_read(der: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&t, rest) = der.split_first()?;
    if t != tag {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |a, b| (a << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some(rest.split_at(len))
}

/// A public key as SubjectPublicKeyInfo DER.
#[derive(Debug)]
pub struct PublicKey {
    /// The key.
    pub spki: Vec<u8>,
}

fn type_error(msg: impl Into<String>) -> boa_engine::JsError {
    JsNativeError::typ().with_message(msg.into()).into()
}

/// The Rust side of `new crypto.PrivateKey(pem | options)`.
#[derive(Trace, Finalize, JsData)]
pub struct PrivateKeyObject {
    /// The key.
    #[unsafe_ignore_trace]
    pub key: Rc<PrivateKey>,
}

/// The key behind a script value, if it is a `crypto.PrivateKey`.
pub fn private_key_of(v: &JsValue) -> Option<Rc<PrivateKey>> {
    let o = v.as_object()?;
    let k = o.downcast_ref::<PrivateKeyObject>()?;
    Some(k.key.clone())
}

/// The signer behind a script value: `None` if it is no `crypto.PrivateKey`.
pub(crate) fn key_pair_of(v: &JsValue) -> Option<Result<rcgen::KeyPair, String>> {
    private_key_of(v).map(|k| k.key_pair())
}

/// The key behind a script value, if it is a `crypto.PublicKey`.
pub(crate) fn public_key_of(v: &JsValue) -> Option<Rc<PublicKey>> {
    let o = v.as_object()?;
    let k = o.downcast_ref::<PublicKeyObject>()?;
    Some(k.key.clone())
}

impl Class for PrivateKeyObject {
    const NAME: &'static str = "PrivateKey";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let a0 = args.first().cloned().unwrap_or_default();
        let key = if a0.is_string() || data_of(&a0).is_some() {
            let pem = to_bytes(&a0, None, ctx)?.to_vec();
            PrivateKey::from_pem(&pem).map_err(type_error)?
        } else if let Some(o) = a0.as_object() {
            // Upstream makes RSA and DSA keys; *ring* makes neither, so we
            // make the kinds it can (an addition) and say so for the others.
            let kind = o
                .get(js_string!("type"), ctx)?
                .to_string(ctx)?
                .to_std_string_escaped();
            let alg = match kind.as_str() {
                "ec" | "ecdsa" => &rcgen::PKCS_ECDSA_P256_SHA256,
                "ed25519" => &rcgen::PKCS_ED25519,
                "rsa" | "dsa" => {
                    return Err(type_error(format!(
                        "generating {kind} keys is not supported; use type 'ec' or 'ed25519', or load a PEM"
                    )))
                }
                _ => return Err(type_error("options.type expects one of rsa, dsa, ec, ed25519")),
            };
            let pair = rcgen::KeyPair::generate_for(alg).map_err(|e| type_error(e.to_string()))?;
            PrivateKey {
                der: PrivateKeyDer::Pkcs8(pair.serialize_der().into()),
            }
        } else {
            return Err(type_error("argument #1 expects a string or an object"));
        };
        Ok(PrivateKeyObject { key: Rc::new(key) })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        class.method(
            js_string!("toPEM"),
            0,
            NativeFunction::from_fn_ptr(|this, _, ctx| {
                let k =
                    private_key_of(this).ok_or_else(|| type_error("not a crypto.PrivateKey"))?;
                new_data(k.to_pem().into_bytes().into(), ctx)
            }),
        );
        Ok(())
    }
}

/// The Rust side of `new crypto.PublicKey(pem | privateKey)`.
#[derive(Trace, Finalize, JsData)]
pub struct PublicKeyObject {
    /// The key.
    #[unsafe_ignore_trace]
    pub key: Rc<PublicKey>,
}

impl Class for PublicKeyObject {
    const NAME: &'static str = "PublicKey";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let a0 = args.first().cloned().unwrap_or_default();
        let spki = if let Some(private) = private_key_of(&a0) {
            let pair = private.key_pair().map_err(type_error)?;
            rcgen::PublicKeyData::subject_public_key_info(&pair)
        } else if a0.is_string() || data_of(&a0).is_some() {
            let pem = to_bytes(&a0, None, ctx)?.to_vec();
            if pem.is_empty() {
                return Err(type_error("Data size is zero"));
            }
            // As upstream, only 'BEGIN PUBLIC KEY' (SubjectPublicKeyInfo).
            SubjectPublicKeyInfoDer::from_pem_slice(&pem)
                .map_err(|e| type_error(format!("no public key in PEM: {e}")))?
                .to_vec()
        } else {
            return Err(type_error("argument #1 expects a string or an object"));
        };
        Ok(PublicKeyObject {
            key: Rc::new(PublicKey { spki }),
        })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        class.method(
            js_string!("toPEM"),
            0,
            NativeFunction::from_fn_ptr(|this, _, ctx| {
                let k = public_key_of(this).ok_or_else(|| type_error("not a crypto.PublicKey"))?;
                new_data(pem_text("PUBLIC KEY", &k.spki).into_bytes().into(), ctx)
            }),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC1: &str = "-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIO2QRWWR6EDFnHrWSdYOjw6S2Uw1WxNU84DWFXAvd+jfoAoGCCqGSM49
AwEHoUQDQgAEkJFFmon+1BGn3TTwc/zUedwzD/kkMBZuN57ZYhvk4m8zJcW1wcYd
1K5uTDYiBn5k60ZsASXP67hCfKC2EptjBQ==
-----END EC PRIVATE KEY-----
";

    /// What upstream Pipy 1.5.18 writes for `SEC1` (`toPEM()` of the private
    /// key and of `new crypto.PublicKey(key)`), taken from a side-by-side run.
    const UPSTREAM_PKCS8: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg7ZBFZZHoQMWcetZJ
1g6PDpLZTDVbE1TzgNYVcC936N+hRANCAASQkUWaif7UEafdNPBz/NR53DMP+SQw
Fm43ntliG+TibzMlxbXBxh3Urm5MNiIGfmTrRmwBJc/ruEJ8oLYSm2MF
-----END PRIVATE KEY-----
";
    const UPSTREAM_SPKI: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEkJFFmon+1BGn3TTwc/zUedwzD/kk
MBZuN57ZYhvk4m8zJcW1wcYd1K5uTDYiBn5k60ZsASXP67hCfKC2EptjBQ==
-----END PUBLIC KEY-----
";

    #[test]
    fn a_sec1_key_writes_as_upstream_does() {
        let key = PrivateKey::from_pem(SEC1.as_bytes()).unwrap();
        assert_eq!(key.to_pem(), UPSTREAM_PKCS8);
        let spki = rcgen::PublicKeyData::subject_public_key_info(&key.key_pair().unwrap());
        assert_eq!(pem_text("PUBLIC KEY", &spki), UPSTREAM_SPKI);
        // PKCS#8 in, the same out.
        let again = PrivateKey::from_pem(UPSTREAM_PKCS8.as_bytes()).unwrap();
        assert_eq!(again.to_pem(), UPSTREAM_PKCS8);
        assert!(PrivateKey::from_pem(b"").is_err());
        assert!(PrivateKey::from_pem(
            b"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n"
        )
        .is_err());
    }
}
