//! The socket options `listen` and `connect` share, with upstream's names:
//! `congestionLimit`, `bufferLimit`, `readTimeout`, `writeTimeout`,
//! `idleTimeout`, `keepAlive`, `noDelay`.

use super::err;
use crate::options;
use boa_engine::{Context, JsObject, JsResult, JsValue};
use pipy_core::io::SocketOptions;

/// Reads the socket options of `opts` over the defaults. A zero timeout
/// means none, a zero limit no limit, as upstream.
pub(super) fn socket_options(
    opts: Option<&JsObject>,
    ctx: &mut Context,
) -> JsResult<SocketOptions> {
    let mut o = SocketOptions::default();
    let g = |k: &str, ctx: &mut Context| options::get(opts, k, ctx);
    if let Some(n) = size(&g("congestionLimit", ctx)?, "congestionLimit", ctx)? {
        o.limits.congestion = n;
    }
    if let Some(n) = size(&g("bufferLimit", ctx)?, "bufferLimit", ctx)? {
        o.limits.buffer = n;
    }
    o.read_timeout = timeout(&g("readTimeout", ctx)?, ctx)?;
    o.write_timeout = timeout(&g("writeTimeout", ctx)?, ctx)?;
    let idle = g("idleTimeout", ctx)?;
    if !idle.is_undefined() {
        o.idle_timeout = timeout(&idle, ctx)?;
    }
    if let Some(b) = flag(&g("keepAlive", ctx)?) {
        o.keep_alive = b;
    }
    if let Some(b) = flag(&g("noDelay", ctx)?) {
        o.no_delay = b;
    }
    Ok(o)
}

fn timeout(v: &JsValue, ctx: &mut Context) -> JsResult<Option<std::time::Duration>> {
    Ok(options::duration(v, ctx)?.filter(|d| !d.is_zero()))
}

fn flag(v: &JsValue) -> Option<bool> {
    (!v.is_undefined() && !v.is_null()).then(|| v.to_boolean())
}

/// A byte size: a number, or text with a unit (`k`, `m`, `g`, `t`, binary).
pub(super) fn size(v: &JsValue, name: &str, ctx: &mut Context) -> JsResult<Option<usize>> {
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    if let Some(n) = v.as_number() {
        return Ok(Some(n.max(0.0) as usize));
    }
    let s = v.to_string(ctx)?.to_std_string_escaped();
    options::parse_size(&s)
        .map(Some)
        .ok_or_else(|| err(format!("{name}: invalid size '{s}'")))
}
