//! Upstream 1.5's pipeline API, which statement-style modules use instead of
//! a Configuration chain: `pipeline($=>$...)` makes a pipeline value, and
//! `pipy.listen(port, [protocol], [options], builder or pipeline)` listens.
//!
//! Both work on a Configuration each module gets when it first uses them,
//! which the worker runs as the module's own (`export default pipy()...`
//! works beside them, in one module or across several). A pipeline value
//! goes wherever a sub-pipeline does (`.to(p)`, `demuxHTTP().to(p)`, ...).
//!
//! `pipy.inbound` and `pipy.outbound` tell this thread's open connections.
//!
//! A pipeline value also runs on its own: `spawn(...args)` (its `onStart`
//! gets `args`) and `process(events)`, each returning a Promise that
//! resolves when the pipeline's stream ends.
//!
//! Not yet: `pipy.listen` once the worker runs (upstream opens and closes
//! ports at any time); here it is refused after the module loaded; `process`
//! with a generator function or a Hub.

use super::{layout_arg, layouts::m_listen, make_configuration, state_of, ConfigState};
use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute;
use boa_engine::{
    js_string, Context, JsData, JsNativeError, JsObject, JsResult, JsValue, NativeFunction,
};
use boa_gc::{Finalize, Trace};
use pipy_core::Layout;
use std::cell::RefCell;
use std::rc::Rc;

thread_local! {
    /// The Configuration of each module that used the pipeline API, by id.
    static IMPLICIT: RefCell<Vec<(usize, JsValue)>> = const { RefCell::new(Vec::new()) };
}

/// A pipeline value: what `pipeline(builder)` returns.
#[derive(Trace, Finalize, JsData)]
pub struct PipelineValue {
    #[unsafe_ignore_trace]
    layout: Layout,
}

/// The layout of a pipeline value.
pub fn layout_of(v: &JsValue) -> Option<Layout> {
    v.as_object()?
        .downcast_ref::<PipelineValue>()
        .map(|p| p.layout.clone())
}

fn type_error(msg: impl Into<String>) -> boa_engine::JsError {
    JsNativeError::typ().with_message(msg.into()).into()
}

/// The Configuration the pipeline API adds to for module `id`.
fn implicit(id: usize, ctx: &mut Context) -> JsResult<JsValue> {
    if let Some(v) = IMPLICIT.with(|m| {
        m.borrow()
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, v)| v.clone())
    }) {
        return Ok(v);
    }
    let conf = make_configuration(ctx, id)?;
    if let Some(st) = state_of(&conf) {
        st.borrow_mut().pipeline_api = true;
    }
    let current = pipy_js::module::current();
    IMPLICIT.with(|m| {
        let mut m = m.borrow_mut();
        // Modules of versions gone are forgotten here too.
        m.retain(|(i, _)| current.contains(i) || *i == id);
        m.push((id, conf.clone()));
    });
    Ok(conf)
}

/// The Configuration the pipeline API made for module `id`, if it made one.
pub fn implicit_state(id: usize) -> Option<Rc<RefCell<ConfigState>>> {
    IMPLICIT.with(|m| {
        m.borrow()
            .iter()
            .find(|(i, _)| *i == id)
            .and_then(|(_, v)| state_of(v))
    })
}

/// The first Configuration the pipeline API made in the version loaded last
/// (an entry module that only imports the modules that listen).
pub fn any_implicit_state() -> Option<Rc<RefCell<ConfigState>>> {
    let current = pipy_js::module::current();
    IMPLICIT.with(|m| {
        m.borrow()
            .iter()
            .filter(|(id, _)| current.contains(id))
            .find_map(|(_, v)| state_of(v))
    })
}

/// Adds to `state` what the pipeline API declared in every module of the
/// version loaded last but `state` itself: their ports, tasks, exit and
/// admin pipelines (upstream's listeners are the process's, whichever module
/// opened them).
pub fn merge_into(state: &Rc<RefCell<ConfigState>>) {
    let current = pipy_js::module::current();
    let others: Vec<Rc<RefCell<ConfigState>>> = IMPLICIT.with(|m| {
        m.borrow()
            .iter()
            .filter(|(id, _)| current.contains(id))
            .filter_map(|(_, v)| state_of(v))
            .filter(|s| !Rc::ptr_eq(s, state))
            .collect()
    });
    let mut target = state.borrow_mut();
    for other in others {
        let o = other.borrow();
        target.listens.extend(o.listens.iter().cloned());
        target.tasks.extend(o.tasks.iter().cloned());
        target.exits.extend(o.exits.iter().cloned());
        target.admins.extend(o.admins.iter().cloned());
    }
}

