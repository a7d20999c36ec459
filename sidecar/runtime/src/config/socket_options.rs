//! The socket options `listen` and `connect` share, with upstream's names:
//! `congestionLimit`, `bufferLimit`, `readTimeout`, `writeTimeout`,
//! `idleTimeout`, `keepAlive`, `noDelay`.

use super::err;
use crate::options;
use boa_engine::{Context, JsObject, JsResult, JsValue};
use pipy_core::io::SocketOptions;

/// Reads the socket options of `opts` over the defaults. A zero timeout
/// means none, a zero limit no limit, as upstream.
pub(super) fn socket_options(opts: Option<&JsObject>, ctx: &mut Context) -> JsResult<SocketOptions> {
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
    parse_size(&s)
        .map(Some)
        .ok_or_else(|| err(format!("{name}: invalid size '{s}'")))
}

/// Parses `64`, `16k`, `1.5m`, `2g`, `1t` (also `kb`, `MB`...; powers of 1024).
pub(crate) fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" => 10,
        "m" | "mb" => 20,
        "g" | "gb" => 30,
        "t" | "tb" => 40,
        _ => return None,
    };
    Some((n * (1u64 << shift) as f64) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_with_units() {
        assert_eq!(parse_size("64"), Some(64));
        assert_eq!(parse_size("16k"), Some(16 << 10));
        assert_eq!(parse_size("1.5m"), Some(3 << 19));
        assert_eq!(parse_size("2G"), Some(2 << 30));
        assert_eq!(parse_size("10x"), None);
        assert_eq!(parse_size("k"), None);
    }
}
