//! Context variables: per-pipeline state that reads like globals in a module.
//!
//! Each module is evaluated inside `with (scope) { ... }` where `scope` carries an
//! accessor property per declared variable. The accessors read and write the slot
//! of the *current* pipeline context (set by [`enter`] around every callback), so
//! the same closure sees different values in different streams.

use boa_engine::object::builtins::JsFunction;
use boa_engine::property::PropertyDescriptor;
use boa_engine::{js_string, Context, JsNativeError, JsObject, JsResult, JsValue, NativeFunction};
use boa_gc::{Finalize, Trace};
use pipy_core::ScriptState;
use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;

/// Declared variables of one module.
#[derive(Default)]
struct ModuleVars {
    names: Vec<String>,
    defaults: Vec<JsValue>,
    /// Whether a default is a plain value even when callable (a statement
    /// module's `var $f = function ...`), not an initialiser called per
    /// context (`pipy({ _x: () => ... })`).
    plain: Vec<bool>,
    /// (namespace, name) exported, with the slot holding it.
    exports: Vec<(String, String, usize)>,
}

thread_local! {
    static MODULES: RefCell<Vec<ModuleVars>> = const { RefCell::new(Vec::new()) };
    static CURRENT: RefCell<Option<Rc<pipy_core::Context>>> = const { RefCell::new(None) };
    static GLOBAL: RefCell<Option<Rc<pipy_core::Context>>> = const { RefCell::new(None) };
}

/// Forgets every module of this thread (a new engine starts).
pub(crate) fn reset_thread() {
    MODULES.with(|m| m.borrow_mut().clear());
    CURRENT.with(|c| *c.borrow_mut() = None);
    GLOBAL.with(|g| *g.borrow_mut() = None);
    INBOUND_OBJECTS.with(|m| m.borrow_mut().clear());
}

/// Forgets the variables of released modules (see `module::release`): their
/// defaults, and their values in the context used outside any pipeline.
pub(crate) fn release(ids: &[usize]) {
    MODULES.with(|m| {
        let mut m = m.borrow_mut();
        for id in ids {
            if let Some(vars) = m.get_mut(*id) {
                *vars = ModuleVars::default();
            }
        }
    });
    let global = GLOBAL.with(|g| g.borrow().clone());
    if let Some(global) = global {
        with_vars(&global, |v| {
            v.modules.borrow_mut().retain(|(id, _)| !ids.contains(id))
        });
    }
}

/// Registers a module and returns its id.
pub(crate) fn new_module() -> usize {
    MODULES.with(|m| {
        let mut m = m.borrow_mut();
        m.push(ModuleVars::default());
        m.len() - 1
    })
}

/// Runs `f` with `ctx` as the current pipeline context.
pub fn enter<R>(ctx: &Rc<pipy_core::Context>, f: impl FnOnce() -> R) -> R {
    let prev = CURRENT.with(|c| c.replace(Some(ctx.clone())));
    let r = f();
    CURRENT.with(|c| *c.borrow_mut() = prev);
    r
}

fn current() -> Rc<pipy_core::Context> {
    if let Some(c) = CURRENT.with(|c| c.borrow().clone()) {
        return c;
    }
    GLOBAL.with(|g| {
        g.borrow_mut()
            .get_or_insert_with(|| pipy_core::Context::new(None))
            .clone()
    })
}

/// Values of every module's variables in one pipeline context, by module id. A short
/// list rather than a vector indexed by id: ids grow with every reload, while a
/// context only ever touches the few modules of its version.
#[derive(Clone, Default)]
pub struct ContextVars {
    modules: RefCell<Vec<(usize, Vec<JsValue>)>>,
}

impl ContextVars {
    fn with_slots<R>(&self, module: usize, f: impl FnOnce(Option<&mut Vec<JsValue>>) -> R) -> R {
        let mut mods = self.modules.borrow_mut();
        f(mods
            .iter_mut()
            .find(|(id, _)| *id == module)
            .map(|(_, s)| s))
    }
}

