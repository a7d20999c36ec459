//! `acceptTLS(options).to(...)`, `connectTLS(options).to(...)` and
//! `handleTLSClientHello(callback)`.
//!
//! TLS runs in the pipeline, on rustls's sans-I/O connection: `acceptTLS`
//! decrypts what comes in into its sub-pipeline and encrypts what the
//! sub-pipeline answers; `connectTLS` encrypts what comes in into its
//! sub-pipeline (usually `connect`) and decrypts what comes back.
//!
//! Upstream's shapes (compared with Pipy 1.5): `handshake` gets `{ alpn }`,
//! `onState` gets a session `{ state, error, protocol, hostname, peer }`,
//! `verify(ok, cert)` runs only when `trusted` is given, a server without an
//! `alpn` option negotiates no protocol, and `connectTLS` checks no host name.

pub mod config;

pub use config::{CertifiedKey, TlsVersion};

use crate::util::{js, Callback};
use crate::SubLayout;
use boa_engine::object::builtins::JsArray;
use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute;
use boa_engine::{js_string, JsValue};
use pipy_codec::tls_hello;
use pipy_core::flow::Congestion;
use pipy_core::{
    Context, Data, Event, Filter, FilterDump, FilterTemplate, Output, Pipeline, StreamError,
};
use pipy_js::api::crypto::{self, Certificate};
use rustls::pki_types::{CertificateDer, ServerName};
use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Read;
use std::rc::Rc;
use std::sync::Arc;

/// Plaintext held while a handshake is in progress before the writer pauses.
const HOLD_LIMIT: usize = 1 << 20;

/// Options both directions take.
#[derive(Clone)]
pub struct TlsOptions {
    /// `minVersion` (default TLS 1.2).
    pub min_version: TlsVersion,
    /// `maxVersion` (default TLS 1.3).
    pub max_version: TlsVersion,
    /// `certificate`: `{ cert, key }`, or a function giving one.
    pub certificate: Option<Callback>,
    /// `trusted`: the certificates a peer's chain must lead to.
    pub trusted: Rc<Vec<Rc<Certificate>>>,
    /// `verify(ok, cert)`: the last word on each certificate of the peer's chain.
    pub verify: Option<Callback>,
    /// `handshake({ alpn })`: told when the handshake completes.
    pub handshake: Option<Callback>,
    /// `onState(session)`: told of every state change.
    pub on_state: Option<Callback>,
}

impl Default for TlsOptions {
    fn default() -> Self {
        Self {
            min_version: TlsVersion::Tls12,
            max_version: TlsVersion::Tls13,
            certificate: None,
            trusted: Rc::default(),
            verify: None,
            handshake: None,
            on_state: None,
        }
    }
}

/// `acceptTLS`'s `alpn`: the protocols the server speaks, or a function
/// picking the index of one the client offers.
#[derive(Clone, Default)]
pub enum ServerAlpn {
    /// No ALPN at all.
    #[default]
    Off,
    /// The first protocol the client offers that is in the list.
    List(Vec<String>),
    /// `(names) => index`.
    Select(Callback),
}

/// A session's state as `onState` sees it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Handshake,
    Connected,
    Closed,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::Idle => "idle",
            State::Handshake => "handshake",
            State::Connected => "connected",
            State::Closed => "closed",
        }
    }
}

/// What `onState` and `handshake` are told of a session.
struct Session {
    state: State,
    error: Option<String>,
    hostname: Option<String>,
    protocol: Option<String>,
    peer: Option<CertificateDer<'static>>,
    hooks: Rc<TlsOptions>,
}

impl Session {
    fn new(hooks: Rc<TlsOptions>) -> Self {
        Self {
            state: State::Idle,
            error: None,
            hostname: None,
            protocol: None,
            peer: None,
            hooks,
        }
    }