thread_local! {
    /// Whether a version of the codebase loads on this thread now.
    static VERSION_LOADING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Tells the pipeline API whether a version loads now (its listeners count
/// only then; a module imported later by `pipy.import` cannot open ports).
pub fn set_loading(on: bool) {
    VERSION_LOADING.with(|l| l.set(on));
}

/// The module loading now, which the pipeline API may only be used in.
fn loading(what: &str) -> JsResult<usize> {
    let loading = VERSION_LOADING.with(std::cell::Cell::get);
    pipy_js::module::loading()
        .filter(|_| loading)
        .ok_or_else(|| {
            type_error(format!(
                "{what}: only while a module loads (not yet once the worker runs)"
            ))
        })
}

/// `pipeline(builder)`.
fn pipeline(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let builder = args.first().cloned().unwrap_or_default();
    if !builder.is_callable() {
        return Err(type_error("pipeline(): argument #1 expects a function"));
    }
    let layout = match loading("pipeline()") {
        Ok(id) => {
            let conf = implicit(id, ctx)?;
            layout_arg(&conf, &builder, ctx)?
                .get()
                .ok_or_else(|| type_error("pipeline(): not a pipeline builder"))?
        }
        // Once the worker runs (in a callback, as upstream's samples do):
        // a layout of its own, outside any module's pipelines.
        Err(_) => super::build_layout(&builder, ctx)?,
    };
    Ok(new_value(layout, ctx)?.into())
}

/// A pipeline value over `layout`, with its `spawn` and `process`.
fn new_value(layout: Layout, ctx: &mut Context) -> JsResult<JsObject> {
    let value = JsObject::from_proto_and_data(
        Some(ctx.intrinsics().constructors().object().prototype()),
        PipelineValue { layout },
    );
    for (name, f) in [
        ("spawn", NativeFunction::from_fn_ptr(spawn)),
        ("process", NativeFunction::from_fn_ptr(process)),
    ] {
        let f = f.to_js_function(ctx.realm());
        pipy_js::convert::define_hidden(&value, name, f, ctx)?;
    }
    Ok(value)
}

/// Runs a pipeline of `layout` with a context of its own, on a later turn of
/// the worker's loop: started with `args` (what its `onStart` gets), then
/// fed `events`; the Promise resolves when the pipeline's stream ends. What it
/// outputs is dropped.
fn run_detached(
    layout: Layout,
    args: Vec<JsValue>,
    events: Vec<pipy_core::Event>,
    ctx: &mut Context,
) -> JsValue {
    let (promise, resolvers) = boa_engine::object::builtins::JsPromise::new_pending(ctx);
    let holder: Rc<RefCell<Option<pipy_core::Pipeline>>> = Rc::new(RefCell::new(None));
    // As upstream's, a spawned pipeline keeps a worker with no port only
    // through what it waits on (timers, connections, processes, reads), not
    // by itself: one that waits on nothing does not hold the process.
    let done = {
        let holder = holder.clone();
        let resolve = resolvers.resolve.clone();
        move || {
            let pipeline = holder.borrow_mut().take();
            let resolve = resolve.clone();
            pipy_core::io::after(
                std::time::Duration::ZERO,
                Box::new(move || {
                    drop(pipeline);
                    pipy_js::with_js(|ctx| {
                        let _ = resolve.call(&JsValue::undefined(), &[], ctx);
                        let _ = ctx.run_jobs();
                    });
                }),
            );
        }
    };
    let ended = Rc::new(std::cell::Cell::new(false));
    let output = pipy_core::EventTarget::Func(Rc::new(move |e: pipy_core::Event| {
        if e.is_stream_end() && !ended.replace(true) {
            done();
        }
    }));
    pipy_core::io::after(
        std::time::Duration::ZERO,
        Box::new(move || {
            let p = pipy_core::Pipeline::new(&layout, pipy_core::Context::new(None), output);
            if !args.is_empty() {
                p.set_start_value(Rc::new(args));
            }
            *holder.borrow_mut() = Some(p.clone());
            p.start();
            for e in events {
                p.input(e);
            }
        }),
    );
    promise.into()
}

fn this_layout(this: &JsValue) -> JsResult<Layout> {
    layout_of(this).ok_or_else(|| type_error("not a pipeline"))
}

/// `pipeline.spawn(...args)`: runs the pipeline, its `onStart` getting `args`.
fn spawn(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let layout = this_layout(this)?;
    Ok(run_detached(layout, args.to_vec(), Vec::new(), ctx))
}

/// `pipeline.process(events)`: runs the pipeline on events (an Event, a
/// Message or an array of them).
fn process(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let layout = this_layout(this)?;
    let v = args.first().cloned().unwrap_or_default();
    if v.is_callable() || v.as_promise().is_some() {
        // A generator (asked again each time its events went in, until it
        // gives a StreamEnd) or a Promise of events: `produce` feeding this
        // pipeline, as upstream's `process` does.
        let make = ctx.eval(boa_engine::Source::from_bytes(
            "(g, p) => ($=>$.produce(g).pipe(p))",
        ))?;
        let make = make
            .as_callable()
            .ok_or_else(|| type_error("pipeline.process(): builder"))?;
        let builder = make.call(&JsValue::undefined(), &[v, this.clone()], ctx)?;
        let fed = super::build_layout(&builder, ctx)?;
        let start = pipy_core::Event::Data(pipy_core::Data::new());
        return Ok(run_detached(fed, Vec::new(), vec![start], ctx));
    }
    let mut events = Vec::new();
    pipy_js::convert::js_to_events(&v, ctx, &mut events)?;
    // The events are all there is: the stream ends after them.
    if !events.last().is_some_and(|e| e.is_stream_end()) {
        events.push(pipy_core::Event::StreamEnd(pipy_core::StreamError::NoError));
    }
    Ok(run_detached(layout, Vec::new(), events, ctx))
}

/// `pipy.listen(port | 'ip:port', ['tcp' | 'udp'], [options], builder | pipeline)`.
/// A change `pipy.listen` asked for once the worker runs.
pub enum ListenChange {
    /// Listen there (again) with this pipeline.
    Set(super::Listen),
    /// Stop listening there (`pipy.listen(port, null)`).
    Remove(std::net::SocketAddr, pipy_core::io::Protocol),
}

thread_local! {
    static LISTEN_CHANGES: RefCell<Vec<ListenChange>> = const { RefCell::new(Vec::new()) };
    static LISTEN_CHANGED: Rc<tokio::sync::Notify> = Rc::new(tokio::sync::Notify::new());
}

/// The listener changes asked for since the last call, in order.
pub fn take_listen_changes() -> Vec<ListenChange> {
    LISTEN_CHANGES.with(|c| std::mem::take(&mut *c.borrow_mut()))
}

/// Waits until `pipy.listen` asks for a change while the worker runs.
pub async fn listen_changed() {
    let n = LISTEN_CHANGED.with(Rc::clone);
    n.notified().await;
}

fn listen(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    // While a version loads, its listeners; once the worker runs, a change
    // of this thread's listeners, made at once (upstream's commit).
    let loading_id = loading("pipy.listen()");
    let running = loading_id.is_err();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let port = arg(0);
    if !(port.is_number() || port.is_string()) {
        return Err(type_error(
            "pipy.listen(): argument #1 expects a port or 'address:port'",
        ));
    }
    let mut i = 1;
    let mut protocol = None;
    if arg(i).is_string() {
        protocol = Some(arg(i));
        i += 1;
    }
    // `null` stops a listener (once the worker runs).
    let is_target =
        |v: &JsValue| v.is_callable() || layout_of(v).is_some() || (running && v.is_null());
    let mut options = JsValue::undefined();
    if !is_target(&arg(i)) {
        options = arg(i);
        i += 1;
    }
    let target = arg(i);
    if !is_target(&target) {
        return Err(type_error(format!(
            "pipy.listen(): argument #{} expects a function or a pipeline",
            i + 1
        )));
    }
    // The protocol goes in with the options, into a copy of them.
    let opts = ObjectInitializer::new(ctx).build();
    if let Some(o) = options.as_object() {
        for key in o.own_property_keys(ctx)? {
            let v = o.get(key.clone(), ctx)?;
            opts.set(key, v, false, ctx)?;
        }
    } else if !options.is_null_or_undefined() {
        return Err(type_error("pipy.listen(): options must be an object"));
    }
    if let Some(p) = protocol {
        opts.set(js_string!("protocol"), p, false, ctx)?;
    }
    let conf = match loading_id {
        Ok(id) => implicit(id, ctx)?,
        Err(_) => make_configuration(ctx, usize::MAX)?,
    };
    m_listen(&conf, &[port, opts.into()], ctx)?;
    let st = state_of(&conf).ok_or_else(|| type_error("pipy.listen(): no Configuration"))?;
    if running && target.is_null() {
        if let Some(l) = st.borrow_mut().listens.pop() {
            push_change(ListenChange::Remove(l.addr, l.protocol));
        }
        return Ok(JsValue::undefined());
    }
    if let Some(layout) = layout_of(&target) {
        let mut s = st.borrow_mut();
        if let Some(l) = s.listens.last_mut() {
            l.layout = layout;
        }
        s.current = None;
    } else if let Some(f) = target.as_callable() {
        let r = f.call(&JsValue::undefined(), std::slice::from_ref(&conf), ctx);
        st.borrow_mut().current = None;
        r?;
    }
    if running {
        if let Some(l) = st.borrow_mut().listens.pop() {
            push_change(ListenChange::Set(l));
        }
    }
    Ok(JsValue::undefined())
}

fn push_change(change: ListenChange) {
    LISTEN_CHANGES.with(|c| c.borrow_mut().push(change));
    LISTEN_CHANGED.with(|n| n.notify_one());
}

/// `pipe(target, [targetMap])` (see `pipy_filters::pipe`): target values are
/// pipeline values, or names in `targetMap`.
pub(super) fn m_pipe(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let target = args.first().cloned().unwrap_or_default();
    // As upstream: `pipe(target, initArgs)` when the second is an array or a
    // function, else `pipe(target, map, initArgs)`.
    let a1 = args.get(1).cloned().unwrap_or_default();
    let is_init = |v: &JsValue| v.is_callable() || v.as_object().is_some_and(|o| o.is_array());
    let (map, init) = if is_init(&a1) {
        (None, Some(a1))
    } else {
        (
            a1.as_object(),
            args.get(2).cloned().filter(|v| !v.is_null_or_undefined()),
        )
    };
    if let Some(i) = &init {
        if !is_init(i) {
            return Err(type_error(
                "pipe(): initial arguments must be an array or a function",
            ));
        }
    }
    let init = init.map(|v| pipy_filters::Callback::new(v, "pipe"));
    // Map entries may be builders: each becomes a pipeline now.
    if let Some(m) = &map {
        for key in m.own_property_keys(ctx)? {
            let v = m.get(key.clone(), ctx)?;
            if v.is_callable() {
                let layout = layout_arg(this, &v, ctx)?
                    .get()
                    .ok_or_else(|| type_error("pipe(): not a pipeline builder"))?;
                let value = new_value(layout, ctx)?;
                m.set(key, value, false, ctx)?;
            }
        }
    }
    if target.is_null_or_undefined() {
        return Err(type_error(
            "pipe(): argument #1 expects a pipeline or a function",
        ));
    }
    // `pipe([p1, p2, ...])`: a chain the pipelines walk with `pipeNext()`.
    if let Some(items) = pipy_js::convert::array_values(&target, ctx)? {
        let mut layouts = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let layout = match (layout_of(item), &map) {
                (Some(l), _) => Some(l),
                (None, Some(m)) => {
                    let name = item.to_string(ctx)?;
                    layout_of(&m.get(name, ctx)?)
                }
                (None, None) => None,
            };
            layouts.push(
                layout.ok_or_else(|| {
                    type_error(format!("pipe(): array item #{i} is not a pipeline"))
                })?,
            );
        }
        let chain = match init {
            Some(init) => pipy_filters::chain::ChainTemplate::start_with(layouts, "pipe", init),
            None => pipy_filters::chain::ChainTemplate::start(layouts, "pipe"),
        };
        return super::append(this, Rc::new(chain));
    }
    let resolve: pipy_filters::pipe::Resolve = Rc::new(move |v: &JsValue| {
        if v.is_null_or_undefined() {
            return Ok(None);
        }
        if let Some(layout) = layout_of(v) {
            return Ok(Some(layout));
        }
        if v.as_object().is_some_and(|o| o.is_array()) {
            return Err("arrays of pipelines are not supported yet".into());
        }
        pipy_js::with_js(|ctx| {
            let name = v
                .to_string(ctx)
                .map(|s| s.to_std_string_escaped())
                .map_err(|e| e.to_string())?;
            let entry = match &map {
                Some(m) => m
                    .get(js_string!(name.as_str()), ctx)
                    .map_err(|e| e.to_string())?,
                None => JsValue::undefined(),
            };
            match layout_of(&entry) {
                Some(l) => Ok(Some(l)),
                None if entry.is_undefined() => Err(format!("pipeline '{name}' not found")),
                None => Err(format!("map entry '{name}' is not a pipeline")),
            }
        })
    });
    let target = pipy_filters::Callback::new(target, "pipe");
    super::append(
        this,
        Rc::new(pipy_filters::pipe::PipeTemplate::new(target, resolve, init)),
    )
}

/// `swap(hub)` (see `pipy_filters::swap`).
pub(super) fn m_swap(this: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<()> {
    let hub = args.first().cloned().unwrap_or_default();
    if !(hub.is_callable() || pipy_js::api::hub::hub_of(&hub).is_some()) {
        return Err(type_error(
            "swap(): argument #1 expects a Hub or a function",
        ));
    }
    super::append(
        this,
        Rc::new(pipy_filters::swap::SwapTemplate(
            pipy_filters::Callback::new(hub, "swap"),
        )),
    )
}

/// `pipeNext()`: the next pipeline of the chain `pipe([...])` started, or on
/// to `pipe`'s output after the last.
pub(super) fn m_pipe_next(this: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<()> {
    super::append(
        this,
        Rc::new(pipy_filters::chain::ChainTemplate::next_named("pipeNext")),
    )
}

/// `pipy.inbound` and `pipy.outbound`: this thread's open connections
/// (`count`), and for inbound ones `forEach(f)` with each `__inbound`.
fn connections(ctx: &mut Context) -> JsResult<(JsObject, JsObject)> {
    let count_in = NativeFunction::from_fn_ptr(|_, _, _| {
        Ok(JsValue::from(
            crate::listener::open_connections().len() as u32
        ))
    })
    .to_js_function(ctx.realm());
    let for_each = NativeFunction::from_fn_ptr(|_, args, ctx| {
        let f = args
            .first()
            .and_then(|f| f.as_callable())
            .ok_or_else(|| type_error("pipy.inbound.forEach(): expects a function"))?;
        for c in crate::listener::open_connections() {
            let ib = pipy_js::vars::inbound_value(&c, ctx)?;
            f.call(&JsValue::undefined(), &[ib], ctx)?;
        }
        Ok(JsValue::undefined())
    });
    let inbound = ObjectInitializer::new(ctx)
        .accessor(
            js_string!("count"),
            Some(count_in),
            None,
            Attribute::CONFIGURABLE,
        )
        .function(for_each, js_string!("forEach"), 1)
        .build();
    let count_out = NativeFunction::from_fn_ptr(|_, _, _| {
        Ok(JsValue::from(crate::outbound::open_count() as u32))
    })
    .to_js_function(ctx.realm());
    let outbound = ObjectInitializer::new(ctx)
        .accessor(
            js_string!("count"),
            Some(count_out),
            None,
            Attribute::CONFIGURABLE,
        )
        .build();
    Ok((inbound, outbound))
}

/// Installs `pipeline` and `pipy.listen`.
pub(crate) fn install(ctx: &mut Context) -> JsResult<()> {
    let f = NativeFunction::from_fn_ptr(pipeline).to_js_function(ctx.realm());
    // `pipeline.Hub`, as upstream's (the class comes from pipy_js).
    pipy_js::api::class_onto::<pipy_js::api::hub::HubObject>(&f, ctx)?;
    ctx.register_global_property(js_string!("pipeline"), f, Attribute::all())?;
    let pipy = ctx.global_object().get(js_string!("pipy"), ctx)?;
    if let Some(pipy) = pipy.as_object() {
        let f = NativeFunction::from_fn_ptr(listen).to_js_function(ctx.realm());
        pipy.set(js_string!("listen"), f, false, ctx)?;
        let (inbound, outbound) = connections(ctx)?;
        pipy.set(js_string!("inbound"), inbound, false, ctx)?;
        pipy.set(js_string!("outbound"), outbound, false, ctx)?;
    }
    Ok(())
}
