//! `crypto`: message digests, and the key and certificate objects that TLS
//! options take.

pub mod certificate;
pub mod cipher;
pub mod hash;
pub mod jwt;
pub mod key;
pub mod sign;

use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute;
use boa_engine::{js_string, Context, JsResult, JsValue};

pub use certificate::{
    certificate_chain_of, certificate_of, new_certificate, Certificate, CertificateChainObject,
    CertificateObject,
};
pub use key::{private_key_of, PrivateKey, PrivateKeyObject, PublicKeyObject};

/// Registers class `C` and returns its constructor, taken off the global
/// object: scripts reach it as `crypto.<Name>` only.
fn class_constructor<C: boa_engine::class::Class>(ctx: &mut Context) -> JsResult<JsValue> {
    ctx.register_global_class::<C>()?;
    let ctor = ctx.global_object().get(js_string!(C::NAME), ctx)?;
    ctx.global_object()
        .delete_property_or_throw(js_string!(C::NAME), ctx)?;
    Ok(ctor)
}

/// Installs `crypto` with its classes.
pub fn install(ctx: &mut Context) -> JsResult<()> {
    let classes = [
        ("Hash", class_constructor::<hash::HashObject>(ctx)?),
        ("Hmac", class_constructor::<hash::HmacObject>(ctx)?),
        ("Certificate", class_constructor::<CertificateObject>(ctx)?),
        (
            "CertificateChain",
            class_constructor::<CertificateChainObject>(ctx)?,
        ),
        ("PrivateKey", class_constructor::<PrivateKeyObject>(ctx)?),
        ("PublicKey", class_constructor::<PublicKeyObject>(ctx)?),
        ("Cipher", class_constructor::<cipher::CipherObject>(ctx)?),
        (
            "Decipher",
            class_constructor::<cipher::DecipherObject>(ctx)?,
        ),
        ("Sign", class_constructor::<sign::SignObject>(ctx)?),
        ("Verify", class_constructor::<sign::VerifyObject>(ctx)?),
        ("JWK", class_constructor::<jwt::JwkObject>(ctx)?),
        ("JWT", class_constructor::<jwt::JwtObject>(ctx)?),
    ];
    let mut crypto = ObjectInitializer::new(ctx);
    for (name, ctor) in classes {
        crypto.property(js_string!(name), ctor, Attribute::all());
    }
    let crypto = crypto.build();
    ctx.register_global_property(js_string!("crypto"), crypto, Attribute::all())?;
    Ok(())
}