    fn set_state(&mut self, state: State, ctx: &Rc<Context>) {
        if self.state == state {
            return;
        }
        self.state = state;
        let Some(cb) = self.hooks.on_state.clone() else {
            return;
        };
        let obj = js(|js| {
            let text = |s: &Option<String>| -> JsValue {
                s.as_deref()
                    .map(|s| js_string!(s).into())
                    .unwrap_or_default()
            };
            let peer = self
                .peer
                .as_ref()
                .and_then(|der| Certificate::from_der(der.clone()).ok())
                .and_then(|c| crypto::new_certificate(Rc::new(c), js).ok())
                .unwrap_or(JsValue::null());
            ObjectInitializer::new(js)
                .property(
                    js_string!("state"),
                    js_string!(state.name()),
                    Attribute::all(),
                )
                .property(js_string!("error"), text(&self.error), Attribute::all())
                .property(
                    js_string!("protocol"),
                    text(&self.protocol),
                    Attribute::all(),
                )
                .property(
                    js_string!("hostname"),
                    text(&self.hostname),
                    Attribute::all(),
                )
                .property(js_string!("peer"), peer, Attribute::all())
                .build()
        });
        // As upstream, what onState throws or returns is ignored.
        let _ = cb.eval(&[obj.into()], ctx);
    }

    /// The handshake completed: `handshake({ alpn })`, then `connected`.
    fn connected(&mut self, conn: &rustls::Connection, ctx: &Rc<Context>) {
        self.protocol = conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned());
        self.peer = conn
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.clone().into_owned());
        if let Some(cb) = &self.hooks.handshake {
            let alpn = self.protocol.clone().unwrap_or_default();
            let info = js(|js| {
                ObjectInitializer::new(js)
                    .property(js_string!("alpn"), js_string!(alpn), Attribute::all())
                    .build()
            });
            let _ = cb.eval(&[info.into()], ctx);
        }
        self.set_state(State::Connected, ctx);
    }

    /// The handshake or the connection failed.
    fn failed(&mut self, err: &rustls::Error, ctx: &Rc<Context>) {
        if self.state == State::Connected {
            tracing::warn!("[tls] {err}");
        } else {
            tracing::warn!("[tls] handshake failed: {err}");
        }
        self.error = Some(err.to_string());
        self.set_state(State::Closed, ctx);
    }

    /// The `verify` callback as a hook for the verifiers, when there is one.
    fn verify_hook(&self, ctx: &Rc<Context>) -> Option<Box<config::VerifyHook>> {
        let cb = self.hooks.verify.clone()?;
        let ctx = ctx.clone();
        Some(Box::new(move |ok: bool, der: &CertificateDer<'_>| {
            let cert = js(|js| {
                Certificate::from_der(der.clone().into_owned())
                    .ok()
                    .and_then(|c| crypto::new_certificate(Rc::new(c), js).ok())
                    .unwrap_or_default()
            });
            // A callback that throws rejects the certificate, as upstream.
            cb.eval(&[JsValue::from(ok), cert], &ctx)
                .is_some_and(|v| v.to_boolean())
        }))
    }
}

/// Reads a `certificate` option's value: `{ cert, key }` with `cert` a
/// Certificate or CertificateChain and `key` a PrivateKey.
fn certified_key(
    cb: &Callback,
    sni: Option<&str>,
    ctx: &Rc<Context>,
) -> Result<Option<CertifiedKey>, String> {
    let arg: JsValue = sni.map(|s| js_string!(s).into()).unwrap_or_default();
    let Some(v) = cb.eval(&[arg], ctx) else {
        // A function that threw leaves the certificate unset, as upstream.
        return Ok(None);
    };
    if v.is_null() || v.is_undefined() {
        return Ok(None);
    }
    let Some(obj) = v.as_object() else {
        return Err("certificate callback did not return an object".into());
    };
    let (cert, key) = js(|js| {
        (
            obj.get(js_string!("cert"), js).unwrap_or_default(),
            obj.get(js_string!("key"), js).unwrap_or_default(),
        )
    });
    let key = crypto::private_key_of(&key).ok_or("certificate.key requires a PrivateKey object")?;
    let chain = if let Some(c) = crypto::certificate_of(&cert) {
        Rc::new(vec![c])
    } else if let Some(chain) = crypto::certificate_chain_of(&cert) {
        if chain.is_empty() {
            return Err("empty certificate chain".into());
        }
        chain
    } else {
        return Err("certificate.cert requires a Certificate or a CertificateChain object".into());
    };
    Ok(Some(CertifiedKey { chain, key }))
}

