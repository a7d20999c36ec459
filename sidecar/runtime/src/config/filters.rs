//! Configuration methods that append filters: each parses the script's
//! arguments into a filter template of `pipy-filters`.

use super::{append, append_joint, arg, err, layout_arg, state_of, Method};
use crate::options;
use boa_engine::{js_string, Context, JsResult, JsValue};
use pipy_core::{FilterTemplate as _, Layout};
use pipy_filters::{
    branch, chain, connect, demux, demux_http, dump, fastcgi, handle, http_codec, link_async, mux,
    mux_http, replace, serve_http, Callback, SubLayout,
};
use std::rc::Rc;

/// Looks up the module's pipelines by name at run time (`link(() => name)`).
fn named_resolver(this: &JsValue) -> JsResult<branch::Resolver> {
    let st = Rc::downgrade(&super::state(this)?);
    Ok(Rc::new(move |name: &str| {
        let st = st.upgrade()?;
        let st = st.borrow();
        st.named.get(name).filter(|l| l.is_defined()).cloned()
    }))
}

pub(super) fn m_link(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let a0 = arg(args, 0);
    if a0.is_callable() {
        // Upstream 1.5: a function picks the pipeline's name per stream.
        let resolve = named_resolver(this)?;
        let pick = Callback::new(a0, "link");
        return append(
            this,
            Rc::new(branch::DynamicLinkTemplate::new(pick, resolve)),
        );
    }
    let sub = layout_arg(this, &a0, ctx)?;
    append(this, Rc::new(branch::LinkTemplate(sub)))
}

/// `linkAsync(name | pick)`: as `link`, with the sub-pipeline's input a turn
/// of the loop later.
pub(super) fn m_link_async(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let a0 = arg(args, 0);
    let target = if a0.is_callable() {
        let resolve = named_resolver(this)?;
        link_async::Target::Pick(Callback::new(a0, "linkAsync"), resolve)
    } else if a0.is_string() {
        link_async::Target::Fixed(layout_arg(this, &a0, ctx)?)
    } else {
        return Err(err("linkAsync(): expects a string or a function"));
    };
    append(this, Rc::new(link_async::LinkAsyncTemplate(target)))
}

pub(super) fn branch_arms(
    this: &JsValue,
    args: &[JsValue],
    ctx: &mut Context,
) -> JsResult<Vec<(Option<Callback>, SubLayout)>> {
    let mut arms = Vec::new();
    let mut i = 0;
    while i + 1 < args.len() {
        let layout = layout_arg(this, &args[i + 1], ctx)?;
        arms.push((Some(Callback::new(args[i].clone(), "branch")), layout));
        i += 2;
    }
    if i < args.len() {
        arms.push((None, layout_arg(this, &args[i], ctx)?));
    }
    Ok(arms)
}

pub(super) fn branch_with(trigger: branch::Trigger) -> Method {
    match trigger {
        branch::Trigger::Stream => |this, args, ctx| {
            // A branch on plain values is decided now and adds no filter.
            let is_static = args
                .iter()
                .step_by(2)
                .take(args.len() / 2)
                .all(|c| !c.is_callable());
            if is_static && args.len() >= 2 {
                let mut i = 0;
                while i + 1 < args.len() {
                    if args[i].to_boolean() {
                        return call_builder(this, &args[i + 1], ctx);
                    }
                    i += 2;
                }
                if i < args.len() {
                    return call_builder(this, &args[i], ctx);
                }
                return Ok(());
            }
            let arms = branch_arms(this, args, ctx)?;
            append(
                this,
                Rc::new(branch::BranchTemplate::new(branch::Trigger::Stream, arms)),
            )
        },
        branch::Trigger::MessageStart => |this, args, ctx| {
            let arms = branch_arms(this, args, ctx)?;
            append(
                this,
                Rc::new(branch::BranchTemplate::new(
                    branch::Trigger::MessageStart,
                    arms,
                )),
            )
        },
        branch::Trigger::Message => |this, args, ctx| {
            let arms = branch_arms(this, args, ctx)?;
            append(
                this,
                Rc::new(branch::BranchTemplate::new(branch::Trigger::Message, arms)),
            )
        },
    }
}

