//! `http.Agent`: an HTTP client for scripts, on the engine's own `muxHTTP`
//! and `connect` (and `connectTLS`), so its connections are pooled and kept
//! alive as a proxy's are.
//!
//! As upstream: `new http.Agent(host, { tls, ... })` targets `host` (port 80,
//! or 443 with `tls`, when it names none); `agent.request(method, path,
//! headers, body)` sends a request (with `host` added unless given) and
//! returns a Promise of the response Message; when no response came, of one
//! whose status tells the error (`502 Connection Refused`, 504, ...). The other
//! options go to `muxHTTP` (`version`, `maxIdle`, ...) and `connect`
//! (`connectTimeout`, `readTimeout`, ...). A request is sent on a later turn
//! of the worker's loop, outside the callback that made it.

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::builtins::JsPromise;
use boa_engine::property::Attribute;
use boa_engine::{
    js_string, Context, JsData, JsNativeError, JsResult, JsValue, NativeFunction, Source,
};
use boa_gc::{Finalize, Trace};
use pipy_core::{Data, Event, EventTarget, Head, Layout, Pipeline, StreamError};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

/// Builds an Agent's pipeline: muxHTTP to (connectTLS to) connect.
const BUILDER: &str = r#"(function (target, options, tls) {
  var mux = {}, conn = {};
  var muxKeys = ['version', 'maxIdle', 'maxQueue', 'maxMessages', 'bufferSize', 'maxHeaderSize'];
  Object.keys(options || {}).forEach(function (k) {
    if (k !== 'tls') (muxKeys.indexOf(k) >= 0 ? mux : conn)[k] = options[k];
  });
  return tls
    ? function ($) { return $.muxHTTP(mux).to(function ($) { return $.connectTLS(tls).to(function ($) { return $.connect(target, conn) }) }) }
    : function ($) { return $.muxHTTP(mux).to(function ($) { return $.connect(target, conn) }) };
})"#;

/// An Agent's pipeline to `target` (`host:port`): `options` go to `muxHTTP`
/// and `connect`, and a `tls` object (connectTLS's options) puts TLS between.
pub(crate) fn agent_layout(
    target: &str,
    options: JsValue,
    tls: JsValue,
    ctx: &mut Context,
) -> JsResult<Layout> {
    let make = ctx.eval(Source::from_bytes(BUILDER))?;
    let builder = make
        .as_callable()
        .ok_or_else(|| JsNativeError::typ().with_message("http.Agent: builder"))?
        .call(
            &JsValue::undefined(),
            &[js_string!(target).into(), options, tls],
            ctx,
        )?;
    crate::config::build_layout(&builder, ctx)
}

/// The script object of `http.Agent`.
#[derive(Trace, Finalize, JsData)]
pub(crate) struct Agent {
    #[unsafe_ignore_trace]
    host: String,
    #[unsafe_ignore_trace]
    layout: Layout,
}

/// `host:port` for a host as given.
pub(crate) fn target_of(host: &str, tls: bool) -> String {
    let port = if tls { 443 } else { 80 };
    if host.parse::<std::net::Ipv6Addr>().is_ok() {
        return format!("[{host}]:{port}");
    }
    let has_port = host
        .rsplit_once(':')
        .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
    if has_port {
        host.to_owned()
    } else {
        format!("{host}:{port}")
    }
}

impl Class for Agent {
    const NAME: &'static str = "Agent";
    const LENGTH: usize = 2;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let host = args
            .first()
            .cloned()
            .unwrap_or_default()
            .to_string(ctx)?
            .to_std_string_escaped();
        let options = args.get(1).cloned().unwrap_or_default();
        let tls = match options.as_object() {
            Some(o) => o.get(js_string!("tls"), ctx)?,
            None => JsValue::undefined(),
        };
        let target = target_of(&host, tls.is_object());
        let layout = agent_layout(&target, options, tls, ctx)?;
        Ok(Agent { host, layout })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        class.method(
            js_string!("request"),
            4,
            NativeFunction::from_fn_ptr(request),
        );
        Ok(())
    }
}

/// What came back for one request.
#[derive(Default)]
struct Reply {
    head: Option<Head>,
    body: Data,
    tail: Head,
    done: bool,
    /// The request's pipeline, kept until its answer came.
    pipeline: Option<Pipeline>,
}

