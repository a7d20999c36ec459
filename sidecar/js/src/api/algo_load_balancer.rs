//! `algo.LoadBalancer`: targets of any kind, each with a pool of resources,
//! chosen by weighted round robin or least load.
//!
//! As upstream 1.5.18 (its source; the reference lists the members only):
//! `new algo.LoadBalancer(targets, { algorithm, key, weight, capacity })`
//! with `algorithm` `'round-robin'` (default) or `'least-load'`, `key(target)`
//! naming a target (the target itself by default), `weight(target)` (1 by
//! default; 0 never chosen) and `capacity` (a number or a function of the
//! target; 0, the default, for no limit). Targets wait in a queue ordered by
//! load; each choice adds `total weight / weight` to the chosen one's load,
//! so heavier targets come round more often. `allocate(tag, validator)`
//! gives a resource `{ target, free() }` of the target whose key is `tag`,
//! else of the next target the `validator` accepts; a target's resources are
//! reused once free, or shared (least loaded first) when `capacity` of them
//! are out. With `'least-load'` a freed resource takes its load back off the
//! target. `schedule(n, validator)` lists the next `n` choices (and counts
//! them as made, as upstream does). `provision(targets)` replaces the
//! targets, keeping the pools and loads of the keys that stay.
//!
//! Differs from upstream: freeing a resource twice takes its load off once.
//! A pool keeps its resources (as many as were ever out at once).

use crate::gc::SweepSafe;
use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::builtins::JsArray;
use boa_engine::property::Attribute;
use boa_engine::{
    js_string, Context, JsData, JsNativeError, JsObject, JsResult, JsValue, NativeFunction,
};
use boa_gc::{Finalize, Trace};
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Algorithm {
    RoundRobin,
    LeastLoad,
}

/// A target's identity: primitives by value, objects by identity.
#[derive(Clone, PartialEq)]
enum Key {
    Text(String),
    Number(f64),
    Bool(bool),
    Object(JsObject),
    Nothing,
}

fn key_of(v: &JsValue) -> Key {
    if let Some(s) = v.as_string() {
        Key::Text(s.to_std_string_escaped())
    } else if let Some(n) = v.as_number() {
        Key::Number(n)
    } else if let Some(b) = v.as_boolean() {
        Key::Bool(b)
    } else if let Some(o) = v.as_object() {
        Key::Object(o.clone())
    } else {
        Key::Nothing
    }
}

struct ResourceState {
    load: Cell<u32>,
    pool: Weak<Pool>,
}

struct Pool {
    key: Key,
    target: JsValue,
    weight: Cell<f64>,
    capacity: Cell<i32>,
    step: Cell<f64>,
    load: Cell<f64>,
    /// Resources, least loaded first, with the script object each is (a
    /// reused resource is the same object again, as upstream).
    resources: RefCell<Vec<(Rc<ResourceState>, JsObject)>>,
    balancer: Weak<State>,
}

struct State {
    algorithm: Algorithm,
    key_f: Option<JsValue>,
    weight_f: Option<JsValue>,
    capacity: JsValue,
    /// Pools in the order of the targets given.
    pools: RefCell<Vec<Rc<Pool>>>,
    /// Pools by load, lowest first; ties keep their order.
    queue: RefCell<Vec<Rc<Pool>>>,
}

/// Moves `queue[i]` past every later pool whose load is not higher.
fn sort_forward(queue: &mut Vec<Rc<Pool>>, i: usize) {
    let load = queue[i].load.get();
    let mut j = i + 1;
    while j < queue.len() && queue[j].load.get() <= load {
        j += 1;
    }
    let p = queue.remove(i);
    queue.insert(j - 1, p);
}

/// Moves `queue[i]` before every earlier pool whose load is higher.
fn sort_backward(queue: &mut Vec<Rc<Pool>>, i: usize) {
    let load = queue[i].load.get();
    let mut j = i;
    while j > 0 && queue[j - 1].load.get() > load {
        j -= 1;
    }
    let p = queue.remove(i);
    queue.insert(j, p);
}

