//! `connect(target, options)`: sends the stream's data to a TCP peer and emits
//! what the peer sends back, ending with `StreamEnd` when the peer closes or the
//! connection fails. The socket itself is the runtime's (`pipy_core::io`).

use crate::util::{js, Callback};
use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute;
use boa_engine::{js_string, JsValue};
use pipy_core::io::{self, ConnectOptions, Outbound, OutboundInfo};
use pipy_core::{Context, Event, Filter, FilterTemplate, Outbox, Output, StreamError};
use std::rc::Rc;

/// The options of `connect` that are script values.
#[derive(Clone, Default)]
pub struct Hooks {
    /// `bind`: the local address, or a function giving it per connection.
    pub bind: Option<Callback>,
    /// `onState`: told of every state change of the connection.
    pub on_state: Option<Callback>,
}

/// Reads an options object (the Configuration's reader).
pub type OptionsParser =
    fn(&JsValue, &mut boa_engine::Context) -> boa_engine::JsResult<(ConnectOptions, Hooks)>;

/// Template of `connect`.
pub struct ConnectTemplate {
    target: Callback,
    options: ConnectOptions,
    hooks: Hooks,
    options_fn: Option<(Callback, OptionsParser)>,
}

impl ConnectTemplate {
    /// `connect(target, options)`: target is `host:port` or a function giving it.
    pub fn new(target: Callback, options: ConnectOptions, hooks: Hooks) -> Self {
        Self {
            target,
            options,
            hooks,
            options_fn: None,
        }
    }

    /// `connect(target, () => options)`: the options asked per connection
    /// and read by `parse` (as upstream's code takes them; its pages do not
    /// say so).
    pub fn with_options_fn(mut self, f: Callback, parse: OptionsParser) -> Self {
        self.options_fn = Some((f, parse));
        self
    }
}

impl FilterTemplate for ConnectTemplate {
    fn name(&self) -> &'static str {
        "connect"
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Connect {
            target: self.target.clone(),
            options: self.options.clone(),
            hooks: self.hooks.clone(),
            options_fn: self.options_fn.clone(),
            outbox: None,
            ended: false,
        })
    }
}

struct Connect {
    target: Callback,
    options: ConnectOptions,
    hooks: Hooks,
    options_fn: Option<(Callback, OptionsParser)>,
    /// What goes to the peer; read by the runtime's socket loop.
    outbox: Option<Rc<Outbox>>,
    ended: bool,
}

impl Drop for Connect {
    fn drop(&mut self) {
        // Nobody wants this connection any more.
        if let Some(o) = &self.outbox {
            o.abandon();
        }
    }
}

impl Connect {
    fn start(&mut self, out: &mut Output<'_>) {
        if let Some((f, parse)) = self.options_fn.take() {
            // A function that throws ends the stream (`Callback::call`).
            let Some(v) = f.call(&[], out) else {
                self.ended = true;
                return;
            };
            match js(|ctx| parse(&v, ctx)) {
                Ok((o, h)) => {
                    self.options = o;
                    self.hooks = h;
                }
                Err(e) => {
                    tracing::error!("connect(): options: {e}");
                    out.fail(StreamError::RuntimeError);
                    self.ended = true;
                    return;
                }
            }
        }
        // A target function that throws ends the stream (`Callback::call`).
        let Some(target) = self.target.call(&[], out) else {
            self.ended = true;
            return;
        };
        let target = target.display().to_string().trim_matches('"').to_string();
        if target.is_empty() {
            out.push(Event::StreamEnd(StreamError::CannotResolve));
            self.ended = true;
            return;
        }
        let outbox = match self.options.protocol {
            io::Protocol::Tcp => Outbox::with_limits(self.options.socket.limits),
            io::Protocol::Udp => Outbox::datagrams(self.options.socket.limits),
        };
        self.outbox = Some(outbox.clone());
        let mut options = self.options.clone();
        if let Some(bind) = &self.hooks.bind {
            options.bind = bind
                .eval(&[], out.context())
                .filter(|v| !v.is_undefined() && !v.is_null())
                .map(|v| v.display().to_string().trim_matches('"').to_string());
        }
        let on_state = self.hooks.on_state.clone().map(|cb| {
            let ctx = out.context().clone();
            Rc::new(move |info: OutboundInfo| tell_state(&cb, &ctx, info)) as Rc<dyn Fn(_)>
        });
        io::connect(Outbound {
            target,
            options,
            outbox,
            reply: out.reply_target(0),
            on_state,
        });
    }
}

/// Calls `onState` with an object shaped like upstream's `Outbound`.
fn tell_state(cb: &Callback, ctx: &Rc<Context>, info: OutboundInfo) {
    let obj = js(|js| {
        // As upstream: empty addresses and port 0 until connected, the
        // target's port as remotePort from the start. Upstream leaves
        // remoteAddress empty even when connected; we give the peer's address
        // then, which is what the name says and no script can rely on missing.
        let addr = |a: Option<std::net::SocketAddr>, port: u16| -> (JsValue, JsValue) {
            match a {
                Some(a) => (
                    js_string!(a.ip().to_string()).into(),
                    JsValue::from(a.port()),
                ),
                None => (js_string!("").into(), JsValue::from(port)),
            }
        };
        let (la, lp) = addr(info.local, 0);
        let (ra, rp) = addr(info.remote, info.target_port);
        ObjectInitializer::new(js)
            .property(
                js_string!("state"),
                js_string!(info.state.name()),
                Attribute::all(),
            )
            .property(js_string!("localAddress"), la, Attribute::all())
            .property(js_string!("localPort"), lp, Attribute::all())
            .property(js_string!("remoteAddress"), ra, Attribute::all())
            .property(js_string!("remotePort"), rp, Attribute::all())
            .build()
    });
    cb.eval(&[obj.into()], ctx);
}

impl Filter for Connect {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.ended {
            return;
        }
        if self.outbox.is_none() {
            // A stream that ends before its first byte (a callback in front threw)
            // opens no connection.
            if let Event::StreamEnd(err) = evt {
                self.ended = true;
                out.push(Event::StreamEnd(err));
                return;
            }
            self.start(out);
        }
        if let Some(o) = &self.outbox {
            o.push(evt);
        }
    }

    fn on_reply(&mut self, _key: u64, evt: Event, out: &mut Output<'_>) {
        if evt.is_stream_end() {
            self.ended = true;
        }
        out.push(evt);
    }
}
