//! Configuration methods of the transport filters: TLS, protocol detection,
//! the PROXY protocol, SOCKS and HTTP tunnels.

use super::{append, append_joint, arg, err, layout_arg};
use crate::options::Options;
use boa_engine::{Context, JsResult, JsValue};
use pipy_filters::{detect_protocol, http_tunnel, proxy_protocol, socks, tls, Callback, SubLayout};
use pipy_js::api::crypto;
use std::rc::Rc;

/// A joint filter's arguments: the legacy form names the sub-pipeline first
/// (`acceptTLS('layout', options)`); the current one takes it from `.to()`.
/// The rest of the arguments, and the slot.
fn joint_args<'a>(
    this: &JsValue,
    args: &'a [JsValue],
    ctx: &mut Context,
) -> JsResult<(&'a [JsValue], SubLayout, bool)> {
    // A lone string is the argument itself (`connectSOCKS('host:port')`).
    match args.first() {
        Some(a0) if a0.is_string() && args.len() >= 2 => {
            Ok((&args[1..], layout_arg(this, a0, ctx)?, false))
        }
        _ => Ok((args, SubLayout::new(), true)),
    }
}

fn append_with(
    this: &JsValue,
    t: Rc<dyn pipy_core::FilterTemplate>,
    sub: SubLayout,
    joint: bool,
) -> JsResult<()> {
    if joint {
        append_joint(this, t, sub)
    } else {
        append(this, t)
    }
}

/// A filter's function argument (its handler), or an error naming `method`.
fn handler(v: JsValue, method: &'static str) -> JsResult<Callback> {
    if !v.is_callable() {
        return Err(err(format!("{method}(): argument #1 expects a function")));
    }
    Ok(Callback::new(v, method))
}

/// A callback option: a function, or nothing.
fn function(
    opts: &mut Options,
    key: &'static str,
    origin: &'static str,
    ctx: &mut Context,
) -> JsResult<Option<Callback>> {
    let v = opts.get(key, ctx)?;
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    if !v.is_callable() {
        return Err(err(format!("{origin}(): options.{key} expects a function")));
    }
    Ok(Some(Callback::new(v, origin)))
}

fn version(
    opts: &mut Options,
    key: &'static str,
    default: tls::TlsVersion,
    ctx: &mut Context,
) -> JsResult<tls::TlsVersion> {
    let v = opts.get(key, ctx)?;
    if v.is_undefined() || v.is_null() {
        return Ok(default);
    }
    let s = v.to_string(ctx)?.to_std_string_escaped();
    tls::TlsVersion::parse(&s).ok_or_else(|| {
        err(format!(
            "options.{key} expects one of TLS1, TLS1.1, TLS1.2, TLS1.3"
        ))
    })
}

/// The options both TLS directions take.
fn tls_options(
    method: &'static str,
    opts: &mut Options,
    ctx: &mut Context,
) -> JsResult<tls::TlsOptions> {
    let mut o = tls::TlsOptions {
        min_version: version(opts, "minVersion", tls::TlsVersion::Tls12, ctx)?,
        max_version: version(opts, "maxVersion", tls::TlsVersion::Tls13, ctx)?,
        ..Default::default()
    };
    let ciphers = opts.get("ciphers", ctx)?;
    if !ciphers.is_undefined() && !ciphers.is_null() {
        // OpenSSL cipher strings have no rustls counterpart; rustls offers
        // only modern suites anyway.
        tracing::warn!(
            "{method}(): options.ciphers is ignored (rustls chooses among its modern suites)"
        );
    }
    let cert = opts.get("certificate", ctx)?;
    if !cert.is_undefined() && !cert.is_null() {
        if !cert.is_object() {
            return Err(err("options.certificate expects an object or a function"));
        }
        o.certificate = Some(Callback::new(cert, method));
    }
    let trusted = opts.get("trusted", ctx)?;
    if let Some(list) = trusted.as_object().filter(|o| o.is_array()) {
        let n = list
            .get(boa_engine::js_string!("length"), ctx)?
            .to_u32(ctx)?;
        let mut certs = Vec::new();
        for i in 0..n {
            let c = list.get(i, ctx)?;
            certs.push(crypto::certificate_of(&c).ok_or_else(|| {
                err(format!(
                    "options.trusted[{i}] expects an object of type crypto.Certificate"
                ))
            })?);
        }
        o.trusted = Rc::new(certs);
    } else if !trusted.is_undefined() && !trusted.is_null() {
        return Err(err("options.trusted expects an array"));
    }
    o.verify = function(opts, "verify", method, ctx)?;
    // `onVerify` is the older name; read after `verify`, it wins.
    if let Some(f) = function(opts, "onVerify", method, ctx)? {
        o.verify = Some(f);
    }
    o.handshake = function(opts, "handshake", method, ctx)?;
    o.on_state = function(opts, "onState", method, ctx)?;
    Ok(o)
}

