//! `crypto.Hash` and `crypto.Hmac`: message digests, and keyed ones (HMAC,
//! RFC 2104, over the same digests: md5, sha1, sha224, sha256, sha384,
//! sha512).

use crate::api::data::{decode_text, new_data, to_bytes};
use boa_engine::class::{Class, ClassBuilder};
use boa_engine::{js_string, Context, JsData, JsNativeError, JsResult, JsValue, NativeFunction};
use boa_gc::{Finalize, Trace};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};

enum Hasher {
    Md5(Md5),
    Sha1(Sha1),
    Sha224(Sha224),
    Sha256(Sha256),
    Sha384(Sha384),
    Sha512(Sha512),
    Done,
}

impl Hasher {
    /// The digest's block size in bytes (what HMAC pads its key to).
    fn block_size(&self) -> usize {
        match self {
            Hasher::Sha384(_) | Hasher::Sha512(_) => 128,
            _ => 64,
        }
    }

    fn new(algorithm: &str) -> Option<Self> {
        Some(
            match algorithm.to_ascii_lowercase().replace('-', "").as_str() {
                "md5" => Hasher::Md5(Md5::new()),
                "sha1" => Hasher::Sha1(Sha1::new()),
                "sha224" => Hasher::Sha224(Sha224::new()),
                "sha256" => Hasher::Sha256(Sha256::new()),
                "sha384" => Hasher::Sha384(Sha384::new()),
                "sha512" => Hasher::Sha512(Sha512::new()),
                _ => return None,
            },
        )
    }

    fn update(&mut self, b: &[u8]) {
        match self {
            Hasher::Md5(h) => h.update(b),
            Hasher::Sha1(h) => h.update(b),
            Hasher::Sha224(h) => h.update(b),
            Hasher::Sha256(h) => h.update(b),
            Hasher::Sha384(h) => h.update(b),
            Hasher::Sha512(h) => h.update(b),
            Hasher::Done => {}
        }
    }

    fn finish(&mut self) -> Option<Vec<u8>> {
        Some(match std::mem::replace(self, Hasher::Done) {
            Hasher::Md5(h) => h.finalize().to_vec(),
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha224(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha384(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
            Hasher::Done => return None,
        })
    }
}

/// HMAC state: the inner digest under way, and the outer pad's key.
struct Hmac {
    algorithm: String,
    inner: Hasher,
    outer_key: Vec<u8>,
}

impl Hmac {
    fn new(algorithm: &str, key: &[u8]) -> Option<Self> {
        let mut inner = Hasher::new(algorithm)?;
        let block = inner.block_size();
        // A key longer than a block is hashed first; then padded with zeros.
        let mut k = if key.len() > block {
            let mut h = Hasher::new(algorithm)?;
            h.update(key);
            h.finish()?
        } else {
            key.to_vec()
        };
        k.resize(block, 0);
        let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
        inner.update(&ipad);
        Some(Hmac {
            algorithm: algorithm.to_owned(),
            inner,
            outer_key: k.iter().map(|b| b ^ 0x5c).collect(),
        })
    }

    fn finish(&mut self) -> Option<Vec<u8>> {
        let inner = self.inner.finish()?;
        let mut outer = Hasher::new(&self.algorithm)?;
        outer.update(&self.outer_key);
        outer.update(&inner);
        outer.finish()
    }
}

/// HMAC of `data` under `key` with `algorithm` (`None`: no such digest).
pub(crate) fn hmac(algorithm: &str, key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    let mut h = Hmac::new(algorithm, key)?;
    h.inner.update(data);
    h.finish()
}

/// The Rust side of `new crypto.Hmac(algorithm, key)`.
#[derive(Trace, Finalize, JsData)]
pub struct HmacObject {
    #[unsafe_ignore_trace]
    state: Box<Hmac>,
}

fn with_hmac<R>(this: &JsValue, f: impl FnOnce(&mut Hmac) -> R) -> JsResult<R> {
    let o = this
        .as_object()
        .ok_or_else(|| JsNativeError::typ().with_message("not an Hmac"))?;
    let mut h = o
        .downcast_mut::<HmacObject>()
        .ok_or_else(|| JsNativeError::typ().with_message("not an Hmac"))?;
    Ok(f(&mut h.state))
}

/// `update(data)` / `update(text, encoding?)`: the bytes it means.
pub(super) fn update_bytes(args: &[JsValue], ctx: &mut Context) -> JsResult<pipy_core::Data> {
    let enc = match args.get(1) {
        Some(v) if !v.is_undefined() => Some(v.to_string(ctx)?.to_std_string_escaped()),
        _ => None,
    };
    to_bytes(
        args.first().unwrap_or(&JsValue::undefined()),
        enc.as_deref(),
        ctx,
    )
}

/// `digest(encoding?)`: Data, or text in `encoding`.
fn digest_value(out: Vec<u8>, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    match args.first() {
        Some(v) if !v.is_undefined() => {
            let enc = v.to_string(ctx)?.to_std_string_escaped();
            Ok(js_string!(decode_text(&out, &enc)?).into())
        }
        _ => new_data(out.into(), ctx),
    }
}

impl Class for HmacObject {
    const NAME: &'static str = "Hmac";
    const LENGTH: usize = 2;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let alg = match args.first() {
            Some(v) => v.to_string(ctx)?.to_std_string_escaped(),
            None => String::new(),
        };
        let key = args.get(1).cloned().unwrap_or_default();
        let key = match (crate::api::data::data_of(&key), key.as_string()) {
            (Some(d), _) => d.to_vec(),
            (None, Some(s)) => s.to_std_string_escaped().into_bytes(),
            _ => {
                return Err(JsNativeError::typ()
                    .with_message("crypto.Hmac: argument #2 expects a Data object or a string")
                    .into())
            }
        };
        let state = Hmac::new(&alg, &key).ok_or_else(|| {
            JsNativeError::typ().with_message(format!("unknown hash algorithm '{alg}'"))
        })?;
        Ok(HmacObject {
            state: Box::new(state),
        })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        class.method(
            js_string!("update"),
            2,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                let d = update_bytes(args, ctx)?;
                with_hmac(this, |h| {
                    for c in d.chunks() {
                        h.inner.update(c);
                    }
                })?;
                Ok(JsValue::undefined())
            }),
        );
        class.method(
            js_string!("digest"),
            1,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                let out = with_hmac(this, |h| h.finish())?
                    .ok_or_else(|| JsNativeError::error().with_message("digest already taken"))?;
                digest_value(out, args, ctx)
            }),
        );
        Ok(())
    }
}