/// Feeds ciphertext to a connection: the plaintext it yields, and whether the
/// peer sent close_notify.
fn read_tls(
    conn: &mut rustls::Connection,
    mut input: &[u8],
    plain: &mut Vec<u8>,
) -> Result<bool, rustls::Error> {
    let mut closed = false;
    while !input.is_empty() {
        let n = conn
            .read_tls(&mut input)
            .map_err(|e| rustls::Error::General(format!("reading TLS: {e}")))?;
        if n == 0 {
            // After close_notify rustls reads no more: what follows is dropped.
            closed = true;
            break;
        }
        let state = conn.process_new_packets()?;
        let n = state.plaintext_bytes_to_read();
        if n > 0 {
            let at = plain.len();
            plain.resize(at + n, 0);
            conn.reader()
                .read_exact(&mut plain[at..])
                .map_err(|e| rustls::Error::General(format!("reading plaintext: {e}")))?;
        }
        closed |= state.peer_has_closed();
    }
    Ok(closed)
}

/// What the connection has to send.
fn write_tls(conn: &mut rustls::Connection) -> Data {
    let mut v = Vec::new();
    while conn.wants_write() {
        if conn.write_tls(&mut v).is_err() {
            break;
        }
    }
    Data::from(v)
}

/// Encrypts plaintext; what to send.
fn encrypt(conn: &mut rustls::Connection, d: &Data) -> Data {
    use std::io::Write;
    for chunk in d.chunks() {
        // No buffer limit is set: the write takes everything.
        let _ = conn.writer().write_all(chunk);
    }
    write_tls(conn)
}

/// Plaintext waiting for a handshake, pausing its writer past [`HOLD_LIMIT`].
#[derive(Default)]
struct Held {
    data: Data,
    end: Option<Event>,
    congestion: Congestion,
}

impl Held {
    fn push(&mut self, d: Data) {
        self.data.push(d);
        if self.data.len() > HOLD_LIMIT {
            self.congestion.begin();
        }
    }
    fn take(&mut self) -> (Data, Option<Event>) {
        self.congestion.end();
        (std::mem::take(&mut self.data), self.end.take())
    }
}

// ---------------------------------------------------------------- acceptTLS

/// A server configuration's certificate (leaf and key, by identity) and
/// chosen protocol.
type ConfigKey = (usize, usize, Option<Vec<u8>>);

/// Server configurations made so far, by certificate and chosen protocol.
#[derive(Default)]
struct ConfigCache {
    entries: HashMap<ConfigKey, (CertifiedKey, Arc<rustls::ServerConfig>)>,
}

/// Most server configurations one `acceptTLS` keeps.
const CONFIG_CACHE_SIZE: usize = 64;

/// Template of `acceptTLS`.
pub struct AcceptTlsTemplate {
    sub: SubLayout,
    options: Rc<TlsOptions>,
    alpn: Rc<ServerAlpn>,
    configs: Rc<RefCell<ConfigCache>>,
}

impl AcceptTlsTemplate {
    /// `acceptTLS(options)` whose sub-pipeline is `sub`.
    pub fn new(sub: SubLayout, options: TlsOptions, alpn: ServerAlpn) -> Self {
        Self {
            sub,
            options: Rc::new(options),
            alpn: Rc::new(alpn),
            configs: Rc::default(),
        }
    }
}