impl ScriptState for ContextVars {
    fn fork(&self) -> Box<dyn ScriptState> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn with_vars<R>(pctx: &pipy_core::Context, f: impl FnOnce(&ContextVars) -> R) -> R {
    let mut s = pctx.script.borrow_mut();
    let state = s.get_or_insert_with(|| Box::new(ContextVars::default()));
    match state.as_any().downcast_ref::<ContextVars>() {
        Some(v) => f(v),
        None => f(&ContextVars::default()),
    }
}

/// Makes sure a module's slots exist in this context, computing initial values.
fn ensure_module(pctx: &pipy_core::Context, module: usize, ctx: &mut Context) -> JsResult<()> {
    let ready = with_vars(pctx, |v| v.with_slots(module, |s| s.is_some()));
    if ready {
        return Ok(());
    }
    let defaults = MODULES.with(|m| {
        m.borrow()
            .get(module)
            .map(|m| m.defaults.clone())
            .unwrap_or_default()
    });
    if defaults.is_empty() {
        return Ok(());
    }
    // Store plain values first so initialiser functions can read their siblings.
    with_vars(pctx, |v| {
        v.modules.borrow_mut().push((module, defaults.clone()))
    });
    let plain = MODULES.with(|m| {
        m.borrow()
            .get(module)
            .map(|m| m.plain.clone())
            .unwrap_or_default()
    });
    for (i, d) in defaults.iter().enumerate() {
        if plain.get(i).copied().unwrap_or(false) {
            continue;
        }
        if let Some(f) = d.as_callable() {
            let value = f.call(&JsValue::undefined(), &[], ctx)?;
            with_vars(pctx, |v| {
                v.with_slots(module, |s| {
                    if let Some(slot) = s.and_then(|s| s.get_mut(i)) {
                        *slot = value;
                    }
                })
            });
        }
    }
    Ok(())
}

fn read(module: usize, slot: usize, ctx: &mut Context) -> JsResult<JsValue> {
    let pctx = current();
    ensure_module(&pctx, module, ctx)?;
    Ok(with_vars(&pctx, |v| {
        v.with_slots(module, |s| s.and_then(|s| s.get(slot)).cloned())
            .unwrap_or_default()
    }))
}

fn write(module: usize, slot: usize, value: JsValue, ctx: &mut Context) -> JsResult<()> {
    // Outside any pipeline (a statement module's body as it loads), a
    // `var $x` written is where new contexts start from, at once: a
    // `pipy.fork` further down the body already sees it, as upstream.
    if CURRENT.with(|c| c.borrow().is_none()) {
        MODULES.with(|m| {
            if let Some(mv) = m.borrow_mut().get_mut(module) {
                if mv.plain.get(slot).copied().unwrap_or(false) {
                    if let Some(d) = mv.defaults.get_mut(slot) {
                        *d = value.clone();
                    }
                }
            }
        });
    }
    let pctx = current();
    ensure_module(&pctx, module, ctx)?;
    with_vars(&pctx, |v| {
        v.with_slots(module, |s| {
            if let Some(s) = s.and_then(|s| s.get_mut(slot)) {
                *s = value;
            }
        })
    });
    Ok(())
}

#[derive(Clone, Trace, Finalize)]
struct SlotRef {
    module: usize,
    slot: usize,
}

#[derive(Clone, Trace, Finalize)]
struct ImportRef {
    module: usize,
    #[unsafe_ignore_trace]
    namespace: Rc<str>,
    #[unsafe_ignore_trace]
    name: Rc<str>,
}

/// Something that names a variable's slot: the slot itself, or an import
/// resolved when used.
trait SlotSource: Trace + Clone + 'static {
    fn resolve(&self) -> JsResult<SlotRef>;
}

impl SlotSource for SlotRef {
    fn resolve(&self) -> JsResult<SlotRef> {
        Ok(self.clone())
    }
}

impl SlotSource for ImportRef {
    fn resolve(&self) -> JsResult<SlotRef> {
        resolve_import(self)
    }
}