fn position(queue: &[Rc<Pool>], p: &Rc<Pool>) -> Option<usize> {
    queue.iter().position(|q| Rc::ptr_eq(q, p))
}

impl State {
    fn provision(self: &Rc<Self>, targets: Option<JsObject>, ctx: &mut Context) -> JsResult<()> {
        let mut pools = Vec::new();
        let mut queue: Vec<Rc<Pool>> = Vec::new();
        if let Some(targets) = targets {
            let a = JsArray::from_object(targets)?;
            let old = self.pools.borrow().clone();
            for i in 0..a.length(ctx)? {
                let target = a.get(i, ctx)?;
                let key = match &self.key_f {
                    Some(f) => call(f, &target, ctx)?,
                    None => target.clone(),
                };
                let key = key_of(&key);
                let pool = match old.iter().find(|p| p.key == key) {
                    Some(p) => p.clone(),
                    None => Rc::new(Pool {
                        key,
                        target: target.clone(),
                        weight: Cell::new(1.0),
                        capacity: Cell::new(0),
                        step: Cell::new(0.0),
                        load: Cell::new(0.0),
                        resources: RefCell::new(Vec::new()),
                        balancer: Rc::downgrade(self),
                    }),
                };
                queue.insert(0, pool.clone());
                sort_forward(&mut queue, 0);
                let weight = match &self.weight_f {
                    Some(f) => call(f, &target, ctx)?,
                    None => JsValue::undefined(),
                };
                let capacity = if self.capacity.is_callable() {
                    call(&self.capacity, &target, ctx)?
                } else {
                    self.capacity.clone()
                };
                let w = if weight.is_undefined() {
                    1.0
                } else {
                    weight.to_number(ctx)?
                };
                pool.weight.set(if w.is_nan() { 0.0 } else { w.max(0.0) });
                pool.capacity.set(if capacity.is_undefined() {
                    0
                } else {
                    capacity.to_i32(ctx)?
                });
                pools.push(pool);
            }
        }
        let total: f64 = pools.iter().map(|p| p.weight.get()).sum();
        for p in &pools {
            p.step.set(total / p.weight.get());
        }
        if self.algorithm == Algorithm::RoundRobin {
            for p in &pools {
                p.load.set(0.0);
            }
            for p in &pools {
                p.load.set(p.step.get());
                if let Some(i) = position(&queue, p) {
                    sort_forward(&mut queue, i);
                }
            }
        }
        *self.pools.borrow_mut() = pools;
        *self.queue.borrow_mut() = queue;
        Ok(())
    }

    /// The next pool the validator accepts, its load counted.
    fn next(&self, validator: Option<&JsValue>, ctx: &mut Context) -> JsResult<Option<Rc<Pool>>> {
        let candidates = self.queue.borrow().clone();
        for p in candidates {
            if p.weight.get() <= 0.0 {
                continue;
            }
            if let Some(v) = validator {
                if !call(v, &p.target, ctx)?.to_boolean() {
                    continue;
                }
            }
            p.load.set(p.load.get() + p.step.get());
            let mut q = self.queue.borrow_mut();
            if let Some(i) = position(&q, &p) {
                sort_forward(&mut q, i);
            }
            return Ok(Some(p));
        }
        Ok(None)
    }
}

fn call(f: &JsValue, arg: &JsValue, ctx: &mut Context) -> JsResult<JsValue> {
    match f.as_callable() {
        Some(f) => f.call(&JsValue::undefined(), std::slice::from_ref(arg), ctx),
        None => Ok(f.clone()),
    }
}

