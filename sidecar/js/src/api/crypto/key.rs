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

    /// The key as PEM, under the label of its form.
    pub fn to_pem(&self) -> String {
        let label = match &self.der {
            PrivateKeyDer::Pkcs1(_) => "RSA PRIVATE KEY",
            PrivateKeyDer::Sec1(_) => "EC PRIVATE KEY",
            _ => "PRIVATE KEY",
        };
        pem_text(label, self.der.secret_der())
    }

    /// The key as a signer. rcgen on *ring* reads PKCS#8 only.
    pub fn key_pair(&self) -> Result<rcgen::KeyPair, String> {
        match &self.der {
            PrivateKeyDer::Pkcs8(k) => rcgen::KeyPair::try_from(k.secret_pkcs8_der())
                .map_err(|e| format!("unsupported private key: {e}")),
            _ => Err(
                "only PKCS#8 private keys ('BEGIN PRIVATE KEY') can sign or give their public key"
                    .into(),
            ),
        }
    }
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
