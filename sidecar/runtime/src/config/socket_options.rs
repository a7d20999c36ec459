//! The socket options `listen` and `connect` share, with upstream's names:
//! `congestionLimit`, `bufferLimit`, `readTimeout`, `writeTimeout`,
//! `idleTimeout`, `keepAlive`, `noDelay`.

use crate::options::Options;
use boa_engine::{Context, JsResult, JsValue};
use pipy_core::io::SocketOptions;

/// Reads the socket options of `opts` over the defaults. A zero timeout
/// means none, a zero limit no limit, as upstream.
pub(super) fn socket_options(opts: &mut Options, ctx: &mut Context) -> JsResult<SocketOptions> {
    let mut o = SocketOptions::default();
    if let Some(n) = opts.size("congestionLimit", ctx)? {
        o.limits.congestion = usize::try_from(n).unwrap_or(usize::MAX);
    }
    if let Some(n) = opts.size("bufferLimit", ctx)? {
        o.limits.buffer = usize::try_from(n).unwrap_or(usize::MAX);
    }
    o.read_timeout = opts.duration("readTimeout", ctx)?.filter(|d| !d.is_zero());
    o.write_timeout = opts.duration("writeTimeout", ctx)?.filter(|d| !d.is_zero());
    if !opts.get("idleTimeout", ctx)?.is_undefined() {
        o.idle_timeout = opts.duration("idleTimeout", ctx)?.filter(|d| !d.is_zero());
    }
    if let Some(b) = flag(&opts.get("keepAlive", ctx)?) {
        o.keep_alive = b;
    }
    if let Some(b) = flag(&opts.get("noDelay", ctx)?) {
        o.no_delay = b;
    }
    Ok(o)
}

fn flag(v: &JsValue) -> Option<bool> {
    (!v.is_undefined() && !v.is_null()).then(|| v.to_boolean())
}