pub(super) fn call_builder(this: &JsValue, f: &JsValue, ctx: &mut Context) -> JsResult<()> {
    let f = f
        .as_callable()
        .ok_or_else(|| err("a static branch needs builder functions"))?;
    f.call(&JsValue::undefined(), std::slice::from_ref(this), ctx)?;
    Ok(())
}

/// `forkJoin(initArgs)` and `forkRace(initArgs)` (upstream 1.5's pipeline API).
pub(super) fn fork_with(mode: branch::ForkMode) -> super::Method {
    match mode {
        branch::ForkMode::Join => |this, args, _| fork_joint(this, args, branch::ForkMode::Join),
        branch::ForkMode::Race => |this, args, _| fork_joint(this, args, branch::ForkMode::Race),
        branch::ForkMode::Fork => |this, args, _| fork_joint(this, args, branch::ForkMode::Fork),
    }
}

fn fork_joint(this: &JsValue, args: &[JsValue], mode: branch::ForkMode) -> JsResult<()> {
    let a0 = arg(args, 0);
    let init = (!a0.is_undefined()).then(|| Callback::new(a0, "fork"));
    let sub = SubLayout::new();
    append_joint(
        this,
        Rc::new(branch::ForkTemplate::with_mode(sub.clone(), init, mode)),
        sub,
    )
}

pub(super) fn m_fork(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let a0 = arg(args, 0);
    // Old form: fork('layout', startupValues).
    if a0.is_string() {
        let sub = layout_arg(this, &a0, ctx)?;
        let init = args.get(1).map(|v| Callback::new(v.clone(), "fork"));
        return append(this, Rc::new(branch::ForkTemplate::new(sub, init)));
    }
    let init = if a0.is_undefined() {
        None
    } else {
        Some(Callback::new(a0, "fork"))
    };
    let sub = SubLayout::new();
    append_joint(
        this,
        Rc::new(branch::ForkTemplate::new(sub.clone(), init)),
        sub,
    )
}

pub(super) fn m_demux_http(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let a0 = arg(args, 0);
    let mut opts = options_arg("demuxHTTP", args, ctx)?;
    let o = http_options(&mut opts, ctx)?;
    opts.finish(ctx)?;
    if a0.is_string() {
        let sub = layout_arg(this, &a0, ctx)?;
        let t = demux_http::DemuxHttpTemplate::demux(sub).with_options(o);
        return append(this, Rc::new(t));
    }
    let sub = SubLayout::new();
    let t = demux_http::DemuxHttpTemplate::demux(sub.clone()).with_options(o);
    append_joint(this, Rc::new(t), sub)
}

/// The options object among `args` (the first object that is not a function).
fn options_arg(
    method: &'static str,
    args: &[JsValue],
    ctx: &mut Context,
) -> JsResult<options::Options> {
    let v = args
        .iter()
        .find(|v| v.is_object() && !v.is_callable())
        .cloned()
        .unwrap_or_default();
    options::Options::new(method, &v, ctx)
}

/// The HTTP/1 codec options: `maxHeaderSize` and `bufferSize` (sizes in bytes
/// or text such as `16k`, 16 KiB by default as upstream).
fn http_options(
    opts: &mut options::Options,
    ctx: &mut Context,
) -> JsResult<http_codec::HttpOptions> {
    let mut o = http_codec::HttpOptions::default();
    if let Some(n) = opts.size("maxHeaderSize", ctx)? {
        o.max_header_size = usize::try_from(n).unwrap_or(usize::MAX);
    }
    if let Some(n) = opts.size("bufferSize", ctx)? {
        o.buffer_size = usize::try_from(n).unwrap_or(usize::MAX);
    }
    Ok(o)
}