fn strings(v: &JsValue, key: &str, ctx: &mut Context) -> JsResult<Vec<String>> {
    let Some(list) = v.as_object().filter(|o| o.is_array()) else {
        return Ok(vec![v.to_string(ctx)?.to_std_string_escaped()]);
    };
    let n = list
        .get(boa_engine::js_string!("length"), ctx)?
        .to_u32(ctx)?;
    let mut out = Vec::new();
    for i in 0..n {
        let s = list.get(i, ctx)?;
        let s = s
            .as_string()
            .ok_or_else(|| err(format!("options.{key}[{i}] expects a string")))?
            .to_std_string_escaped();
        if s.is_empty() || s.len() > 255 {
            return Err(err(format!(
                "protocol name is empty or too long for ALPN: {s}"
            )));
        }
        out.push(s);
    }
    Ok(out)
}

/// `acceptTLS(options)`.
pub(super) fn m_accept_tls(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let (rest, sub, joint) = joint_args(this, args, ctx)?;
    let mut opts = Options::new("acceptTLS", &arg(rest, 0), ctx)?;
    let o = tls_options("acceptTLS", &mut opts, ctx)?;
    let alpn = opts.get("alpn", ctx)?;
    let alpn = if alpn.is_undefined() || alpn.is_null() {
        tls::ServerAlpn::Off
    } else if alpn.is_callable() {
        tls::ServerAlpn::Select(Callback::new(alpn, "acceptTLS"))
    } else if alpn.as_object().is_some_and(|o| o.is_array()) {
        tls::ServerAlpn::List(strings(&alpn, "alpn", ctx)?)
    } else {
        return Err(err("options.alpn expects a function or a Array"));
    };
    let dhparam = opts.get("dhparam", ctx)?;
    if !dhparam.is_undefined() {
        // rustls has no finite-field DH; ECDHE needs no parameters.
        tracing::debug!("acceptTLS(): options.dhparam is not used (no DHE in rustls)");
    }
    opts.finish(ctx)?;
    append_with(
        this,
        Rc::new(tls::AcceptTlsTemplate::new(sub.clone(), o, alpn)),
        sub,
        joint,
    )
}

/// `connectTLS(options)`.
pub(super) fn m_connect_tls(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let (rest, sub, joint) = joint_args(this, args, ctx)?;
    let mut opts = Options::new("connectTLS", &arg(rest, 0), ctx)?;
    let o = tls_options("connectTLS", &mut opts, ctx)?;
    let alpn = opts.get("alpn", ctx)?;
    let alpn = if alpn.is_undefined() || alpn.is_null() {
        Vec::new()
    } else if alpn.is_string() || alpn.as_object().is_some_and(|o| o.is_array()) {
        strings(&alpn, "alpn", ctx)?
    } else {
        return Err(err("options.alpn expects a string or a Array"));
    };
    let sni = opts.get("sni", ctx)?;
    let sni = (!sni.is_undefined() && !sni.is_null()).then(|| Callback::new(sni, "connectTLS"));
    opts.finish(ctx)?;
    append_with(
        this,
        Rc::new(tls::ConnectTlsTemplate::new(sub.clone(), o, sni, alpn)),
        sub,
        joint,
    )
}

/// `handleTLSClientHello(callback)`.
pub(super) fn m_handle_tls_client_hello(
    this: &JsValue,
    args: &[JsValue],
    _: &mut Context,
) -> JsResult<()> {
    let f = handler(arg(args, 0), "handleTLSClientHello")?;
    append(this, Rc::new(tls::ClientHelloTemplate::new(f)))
}