/// Defines `name` on a module scope as a getter/setter pair over a slot of the
/// current pipeline context.
fn slot_accessors<R: SlotSource>(
    scope: &JsObject,
    name: &str,
    r: R,
    ctx: &mut Context,
) -> JsResult<()> {
    let get = NativeFunction::from_copy_closure_with_captures(
        |_, _, r: &R, ctx| {
            let s = r.resolve()?;
            read(s.module, s.slot, ctx)
        },
        r.clone(),
    )
    .to_js_function(ctx.realm());
    let set = NativeFunction::from_copy_closure_with_captures(
        |_, args, r: &R, ctx| {
            let s = r.resolve()?;
            write(
                s.module,
                s.slot,
                args.first().cloned().unwrap_or_default(),
                ctx,
            )?;
            Ok(JsValue::undefined())
        },
        r,
    )
    .to_js_function(ctx.realm());
    define_accessor(scope, name, get, set, ctx)
}

fn resolve_import(r: &ImportRef) -> JsResult<SlotRef> {
    MODULES.with(|m| {
        for (id, vars) in m.borrow().iter().enumerate() {
            for (ns, name, slot) in &vars.exports {
                if **ns == *r.namespace && **name == *r.name {
                    return Ok(SlotRef {
                        module: id,
                        slot: *slot,
                    });
                }
            }
        }
        Err(JsNativeError::reference()
            .with_message(format!(
                "import of '{}' from namespace '{}': nothing exported under that name",
                r.name, r.namespace
            ))
            .into())
    })
}

fn define_accessor(
    scope: &JsObject,
    name: &str,
    get: JsFunction,
    set: JsFunction,
    ctx: &mut Context,
) -> JsResult<()> {
    let desc = PropertyDescriptor::builder()
        .get(get)
        .set(set)
        .enumerable(true)
        .configurable(true)
        .build();
    scope.define_property_or_throw(js_string!(name), desc, ctx)?;
    Ok(())
}

/// Declares variables of `module` (from `pipy({...})` or `export`) and their
/// accessors on its scope object. Returns the slots, in the object's key order.
pub fn declare(
    module: usize,
    scope: &JsObject,
    vars: &JsObject,
    ctx: &mut Context,
) -> JsResult<Vec<(String, usize)>> {
    let keys = vars.own_property_keys(ctx)?;
    let mut out = Vec::new();
    for key in keys {
        let name = key.to_string();
        let value = vars.get(key, ctx)?;
        let slot = MODULES.with(|m| {
            let mut m = m.borrow_mut();
            let mv = &mut m[module];
            if let Some(i) = mv.names.iter().position(|n| *n == name) {
                mv.defaults[i] = value.clone();
                mv.plain[i] = false;
                i
            } else {
                mv.names.push(name.clone());
                mv.defaults.push(value.clone());
                mv.plain.push(false);
                mv.names.len() - 1
            }
        });
        slot_accessors(scope, &name, SlotRef { module, slot }, ctx)?;
        out.push((name, slot));
    }
    Ok(out)
}

/// Declares a statement module's context variables (`var $name`), undefined
/// until [`capture_defaults`] takes what its body gave them.
pub fn declare_plain(
    module: usize,
    scope: &JsObject,
    names: &[String],
    ctx: &mut Context,
) -> JsResult<()> {
    for name in names {
        let slot = MODULES.with(|m| {
            let mut m = m.borrow_mut();
            let mv = &mut m[module];
            match mv.names.iter().position(|n| n == name) {
                Some(i) => i,
                None => {
                    mv.names.push(name.clone());
                    mv.defaults.push(JsValue::undefined());
                    mv.plain.push(true);
                    mv.names.len() - 1
                }
            }
        });
        slot_accessors(scope, name, SlotRef { module, slot }, ctx)?;
    }
    Ok(())
}

/// After a statement module's body ran (outside any pipeline), the values
/// it left in its context variables become where each new pipeline context
/// starts, as upstream's `var $x = 5` does.
pub fn capture_defaults(module: usize, ctx: &mut Context) -> JsResult<()> {
    let n = MODULES.with(|m| m.borrow().get(module).map_or(0, |m| m.names.len()));
    for slot in 0..n {
        let plain = MODULES.with(|m| m.borrow()[module].plain[slot]);
        if plain {
            let v = read(module, slot, ctx)?;
            MODULES.with(|m| m.borrow_mut()[module].defaults[slot] = v);
        }
    }
    Ok(())
}