/// `encodeHTTPResponse({ final, bodiless, bufferSize })`. Upstream 1.5.18
/// documents `final` and `bodiless` but does nothing with them (its answers
/// stay `connection: keep-alive` with `final: true`; compared side by side):
/// scripts that pass them get the same here.
pub(super) fn m_encode_http_response(
    this: &JsValue,
    args: &[JsValue],
    ctx: &mut Context,
) -> JsResult<()> {
    let mut opts = options::Options::new("encodeHTTPResponse", &arg(args, 0), ctx)?;
    opts.get("final", ctx)?;
    opts.get("bodiless", ctx)?;
    let o = http_codec::EncodeOptions {
        buffer_size: opts
            .size("bufferSize", ctx)?
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
    };
    opts.finish(ctx)?;
    append(
        this,
        Rc::new(http_codec::EncodeTemplate(http_codec::Side::Response, o)),
    )
}

/// `encodeHTTPRequest({ bufferSize })`: bodies up to `bufferSize` go out
/// with their length, longer ones chunked.
pub(super) fn m_encode_http_request(
    this: &JsValue,
    args: &[JsValue],
    ctx: &mut Context,
) -> JsResult<()> {
    let mut opts = options_arg("encodeHTTPRequest", args, ctx)?;
    let o = http_codec::EncodeOptions {
        buffer_size: opts
            .size("bufferSize", ctx)?
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
    };
    opts.finish(ctx)?;
    append(
        this,
        Rc::new(http_codec::EncodeTemplate(http_codec::Side::Request, o)),
    )
}

/// Appends a decoder, with the `handler` function among `args` when there is one.
fn decode_with(this: &JsValue, args: &[JsValue], t: http_codec::DecodeTemplate) -> JsResult<()> {
    match args.iter().find(|v| v.is_callable()) {
        Some(f) => {
            let name = t.name();
            let h = Callback::new(f.clone(), name);
            append(this, Rc::new(http_codec::DecodeWithHandler(t, h)))
        }
        None => append(this, Rc::new(t)),
    }
}

/// `decodeHTTPRequest(options?)` and `decodeHTTPResponse(options?)`.
pub(super) fn decode_http(side: http_codec::Side) -> Method {
    match side {
        http_codec::Side::Request => |this, args, ctx| {
            let mut opts = options_arg("decodeHTTPRequest", args, ctx)?;
            let o = http_options(&mut opts, ctx)?;
            opts.finish(ctx)?;
            decode_with(
                this,
                args,
                http_codec::DecodeTemplate(http_codec::Side::Request, o),
            )
        },
        http_codec::Side::Response => |this, args, ctx| {
            let mut opts = options_arg("decodeHTTPResponse", args, ctx)?;
            let o = http_options(&mut opts, ctx)?;
            opts.finish(ctx)?;
            decode_with(
                this,
                args,
                http_codec::DecodeTemplate(http_codec::Side::Response, o),
            )
        },
    }
}

pub(super) fn m_demux(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let a0 = arg(args, 0);
    let mut opts = options_arg("demux", args, ctx)?;
    let count = opts.get("outputCount", ctx)?;
    let count_fn = count
        .is_callable()
        .then(|| Callback::new(count.clone(), "demux"));
    let output_count = match count_fn {
        Some(_) => 1,
        None => match opts.number("outputCount", ctx)? {
            Some(n) if n >= 0.0 => n as usize,
            Some(n) => return Err(err(format!("demux(): option outputCount: {n} is negative"))),
            None => 1,
        },
    };
    opts.finish(ctx)?;
    let template = |sub| {
        let t = demux::DemuxTemplate::new(sub, output_count);
        match count_fn {
            Some(f) => t.with_output_count_fn(f),
            None => t,
        }
    };
    if a0.is_string() {
        let sub = layout_arg(this, &a0, ctx)?;
        return append(this, Rc::new(template(sub)));
    }
    let sub = SubLayout::new();
    append_joint(this, Rc::new(template(sub.clone())), sub)
}

