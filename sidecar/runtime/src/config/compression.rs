//! Configuration methods of `compress`, `compressHTTP`, `decompress` and
//! `decompressHTTP`.

use super::{append, arg, err, Method};
use boa_engine::{Context, JsResult, JsValue};
use pipy_filters::{compress, decompress, Callback};
use std::rc::Rc;

/// Every method of this file, by name.
pub(super) fn methods() -> Vec<(&'static str, Method)> {
    vec![
        ("compress", m_compress),
        ("compressHTTP", m_compress_http),
        ("decompress", m_decompress),
        ("decompressHTTP", |this, _, _| {
            append(this, Rc::new(decompress::DecompressHttpTemplate))
        }),
    ]
}

/// The algorithm argument: a function, or a name `known` accepts (checked
/// now, where upstream fails each stream).
fn algorithm(
    method: &str,
    args: &[JsValue],
    known: fn(&str) -> bool,
    names: &str,
) -> JsResult<JsValue> {
    let v = arg(args, 0);
    if v.is_callable() {
        return Ok(v);
    }
    match v.as_string().map(|s| s.to_std_string_escaped()) {
        Some(s) if known(&s) => Ok(v),
        Some(s) => Err(err(format!(
            "{method}(): unknown compression algorithm: {s} (expects {names})"
        ))),
        None => Err(err(format!(
            "{method}(): expects an algorithm name ({names}) or a function"
        ))),
    }
}

fn m_compress(this: &JsValue, args: &[JsValue], _ctx: &mut Context) -> JsResult<()> {
    let v = algorithm(
        "compress",
        args,
        |s| compress::algorithm_of(s).is_some(),
        "'deflate' or 'gzip'",
    )?;
    append(
        this,
        Rc::new(compress::CompressTemplate(Callback::new(v, "compress"))),
    )
}

fn m_compress_http(this: &JsValue, args: &[JsValue], _ctx: &mut Context) -> JsResult<()> {
    // Any name goes: one other than 'deflate' or 'gzip' leaves messages
    // alone, as upstream.
    let v = arg(args, 0);
    if !(v.is_callable() || v.is_string()) {
        return Err(err(
            "compressHTTP(): expects an algorithm name or a function",
        ));
    }
    append(
        this,
        Rc::new(compress::CompressHttpTemplate(Callback::new(
            v,
            "compressHTTP",
        ))),
    )
}

fn m_decompress(this: &JsValue, args: &[JsValue], _ctx: &mut Context) -> JsResult<()> {
    let v = algorithm(
        "decompress",
        args,
        |s| decompress::algorithm_of(s).is_some(),
        "'inflate', 'gzip' or 'brotli'",
    )?;
    append(
        this,
        Rc::new(decompress::DecompressTemplate(Callback::new(
            v,
            "decompress",
        ))),
    )
}
