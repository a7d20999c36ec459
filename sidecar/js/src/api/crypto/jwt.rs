//! `crypto.JWK` and `crypto.JWT`: JSON Web Keys (RSA and EC public keys,
//! RFC 7517/7518) and the verification of JSON Web Tokens (RFC 7519, the
//! compact form) with HS256/384/512, RS256/384/512 and ES256/384/512.
//!
//! As upstream 1.5.18 behaves (compared side by side): `new JWT(token)`
//! never throws; `isValid` says whether the token has three parts whose
//! first two are base64url JSON objects and whose header names a known
//! `alg`; `header` and `payload` are those objects; `verify(key)` takes the
//! secret (text or Data) for HS*, or a PEM public key (text or Data), a
//! `JWK` or a `crypto.PublicKey` for RS*/ES*, and answers whether the
//! signature holds (a key of the wrong kind is `false`, a PEM that holds no
//! key an exception). `new JWK(json)` throws on a missing or unknown `kty`,
//! `n`, `e`, `crv`, `x` or `y`. Signatures are checked with *ring*, which has
//! no P-521: ES512 verifies as `false` (upstream checks it with OpenSSL).
//! ES signatures are checked in their JOSE form (RFC 7518 §3.4); upstream
//! converts them to DER and miscounts when `r` and `s` differ in length, so
//! some valid ES256 tokens fail there (seen side by side with PyJWT's).
//! The HMAC comparison takes constant time.

use super::key::{private_key_of, public_key_of};
use crate::api::data::{data_of, to_bytes};
use base64::engine::general_purpose::GeneralPurpose;
use base64::engine::{DecodePaddingMode, GeneralPurposeConfig};
use base64::Engine;
use boa_engine::class::{Class, ClassBuilder};
use boa_engine::property::Attribute;
use boa_engine::{js_string, Context, JsData, JsNativeError, JsResult, JsValue, NativeFunction};
use boa_gc::{Finalize, Trace};
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey, VerificationAlgorithm};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::SubjectPublicKeyInfoDer;

/// base64url, with or without padding.
const B64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn type_error(msg: impl Into<String>) -> boa_engine::JsError {
    JsNativeError::typ().with_message(msg.into()).into()
}

/// A public key a signature is checked with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Key {
    /// RSA modulus and exponent (big-endian).
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// An EC point (uncompressed, `04 || x || y`) on a named curve.
    Ec { curve: Curve, point: Vec<u8> },
    /// An Ed25519 public key.
    Ed25519(Vec<u8>),
}

/// Named curves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Curve {
    /// P-256.
    P256,
    /// P-384.
    P384,
    /// P-521.
    P521,
}

/// JWT signature algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Alg {
    Hs(u16),
    Rs(u16),
    Es(u16),
}

impl Alg {
    fn from_name(s: &str) -> Option<Self> {
        let bits = match s.get(2..)? {
            "256" => 256,
            "384" => 384,
            "512" => 512,
            _ => return None,
        };
        match s.get(..2)? {
            "HS" => Some(Alg::Hs(bits)),
            "RS" => Some(Alg::Rs(bits)),
            "ES" => Some(Alg::Es(bits)),
            _ => None,
        }
    }
}

/// Reads a public key out of SubjectPublicKeyInfo DER.
pub(super) fn key_of_spki(der: &[u8]) -> Option<Key> {
    use x509_parser::prelude::FromDer;
    let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(der).ok()?;
    let oid = spki.algorithm.algorithm.to_id_string();
    let bits = spki.subject_public_key.data.to_vec();
    match oid.as_str() {
        "1.2.840.113549.1.1.1" => {
            let (n, e) = rsa_components(&bits)?;
            Some(Key::Rsa { n, e })
        }
        "1.2.840.10045.2.1" => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()?
                .as_oid()
                .ok()?
                .to_id_string();
            let curve = match curve.as_str() {
                "1.2.840.10045.3.1.7" => Curve::P256,
                "1.3.132.0.34" => Curve::P384,
                "1.3.132.0.35" => Curve::P521,
                _ => return None,
            };
            Some(Key::Ec { curve, point: bits })
        }
        "1.3.101.112" => Some(Key::Ed25519(bits)),
        _ => None,
    }
}

/// The modulus and exponent of a PKCS#1 RSAPublicKey.
fn rsa_components(der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    use super::key::der_read as read;
    let (seq, _) = read(der, 0x30)?;
    let (n, rest) = read(seq, 0x02)?;
    let (e, _) = read(rest, 0x02)?;
    let strip = |v: &[u8]| {
        let i = v.iter().take_while(|b| **b == 0).count();
        v[i..].to_vec()
    };
    Some((strip(n), strip(e)))
}