pub(super) fn m_mux(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let mut rest: &[JsValue] = args;
    let mut sub = SubLayout::new();
    let mut explicit = false;
    if let Some(first) = args.first().filter(|v| v.is_string()) {
        sub = layout_arg(this, first, ctx)?;
        explicit = true;
        rest = &args[1..];
    }
    let (key, options_fn, options_obj) = mux_args(rest, "mux");
    let mut opts = options::Options::new("mux", &options_obj, ctx)?;
    let o = mux_options(&mut opts, ctx)?;
    let count = opts.get("outputCount", ctx)?;
    opts.finish(ctx)?;
    let mut t = mux::MuxTemplate::new(key, sub.clone(), o);
    if count.is_callable() {
        t = t.with_output_count_fn(Callback::new(count, "mux"));
    }
    if let Some(f) = options_fn {
        t = t.with_options_fn(f, parse_mux_options);
    }
    let t = Rc::new(t);
    if explicit {
        append(this, t)
    } else {
        append_joint(this, t, sub)
    }
}

/// `demuxFastCGI()`, its per-request pipeline by `.to(...)`.
pub(super) fn m_demux_fastcgi(this: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<()> {
    let sub = SubLayout::new();
    append_joint(this, Rc::new(fastcgi::DemuxTemplate::new(sub.clone())), sub)
}

/// `muxFastCGI(key?, options?)`, the session's pipeline by `.to(...)`: as
/// upstream, the key a function (of nothing, asked per stream) and the
/// options `mux`'s `maxIdle`, `maxQueue` and `maxMessages`.
pub(super) fn m_mux_fastcgi(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let (key, options_fn, options_obj) = mux_args(args, "muxFastCGI");
    if options_fn.is_some() || key.as_ref().is_some_and(|k| !k.is_function()) {
        return Err(err(
            "muxFastCGI(): expects a session key function and an options object",
        ));
    }
    let mut opts = options::Options::new("muxFastCGI", &options_obj, ctx)?;
    let o = mux_options(&mut opts, ctx)?;
    opts.finish(ctx)?;
    let sub = SubLayout::new();
    let t = Rc::new(fastcgi::MuxTemplate::new(key, sub.clone(), o));
    append_joint(this, t, sub)
}

/// The (key?, options?) arguments of `mux` and `muxHTTP`: the key is a
/// function or a plain value, the options an object or a function giving it
/// (asked per stream).
fn mux_args(rest: &[JsValue], name: &'static str) -> (Option<Callback>, Option<Callback>, JsValue) {
    let mut key = None;
    let mut options_fn = None;
    let mut options_obj = JsValue::undefined();
    for (i, v) in rest.iter().enumerate() {
        if v.is_callable() {
            if i == 0 {
                key = Some(Callback::new(v.clone(), name));
            } else {
                options_fn = Some(Callback::new(v.clone(), name));
            }
        } else if v.is_object() {
            options_obj = v.clone();
        } else if i == 0 && !v.is_undefined() {
            key = Some(Callback::new(v.clone(), name));
        }
    }
    (key, options_fn, options_obj)
}

/// `mux`'s options: `maxIdle`, `maxMessages`, `maxQueue`, `outputCount`.
fn mux_options(opts: &mut options::Options, ctx: &mut Context) -> JsResult<mux::MuxOptions> {
    let mut o = mux::MuxOptions::default();
    if let Some(t) = opts.duration("maxIdle", ctx)? {
        o.max_idle = t;
    }
    if let Some(n) = opts.number("maxMessages", ctx)? {
        o.max_messages = n.max(0.0) as usize;
    }
    if let Some(n) = opts.number("maxQueue", ctx)? {
        o.max_queue = n.max(0.0) as usize;
    }
    // A function form is taken by `m_mux` (`output_count_fn`).
    if let Some(n) = opts.get("outputCount", ctx)?.as_number() {
        o.output_count = n.max(0.0) as usize;
    }
    Ok(o)
}

/// Reads what a `mux` options function returned.
fn parse_mux_options(v: &JsValue, ctx: &mut Context) -> JsResult<mux::MuxOptions> {
    let mut opts = options::Options::new("mux", v, ctx)?;
    let o = mux_options(&mut opts, ctx)?;
    opts.finish(ctx)?;
    Ok(o)
}

pub(super) fn m_serve_http(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let handler = arg(args, 0);
    if !(handler.is_callable() || pipy_js::convert::is_message(&handler)) {
        return Err(err(format!(
            "serveHTTP(): expects a function or a Message, not {}",
            handler.type_of()
        )));
    }
    let h = serve_http::Handler::from_js(handler, ctx)?;
    append(this, Rc::new(demux_http::DemuxHttpTemplate::serve(h)))
}

pub(super) fn m_mux_http(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let mut rest: &[JsValue] = args;
    let mut sub = SubLayout::new();
    let mut explicit_layout = false;
    // Old form: muxHTTP('layout', key?, options?).
    if let Some(first) = args.first().filter(|v| v.is_string()) {
        sub = layout_arg(this, first, ctx)?;
        explicit_layout = true;
        rest = &args[1..];
    }
    let (key, options_fn, options_obj) = mux_args(rest, "muxHTTP");
    let mut opts = options::Options::new("muxHTTP", &options_obj, ctx)?;
    let o = mux_http_options(&mut opts, ctx)?;
    opts.finish(ctx)?;
    let mut t = mux_http::MuxHttpTemplate::new(key, sub.clone(), o);
    if let Some(f) = options_fn {
        t = t.with_options_fn(f, parse_mux_http_options);
    }
    let t = Rc::new(t);
    if explicit_layout {
        append(this, t)
    } else {
        append_joint(this, t, sub)
    }
}

/// `muxHTTP`'s options: `maxIdle`, `maxQueue`, `maxMessages`, and the codec's
/// `maxHeaderSize` and `bufferSize`.
fn mux_http_options(
    opts: &mut options::Options,
    ctx: &mut Context,
) -> JsResult<mux_http::MuxOptions> {
    let mut o = mux_http::MuxOptions::default();
    let version = opts.get("version", ctx)?;
    if version.is_callable() {
        o.version = mux_http::MuxVersion::Select(pipy_filters::Callback::new(version, "muxHTTP"));
    } else if !version.is_undefined() && !version.is_null() {
        o.version = mux_http::MuxVersion::from_value(&version);
    }
    let ping = opts.get("ping", ctx)?;
    if !ping.is_undefined() && !ping.is_null() {
        tracing::debug!("muxHTTP(): option ping is accepted and not used");
    }
    if let Some(t) = opts.duration("maxIdle", ctx)? {
        o.max_idle = t;
    }
    if let Some(n) = opts.number("maxQueue", ctx)? {
        o.max_queue = n.max(0.0) as usize;
    }
    if let Some(n) = opts.number("maxMessages", ctx)? {
        o.max_messages = n.max(0.0) as usize;
    }
    let codec = http_options(opts, ctx)?;
    (o.max_header_size, o.buffer_size) = (codec.max_header_size, codec.buffer_size);
    Ok(o)
}

/// Reads what a `muxHTTP` options function returned.
fn parse_mux_http_options(v: &JsValue, ctx: &mut Context) -> JsResult<mux_http::MuxOptions> {
    let mut opts = options::Options::new("muxHTTP", v, ctx)?;
    let o = mux_http_options(&mut opts, ctx)?;
    opts.finish(ctx)?;
    Ok(o)
}

pub(super) fn m_connect(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let target = arg(args, 0);
    if !(target.is_callable() || target.is_string()) {
        return Err(err(format!(
            "connect(): the target must be a string or a function, not {}",
            target.type_of()
        )));
    }
    let target = Callback::new(target, "connect");
    let options = arg(args, 1);
    if options.is_callable() {
        let t = connect::ConnectTemplate::new(target, Default::default(), Default::default())
            .with_options_fn(Callback::new(options, "connect"), connect_options);
        return append(this, Rc::new(t));
    }
    let (o, hooks) = connect_options(&options, ctx)?;
    append(
        this,
        Rc::new(connect::ConnectTemplate::new(target, o, hooks)),
    )
}

/// `connect`'s options object (given, or returned by a function).
fn connect_options(
    v: &JsValue,
    ctx: &mut Context,
) -> JsResult<(pipy_core::io::ConnectOptions, connect::Hooks)> {
    let mut opts = options::Options::new("connect", v, ctx)?;
    let mut o = pipy_core::io::ConnectOptions {
        protocol: super::layouts::protocol_option(&mut opts, "connect", ctx)?,
        socket: super::socket_options::socket_options(&mut opts, ctx)?,
        ..Default::default()
    };
    o.connect_timeout = opts
        .duration("connectTimeout", ctx)?
        .filter(|d| !d.is_zero());
    if let Some(n) = opts.number("retryCount", ctx)? {
        o.retry_count = if n < 0.0 { u32::MAX } else { n as u32 };
    }
    o.retry_delay = opts.duration("retryDelay", ctx)?.unwrap_or_default();
    let bind = opts.get("bind", ctx)?;
    let on_state = opts.get("onState", ctx)?;
    opts.finish(ctx)?;
    let hooks = connect::Hooks {
        bind: (!bind.is_undefined() && !bind.is_null()).then(|| Callback::new(bind, "connect")),
        on_state: on_state
            .is_callable()
            .then(|| Callback::new(on_state, "connect")),
    };
    Ok((o, hooks))
}

/// `bufferLimit` of the whole-message variants (`handleMessage(cb, { bufferLimit })`):
/// the body is cut there, as upstream; without it, a default limit ends the stream.
fn body_limit(
    name: &'static str,
    kind: handle::Kind,
    args: &[JsValue],
    ctx: &mut Context,
) -> JsResult<handle::BodyLimit> {
    if !matches!(kind, handle::Kind::Message | handle::Kind::MessageBody) {
        return Ok(handle::BodyLimit::default());
    }
    let mut opts = options::Options::new(name, &arg(args, 1), ctx)?;
    let limit = opts.size("bufferLimit", ctx)?;
    opts.finish(ctx)?;
    Ok(match limit {
        Some(n) => handle::BodyLimit::Truncate(usize::try_from(n).unwrap_or(usize::MAX)),
        None => handle::BodyLimit::default(),
    })
}

pub(super) fn handler(kind: handle::Kind, replace_it: bool) -> Method {
    use handle::Kind::*;
    macro_rules! m {
        ($k:expr, $r:expr) => {
            |this, args, _ctx| {
                let name: &'static str = if $r {
                    $k.replace_name()
                } else {
                    $k.handle_name()
                };
                let f = arg(args, 0);
                if !$r && !f.is_callable() {
                    return Err(err(format!(
                        "{name}(): expects a function, not {}",
                        f.type_of()
                    )));
                }
                let cb = Callback::new(f, name);
                let limit = body_limit(name, $k, args, _ctx)?;
                if $r {
                    let t = replace::ReplaceTemplate::new($k, cb).with_limit(limit);
                    append(this, Rc::new(t))
                } else {
                    let t = handle::HandleTemplate::new($k, cb).with_limit(limit);
                    append(this, Rc::new(t))
                }
            }
        };
    }
    match (kind, replace_it) {
        (StreamStart, false) => m!(StreamStart, false),
        (MessageStart, false) => m!(MessageStart, false),
        (Data, false) => m!(Data, false),
        (MessageBody, false) => m!(MessageBody, false),
        (MessageEnd, false) => m!(MessageEnd, false),
        (Message, false) => m!(Message, false),
        (StreamEnd, false) => m!(StreamEnd, false),
        (Event, false) => m!(Event, false),
        (Event, true) => m!(Event, true),
        (StreamStart, true) => m!(StreamStart, true),
        (MessageStart, true) => m!(MessageStart, true),
        (Data, true) => m!(Data, true),
        (MessageBody, true) => m!(MessageBody, true),
        (MessageEnd, true) => m!(MessageEnd, true),
        (Message, true) => m!(Message, true),
        (StreamEnd, true) => m!(StreamEnd, true),
    }
}

