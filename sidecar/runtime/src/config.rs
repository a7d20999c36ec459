//! The Configuration object `pipy({...})` returns, and what it builds.
//!
//! Each method parses its script arguments and appends a filter template to the
//! layout being defined (`listen`, `pipeline`, `task`, or an anonymous one inside
//! `$=>$...`). Joint filters (`demuxHTTP`, `muxHTTP`, `fork`) get their
//! sub-pipeline from the `.to(...)` that follows them.

use crate::options;
use boa_engine::{
    js_string, Context, JsData, JsError, JsNativeError, JsObject, JsResult, JsValue, NativeFunction,
};
use boa_gc::{Finalize, Trace};
use pipy_core::{FilterTemplate, Layout};
use pipy_filters::{
    branch, chain, connect, demux, demux_http, dump, handle, http_codec, mux, mux_http, replace,
    serve_http, Callback, SubLayout,
};
use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;

/// A port the script listens on, with its pipeline.
#[derive(Clone, Debug)]
pub struct Listen {
    /// Address to bind.
    pub addr: SocketAddr,
    /// Close a connection with no traffic either way for this long.
    pub idle_timeout: Option<std::time::Duration>,
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
    /// Named pipelines, including ones only referred to so far.
    pub named: HashMap<String, Layout>,
    current: Option<Layout>,
    joint: Option<SubLayout>,
}

impl ConfigState {
    /// Names referred to (`link('x')`, `.to('x')`) but never defined.
    pub fn undefined_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .named
            .iter()
            .filter(|(_, l)| !l.is_defined())
            .map(|(n, _)| n.clone())
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
    /// Shared with the runtime once the module has loaded.
    #[unsafe_ignore_trace]
    pub state: Rc<RefCell<ConfigState>>,
}

/// The state behind a script value, if it is a Configuration.
pub fn state_of(v: &JsValue) -> Option<Rc<RefCell<ConfigState>>> {
    v.as_object()?
        .downcast_ref::<ConfigObject>()
        .map(|c| c.state.clone())
}

fn err(msg: impl Into<String>) -> JsError {
    JsNativeError::typ().with_message(msg.into()).into()
}

fn state(this: &JsValue) -> JsResult<Rc<RefCell<ConfigState>>> {
    state_of(this).ok_or_else(|| err("not a Configuration"))
}

fn arg(args: &[JsValue], i: usize) -> JsValue {
    args.get(i).cloned().unwrap_or_default()
}