impl FilterTemplate for AcceptTlsTemplate {
    fn name(&self) -> &'static str {
        "acceptTLS"
    }
    fn dump(&self) -> Option<FilterDump> {
        Some(FilterDump::joint(self.name(), vec![self.sub.get()]))
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(AcceptTls {
            sub_layout: self.sub.clone(),
            alpn: self.alpn.clone(),
            configs: self.configs.clone(),
            session: Session::new(self.options.clone()),
            acceptor: Some(rustls::server::Acceptor::default()),
            conn: None,
            sub: None,
            held: Held::default(),
            done: false,
        })
    }
}

struct AcceptTls {
    sub_layout: SubLayout,
    alpn: Rc<ServerAlpn>,
    configs: Rc<RefCell<ConfigCache>>,
    session: Session,
    /// Reading the ClientHello, until the certificate is chosen.
    acceptor: Option<rustls::server::Acceptor>,
    conn: Option<rustls::Connection>,
    sub: Option<Pipeline>,
    /// What the sub-pipeline answered before the handshake completed.
    held: Held,
    /// Closed towards the client.
    done: bool,
}

impl AcceptTls {
    /// Ends the stream towards the client after a failure.
    fn fail(&mut self, err: &rustls::Error, alert: Data, out: &mut Output<'_>) {
        self.session.failed(err, out.context());
        if !alert.is_empty() {
            out.push(Event::Data(alert));
        }
        self.done = true;
        self.conn = None;
        out.push(Event::StreamEnd(StreamError::NoError));
    }

    /// The server configuration for a client hello: certificate and ALPN.
    fn choose(
        &mut self,
        hello: &rustls::server::ClientHello<'_>,
        ctx: &Rc<Context>,
    ) -> Result<Arc<rustls::ServerConfig>, rustls::Error> {
        let sni = hello.server_name().map(str::to_string);
        self.session.hostname = sni.clone();
        let offered: Vec<Vec<u8>> = hello
            .alpn()
            .map(|i| i.map(<[u8]>::to_vec).collect())
            .unwrap_or_default();
        let alpn = match (&*self.alpn, offered.is_empty()) {
            (ServerAlpn::Off, _) | (_, true) => None,
            (ServerAlpn::List(ours), false) => Some(
                offered
                    .iter()
                    .take(100)
                    .find(|p| ours.iter().any(|o| o.as_bytes() == p.as_slice()))
                    .cloned()
                    .ok_or(rustls::Error::NoApplicationProtocol)?,
            ),
            (ServerAlpn::Select(f), false) => {
                let names: Vec<JsValue> = offered
                    .iter()
                    .map(|p| js_string!(String::from_utf8_lossy(p).into_owned()).into())
                    .collect();
                let arr = js(|js| JsArray::from_iter(names, js));
                let i = f
                    .eval(&[arr.into()], ctx)
                    .and_then(|v| v.as_number())
                    .filter(|i| *i >= 0.0 && i.fract() == 0.0 && (*i as usize) < offered.len())
                    .ok_or(rustls::Error::NoApplicationProtocol)?;
                Some(offered[i as usize].clone())
            }
        };
        let cert = match &self.session.hooks.certificate {
            Some(cb) => certified_key(cb, sni.as_deref(), ctx).map_err(rustls::Error::General)?,
            None => None,
        }
        .ok_or_else(|| rustls::Error::General("no certificate".into()))?;
        let key = (
            Rc::as_ptr(&cert.chain[0]) as usize,
            Rc::as_ptr(&cert.key) as usize,
            alpn.clone(),
        );
        if let Some((_, config)) = self.configs.borrow().entries.get(&key) {
            return Ok(config.clone());
        }
        let o = &self.session.hooks;
        let config = config::server_config(
            &config::versions(o.min_version, o.max_version),
            &o.trusted,
            &cert,
            alpn.as_deref(),
        )?;
        let mut cache = self.configs.borrow_mut();
        if cache.entries.len() >= CONFIG_CACHE_SIZE {
            cache.entries.clear();
        }
        cache.entries.insert(key, (cert, config.clone()));
        Ok(config)
    }