/// Loads modules and returns the pipeline `name` ("" = entry) of each.
pub(super) fn module_layouts(
    list: &JsValue,
    name: &str,
    ctx: &mut Context,
) -> JsResult<Vec<Layout>> {
    let obj = list
        .as_object()
        .filter(|o| o.is_array())
        .ok_or_else(|| err("expects an array of module paths"))?;
    let n = obj.get(js_string!("length"), ctx)?.to_length(ctx)?;
    let mut layouts = Vec::new();
    for i in 0..n {
        let path = obj.get(i, ctx)?.to_string(ctx)?.to_std_string_escaped();
        let (_, value) = pipy_js::module::load(&path, ctx).map_err(|e| err(e.message))?;
        let st = state_of(&value)
            .ok_or_else(|| err(format!("{path}: did not result in a Configuration")))?;
        let layout = st
            .borrow()
            .named
            .get(name)
            .filter(|l| l.is_defined())
            .cloned();
        let layout = layout.ok_or_else(|| {
            if name.is_empty() {
                err(format!(
                    "{path}: no entry pipeline (pipeline() with no name)"
                ))
            } else {
                err(format!("{path}: no pipeline named '{name}'"))
            }
        })?;
        layouts.push(layout);
    }
    Ok(layouts)
}

pub(super) fn m_chain(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let a = arg(args, 0);
    if a.is_undefined() {
        return append(this, Rc::new(chain::ChainTemplate::next()));
    }
    let layouts = module_layouts(&a, "", ctx)?;
    append(this, Rc::new(chain::ChainTemplate::start(layouts, "chain")))
}