fn append(this: &JsValue, t: Rc<dyn FilterTemplate>) -> JsResult<()> {
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

fn append_joint(this: &JsValue, t: Rc<dyn FilterTemplate>, sub: SubLayout) -> JsResult<()> {
    append(this, t)?;
    state(this)?.borrow_mut().joint = Some(sub);
    Ok(())
}

/// A sub-pipeline argument: a pipeline name or a `$=>$...` builder function.
fn layout_arg(this: &JsValue, v: &JsValue, ctx: &mut Context) -> JsResult<SubLayout> {
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
    let name = v.to_string(ctx)?.to_std_string_escaped();
    let layout = st.borrow_mut().named(&name);
    Ok(SubLayout::of(layout))
}

fn parse_addr(v: &JsValue, ctx: &mut Context) -> JsResult<SocketAddr> {
    if let Some(n) = v.as_number() {
        return Ok(SocketAddr::from(([0, 0, 0, 0], n as u16)));
    }
    let s = v.to_string(ctx)?.to_std_string_escaped();
    if let Ok(port) = s.parse::<u16>() {
        return Ok(SocketAddr::from(([0, 0, 0, 0], port)));
    }
    let s2 = s.replace("localhost", "127.0.0.1");
    s2.parse()
        .map_err(|_| err(format!("invalid listening address '{s}'")))
}

type Method = fn(&JsValue, &[JsValue], &mut Context) -> JsResult<()>;

fn m_listen(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let addr = parse_addr(&arg(args, 0), ctx)?;
    let opts = arg(args, 1).as_object();
    // Upstream's default: idle connections close after a minute.
    let idle_timeout = match options::get(opts.as_ref(), "idleTimeout", ctx)? {
        v if v.is_undefined() => Some(std::time::Duration::from_secs(60)),
        v => options::duration(&v, ctx)?.filter(|d| !d.is_zero()),
    };
    let layout = Layout::new(format!("Listen on {addr}"));
    layout.mark_defined();
    let st = state(this)?;
    let mut s = st.borrow_mut();
    s.listens.push(Listen {
        addr,
        idle_timeout,
        layout: layout.clone(),
    });
    s.current = Some(layout);
    s.joint = None;
    Ok(())
}

fn m_pipeline(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let a = arg(args, 0);
    let name = if a.is_undefined() {
        String::new()
    } else {
        a.to_string(ctx)?.to_std_string_escaped()
    };
    let st = state(this)?;
    let mut s = st.borrow_mut();
    let layout = s.named(&name);
    if layout.is_defined() {
        return Err(err(format!("duplicated pipeline name '{name}'")));
    }
    layout.mark_defined();
    s.current = Some(layout);
    s.joint = None;
    Ok(())
}

fn m_task(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let a = arg(args, 0);
    let when = if a.is_undefined() || a.is_null() {
        TaskWhen::Once
    } else if let Some(t) = options::duration(&a, ctx)? {
        TaskWhen::Every(t)
    } else {
        let s = a.to_string(ctx)?.to_std_string_escaped();
        if !s.starts_with("SIG") {
            return Err(err(format!(
                "task(): '{s}' is neither a duration nor a signal name"
            )));
        }
        TaskWhen::Signal(s)
    };
    let layout = Layout::new("Task");
    layout.mark_defined();
    let st = state(this)?;
    let mut s = st.borrow_mut();
    s.tasks.push(Task {
        layout: layout.clone(),
        when,
    });
    s.current = Some(layout);
    s.joint = None;
    Ok(())
}

fn m_exit(this: &JsValue, _args: &[JsValue], _ctx: &mut Context) -> JsResult<()> {
    let layout = Layout::new("Exit");
    layout.mark_defined();
    let st = state(this)?;
    let mut s = st.borrow_mut();
    s.exits.push(layout.clone());
    s.current = Some(layout);
    s.joint = None;
    Ok(())
}

fn m_to(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let joint = state(this)?
        .borrow_mut()
        .joint
        .take()
        .ok_or_else(|| err("to() must follow a filter that starts sub-pipelines"))?;
    let sub = layout_arg(this, &arg(args, 0), ctx)?;
    if let Some(l) = sub.get() {
        joint.set(l);
    }
    Ok(())
}

fn m_export(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let module = state(this)?.borrow().module;
    let ns = arg(args, 0).to_string(ctx)?.to_std_string_escaped();
    let vars = arg(args, 1)
        .as_object()
        .ok_or_else(|| err("export() expects an object of variables"))?;
    let scope = pipy_js::module::scope(module).ok_or_else(|| err("no module scope"))?;
    pipy_js::vars::export(module, &scope, &ns, &vars, ctx)
}

fn m_import(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let module = state(this)?.borrow().module;
    let spec = arg(args, 0)
        .as_object()
        .ok_or_else(|| err("import() expects an object"))?;
    let scope = pipy_js::module::scope(module).ok_or_else(|| err("no module scope"))?;
    pipy_js::vars::import(module, &scope, &spec, ctx)
}

fn m_link(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let sub = layout_arg(this, &arg(args, 0), ctx)?;
    append(
        this,
        Rc::new(branch::BranchTemplate::new(
            branch::Trigger::Stream,
            vec![(None, sub)],
        )),
    )
}

fn branch_arms(
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

fn branch_with(trigger: branch::Trigger) -> Method {
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

fn call_builder(this: &JsValue, f: &JsValue, ctx: &mut Context) -> JsResult<()> {
    let f = f
        .as_callable()
        .ok_or_else(|| err("a static branch needs builder functions"))?;
    f.call(&JsValue::undefined(), std::slice::from_ref(this), ctx)?;
    Ok(())
}

fn m_fork(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
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

fn m_demux_http(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let a0 = arg(args, 0);
    if a0.is_string() {
        let sub = layout_arg(this, &a0, ctx)?;
        return append(this, Rc::new(demux_http::DemuxHttpTemplate::demux(sub)));
    }
    let sub = SubLayout::new();
    append_joint(
        this,
        Rc::new(demux_http::DemuxHttpTemplate::demux(sub.clone())),
        sub,
    )
}

fn m_demux(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let a0 = arg(args, 0);
    if a0.is_string() {
        let sub = layout_arg(this, &a0, ctx)?;
        return append(this, Rc::new(demux::DemuxTemplate(sub)));
    }
    let sub = SubLayout::new();
    append_joint(this, Rc::new(demux::DemuxTemplate(sub.clone())), sub)
}

fn m_mux(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let mut rest: &[JsValue] = args;
    let mut sub = SubLayout::new();
    let mut explicit = false;
    if let Some(first) = args.first().filter(|v| v.is_string()) {
        sub = layout_arg(this, first, ctx)?;
        explicit = true;
        rest = &args[1..];
    }
    let key = rest
        .first()
        .filter(|v| !v.is_undefined() && (!v.is_object() || v.is_callable()))
        .map(|v| Callback::new(v.clone(), "mux"));
    let t = Rc::new(mux::MuxTemplate::new(key, sub.clone()));
    if explicit {
        append(this, t)
    } else {
        append_joint(this, t, sub)
    }
}

fn m_serve_http(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let h = serve_http::Handler::from_js(arg(args, 0), ctx)?;
    append(this, Rc::new(demux_http::DemuxHttpTemplate::serve(h)))
}

fn m_mux_http(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let mut rest: &[JsValue] = args;
    let mut sub = SubLayout::new();
    let mut explicit_layout = false;
    // Old form: muxHTTP('layout', key?, options?).
    if let Some(first) = args.first().filter(|v| v.is_string()) {
        sub = layout_arg(this, first, ctx)?;
        explicit_layout = true;
        rest = &args[1..];
    }
    let mut key = None;
    let mut opts = None;
    for v in rest {
        if v.is_callable() || (!v.is_object() && !v.is_undefined()) {
            key = Some(Callback::new(v.clone(), "muxHTTP"));
        } else if let Some(o) = v.as_object() {
            opts = Some(o.clone());
        }
    }
    let mut o = mux_http::MuxOptions::default();
    if let Some(t) = options::duration(&options::get(opts.as_ref(), "maxIdle", ctx)?, ctx)? {
        o.max_idle = t;
    }
    let mq = options::get(opts.as_ref(), "maxQueue", ctx)?;
    if let Some(n) = mq.as_number() {
        o.max_queue = n.max(0.0) as usize;
    }
    let t = Rc::new(mux_http::MuxHttpTemplate::new(key, sub.clone(), o));
    if explicit_layout {
        append(this, t)
    } else {
        append_joint(this, t, sub)
    }
}

fn m_connect(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let target = Callback::new(arg(args, 0), "connect");
    let opts = arg(args, 1).as_object();
    let mut o = connect::ConnectOptions::default();
    let g = |k: &str, ctx: &mut Context| options::get(opts.as_ref(), k, ctx);
    o.connect_timeout = options::duration(&g("connectTimeout", ctx)?, ctx)?;
    o.read_timeout = options::duration(&g("readTimeout", ctx)?, ctx)?;
    o.idle_timeout = options::duration(&g("idleTimeout", ctx)?, ctx)?;
    if let Some(n) = g("retryCount", ctx)?.as_number() {
        o.retry_count = if n < 0.0 { u32::MAX } else { n as u32 };
    }
    o.retry_delay = options::duration(&g("retryDelay", ctx)?, ctx)?.unwrap_or_default();
    append(this, Rc::new(connect::ConnectTemplate::new(target, o)))
}

fn handler(kind: handle::Kind, replace_it: bool) -> Method {
    use handle::Kind::*;
    macro_rules! m {
        ($k:expr, $r:expr) => {
            |this, args, _ctx| {
                let cb = Callback::new(arg(args, 0), if $r { "replace" } else { "handle" });
                if $r {
                    append(this, Rc::new(replace::ReplaceTemplate::new($k, cb)))
                } else {
                    append(this, Rc::new(handle::HandleTemplate::new($k, cb)))
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
fn module_layouts(list: &JsValue, name: &str, ctx: &mut Context) -> JsResult<Vec<Layout>> {
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

fn m_chain(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let a = arg(args, 0);
    if a.is_undefined() {
        return append(this, Rc::new(chain::ChainTemplate::next()));
    }
    let layouts = module_layouts(&a, "", ctx)?;
    append(this, Rc::new(chain::ChainTemplate::start(layouts, "chain")))
}

fn m_use(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let mut list = arg(args, 0);
    if list.is_string() {
        list = boa_engine::object::builtins::JsArray::from_iter([list], ctx).into();
    }
    let name = match args.get(1) {
        Some(v) if !v.is_undefined() => v.to_string(ctx)?.to_std_string_escaped(),
        _ => String::new(),
    };
    let layouts = module_layouts(&list, &name, ctx)?;
    append(this, Rc::new(chain::ChainTemplate::start(layouts, "use")))
}

fn m_repeat(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let what = arg(args, 0);
    let f = arg(args, 1);
    let f = f
        .as_callable()
        .ok_or_else(|| err("repeat() expects a function"))?;
    if let Some(n) = what.as_number() {
        for i in 0..(n.max(0.0) as u32) {
            f.call(
                &JsValue::undefined(),
                &[this.clone(), JsValue::from(i)],
                ctx,
            )?;
        }
        return Ok(());
    }
    let obj = what
        .as_object()
        .filter(|o| o.is_array())
        .ok_or_else(|| err("repeat() expects a count or an array"))?;
    let n = obj.get(js_string!("length"), ctx)?.to_length(ctx)?;
    for i in 0..n {
        let item = obj.get(i, ctx)?;
        f.call(
            &JsValue::undefined(),
            &[this.clone(), item, JsValue::from(i as u32)],
            ctx,
        )?;
    }
    Ok(())
}

fn m_dump(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let a = arg(args, 0);
    let tag = if a.is_undefined() {
        String::new()
    } else {
        a.to_string(ctx)?.to_std_string_escaped()
    };
    append(
        this,
        Rc::new(dump::UtilTemplate::new(dump::Kind::Dump, tag)),
    )
}

fn method_table() -> Vec<(&'static str, Method)> {
    use handle::Kind::*;
    let mut v: Vec<(&'static str, Method)> = vec![
        ("listen", m_listen),
        ("pipeline", m_pipeline),
        ("task", m_task),
        ("exit", m_exit),
        ("to", m_to),
        ("export", m_export),
        ("import", m_import),
        ("link", m_link),
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
        ("demux", m_demux),
        ("mux", m_mux),
        ("demuxHTTP", m_demux_http),
        ("serveHTTP", m_serve_http),
        ("muxHTTP", m_mux_http),
        ("connect", m_connect),
        ("decodeHTTPRequest", |t, _, _| {
            append(
                t,
                Rc::new(http_codec::DecodeTemplate(http_codec::Side::Request)),
            )
        }),
        ("decodeHTTPResponse", |t, _, _| {
            append(
                t,
                Rc::new(http_codec::DecodeTemplate(http_codec::Side::Response)),
            )
        }),
        ("encodeHTTPRequest", |t, _, _| {
            append(
                t,
                Rc::new(http_codec::EncodeTemplate(http_codec::Side::Request)),
            )
        }),
        ("encodeHTTPResponse", |t, _, _| {
            append(
                t,
                Rc::new(http_codec::EncodeTemplate(http_codec::Side::Response)),
            )
        }),
        ("dump", m_dump),
        ("print", |t, _, _| {
            append(
                t,
                Rc::new(dump::UtilTemplate::new(dump::Kind::Print, String::new())),
            )
        }),
        ("dummy", |t, _, _| {
            append(
                t,
                Rc::new(dump::UtilTemplate::new(dump::Kind::Dummy, String::new())),
            )
        }),
        ("onStart", |t, a, _| {
            append(
                t,
                Rc::new(dump::HookTemplate::new(
                    true,
                    Callback::new(arg(a, 0), "onStart"),
                )),
            )
        }),
        ("onEnd", |t, a, _| {
            append(
                t,
                Rc::new(dump::HookTemplate::new(
                    false,
                    Callback::new(arg(a, 0), "onEnd"),
                )),
            )
        }),
    ];
    for k in [
        StreamStart,
        MessageStart,
        Data,
        MessageBody,
        MessageEnd,
        Message,
        StreamEnd,
    ] {
        let (h, r): (&'static str, &'static str) = match k {
            StreamStart => ("handleStreamStart", "replaceStreamStart"),
            MessageStart => ("handleMessageStart", "replaceMessageStart"),
            Data => ("handleData", "replaceData"),
            MessageBody => ("handleMessageBody", "replaceMessageBody"),
            MessageEnd => ("handleMessageEnd", "replaceMessageEnd"),
            Message => ("handleMessage", "replaceMessage"),
            StreamEnd => ("handleStreamEnd", "replaceStreamEnd"),
        };
        v.push((h, handler(k, false)));
        v.push((r, handler(k, true)));
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
    let obj = JsObject::from_proto_and_data(
        Some(ctx.intrinsics().constructors().object().prototype()),
        ConfigObject { state },
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

/// Names of every Configuration method (for error messages and docs).
pub fn method_names() -> Vec<&'static str> {
    METHODS.with(|m| m.iter().map(|(n, _)| *n).collect())
}