    fn receive(&mut self, d: Data, out: &mut Output<'_>) {
        let bytes = d.to_bytes();
        let mut input: &[u8] = &bytes;
        if let Some(acceptor) = &mut self.acceptor {
            while !input.is_empty() {
                if let Err(e) = acceptor.read_tls(&mut input) {
                    let err = rustls::Error::General(format!("reading TLS: {e}"));
                    return self.fail(&err, Data::new(), out);
                }
                match acceptor.accept() {
                    Ok(None) => continue,
                    Ok(Some(accepted)) => {
                        self.acceptor = None;
                        let config = match self.choose(&accepted.client_hello(), out.context()) {
                            Ok(c) => c,
                            Err(e) => {
                                let alert = match e {
                                    rustls::Error::NoApplicationProtocol => {
                                        rustls::AlertDescription::NoApplicationProtocol
                                    }
                                    _ => rustls::AlertDescription::HandshakeFailure,
                                };
                                return self.fail(&e, alert_record(alert), out);
                            }
                        };
                        match accepted.into_connection(config) {
                            Ok(mut c) => {
                                c.set_buffer_limit(None);
                                self.conn = Some(rustls::Connection::Server(c));
                            }
                            Err((e, mut alert)) => {
                                let mut v = Vec::new();
                                let _ = alert.write_all(&mut v);
                                return self.fail(&e, Data::from(v), out);
                            }
                        }
                        break;
                    }
                    Err((e, mut alert)) => {
                        let mut v = Vec::new();
                        let _ = alert.write_all(&mut v);
                        return self.fail(&e, Data::from(v), out);
                    }
                }
            }
            if self.conn.is_none() {
                return;
            }
        }
        let Some(conn) = &mut self.conn else { return };
        let was_handshaking = conn.is_handshaking();
        let mut plain = Vec::new();
        let hook = self.session.verify_hook(out.context());
        // With the acceptor's buffered hello in the connection, an empty
        // feed still processes it.
        let result = config::with_verify_hook(hook, || {
            if input.is_empty() {
                conn.process_new_packets().map(|s| s.peer_has_closed())
            } else {
                read_tls(conn, input, &mut plain)
            }
        });
        let sent = write_tls(conn);
        let peer_closed = match result {
            Ok(c) => c,
            Err(e) => return self.fail(&e, sent, out),
        };
        if !sent.is_empty() {
            out.push(Event::Data(sent));
        }
        let Some(conn) = &mut self.conn else { return };
        let sub = self.sub.clone();
        if was_handshaking && !conn.is_handshaking() {
            self.session.connected(conn, out.context());
            if let Some(sub) = &sub {
                // The kick that lets a sub-pipeline such as `connect` start.
                sub.input(Event::Data(Data::new()));
            }
            let (held, end) = self.held.take();
            if !held.is_empty() {
                let Some(conn) = &mut self.conn else { return };
                out.push(Event::Data(encrypt(conn, &held)));
            }
            if let Some(end) = end {
                self.close(end, out);
            }
        }
        if let Some(sub) = &sub {
            if !plain.is_empty() {
                sub.input(Event::Data(Data::from(plain)));
            }
            if peer_closed {
                sub.input(Event::StreamEnd(StreamError::NoError));
            }
        }
    }

    /// The sub-pipeline ended: close_notify, then the end of the stream.
    fn close(&mut self, end: Event, out: &mut Output<'_>) {
        if let Some(conn) = &mut self.conn {
            conn.send_close_notify();
            let d = write_tls(conn);
            if !d.is_empty() {
                out.push(Event::Data(d));
            }
        }
        self.done = true;
        self.session.set_state(State::Closed, out.context());
        out.push(end);
    }
}

