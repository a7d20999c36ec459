//! `crypto.Sign` and `crypto.Verify`: signatures over what `update` was
//! given, with a `crypto.PrivateKey` / `crypto.PublicKey`: RSA PKCS#1 v1.5
//! and ECDSA (DER signatures, as OpenSSL writes them), as upstream's are;
//! also Ed25519 (the algorithm name is then unused).
//!
//! Signatures are made and checked with *ring*, which signs RSA with
//! SHA-256/384/512 only, ECDSA with P-256/SHA-256 and P-384/SHA-384 only,
//! and checks RSA keys of 2048 bits or more (SHA-1 too); other combinations
//! are an error to sign with and `false` to verify. (Upstream, on OpenSSL,
//! also takes MD5 and SHA-1 signing and small RSA keys.) What `update`
//! gathers is kept until `sign`/`verify` (ring hashes the message itself),
//! up to [`MAX_MESSAGE`] bytes.

use super::jwt::{key_of_spki, Curve, Key};
use super::key::{private_key_of, public_key_of};
use crate::api::data::{data_of, decode_text, new_data, to_bytes};
use boa_engine::class::{Class, ClassBuilder};
use boa_engine::{js_string, Context, JsData, JsNativeError, JsResult, JsValue, NativeFunction};
use boa_gc::{Finalize, Trace};
use ring::rand::SystemRandom;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey, VerificationAlgorithm};

/// Most bytes `update` gathers before `sign`/`verify`.
pub const MAX_MESSAGE: usize = 64 << 20;

fn type_error(msg: impl Into<String>) -> boa_engine::JsError {
    JsNativeError::typ().with_message(msg.into()).into()
}

/// The digest a name means, as bits (1 for SHA-1).
fn digest_bits(name: &str) -> Option<u16> {
    match name.to_ascii_lowercase().replace('-', "").as_str() {
        "sha1" => Some(1),
        "sha224" => Some(224),
        "sha256" => Some(256),
        "sha384" => Some(384),
        "sha512" => Some(512),
        "md5" => Some(5),
        _ => None,
    }
}

/// The message gathered by `update`, and the digest named.
#[derive(Default)]
struct Gathered {
    digest: u16,
    message: Vec<u8>,
    done: bool,
}

impl Gathered {
    fn push(&mut self, d: &pipy_core::Data) -> JsResult<()> {
        if self.message.len() + d.len() > MAX_MESSAGE {
            return Err(JsNativeError::range()
                .with_message(format!("more than {MAX_MESSAGE} bytes to sign"))
                .into());
        }
        for c in d.chunks() {
            self.message.extend_from_slice(c);
        }
        Ok(())
    }

    fn take(&mut self) -> JsResult<Vec<u8>> {
        if std::mem::replace(&mut self.done, true) {
            return Err(JsNativeError::error()
                .with_message("already signed or verified")
                .into());
        }
        Ok(std::mem::take(&mut self.message))
    }
}

/// Runs `f` on what a Sign or Verify object gathered.
fn with_gathered<R>(this: &JsValue, f: impl FnOnce(&mut Gathered) -> R) -> JsResult<R> {
    let not_one = || type_error("not a Sign or Verify object");
    let o = this.as_object().ok_or_else(not_one)?;
    if let Some(mut s) = o.downcast_mut::<SignObject>() {
        return Ok(f(&mut s.state));
    }
    let mut v = o.downcast_mut::<VerifyObject>().ok_or_else(not_one)?;
    Ok(f(&mut v.state))
}

/// `update(data)` / `update(text, encoding?)` of both classes.
fn update(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let d = super::hash::update_bytes(args, ctx)?;
    with_gathered(this, |g| g.push(&d))??;
    Ok(JsValue::undefined())
}

/// The Rust side of `new crypto.Sign(algorithm)`.
#[derive(Trace, Finalize, JsData)]
pub struct SignObject {
    #[unsafe_ignore_trace]
    state: Box<Gathered>,
}

/// The Rust side of `new crypto.Verify(algorithm)`.
#[derive(Trace, Finalize, JsData)]
pub struct VerifyObject {
    #[unsafe_ignore_trace]
    state: Box<Gathered>,
}

fn new_gathered(args: &[JsValue], ctx: &mut Context) -> JsResult<Box<Gathered>> {
    let alg = match args.first() {
        Some(v) => v.to_string(ctx)?.to_std_string_escaped(),
        None => String::new(),
    };
    let digest =
        digest_bits(&alg).ok_or_else(|| type_error(format!("unknown hash algorithm '{alg}'")))?;
    Ok(Box::new(Gathered {
        digest,
        ..Gathered::default()
    }))
}