/// A key from PEM text: a public key, or the public half of a private key.
fn key_of_pem(pem: &[u8]) -> Result<Key, String> {
    if let Ok(spki) = SubjectPublicKeyInfoDer::from_pem_slice(pem) {
        return key_of_spki(&spki).ok_or_else(|| "unsupported public key".to_string());
    }
    let private = super::key::PrivateKey::from_pem(pem)?;
    let pair = private.key_pair()?;
    let spki = rcgen::PublicKeyData::subject_public_key_info(&pair);
    key_of_spki(&spki).ok_or_else(|| "unsupported key".to_string())
}

/// Whether `signature` over `message` holds under `key` with `alg` (RS or ES).
fn verify_with(alg: Alg, key: &Key, message: &[u8], signature: &[u8]) -> bool {
    match (alg, key) {
        (Alg::Rs(bits), Key::Rsa { n, e }) => {
            let params = match bits {
                256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                _ => &signature::RSA_PKCS1_2048_8192_SHA512,
            };
            RsaPublicKeyComponents { n, e }
                .verify(params, message, signature)
                .is_ok()
        }
        (Alg::Es(bits), Key::Ec { curve, point }) => {
            let algorithm: &dyn VerificationAlgorithm = match (bits, curve) {
                (256, Curve::P256) => &signature::ECDSA_P256_SHA256_FIXED,
                (384, Curve::P384) => &signature::ECDSA_P384_SHA384_FIXED,
                // ring has no P-521 (and the curve must match the alg).
                _ => return false,
            };
            UnparsedPublicKey::new(algorithm, point)
                .verify(message, signature)
                .is_ok()
        }
        _ => false,
    }
}

/// The Rust side of `new crypto.JWK(json)`.
#[derive(Trace, Finalize, JsData)]
pub struct JwkObject {
    #[unsafe_ignore_trace]
    key: Box<Key>,
}

fn string_field(o: &boa_engine::JsObject, k: &str, ctx: &mut Context) -> JsResult<String> {
    let v = o.get(js_string!(k), ctx)?;
    match v.as_string() {
        Some(s) => Ok(s.to_std_string_escaped()),
        None => Err(type_error(format!("missing \"{k}\""))),
    }
}

fn b64_field(o: &boa_engine::JsObject, k: &str, ctx: &mut Context) -> JsResult<Vec<u8>> {
    let s = string_field(o, k, ctx)?;
    B64URL
        .decode(s.trim_end_matches('='))
        .map_err(|_| type_error(format!("invalid \"{k}\"")))
}

impl Class for JwkObject {
    const NAME: &'static str = "JWK";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let Some(o) = args.first().and_then(|v| v.as_object()) else {
            return Err(type_error("crypto.JWK: argument #1 expects an object"));
        };
        let key = match string_field(&o, "kty", ctx)?.as_str() {
            "RSA" => Key::Rsa {
                n: b64_field(&o, "n", ctx)?,
                e: b64_field(&o, "e", ctx)?,
            },
            "EC" => {
                let curve = match string_field(&o, "crv", ctx)?.as_str() {
                    "P-256" => Curve::P256,
                    "P-384" => Curve::P384,
                    "P-521" => Curve::P521,
                    _ => return Err(type_error("unknown \"crv\"")),
                };
                let (x, y) = (b64_field(&o, "x", ctx)?, b64_field(&o, "y", ctx)?);
                let mut point = vec![4u8];
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                Key::Ec { curve, point }
            }
            _ => return Err(type_error("unknown \"kty\"")),
        };
        Ok(JwkObject { key: Box::new(key) })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        let realm = class.context().realm().clone();
        let valid = NativeFunction::from_fn_ptr(|this, _, _| {
            let ok = this
                .as_object()
                .is_some_and(|o| o.downcast_ref::<JwkObject>().is_some());
            Ok(JsValue::from(ok))
        })
        .to_js_function(&realm);
        class.accessor(
            js_string!("isValid"),
            Some(valid),
            None,
            Attribute::ENUMERABLE | Attribute::CONFIGURABLE,
        );
        Ok(())
    }
}

/// What a token holds once read.
struct Token {
    alg: Alg,
    /// `header.payload`, as signed.
    signed: String,
    signature: Vec<u8>,
}

/// The Rust side of `new crypto.JWT(token)`.
#[derive(Trace, Finalize, JsData)]
pub struct JwtObject {
    #[unsafe_ignore_trace]
    token: Option<Box<Token>>,
    header: JsValue,
    payload: JsValue,
}

/// Reads a compact JWT: `None` for anything malformed.
fn read_token(text: &str, ctx: &mut Context) -> Option<(Token, JsValue, JsValue)> {
    let mut parts = text.split('.');
    let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let json = |part: &str, ctx: &mut Context| -> Option<JsValue> {
        let bytes = B64URL.decode(part.trim_end_matches('=')).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let v = json_parse(&text, ctx)?;
        v.is_object().then_some(v)
    };
    let header = json(h, ctx)?;
    let payload = json(p, ctx)?;
    let alg = header
        .as_object()?
        .get(js_string!("alg"), ctx)
        .ok()?
        .as_string()
        .map(|s| s.to_std_string_escaped())?;
    let alg = Alg::from_name(&alg)?;
    let signature = B64URL.decode(s.trim_end_matches('=')).ok()?;
    Some((
        Token {
            alg,
            signed: format!("{h}.{p}"),
            signature,
        },
        header,
        payload,
    ))
}