/// `detectProtocol(callback, { timeout })`: timeout in seconds, 1 by default.
pub(super) fn m_detect_protocol(
    this: &JsValue,
    args: &[JsValue],
    ctx: &mut Context,
) -> JsResult<()> {
    let f = handler(arg(args, 0), "detectProtocol")?;
    let mut opts = Options::new("detectProtocol", &arg(args, 1), ctx)?;
    let timeout = opts.number("timeout", ctx)?.unwrap_or(1.0);
    opts.finish(ctx)?;
    let timeout = match std::time::Duration::try_from_secs_f64(timeout) {
        Ok(t) if !t.is_zero() => Some(t),
        Ok(_) => None,
        Err(_) if timeout <= 0.0 => None,
        Err(_) => return Err(err("detectProtocol(): options.timeout is out of range")),
    };
    append(
        this,
        Rc::new(detect_protocol::DetectProtocolTemplate::new(f, timeout)),
    )
}

/// `acceptProxyProtocol(handler)`.
pub(super) fn m_accept_proxy_protocol(
    this: &JsValue,
    args: &[JsValue],
    _: &mut Context,
) -> JsResult<()> {
    let f = handler(arg(args, 0), "acceptProxyProtocol")?;
    let sub = SubLayout::new();
    let t = proxy_protocol::AcceptProxyProtocolTemplate::new(sub.clone(), f);
    append_joint(this, Rc::new(t), sub)
}

/// `connectProxyProtocol(header)`: an object, or a function giving one.
pub(super) fn m_connect_proxy_protocol(
    this: &JsValue,
    args: &[JsValue],
    _: &mut Context,
) -> JsResult<()> {
    let h = arg(args, 0);
    if !h.is_object() {
        return Err(err(
            "connectProxyProtocol(): argument #1 expects an object or a function",
        ));
    }
    let sub = SubLayout::new();
    let t = proxy_protocol::ConnectProxyProtocolTemplate::new(
        sub.clone(),
        Callback::new(h, "connectProxyProtocol"),
    );
    append_joint(this, Rc::new(t), sub)
}

/// `acceptSOCKS(handler)`.
pub(super) fn m_accept_socks(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let (rest, sub, joint) = joint_args(this, args, ctx)?;
    let f = handler(arg(rest, 0), "acceptSOCKS")?;
    let t = socks::AcceptSocksTemplate::new(sub.clone(), f);
    append_with(this, Rc::new(t), sub, joint)
}

/// `connectSOCKS(target)`: `host:port`, or a function giving it.
pub(super) fn m_connect_socks(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let (rest, sub, joint) = joint_args(this, args, ctx)?;
    let target = arg(rest, 0);
    if !(target.is_string() || target.is_callable()) {
        return Err(err(
            "connectSOCKS(): the target expects a string or a function",
        ));
    }
    let t = socks::ConnectSocksTemplate::new(sub.clone(), Callback::new(target, "connectSOCKS"));
    append_with(this, Rc::new(t), sub, joint)
}

/// `acceptHTTPTunnel(handler)`.
pub(super) fn m_accept_http_tunnel(
    this: &JsValue,
    args: &[JsValue],
    ctx: &mut Context,
) -> JsResult<()> {
    let (rest, sub, joint) = joint_args(this, args, ctx)?;
    let f = handler(arg(rest, 0), "acceptHTTPTunnel")?;
    let t = http_tunnel::AcceptHttpTunnelTemplate::new(sub.clone(), f);
    append_with(this, Rc::new(t), sub, joint)
}

/// `connectHTTPTunnel(request)`: a Message, or a function giving one.
pub(super) fn m_connect_http_tunnel(
    this: &JsValue,
    args: &[JsValue],
    _: &mut Context,
) -> JsResult<()> {
    let m = arg(args, 0);
    if !(m.is_callable() || pipy_js::convert::is_message(&m)) {
        return Err(err(
            "connectHTTPTunnel(): argument #1 expects a Message or a function",
        ));
    }
    let sub = SubLayout::new();
    let t = http_tunnel::ConnectHttpTunnelTemplate::new(
        sub.clone(),
        Callback::new(m, "connectHTTPTunnel"),
    );
    append_joint(this, Rc::new(t), sub)
}