/// A fatal alert record, for failures before rustls has a connection.
/// Upstream closes without one; RFC 8446 §6.2 (and RFC 7301 §3.2 for ALPN)
/// ask for the alert, which tells the client why.
fn alert_record(desc: rustls::AlertDescription) -> Data {
    Data::from(vec![21, 3, 3, 0, 2, 2, u8::from(desc)])
}

impl Filter for AcceptTls {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.done {
            return;
        }
        if self.sub.is_none() {
            let Some(layout) = self.sub_layout.get() else {
                return;
            };
            self.sub = Some(out.sub_pipeline(&layout, false, 0));
            self.session.set_state(State::Handshake, out.context());
        }
        match evt {
            Event::Data(d) if d.is_empty() => {
                if let Some(sub) = &self.sub {
                    sub.input(Event::Data(d));
                }
            }
            Event::Data(d) => self.receive(d, out),
            Event::StreamEnd(e) => {
                if let Some(sub) = &self.sub {
                    sub.input(Event::StreamEnd(e));
                }
            }
            _ => {}
        }
    }

    fn on_reply(&mut self, _key: u64, evt: Event, out: &mut Output<'_>) {
        if self.done {
            return;
        }
        let handshaking = self.conn.as_ref().is_none_or(|c| c.is_handshaking());
        match evt {
            Event::Data(d) if handshaking => self.held.push(d),
            Event::Data(d) => {
                if let Some(conn) = &mut self.conn {
                    let sent = encrypt(conn, &d);
                    if !sent.is_empty() {
                        out.push(Event::Data(sent));
                    }
                }
            }
            end @ Event::StreamEnd(_) if handshaking && self.conn.is_some() => {
                self.held.end = Some(end)
            }
            end @ Event::StreamEnd(_) => self.close(end, out),
            _ => {}
        }
    }
}

// --------------------------------------------------------------- connectTLS

/// Template of `connectTLS`.
pub struct ConnectTlsTemplate {
    sub: SubLayout,
    options: Rc<TlsOptions>,
    sni: Option<Callback>,
    alpn: Rc<Vec<String>>,
    /// The configuration for a constant certificate (or none), made once.
    config: Rc<RefCell<Option<Arc<rustls::ClientConfig>>>>,
}

impl ConnectTlsTemplate {
    /// `connectTLS(options)` whose sub-pipeline is `sub`.
    pub fn new(
        sub: SubLayout,
        options: TlsOptions,
        sni: Option<Callback>,
        alpn: Vec<String>,
    ) -> Self {
        Self {
            sub,
            options: Rc::new(options),
            sni,
            alpn: Rc::new(alpn),
            config: Rc::default(),
        }
    }
}

impl FilterTemplate for ConnectTlsTemplate {
    fn name(&self) -> &'static str {
        "connectTLS"
    }
    fn dump(&self) -> Option<FilterDump> {
        Some(FilterDump::joint(self.name(), vec![self.sub.get()]))
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(ConnectTls {
            sub_layout: self.sub.clone(),
            sni: self.sni.clone(),
            alpn: self.alpn.clone(),
            config: self.config.clone(),
            session: Session::new(self.options.clone()),
            conn: None,
            sub: None,
            held: Held::default(),
            done: false,
        })
    }
}

struct ConnectTls {
    sub_layout: SubLayout,
    sni: Option<Callback>,
    alpn: Rc<Vec<String>>,
    config: Rc<RefCell<Option<Arc<rustls::ClientConfig>>>>,
    session: Session,
    conn: Option<rustls::Connection>,
    sub: Option<Pipeline>,
    /// Plaintext waiting for the handshake.
    held: Held,
    done: bool,
}