/// `export(namespace, {vars})`: declares the variables and publishes them.
pub fn export(
    module: usize,
    scope: &JsObject,
    namespace: &str,
    vars: &JsObject,
    ctx: &mut Context,
) -> JsResult<()> {
    for (name, slot) in declare(module, scope, vars, ctx)? {
        MODULES.with(|m| {
            m.borrow_mut()[module]
                .exports
                .push((namespace.to_string(), name, slot))
        });
    }
    Ok(())
}

/// Registers the context variables of native module `module` (its id from
/// `module::native_module`; `pipy_define_variable`): `(name, namespace,
/// initial value)`, each exported under its namespace when it has one.
/// Slots are in the order given.
pub fn declare_native(module: usize, vars: &[(String, Option<String>, JsValue)]) {
    MODULES.with(|m| {
        let mut m = m.borrow_mut();
        let Some(mv) = m.get_mut(module) else { return };
        *mv = ModuleVars::default();
        for (slot, (name, ns, value)) in vars.iter().enumerate() {
            mv.names.push(name.clone());
            mv.defaults.push(value.clone());
            mv.plain.push(true);
            if let Some(ns) = ns {
                mv.exports.push((ns.clone(), name.clone(), slot));
            }
        }
    });
}

/// A variable's value in a pipeline's context, for native code.
pub fn read_in(
    pctx: &Rc<pipy_core::Context>,
    module: usize,
    slot: usize,
    ctx: &mut Context,
) -> JsResult<JsValue> {
    enter(pctx, || read(module, slot, ctx))
}

/// Sets a variable in a pipeline's context, for native code.
pub fn write_in(
    pctx: &Rc<pipy_core::Context>,
    module: usize,
    slot: usize,
    value: JsValue,
    ctx: &mut Context,
) -> JsResult<()> {
    enter(pctx, || write(module, slot, value, ctx))
}

/// `import({name: namespace})`: names resolved, at first use, to another module's
/// exported variable.
pub fn import(module: usize, scope: &JsObject, spec: &JsObject, ctx: &mut Context) -> JsResult<()> {
    for key in spec.own_property_keys(ctx)? {
        let name = key.to_string();
        let ns = spec.get(key, ctx)?.to_string(ctx)?.to_std_string_escaped();
        let r = ImportRef {
            module,
            namespace: ns.into(),
            name: name.clone().into(),
        };
        slot_accessors(scope, &name, r, ctx)?;
    }
    Ok(())
}

/// Marks the `__inbound` objects the host makes, with the connection id.
#[derive(Trace, Finalize, boa_engine::JsData)]
struct InboundTag(#[unsafe_ignore_trace] u64);

/// Most `__inbound` objects cached at once (one per live connection).
const INBOUND_CACHE_LIMIT: usize = 10_000;

thread_local! {
    // One object per connection, so that scripts may use it as a key.
    static INBOUND_OBJECTS: RefCell<std::collections::HashMap<u64, JsObject>> = RefCell::new(std::collections::HashMap::new());
}

/// The inbound connection of the current pipeline, if any.
pub fn current_inbound() -> Option<pipy_core::Inbound> {
    CURRENT.with(|c| c.borrow().as_ref().and_then(|c| c.inbound))
}

/// The connection id of an `__inbound` object.
pub fn inbound_id_of(o: &JsObject) -> Option<u64> {
    o.downcast_ref::<InboundTag>().map(|t| t.0)
}

/// The `__inbound` object of pipeline context `pctx` (null outside one).
pub fn inbound_value(pctx: &Rc<pipy_core::Context>, ctx: &mut Context) -> JsResult<JsValue> {
    enter(pctx, || inbound_object(ctx))
}

fn inbound_object(ctx: &mut Context) -> JsResult<JsValue> {
    let Some(i) = current_inbound() else {
        return Ok(JsValue::null());
    };
    if let Some(o) = INBOUND_OBJECTS.with(|m| m.borrow().get(&i.id).cloned()) {
        return Ok(o.into());
    }
    let o = JsObject::from_proto_and_data(
        Some(ctx.intrinsics().constructors().object().prototype()),
        InboundTag(i.id),
    );
    let ip = |a: std::net::SocketAddr| match a.ip() {
        std::net::IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(|v4| v4.to_string())
            .unwrap_or_else(|| v6.to_string()),
        std::net::IpAddr::V4(v4) => v4.to_string(),
    };
    // Connection ids outgrow i32.
    o.set(js_string!("id"), JsValue::from(i.id as f64), false, ctx)?;
    o.set(
        js_string!("remoteAddress"),
        js_string!(ip(i.remote).as_str()),
        false,
        ctx,
    )?;
    o.set(
        js_string!("remotePort"),
        JsValue::from(i.remote.port() as i32),
        false,
        ctx,
    )?;
    o.set(
        js_string!("localAddress"),
        js_string!(ip(i.local).as_str()),
        false,
        ctx,
    )?;
    o.set(
        js_string!("localPort"),
        JsValue::from(i.local.port() as i32),
        false,
        ctx,
    )?;
    // As upstream: empty and 0 unless a transparent listener learnt them.
    let (dst_ip, dst_port) = i
        .destination
        .map_or((String::new(), 0), |d| (ip(d), i32::from(d.port())));
    o.set(
        js_string!("destinationAddress"),
        js_string!(dst_ip.as_str()),
        false,
        ctx,
    )?;
    o.set(
        js_string!("destinationPort"),
        JsValue::from(dst_port),
        false,
        ctx,
    )?;
    INBOUND_OBJECTS.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= INBOUND_CACHE_LIMIT {
            m.clear();
        }
        m.insert(i.id, o.clone());
    });
    Ok(o.into())
}