/// Signs `message` with a PKCS#8 private key.
fn sign_with(pkcs8: &[u8], digest: u16, message: &[u8]) -> Result<Vec<u8>, String> {
    let rng = SystemRandom::new();
    if let Ok(pair) = signature::RsaKeyPair::from_pkcs8(pkcs8) {
        let padding: &'static dyn signature::RsaEncoding = match digest {
            256 => &signature::RSA_PKCS1_SHA256,
            384 => &signature::RSA_PKCS1_SHA384,
            512 => &signature::RSA_PKCS1_SHA512,
            _ => return Err("RSA signing takes sha256, sha384 or sha512 here".into()),
        };
        let mut sig = vec![0; pair.public().modulus_len()];
        pair.sign(padding, &rng, message, &mut sig)
            .map_err(|_| "RSA signing failed".to_string())?;
        return Ok(sig);
    }
    if let Ok(pair) = signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8) {
        return Ok(pair.sign(message).as_ref().to_vec());
    }
    for (alg, bits) in [
        (&signature::ECDSA_P256_SHA256_ASN1_SIGNING, 256),
        (&signature::ECDSA_P384_SHA384_ASN1_SIGNING, 384),
    ] {
        if let Ok(pair) = signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8, &rng) {
            if digest != bits {
                return Err(format!(
                    "ECDSA signing takes sha{bits} with this curve here"
                ));
            }
            return pair
                .sign(&rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| "ECDSA signing failed".to_string());
        }
    }
    Err("unsupported private key".into())
}

/// Checks a signature (DER for ECDSA) over `message`.
fn verify_with(key: &Key, digest: u16, message: &[u8], sig: &[u8]) -> bool {
    match key {
        Key::Rsa { n, e } => {
            let params = match digest {
                1 => &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
                256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                _ => return false,
            };
            RsaPublicKeyComponents { n, e }
                .verify(params, message, sig)
                .is_ok()
        }
        Key::Ec { curve, point } => {
            let alg: &dyn VerificationAlgorithm = match (curve, digest) {
                (Curve::P256, 256) => &signature::ECDSA_P256_SHA256_ASN1,
                (Curve::P256, 384) => &signature::ECDSA_P256_SHA384_ASN1,
                (Curve::P384, 256) => &signature::ECDSA_P384_SHA256_ASN1,
                (Curve::P384, 384) => &signature::ECDSA_P384_SHA384_ASN1,
                _ => return false,
            };
            UnparsedPublicKey::new(alg, point)
                .verify(message, sig)
                .is_ok()
        }
        Key::Ed25519(k) => UnparsedPublicKey::new(&signature::ED25519, k)
            .verify(message, sig)
            .is_ok(),
    }
}

impl Class for SignObject {
    const NAME: &'static str = "Sign";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        Ok(SignObject {
            state: new_gathered(args, ctx)?,
        })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        class.method(js_string!("update"), 2, NativeFunction::from_fn_ptr(update));
        class.method(
            js_string!("sign"),
            2,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                let key = args.first().cloned().unwrap_or_default();
                let Some(key) = private_key_of(&key) else {
                    return Err(type_error(
                        "Sign.sign: argument #1 expects a PrivateKey object",
                    ));
                };
                let (digest, message) = with_gathered(this, |g| g.take().map(|m| (g.digest, m)))??;
                let pkcs8 = key
                    .pkcs8()
                    .ok_or_else(|| type_error("unsupported private key form"))?;
                let sig = sign_with(&pkcs8, digest, &message).map_err(type_error)?;
                match args.get(1) {
                    Some(v) if v.is_string() => {
                        let enc = v.to_string(ctx)?.to_std_string_escaped();
                        Ok(js_string!(decode_text(&sig, &enc)?).into())
                    }
                    _ => new_data(sig.into(), ctx),
                }
            }),
        );
        Ok(())
    }
}

impl Class for VerifyObject {
    const NAME: &'static str = "Verify";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        Ok(VerifyObject {
            state: new_gathered(args, ctx)?,
        })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        class.method(js_string!("update"), 2, NativeFunction::from_fn_ptr(update));
        class.method(
            js_string!("verify"),
            3,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                let key = args.first().cloned().unwrap_or_default();
                let Some(key) = public_key_of(&key) else {
                    return Err(type_error(
                        "Verify.verify: argument #1 expects a PublicKey object",
                    ));
                };
                let sig = args.get(1).cloned().unwrap_or_default();
                let sig = if data_of(&sig).is_some() {
                    to_bytes(&sig, None, ctx)?.to_vec()
                } else if sig.is_string() {
                    let enc = match args.get(2) {
                        Some(v) if v.is_string() => Some(v.to_string(ctx)?.to_std_string_escaped()),
                        _ => None,
                    };
                    to_bytes(&sig, enc.as_deref(), ctx)?.to_vec()
                } else {
                    return Err(type_error(
                        "Verify.verify: argument #2 expects a Data object or a string",
                    ));
                };
                let (digest, message) = with_gathered(this, |g| g.take().map(|m| (g.digest, m)))??;
                let ok =
                    key_of_spki(&key.spki).is_some_and(|k| verify_with(&k, digest, &message, &sig));
                Ok(JsValue::from(ok))
            }),
        );
        Ok(())
    }
}