impl Pool {
    /// A resource of this pool: a free one, or a new one while under
    /// capacity, or else the least loaded.
    fn allocate(self: &Rc<Self>, ctx: &mut Context) -> JsResult<JsObject> {
        let head = self.resources.borrow().first().cloned();
        let cap = self.capacity.get();
        let len = self.resources.borrow().len();
        let (r, obj) = match head {
            Some((r, o)) if !(r.load.get() > 0 && (cap <= 0 || cap as usize > len)) => (r, o),
            _ => {
                let r = Rc::new(ResourceState {
                    load: Cell::new(0),
                    pool: Rc::downgrade(self),
                });
                let o = PoolResource::from_data(
                    PoolResource {
                        state: r.clone(),
                        target: SweepSafe::new(self.target.clone()),
                    },
                    ctx,
                )?;
                self.resources
                    .borrow_mut()
                    .insert(0, (r.clone(), o.clone()));
                (r, o)
            }
        };
        r.load.set(r.load.get() + 1);
        // Keep the list least loaded first: past every one not more loaded.
        let mut list = self.resources.borrow_mut();
        if let Some(i) = list.iter().position(|(x, _)| Rc::ptr_eq(x, &r)) {
            let load = r.load.get();
            let mut j = i + 1;
            while j < list.len() && list[j].0.load.get() <= load {
                j += 1;
            }
            let e = list.remove(i);
            list.insert(j - 1, e);
        }
        Ok(obj)
    }
}

impl ResourceState {
    fn free(self: &Rc<Self>) {
        let Some(pool) = self.pool.upgrade() else {
            return;
        };
        if self.load.get() == 0 {
            return;
        }
        if let Some(lb) = pool.balancer.upgrade() {
            if lb.algorithm == Algorithm::LeastLoad {
                pool.load.set(pool.load.get() - pool.step.get());
                let mut q = lb.queue.borrow_mut();
                if let Some(i) = position(&q, &pool) {
                    sort_backward(&mut q, i);
                }
            }
        }
        self.load.set(self.load.get() - 1);
        let mut list = pool.resources.borrow_mut();
        if let Some(i) = list.iter().position(|(x, _)| Rc::ptr_eq(x, self)) {
            let load = self.load.get();
            let mut j = i;
            while j > 0 && list[j - 1].0.load.get() > load {
                j -= 1;
            }
            let w = list.remove(i);
            list.insert(j, w);
        }
    }
}

/// The script object of `algo.LoadBalancer`.
#[derive(Trace, Finalize, JsData)]
pub struct AlgoLoadBalancer {
    #[unsafe_ignore_trace]
    state: SweepSafe<Rc<State>>,
}

/// A resource handed out by `allocate`.
#[derive(Trace, Finalize, JsData)]
pub struct PoolResource {
    #[unsafe_ignore_trace]
    state: Rc<ResourceState>,
    #[unsafe_ignore_trace]
    target: SweepSafe<JsValue>,
}

fn this_state(this: &JsValue) -> JsResult<Rc<State>> {
    this.as_object()
        .and_then(|o| {
            o.downcast_ref::<AlgoLoadBalancer>()
                .map(|b| Rc::clone(&b.state))
        })
        .ok_or_else(|| {
            JsNativeError::typ()
                .with_message("not an algo.LoadBalancer")
                .into()
        })
}

fn array_arg(v: Option<&JsValue>, what: &str) -> JsResult<Option<JsObject>> {
    match v {
        None => Ok(None),
        Some(v) if v.is_null_or_undefined() => Ok(None),
        Some(v) => match v.as_object().filter(|o| o.is_array()) {
            Some(o) => Ok(Some(o.clone())),
            None => Err(JsNativeError::typ()
                .with_message(format!(
                    "algo.LoadBalancer: {what} expects an array of targets"
                ))
                .into()),
        },
    }
}

fn validator_arg(v: Option<&JsValue>) -> Option<JsValue> {
    v.filter(|v| v.is_callable()).cloned()
}