/// `JSON.parse(text)`, or `None` when it throws.
fn json_parse(text: &str, ctx: &mut Context) -> Option<JsValue> {
    let json = ctx.global_object().get(js_string!("JSON"), ctx).ok()?;
    let parse = json.as_object()?.get(js_string!("parse"), ctx).ok()?;
    parse
        .as_callable()?
        .call(&json, &[js_string!(text).into()], ctx)
        .ok()
}

impl JwtObject {
    fn verify(&self, key: &JsValue, ctx: &mut Context) -> JsResult<bool> {
        let Some(t) = &self.token else {
            return Ok(false);
        };
        let message = t.signed.as_bytes();
        if let Alg::Hs(bits) = t.alg {
            // The secret: text or Data (a key object is not a secret).
            if !(key.is_string() || data_of(key).is_some()) {
                return Ok(false);
            }
            let secret = to_bytes(key, None, ctx)?.to_vec();
            let mac =
                super::hash::hmac(&format!("sha{bits}"), &secret, message).unwrap_or_default();
            // Constant time: every byte is looked at.
            let diff = mac
                .iter()
                .zip(&t.signature)
                .fold(0u8, |d, (a, b)| d | (a ^ b));
            return Ok(mac.len() == t.signature.len() && diff == 0);
        }
        let k = if let Some(o) = key.as_object() {
            if let Some(jwk) = o.downcast_ref::<JwkObject>() {
                Some((*jwk.key).clone())
            } else if let Some(pk) = public_key_of(key) {
                key_of_spki(&pk.spki)
            } else if let Some(private) = private_key_of(key) {
                let pair = private.key_pair().map_err(type_error)?;
                key_of_spki(&rcgen::PublicKeyData::subject_public_key_info(&pair))
            } else if data_of(key).is_some() {
                let pem = to_bytes(key, None, ctx)?.to_vec();
                Some(key_of_pem(&pem).map_err(type_error)?)
            } else {
                None
            }
        } else if key.is_string() {
            let pem = to_bytes(key, None, ctx)?.to_vec();
            Some(key_of_pem(&pem).map_err(type_error)?)
        } else {
            return Err(type_error(
                "JWT.verify: argument #1 expects a Data object or a string or a public key object",
            ));
        };
        Ok(k.is_some_and(|k| verify_with(t.alg, &k, message, &t.signature)))
    }
}

impl Class for JwtObject {
    const NAME: &'static str = "JWT";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let Some(text) = args.first().and_then(|v| v.as_string()) else {
            return Err(type_error("crypto.JWT: argument #1 expects a string"));
        };
        Ok(match read_token(&text.to_std_string_escaped(), ctx) {
            Some((t, header, payload)) => JwtObject {
                token: Some(Box::new(t)),
                header,
                payload,
            },
            None => JwtObject {
                token: None,
                header: JsValue::undefined(),
                payload: JsValue::undefined(),
            },
        })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        let realm = class.context().realm().clone();
        let attrs = Attribute::ENUMERABLE | Attribute::CONFIGURABLE;
        let getter = |f: fn(&JwtObject) -> JsValue| {
            NativeFunction::from_copy_closure(move |this, _, _| {
                let o = this.as_object();
                let jwt = o.as_ref().and_then(|o| o.downcast_ref::<JwtObject>());
                Ok(jwt.map_or(JsValue::undefined(), |j| f(&j)))
            })
            .to_js_function(&realm)
        };
        class.accessor(
            js_string!("isValid"),
            Some(getter(|j| JsValue::from(j.token.is_some()))),
            None,
            attrs,
        );
        class.accessor(
            js_string!("header"),
            Some(getter(|j| j.header.clone())),
            None,
            attrs,
        );
        class.accessor(
            js_string!("payload"),
            Some(getter(|j| j.payload.clone())),
            None,
            attrs,
        );
        class.method(
            js_string!("verify"),
            1,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                let key = args.first().cloned().unwrap_or_default();
                let o = this.as_object();
                let Some(jwt) = o.as_ref().and_then(|o| o.downcast_ref::<JwtObject>()) else {
                    return Err(type_error("not a JWT"));
                };
                // Read what verification needs, then release the object.
                let copy = JwtObject {
                    token: jwt.token.as_ref().map(|t| {
                        Box::new(Token {
                            alg: t.alg,
                            signed: t.signed.clone(),
                            signature: t.signature.clone(),
                        })
                    }),
                    header: JsValue::undefined(),
                    payload: JsValue::undefined(),
                };
                drop(jwt);
                Ok(JsValue::from(copy.verify(&key, ctx)?))
            }),
        );
        Ok(())
    }
}