impl ConnectTls {
    fn config(&self, ctx: &Rc<Context>) -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
        let o = &self.session.hooks;
        let constant = o.certificate.as_ref().is_none_or(|c| !c.is_function());
        if constant {
            if let Some(c) = self.config.borrow().clone() {
                return Ok(c);
            }
        }
        let cert = match &o.certificate {
            Some(cb) => certified_key(cb, None, ctx).map_err(rustls::Error::General)?,
            None => None,
        };
        let config = config::client_config(
            &config::versions(o.min_version, o.max_version),
            &o.trusted,
            cert.as_ref(),
            &self.alpn,
        )?;
        if constant {
            *self.config.borrow_mut() = Some(config.clone());
        }
        Ok(config)
    }

    /// Opens the session: the ClientHello goes into the sub-pipeline.
    fn start(&mut self, out: &mut Output<'_>) -> bool {
        let Some(layout) = self.sub_layout.get() else {
            return false;
        };
        let sub = out.sub_pipeline(&layout, false, 0);
        self.sub = Some(sub.clone());
        let sni = match &self.sni {
            Some(cb) => match cb.call(&[], out) {
                Some(v) if !v.is_null() && !v.is_undefined() => {
                    Some(v.display().to_string().trim_matches('"').to_string())
                }
                Some(_) => None,
                None => return false,
            },
            None => None,
        };
        self.session.hostname = sni.clone();
        // Without a name rustls sends no SNI for an address, which is what
        // upstream does without `sni`.
        let name = sni
            .as_deref()
            .and_then(|s| ServerName::try_from(s.to_string()).ok())
            .unwrap_or(ServerName::IpAddress(
                std::net::Ipv4Addr::UNSPECIFIED.into(),
            ));
        let conn = self
            .config(out.context())
            .and_then(|config| rustls::ClientConnection::new(config, name));
        self.session.set_state(State::Handshake, out.context());
        match conn {
            Ok(mut c) => {
                c.set_buffer_limit(None);
                let mut conn = rustls::Connection::Client(c);
                let hello = write_tls(&mut conn);
                self.conn = Some(conn);
                sub.input(Event::Data(hello));
                true
            }
            Err(e) => {
                tracing::error!("connectTLS: {e}");
                self.session.failed(&e, out.context());
                self.done = true;
                sub.input(Event::StreamEnd(StreamError::NoError));
                false
            }
        }
    }

    /// Closes towards the server (close_notify and the end of the stream).
    fn close_to_server(&mut self, end: Event) {
        let Some(sub) = self.sub.clone() else { return };
        if let Some(conn) = &mut self.conn {
            conn.send_close_notify();
            let d = write_tls(conn);
            if !d.is_empty() {
                sub.input(Event::Data(d));
            }
        }
        sub.input(end);
    }

    fn receive(&mut self, d: Data, out: &mut Output<'_>) {
        let Some(conn) = &mut self.conn else { return };
        let was_handshaking = conn.is_handshaking();
        let mut plain = Vec::new();
        let hook = self.session.verify_hook(out.context());
        let bytes = d.to_bytes();
        let result = config::with_verify_hook(hook, || read_tls(conn, &bytes, &mut plain));
        let sent = write_tls(conn);
        let sub = self.sub.clone();
        if let Some(sub) = &sub {
            if !sent.is_empty() {
                sub.input(Event::Data(sent));
            }
        }
        let peer_closed = match result {
            Ok(c) => c,
            Err(e) => {
                self.session.failed(&e, out.context());
                self.conn = None;
                self.done = true;
                if let Some(sub) = &sub {
                    sub.input(Event::StreamEnd(StreamError::NoError));
                }
                return;
            }
        };
        if was_handshaking && !conn.is_handshaking() {
            self.session.connected(conn, out.context());
            out.push(Event::Data(Data::new()));
            let (held, end) = self.held.take();
            if let (Some(conn), Some(sub)) = (&mut self.conn, &sub) {
                if !held.is_empty() {
                    sub.input(Event::Data(encrypt(conn, &held)));
                }
            }
            if let Some(end) = end {
                self.close_to_server(end);
            }
        }
        if !plain.is_empty() {
            out.push(Event::Data(Data::from(plain)));
        }
        if peer_closed {
            if let Some(sub) = &sub {
                sub.input(Event::StreamEnd(StreamError::NoError));
            }
        }
    }
}