impl Class for AlgoLoadBalancer {
    const NAME: &'static str = "LoadBalancer";
    const LENGTH: usize = 2;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let targets = array_arg(args.first(), "targets")?;
        let mut algorithm = Algorithm::RoundRobin;
        let (mut key_f, mut weight_f, mut capacity) = (None, None, JsValue::undefined());
        if let Some(o) = args.get(1).and_then(|v| v.as_object()) {
            let a = o.get(js_string!("algorithm"), ctx)?;
            if !a.is_null_or_undefined() {
                algorithm = match a.to_string(ctx)?.to_std_string_escaped().as_str() {
                    "round-robin" => Algorithm::RoundRobin,
                    "least-load" => Algorithm::LeastLoad,
                    other => {
                        return Err(JsNativeError::typ()
                            .with_message(format!(
                                "algo.LoadBalancer: unknown algorithm '{other}' (expects 'round-robin' or 'least-load')"
                            ))
                            .into())
                    }
                };
            }
            key_f = Some(o.get(js_string!("key"), ctx)?).filter(|v| v.is_callable());
            weight_f = Some(o.get(js_string!("weight"), ctx)?).filter(|v| v.is_callable());
            capacity = o.get(js_string!("capacity"), ctx)?;
        }
        let state = Rc::new(State {
            algorithm,
            key_f,
            weight_f,
            capacity,
            pools: RefCell::new(Vec::new()),
            queue: RefCell::new(Vec::new()),
        });
        state.provision(targets, ctx)?;
        Ok(AlgoLoadBalancer {
            state: SweepSafe::new(state),
        })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        class.method(
            js_string!("provision"),
            1,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                let targets = array_arg(args.first(), "provision()")?;
                this_state(this)?.provision(targets, ctx)?;
                Ok(JsValue::undefined())
            }),
        );
        class.method(
            js_string!("schedule"),
            1,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                let state = this_state(this)?;
                let n = args.first().cloned().unwrap_or_default().to_i32(ctx)?;
                if n < 0 {
                    return Ok(JsValue::undefined());
                }
                let validator = validator_arg(args.get(1));
                let out = JsArray::new(ctx)?;
                for _ in 0..n {
                    let t = state
                        .next(validator.as_ref(), ctx)?
                        .map(|p| p.target.clone())
                        .unwrap_or_default();
                    out.push(t, ctx)?;
                }
                Ok(out.into())
            }),
        );
        class.method(
            js_string!("allocate"),
            0,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                let state = this_state(this)?;
                let tag = args.first().cloned().unwrap_or_default();
                let validator = validator_arg(args.get(1));
                let mut chosen = None;
                if !tag.is_null_or_undefined() {
                    let key = key_of(&tag);
                    let pool = state.pools.borrow().iter().find(|p| p.key == key).cloned();
                    if let Some(p) = pool {
                        let ok = match &validator {
                            Some(v) => call(v, &p.target, ctx)?.to_boolean(),
                            None => true,
                        };
                        if ok {
                            chosen = Some(p);
                        }
                    }
                }
                if chosen.is_none() {
                    chosen = state.next(validator.as_ref(), ctx)?;
                }
                let Some(pool) = chosen else {
                    return Ok(JsValue::null());
                };
                Ok(pool.allocate(ctx)?.into())
            }),
        );
        Ok(())
    }
}

impl Class for PoolResource {
    const NAME: &'static str = "LoadBalancerResource";

    fn data_constructor(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<Self> {
        Err(JsNativeError::typ()
            .with_message("resources come from a LoadBalancer's allocate()")
            .into())
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        let target = NativeFunction::from_fn_ptr(|this, _, _| {
            Ok(this
                .as_object()
                .and_then(|o| {
                    o.downcast_ref::<PoolResource>()
                        .map(|r| (*r.target).clone())
                })
                .unwrap_or_default())
        })
        .to_js_function(class.context().realm());
        class.accessor(
            js_string!("target"),
            Some(target),
            None,
            Attribute::ENUMERABLE | Attribute::CONFIGURABLE,
        );
        class.method(
            js_string!("free"),
            0,
            NativeFunction::from_fn_ptr(|this, _, _| {
                if let Some(o) = this.as_object() {
                    if let Some(r) = o.downcast_ref::<PoolResource>() {
                        r.state.free();
                    }
                }
                Ok(JsValue::undefined())
            }),
        );
        Ok(())
    }
}