/// The Rust side of `new crypto.Hash(algorithm)`.
#[derive(Trace, Finalize, JsData)]
pub struct HashObject {
    #[unsafe_ignore_trace]
    state: Box<Hasher>,
}

fn with_hash<R>(this: &JsValue, f: impl FnOnce(&mut Hasher) -> R) -> JsResult<R> {
    let o = this
        .as_object()
        .ok_or_else(|| JsNativeError::typ().with_message("not a Hash"))?;
    let mut h = o
        .downcast_mut::<HashObject>()
        .ok_or_else(|| JsNativeError::typ().with_message("not a Hash"))?;
    Ok(f(&mut h.state))
}

impl Class for HashObject {
    const NAME: &'static str = "Hash";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let alg = match args.first() {
            Some(v) => v.to_string(ctx)?.to_std_string_escaped(),
            None => String::new(),
        };
        let state = Hasher::new(&alg).ok_or_else(|| {
            JsNativeError::typ().with_message(format!("unknown hash algorithm '{alg}'"))
        })?;
        Ok(HashObject {
            state: Box::new(state),
        })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        class.method(
            js_string!("update"),
            2,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                let enc = match args.get(1) {
                    Some(v) if !v.is_undefined() => Some(v.to_string(ctx)?.to_std_string_escaped()),
                    _ => None,
                };
                let d = to_bytes(
                    args.first().unwrap_or(&JsValue::undefined()),
                    enc.as_deref(),
                    ctx,
                )?;
                with_hash(this, |h| {
                    for c in d.chunks() {
                        h.update(c);
                    }
                })?;
                Ok(JsValue::undefined())
            }),
        );
        class.method(
            js_string!("digest"),
            1,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                let out = with_hash(this, |h| h.finish())?
                    .ok_or_else(|| JsNativeError::error().with_message("digest already taken"))?;
                match args.first() {
                    Some(v) if !v.is_undefined() => {
                        let enc = v.to_string(ctx)?.to_std_string_escaped();
                        Ok(js_string!(decode_text(&out, &enc)?).into())
                    }
                    _ => new_data(out.into(), ctx),
                }
            }),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::run;

    /// RFC 4231's test cases 1, 2, 6 (a key longer than a block) and 7, for
    /// SHA-224/256/384/512, and RFC 2202's first MD5 and SHA-1 cases.
    #[test]
    fn hmac_matches_the_rfc_vectors() {
        let hmac = |alg: &str, key: &str, data: &str| {
            run(&format!(
                "(() => {{ const h = new crypto.Hmac('{alg}', {key}); h.update({data}); return h.digest('hex') }})()"
            ))
        };
        let k1 = "new Data(new Array(20).fill(0x0b))";
        assert_eq!(
            hmac("sha256", k1, "'Hi There'"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            hmac("sha512", k1, "'Hi There'"),
            "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"
        );
        assert_eq!(
            hmac("sha224", "'Jefe'", "'what do ya want for nothing?'"),
            "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44"
        );
        let big = "new Data(new Array(131).fill(0xaa))";
        assert_eq!(
            hmac("sha384", big, "'Test Using Larger Than Block-Size Key - Hash Key First'"),
            "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952"
        );
        assert_eq!(
            hmac("sha256", big, "'This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.'"),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"
        );
        assert_eq!(
            hmac("md5", "new Data(new Array(16).fill(0x0b))", "'Hi There'"),
            "9294727a3638bb1c13f48ef8158bfc9d"
        );
        assert_eq!(
            hmac("sha1", "'Jefe'", "'what do ya want for nothing?'"),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        assert_eq!(
            run("(() => { try { new crypto.Hmac('nope', 'k') } catch (e) { return e instanceof TypeError } })()"),
            "true"
        );
    }
}