/// A callback and the pipeline context it was given in.
#[derive(Clone, Trace, Finalize)]
struct Bound {
    f: JsObject,
    #[unsafe_ignore_trace]
    pipeline: Rc<pipy_core::Context>,
}

/// `Promise.prototype.then`'s callbacks, bound to the pipeline context
/// current when `then` was called: as upstream's, a callback that runs once
/// a Promise settles (a timer's, say) reads and writes the context
/// variables of the stream that asked, not the module's defaults. Outside
/// any pipeline, or for what is not a function, the value as it is.
fn bind_to_context(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let f = args.first().cloned().unwrap_or_default();
    let (Some(pipeline), Some(obj)) = (CURRENT.with(|c| c.borrow().clone()), f.as_callable())
    else {
        return Ok(f);
    };
    let bound = Bound {
        f: obj.clone(),
        pipeline,
    };
    Ok(NativeFunction::from_copy_closure_with_captures(
        |this, args, b: &Bound, ctx| enter(&b.pipeline, || b.f.call(this, args, ctx)),
        bound,
    )
    .to_js_function(ctx.realm())
    .into())
}

/// Installs the global `__inbound` accessor (the current connection) and
/// the binding of `then` callbacks to their pipeline context.
pub(crate) fn install_builtins(ctx: &mut Context) -> JsResult<()> {
    let bind = NativeFunction::from_fn_ptr(bind_to_context).to_js_function(ctx.realm());
    let then = ctx
        .intrinsics()
        .constructors()
        .promise()
        .prototype()
        .get(js_string!("then"), ctx)?;
    let wrapper = ctx.eval(boa_engine::Source::from_bytes(
        "(original, bind) => function (onFulfilled, onRejected) { \
           return original.call(this, bind(onFulfilled), bind(onRejected)) }",
    ))?;
    let wrapped = wrapper
        .as_callable()
        .ok_or_else(|| JsNativeError::typ().with_message("then wrapper"))?
        .call(&JsValue::undefined(), &[then, bind.into()], ctx)?;
    let desc = PropertyDescriptor::builder()
        .value(wrapped)
        .writable(true)
        .enumerable(false)
        .configurable(true)
        .build();
    ctx.intrinsics()
        .constructors()
        .promise()
        .prototype()
        .define_property_or_throw(js_string!("then"), desc, ctx)?;

    let get =
        NativeFunction::from_fn_ptr(|_, _, ctx| inbound_object(ctx)).to_js_function(ctx.realm());
    let desc = PropertyDescriptor::builder()
        .get(get)
        .enumerable(false)
        .configurable(true)
        .build();
    ctx.global_object()
        .define_property_or_throw(js_string!("__inbound"), desc, ctx)?;
    Ok(())
}