fn request(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let (host, layout) = this
        .as_object()
        .and_then(|o| {
            o.downcast_ref::<Agent>()
                .map(|a| (a.host.clone(), a.layout.clone()))
        })
        .ok_or_else(|| JsNativeError::typ().with_message("not an http.Agent"))?;
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let method = match arg(0) {
        v if v.is_null_or_undefined() => "GET".to_owned(),
        v => v.to_string(ctx)?.to_std_string_escaped(),
    };
    let path = match arg(1) {
        v if v.is_null_or_undefined() => "/".to_owned(),
        v => v.to_string(ctx)?.to_std_string_escaped(),
    };
    let mut head = pipy_core::RequestHead {
        method,
        path,
        ..Default::default()
    };
    if let Some(h) = arg(2).as_object() {
        head.headers = pipy_js::api::head::headers_from_object(&h, ctx)?;
    }
    if head.headers.get("host").is_none() {
        head.headers.set("host", bytes::Bytes::from(host));
    }
    let body = match arg(3) {
        v if v.is_null_or_undefined() => Data::new(),
        v => pipy_js::api::data::to_bytes(&v, None, ctx)?,
    };
    let (promise, resolvers) = JsPromise::new_pending(ctx);
    // A worker with no port stays until the answer came.
    let busy = pipy_js::busy::Busy::begin();
    exchange(
        &layout,
        head,
        body,
        false,
        Box::new(move |head, body, mut tail, end| {
            let _busy = busy;
            pipy_js::with_js(|ctx| {
                // No response: upstream's muxHTTP answers for the error
                // (`502 Connection Refused`), and the Promise resolves with that.
                let (mut head, body) = match (head, end) {
                    (Some(h), None) => (h, body),
                    (_, e) => {
                        let err = e.unwrap_or(StreamError::ConnectionReset);
                        let h = pipy_filters::error_head(err);
                        (Head::Response(Box::new(h)), Data::new())
                    }
                };
                if let Ok(msg) = pipy_js::convert::message_to_js(&mut head, body, &mut tail, ctx) {
                    let _ = resolvers.resolve.call(&JsValue::undefined(), &[msg], ctx);
                }
                let _ = ctx.run_jobs();
            });
        }),
    );
    Ok(promise.into())
}

/// What [`exchange`] calls once with the answer: the response head (none
/// when no response came), its body, its tail, and the error that ended the
/// exchange.
pub(crate) type OnReply = Box<dyn FnOnce(Option<Head>, Data, Head, Option<StreamError>)>;

/// Sends one request through `layout` (an Agent's pipeline) on a later turn
/// of the worker's loop and calls `on_reply` once, on a later turn too (it
/// may use the engine), with what came back. As `background`
/// housekeeping (a logger's batches), it does not keep a worker with no
/// port running.
pub(crate) fn exchange(
    layout: &Layout,
    head: pipy_core::RequestHead,
    body: Data,
    background: bool,
    on_reply: OnReply,
) {
    let layout = layout.clone();
    let reply = Rc::new(RefCell::new(Reply::default()));
    let on_reply = RefCell::new(Some(on_reply));
    let settle = {
        let reply = reply.clone();
        move |end: Option<StreamError>| {
            let (head, body, tail) = {
                let mut r = reply.borrow_mut();
                if r.done {
                    return;
                }
                r.done = true;
                (
                    r.head.take(),
                    std::mem::take(&mut r.body),
                    std::mem::take(&mut r.tail),
                )
            };
            let pipeline = reply.borrow_mut().pipeline.take();
            let Some(on_reply) = on_reply.borrow_mut().take() else {
                return;
            };
            // Answered on a later turn: this may run inside a filter.
            pipy_core::io::after(
                Duration::ZERO,
                Box::new(move || {
                    drop(pipeline);
                    on_reply(head, body, tail, end);
                }),
            );
        }
    };
    let s = Rc::new(settle);
    let r = reply.clone();
    let output = EventTarget::Func(Rc::new(move |evt: Event| match evt {
        Event::MessageStart(h) => r.borrow_mut().head = Some(h),
        Event::Data(d) => {
            if r.borrow().body.len() + d.len() <= pipy_filters::handle::DEFAULT_BODY_LIMIT {
                r.borrow_mut().body.push(d);
            } else {
                // A body past the limit: the answer is an error, not a
                // body with a gap.
                s(Some(StreamError::BufferOverflow));
            }
        }
        Event::MessageEnd(t) => {
            r.borrow_mut().tail = t;
            s(None)
        }
        Event::StreamEnd(e) => s(Some(e)),
    }));
    let send = move || {
        let p = Pipeline::new(&layout, pipy_core::Context::new(None), output);
        reply.borrow_mut().pipeline = Some(p.clone());
        p.input(Event::MessageStart(Head::Request(Box::new(head))));
        if !body.is_empty() {
            p.input(Event::Data(body));
        }
        p.input(Event::MessageEnd(Head::None));
    };
    if background {
        pipy_core::io::after_background(
            Duration::ZERO,
            Box::new(move || pipy_core::io::in_background(send)),
        );
    } else {
        pipy_core::io::after(Duration::ZERO, Box::new(send));
    }
}

/// Adds `Agent` to the `http` object.
pub(crate) fn install(ctx: &mut Context) -> JsResult<()> {
    ctx.register_global_class::<Agent>()?;
    let global = ctx.global_object();
    let ctor = global.get(js_string!("Agent"), ctx)?;
    global.delete_property_or_throw(js_string!("Agent"), ctx)?;
    let http = global.get(js_string!("http"), ctx)?;
    if let Some(http) = http.as_object() {
        http.set(js_string!("Agent"), ctor, false, ctx)?;
    } else {
        let o = boa_engine::object::ObjectInitializer::new(ctx)
            .property(js_string!("Agent"), ctor, Attribute::all())
            .build();
        ctx.register_global_property(js_string!("http"), o, Attribute::all())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn targets_get_the_default_port() {
        assert_eq!(super::target_of("example.com", false), "example.com:80");
        assert_eq!(super::target_of("example.com", true), "example.com:443");
        assert_eq!(super::target_of("127.0.0.1:8080", false), "127.0.0.1:8080");
        assert_eq!(super::target_of("::1", false), "[::1]:80");
    }
}