impl Filter for ConnectTls {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.done {
            return;
        }
        if self.sub.is_none() {
            if evt.is_stream_end() {
                // Nothing was sent: there is nothing to encrypt or close.
                self.done = true;
                out.push(evt);
                return;
            }
            if !self.start(out) {
                return;
            }
        }
        let handshaking = self.conn.as_ref().is_none_or(|c| c.is_handshaking());
        match evt {
            Event::Data(d) if d.is_empty() => {
                if let Some(sub) = &self.sub {
                    sub.input(Event::Data(d));
                }
            }
            Event::Data(d) if handshaking => self.held.push(d),
            Event::Data(d) => {
                if let (Some(conn), Some(sub)) = (&mut self.conn, &self.sub) {
                    let sent = encrypt(conn, &d);
                    if !sent.is_empty() {
                        sub.input(Event::Data(sent));
                    }
                }
            }
            end @ Event::StreamEnd(_) if handshaking => self.held.end = Some(end),
            end @ Event::StreamEnd(_) => self.close_to_server(end),
            _ => {}
        }
    }

    fn on_reply(&mut self, _key: u64, evt: Event, out: &mut Output<'_>) {
        match evt {
            Event::Data(d) if !d.is_empty() && !self.done => self.receive(d, out),
            Event::StreamEnd(e) => {
                if !std::mem::replace(&mut self.done, true) || self.session.state != State::Closed {
                    self.session.set_state(State::Closed, out.context());
                }
                out.push(Event::StreamEnd(e));
            }
            _ => {}
        }
    }
}

// ----------------------------------------------------- handleTLSClientHello

/// Template of `handleTLSClientHello(callback)`.
pub struct ClientHelloTemplate {
    callback: Callback,
}

impl ClientHelloTemplate {
    /// `handleTLSClientHello(callback)`.
    pub fn new(callback: Callback) -> Self {
        Self { callback }
    }
}

impl FilterTemplate for ClientHelloTemplate {
    fn name(&self) -> &'static str {
        "handleTLSClientHello"
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(ClientHelloFilter {
            callback: self.callback.clone(),
            seen: Some(Vec::new()),
        })
    }
}

struct ClientHelloFilter {
    callback: Callback,
    /// The stream's first bytes, until the hello is read (or is not one).
    seen: Option<Vec<u8>>,
}

impl Filter for ClientHelloFilter {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if let (Event::Data(d), Some(seen)) = (&evt, &mut self.seen) {
            seen.extend(d.bytes());
            match tls_hello::parse(seen) {
                Ok(tls_hello::Parsed::Incomplete) => {}
                Ok(tls_hello::Parsed::Done(hello)) => {
                    self.seen = None;
                    let obj = js(|js| {
                        let list =
                            |v: &Option<Vec<String>>, js: &mut boa_engine::Context| -> JsValue {
                                match v {
                                    Some(v) => JsArray::from_iter(
                                        v.iter().map(|s| js_string!(s.as_str()).into()),
                                        js,
                                    )
                                    .into(),
                                    None => JsValue::undefined(),
                                }
                            };
                        let names = list(&hello.server_names, js);
                        let protocols = list(&hello.protocols, js);
                        let mut o = ObjectInitializer::new(js);
                        // A field is there only when its extension was, as upstream.
                        if !names.is_undefined() {
                            o.property(js_string!("serverNames"), names, Attribute::all());
                        }
                        if !protocols.is_undefined() {
                            o.property(js_string!("protocolNames"), protocols, Attribute::all());
                        }
                        o.build()
                    });
                    if self.callback.eval(&[obj.into()], out.context()).is_none() {
                        out.push(Event::StreamEnd(StreamError::RuntimeError));
                    }
                }
                // Not TLS, or not a hello we read: no callback.
                Err(_) => self.seen = None,
            }
        }
        out.push(evt);
    }
}
