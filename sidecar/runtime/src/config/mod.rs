//! The Configuration object `pipy({...})` returns, and what it builds.
//!
//! Each method parses its script arguments and appends a filter template to the
//! layout being defined (`listen`, `pipeline`, `task`, or an anonymous one inside
//! `$=>$...`). Joint filters (`demuxHTTP`, `muxHTTP`, `fork`) get their
//! sub-pipeline from the `.to(...)` that follows them.

mod codecs;
mod compression;
mod filters;
mod layouts;
pub mod pipeline_api;
mod socket_options;
mod stream_tools;
pub(crate) use stream_tools::{pack_options, tee_options};
mod transports;

use boa_engine::{
    js_string, Context, JsData, JsError, JsNativeError, JsObject, JsResult, JsValue, NativeFunction,
};
use boa_gc::{Finalize, Trace};
use filters::*;
use layouts::*;
use pipy_core::{FilterTemplate, Layout};
use pipy_filters::{branch, dump, handle, http_codec, Callback, SubLayout};
use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;

/// A port the script listens on, with its pipeline.
#[derive(Clone, Debug)]
pub struct Listen {
    /// Address to bind.
    pub addr: SocketAddr,
    /// TCP or UDP.
    pub protocol: pipy_core::io::Protocol,
    /// Socket options of accepted connections.
    pub options: pipy_core::io::SocketOptions,
    /// Most connections open at once; accepting pauses at the limit.
    pub max_connections: Option<usize>,
    /// Accept connections redirected here by NAT rules and learn where they
    /// were going (`__inbound.destinationAddress`), as a sidecar does.
    pub transparent: bool,
    /// Inbound metrics per client address too (`peer` label), not only per port.
    pub peer_stats: bool,
    /// Pipeline for each accepted connection.
    pub layout: Layout,
}

/// When a task pipeline runs.
#[derive(Clone, Debug)]
pub enum TaskWhen {
    /// Once, when the worker starts.
    Once,
    /// Every so often (the next run waits for the previous one to end).
    Every(std::time::Duration),
    /// When the process receives this signal (`SIGHUP`, `SIGINT`, ...).
    Signal(String),
    /// Each time this file of the codebase changes (`watch(filename)`).
    Watch(String),
}

/// Signal names `task('SIGxxx')` accepts: upstream's list, plus `SIGUSR1` and
/// `SIGUSR2` (which upstream leaves out). `SIGKILL`, `SIGSTOP` and the fault
/// signals are accepted as upstream does, but can never be watched.
const SIGNALS: &[(&str, libc::c_int)] = &[
    ("SIGHUP", libc::SIGHUP),
    ("SIGINT", libc::SIGINT),
    ("SIGQUIT", libc::SIGQUIT),
    ("SIGILL", libc::SIGILL),
    ("SIGTRAP", libc::SIGTRAP),
    ("SIGABRT", libc::SIGABRT),
    ("SIGFPE", libc::SIGFPE),
    ("SIGKILL", libc::SIGKILL),
    ("SIGBUS", libc::SIGBUS),
    ("SIGSEGV", libc::SIGSEGV),
    ("SIGSYS", libc::SIGSYS),
    ("SIGPIPE", libc::SIGPIPE),
    ("SIGALRM", libc::SIGALRM),
    ("SIGTERM", libc::SIGTERM),
    ("SIGURG", libc::SIGURG),
    ("SIGSTOP", libc::SIGSTOP),
    ("SIGTSTP", libc::SIGTSTP),
    ("SIGCONT", libc::SIGCONT),
    ("SIGCHLD", libc::SIGCHLD),
    ("SIGTTIN", libc::SIGTTIN),
    ("SIGTTOU", libc::SIGTTOU),
    ("SIGIO", libc::SIGIO),
    ("SIGXCPU", libc::SIGXCPU),
    ("SIGXFSZ", libc::SIGXFSZ),
    ("SIGVTALRM", libc::SIGVTALRM),
    ("SIGPROF", libc::SIGPROF),
    ("SIGWINCH", libc::SIGWINCH),
    ("SIGUSR1", libc::SIGUSR1),
    ("SIGUSR2", libc::SIGUSR2),
];

