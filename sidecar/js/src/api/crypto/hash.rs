//! `crypto.Hash`: message digests.

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