pub(super) fn m_use(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let mut list = arg(args, 0);
    let name = match args.get(1) {
        Some(v) if !v.is_undefined() => v.to_string(ctx)?.to_std_string_escaped(),
        _ => String::new(),
    };
    if let Some(path) = list.as_string().map(|s| s.to_std_string_escaped()) {
        if pipy_nmi::is_native_path(&path) {
            // A native module (`pipy-nmi`): the path is the process's, as
            // upstream's dlopen takes it, not the codebase's.
            let template = pipy_nmi::load(&path, ctx)
                .and_then(|m| pipy_nmi::UseNativeTemplate::new(m, &name))
                .map_err(|e| boa_engine::JsNativeError::error().with_message(e))?;
            return append(this, Rc::new(template));
        }
        list = boa_engine::object::builtins::JsArray::from_iter([list], ctx).into();
    }
    let layouts = module_layouts(&list, &name, ctx)?;
    append(this, Rc::new(chain::ChainTemplate::start(layouts, "use")))
}

pub(super) fn m_dump(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let a = arg(args, 0);
    let tag = (!a.is_undefined()).then(|| Callback::new(a, "dump"));
    // Upstream names the call site as `[/main.js 3:6]`.
    let location = pipy_js::script_location(ctx).and_then(|at| {
        let (rest, col) = at.rsplit_once(':')?;
        let (file, line) = rest.rsplit_once(':')?;
        let slash = if file.starts_with('/') { "" } else { "/" };
        Some(format!("{slash}{file} {line}:{col}"))
    });
    append(
        this,
        Rc::new(dump::UtilTemplate::new(dump::Kind::Dump, tag, location)),
    )
}