/// The number of a signal `task()` accepts, by name.
pub fn signal_number(name: &str) -> Option<libc::c_int> {
    SIGNALS.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// A pipeline started by the worker itself.
#[derive(Clone, Debug)]
pub struct Task {
    /// The pipeline.
    pub layout: Layout,
    /// When it runs.
    pub when: TaskWhen,
}

/// What a module's Configuration defines.
#[derive(Default)]
pub struct ConfigState {
    /// Module id in the host.
    pub module: usize,
    /// Listening ports.
    pub listens: Vec<Listen>,
    /// Pipelines the worker starts by itself.
    pub tasks: Vec<Task>,
    /// Pipelines run when the process is exiting.
    pub exits: Vec<Layout>,
    /// Pipelines answering admin-port requests, by path (`admin('/admin/x')`).
    pub admins: Vec<(String, Layout)>,
    /// Named pipelines, including ones only referred to so far.
    pub named: HashMap<String, Layout>,
    /// Where each name was first referred to (`file:line:column`), for the
    /// error about a name never defined.
    referred_at: HashMap<String, String>,
    /// Names of the pipelines the script defined, in definition order (`""`
    /// is the module's entry pipeline, `pipeline()` without a name).
    pub defined_order: Vec<String>,
    current: Option<Layout>,
    joint: Option<SubLayout>,
    /// Made by the pipeline API (`pipy.listen`, `pipeline()`), whose rules
    /// differ a little (`onEnd` may come after filters).
    pub pipeline_api: bool,
    _live: Live,
}

/// Configurations alive on worker threads: a reload must not keep the versions
/// it replaced (see `Running::sweep` in the worker). Those of dry runs and
/// probes end with their own short-lived threads and are not counted.
static LIVE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How many Configurations (module versions) are alive on worker threads.
pub fn live_configurations() -> usize {
    LIVE.load(std::sync::atomic::Ordering::Relaxed)
}

/// Counts itself in [`live_configurations`] while it lives, when made on a
/// worker thread.
struct Live(bool);

impl Default for Live {
    fn default() -> Self {
        let on_worker = std::thread::current()
            .name()
            .is_some_and(|n| n.starts_with("pipy-worker"));
        if on_worker {
            LIVE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Live(on_worker)
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        if self.0 {
            LIVE.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

impl ConfigState {
    /// Every layout the module defines at the top: listening ports, tasks, exit
    /// pipelines, then named pipelines by name.
    pub fn layouts(&self) -> Vec<&Layout> {
        let mut named: Vec<(&String, &Layout)> = self.named.iter().collect();
        named.sort_by(|a, b| a.0.cmp(b.0));
        self.listens
            .iter()
            .map(|l| &l.layout)
            .chain(self.tasks.iter().map(|t| &t.layout))
            .chain(self.exits.iter())
            .chain(self.admins.iter().map(|(_, l)| l))
            .chain(named.into_iter().map(|(_, l)| l))
            .collect()
    }

    /// Names referred to (`link('x')`, `.to('x')`) but never defined, each as a
    /// message naming where it was used: `main.js:3:9: pipeline 'x' is never
    /// defined`.
    pub fn undefined_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .named
            .iter()
            .filter(|(_, l)| !l.is_defined())
            .map(|(n, _)| match self.referred_at.get(n) {
                Some(at) => format!("{at}: pipeline '{n}' is used but never defined"),
                None => format!("pipeline '{n}' is used but never defined"),
            })
            .collect();
        v.sort();
        v
    }

    fn named(&mut self, name: &str) -> Layout {
        self.named
            .entry(name.to_string())
            .or_insert_with(|| Layout::new(name))
            .clone()
    }
}

/// The Rust side of a Configuration object.
#[derive(Trace, Finalize, JsData)]
pub struct ConfigObject {
    /// Shared with the runtime once the module has loaded. It holds script values
    /// (callbacks, messages) in Rust, so it must not be dropped during a sweep (see
    /// `pipy_js::gc`).
    #[unsafe_ignore_trace]
    state: pipy_js::gc::SweepSafe<Rc<RefCell<ConfigState>>>,
}

/// The state behind a script value, if it is a Configuration.
pub fn state_of(v: &JsValue) -> Option<Rc<RefCell<ConfigState>>> {
    v.as_object()?
        .downcast_ref::<ConfigObject>()
        .map(|c| (*c.state).clone())
}

pub(super) fn err(msg: impl Into<String>) -> JsError {
    JsNativeError::typ().with_message(msg.into()).into()
}

pub(super) fn state(this: &JsValue) -> JsResult<Rc<RefCell<ConfigState>>> {
    state_of(this).ok_or_else(|| err("not a Configuration"))
}

pub(super) fn arg(args: &[JsValue], i: usize) -> JsValue {
    args.get(i).cloned().unwrap_or_default()
}

pub(super) fn append(this: &JsValue, t: Rc<dyn FilterTemplate>) -> JsResult<()> {
    let st = state(this)?;
    let st = st.borrow();
    let layout = st.current.as_ref().ok_or_else(|| {
        err(format!(
            "{}() needs a pipeline: call listen(), pipeline() or task() first",
            t.name()
        ))
    })?;
    layout.append(t);
    Ok(())
}

pub(super) fn append_joint(
    this: &JsValue,
    t: Rc<dyn FilterTemplate>,
    sub: SubLayout,
) -> JsResult<()> {
    append(this, t)?;
    state(this)?.borrow_mut().joint = Some(sub);
    Ok(())
}

/// A sub-pipeline argument: a pipeline name or a `$=>$...` builder function.
pub(super) fn layout_arg(this: &JsValue, v: &JsValue, ctx: &mut Context) -> JsResult<SubLayout> {
    if let Some(layout) = pipeline_api::layout_of(v) {
        return Ok(SubLayout::of(layout));
    }
    let st = state(this)?;
    if let Some(f) = v.as_callable() {
        let layout = Layout::new("");
        layout.mark_defined();
        let (saved_cur, saved_joint) = {
            let mut s = st.borrow_mut();
            (s.current.replace(layout.clone()), s.joint.take())
        };
        let r = f.call(&JsValue::undefined(), std::slice::from_ref(this), ctx);
        {
            let mut s = st.borrow_mut();
            s.current = saved_cur;
            s.joint = saved_joint;
        }
        r?;
        return Ok(SubLayout::of(layout));
    }
    if v.is_undefined() || v.is_null() {
        return Ok(SubLayout::new());
    }
    if !v.is_string() {
        return Err(err(format!(
            "expects a pipeline name or a function, not {}",
            v.type_of()
        )));
    }
    let name = v.to_string(ctx)?.to_std_string_escaped();
    let mut s = st.borrow_mut();
    if !s.referred_at.contains_key(&name) {
        if let Some(at) = pipy_js::script_location(ctx) {
            s.referred_at.insert(name.clone(), at);
        }
    }
    let layout = s.named(&name);
    Ok(SubLayout::of(layout))
}

pub(super) type Method = fn(&JsValue, &[JsValue], &mut Context) -> JsResult<()>;

/// `onStart(f)` / `onEnd(f)`: as upstream, only before the pipeline's filters and
/// once each.
pub(super) fn hook(this: &JsValue, at_start: bool, f: JsValue) -> JsResult<()> {
    let name = if at_start { "onStart" } else { "onEnd" };
    if !at_start && !f.is_callable() {
        return Err(err(format!(
            "onEnd(): expects a function, not {}",
            f.type_of()
        )));
    }
    let st = state(this)?;
    let names = st
        .borrow()
        .current
        .as_ref()
        .map(|l| l.filter_names())
        .unwrap_or_default();
    if names.contains(&name) {
        return Err(err(format!("duplicated {name}()")));
    }
    // Upstream's pipeline API keeps `onEnd` on the layout, wherever it is
    // called: here it goes where it is called, and fires as the stream's end
    // passes it.
    let late_end_allowed = !at_start && st.borrow().pipeline_api;
    if !late_end_allowed && names.iter().any(|n| *n != "onStart" && *n != "onEnd") {
        return Err(err(format!("{name}() is only allowed prior to filters")));
    }
    append(
        this,
        Rc::new(dump::HookTemplate::new(at_start, Callback::new(f, name))),
    )
}

fn method_table() -> Vec<(&'static str, Method)> {
    let mut v: Vec<(&'static str, Method)> = vec![
        ("listen", m_listen),
        ("pipeline", m_pipeline),
        ("task", m_task),
        ("exit", m_exit),
        ("watch", m_watch),
        ("admin", m_admin),
        ("to", m_to),
        ("export", m_export),
        ("import", m_import),
        ("link", m_link),
        ("linkAsync", filters::m_link_async),
        ("pipe", pipeline_api::m_pipe),
        ("pipeNext", pipeline_api::m_pipe_next),
        ("swap", pipeline_api::m_swap),
        ("chain", m_chain),
        ("use", m_use),
        ("repeat", m_repeat),
        ("branch", branch_with(branch::Trigger::Stream)),
        (
            "branchMessageStart",
            branch_with(branch::Trigger::MessageStart),
        ),
        ("branchMessage", branch_with(branch::Trigger::Message)),
        ("fork", m_fork),
        ("forkJoin", fork_with(branch::ForkMode::Join)),
        ("forkRace", fork_with(branch::ForkMode::Race)),
        ("demux", m_demux),
        ("mux", m_mux),
        // Upstream 1.5's pipeline API names for the same filters.
        ("demuxQueue", m_demux),
        ("muxQueue", m_mux),
        ("demuxFastCGI", filters::m_demux_fastcgi),
        ("muxFastCGI", filters::m_mux_fastcgi),
        ("demuxHTTP", m_demux_http),
        ("serveHTTP", m_serve_http),
        ("muxHTTP", m_mux_http),
        ("connect", m_connect),
        ("acceptTLS", transports::m_accept_tls),
        ("connectTLS", transports::m_connect_tls),
        (
            "handleTLSClientHello",
            transports::m_handle_tls_client_hello,
        ),
        ("detectProtocol", transports::m_detect_protocol),
        ("acceptProxyProtocol", transports::m_accept_proxy_protocol),
        ("connectProxyProtocol", transports::m_connect_proxy_protocol),
        ("acceptSOCKS", transports::m_accept_socks),
        ("connectSOCKS", transports::m_connect_socks),
        ("acceptHTTPTunnel", transports::m_accept_http_tunnel),
        ("connectHTTPTunnel", transports::m_connect_http_tunnel),
        ("decodeHTTPRequest", decode_http(http_codec::Side::Request)),
        (
            "decodeHTTPResponse",
            decode_http(http_codec::Side::Response),
        ),
        ("encodeHTTPRequest", filters::m_encode_http_request),
        ("encodeHTTPResponse", m_encode_http_response),
        ("dump", m_dump),
        ("print", |t, _, _| {
            append(
                t,
                Rc::new(dump::UtilTemplate::new(dump::Kind::Print, None, None)),
            )
        }),
        ("dummy", |t, _, _| {
            append(
                t,
                Rc::new(dump::UtilTemplate::new(dump::Kind::Dummy, None, None)),
            )
        }),
        ("onStart", |t, a, _| hook(t, true, arg(a, 0))),
        ("onEnd", |t, a, _| hook(t, false, arg(a, 0))),
    ];
    v.extend(stream_tools::methods());
    v.extend(compression::methods());
    v.extend(codecs::methods());
    for k in handle::Kind::ALL.into_iter().chain([handle::Kind::Event]) {
        v.push((k.handle_name(), handler(k, false)));
        v.push((k.replace_name(), handler(k, true)));
    }
    v
}

thread_local! {
    static METHODS: Vec<(&'static str, Method)> = method_table();
}

#[derive(Clone, Trace, Finalize)]
struct MethodIndex(usize);

/// Creates the Configuration object for a module (the host's
/// `make_configuration` hook).
pub fn make_configuration(ctx: &mut Context, module: usize) -> JsResult<JsValue> {
    let state = Rc::new(RefCell::new(ConfigState {
        module,
        ..Default::default()
    }));
    STATES.with(|s| {
        let mut s = s.borrow_mut();
        s.retain(|w| w.strong_count() > 0);
        s.push(Rc::downgrade(&state));
    });
    let obj = JsObject::from_proto_and_data(
        Some(ctx.intrinsics().constructors().object().prototype()),
        ConfigObject {
            state: pipy_js::gc::SweepSafe::new(state),
        },
    );
    let names: Vec<&'static str> = METHODS.with(|m| m.iter().map(|(n, _)| *n).collect());
    for (i, name) in names.into_iter().enumerate() {
        let f = NativeFunction::from_copy_closure_with_captures(
            |this, args, idx: &MethodIndex, ctx| {
                let m = METHODS.with(|m| m[idx.0].1);
                m(this, args, ctx)?;
                Ok(this.clone())
            },
            MethodIndex(i),
        )
        .to_js_function(ctx.realm());
        obj.set(js_string!(name), f, false, ctx)?;
    }
    Ok(obj.into())
}

thread_local! {
    /// Every Configuration made on this thread and still alive, for the
    /// pipeline counts of the metrics.
    static STATES: RefCell<Vec<std::rc::Weak<RefCell<ConfigState>>>> = const { RefCell::new(Vec::new()) };
}

/// The layouts of every module alive on this thread, with the module's path:
/// listening ports, tasks, exit pipelines and named pipelines.
pub fn live_layouts() -> Vec<(String, Layout)> {
    let states: Vec<_> = STATES.with(|s| s.borrow().iter().filter_map(|w| w.upgrade()).collect());
    let mut out = Vec::new();
    for st in states {
        let st = st.borrow();
        let module = crate::graph::module_path(st.module);
        out.extend(
            st.layouts()
                .into_iter()
                .map(|l| (module.clone(), l.clone())),
        );
    }
    out
}

/// Checks that every module of the version loaded last defines the pipelines it
/// refers to; the error lists each missing name where it was used.
pub fn check_pipeline_names() -> Result<(), String> {
    let mut missing = Vec::new();
    for id in pipy_js::module::current() {
        if let Some(state) = pipy_js::module::value(id).and_then(|v| state_of(&v)) {
            missing.extend(state.borrow().undefined_names());
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(missing.join("\n"))
    }
}

/// A layout built by a `$=>$...` function outside any `pipy()` (for
/// `pipy.read`).
pub fn build_layout(builder: &JsValue, ctx: &mut Context) -> JsResult<Layout> {
    let conf = make_configuration(ctx, usize::MAX)?;
    let sub = layout_arg(&conf, builder, ctx)?;
    sub.get().ok_or_else(|| err("not a pipeline builder"))
}

/// Names of every Configuration method (for error messages and docs).
pub fn method_names() -> Vec<&'static str> {
    METHODS.with(|m| m.iter().map(|(n, _)| *n).collect())
}
