//! `algo.RoundRobinLoadBalancer`, `algo.LeastWorkLoadBalancer`,
//! `algo.HashingLoadBalancer`.
//!
//! Targets are kept sorted by id. `next(borrower?, tag?, unhealthy?)` hands out a
//! resource `{ id, free() }`; a borrower (by default the current inbound
//! connection) gets the same resource back while it holds it, so requests of one
//! connection stick to one target. Targets for which the `unhealthy` cache holds
//! a truthy value are skipped.

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::property::Attribute;
use boa_engine::{
    js_string, Context, JsData, JsNativeError, JsObject, JsResult, JsValue, NativeFunction,
};
use boa_gc::{Finalize, Trace};
use std::cell::Cell;

/// Which balancing rule.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Weighted round robin.
    RoundRobin,
    /// Fewest resources in use per weight.
    LeastWork,
    /// A target chosen by the hash of the tag.
    Hashing,
}

struct Target {
    id: String,
    weight: f64,
    hits: f64,
    load: usize,
}

#[derive(PartialEq, Eq, Hash)]
enum Borrower {
    Inbound(u64),
    Object(JsObject),
    Text(String),
}

/// Most borrowers remembered at once; the oldest are forgotten beyond this.
const STICKY_LIMIT: usize = 10_000;

/// The Rust side of a load balancer.
#[derive(Trace, Finalize, JsData)]
pub struct LoadBalancer {
    #[unsafe_ignore_trace]
    rule: Rule,
    #[unsafe_ignore_trace]
    targets: Vec<Target>,
    unhealthy: JsValue,
    // Resources are kept alive by this map until their borrower is forgotten. Held in
    // Rust inside a script object, so not dropped during a sweep (see `crate::gc`).
    #[unsafe_ignore_trace]
    sticky: crate::gc::SweepSafe<foldhash::HashMap<Borrower, JsObject>>,
    #[unsafe_ignore_trace]
    rotation: u64,
}

/// A target handed out by a load balancer.
#[derive(Trace, Finalize, JsData)]
pub struct Resource {
    #[unsafe_ignore_trace]
    id: String,
    lb: JsObject,
    #[unsafe_ignore_trace]
    freed: Cell<bool>,
}

impl Class for Resource {
    const NAME: &'static str = "LoadBalancerResource";

    fn data_constructor(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<Self> {
        Err(JsNativeError::typ()
            .with_message("resources come from a load balancer's next()")
            .into())
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        let id = NativeFunction::from_fn_ptr(|this, _, _| {
            let r = this
                .as_object()
                .and_then(|o| o.downcast_ref::<Resource>().map(|r| r.id.clone()));
            Ok(r.map(|s| js_string!(s).into()).unwrap_or_default())
        })
        .to_js_function(class.context().realm());
        class.accessor(
            js_string!("id"),
            Some(id),
            None,
            Attribute::ENUMERABLE | Attribute::CONFIGURABLE,
        );
        class.method(
            js_string!("free"),
            0,
            NativeFunction::from_fn_ptr(|this, _, _| {
                let Some(o) = this.as_object() else {
                    return Ok(JsValue::undefined());
                };
                let Some(r) = o.downcast_ref::<Resource>() else {
                    return Ok(JsValue::undefined());
                };
                if !r.freed.replace(true) {
                    if let Some(mut lb) = r.lb.downcast_mut::<LoadBalancer>() {
                        if let Some(t) = lb.targets.iter_mut().find(|t| t.id == r.id) {
                            t.load = t.load.saturating_sub(1);
                        }
                        lb.sticky.retain(|_, res| !JsObject::equals(res, &o));
                    }
                }
                Ok(JsValue::undefined())
            }),
        );
        Ok(())
    }
}

impl LoadBalancer {
    fn new(rule: Rule, targets: &JsValue, unhealthy: JsValue, ctx: &mut Context) -> JsResult<Self> {
        let mut lb = LoadBalancer {
            rule,
            targets: Vec::new(),
            unhealthy,
            sticky: crate::gc::SweepSafe::new(foldhash::HashMap::default()),
            rotation: 0,
        };
        if let Some(obj) = targets.as_object() {
            if obj.is_array() {
                let n = obj.get(js_string!("length"), ctx)?.to_length(ctx)?;
                for i in 0..n {
                    let id = obj.get(i, ctx)?.to_string(ctx)?.to_std_string_escaped();
                    lb.set(id, 1.0);
                }
            } else {
                for key in obj.own_property_keys(ctx)? {
                    let w = obj.get(key.clone(), ctx)?.to_number(ctx)?;
                    lb.set(key.to_string(), if rule == Rule::Hashing { 1.0 } else { w });
                }
            }
        }
        Ok(lb)
    }

    fn set(&mut self, id: String, weight: f64) {
        match self.targets.binary_search_by(|t| t.id.as_str().cmp(&id)) {
            Ok(i) => self.targets[i].weight = weight,
            Err(i) => self.targets.insert(
                i,
                Target {
                    id,
                    weight,
                    hits: 0.0,
                    load: 0,
                },
            ),
        }
    }

    /// Picks a target among `eligible` (indices into `targets`).
    fn select(&mut self, eligible: &[usize], tag: Option<u64>) -> Option<usize> {
        if eligible.is_empty() {
            return None;
        }
        let ratio = |t: &Target, v: f64| v / t.weight;
        match self.rule {
            Rule::RoundRobin => {
                // A full cycle handed out: start counting again.
                if eligible
                    .iter()
                    .all(|&i| self.targets[i].hits >= self.targets[i].weight)
                {
                    for &i in eligible {
                        self.targets[i].hits = 0.0;
                    }
                }
                eligible.iter().copied().min_by(|&a, &b| {
                    let (ta, tb) = (&self.targets[a], &self.targets[b]);
                    ratio(ta, ta.hits).total_cmp(&ratio(tb, tb.hits))
                })
            }
            Rule::LeastWork => eligible.iter().copied().min_by(|&a, &b| {
                let (ta, tb) = (&self.targets[a], &self.targets[b]);
                ratio(ta, ta.load as f64).total_cmp(&ratio(tb, tb.load as f64))
            }),
            Rule::Hashing => {
                let h = tag.unwrap_or_else(|| {
                    self.rotation += 1;
                    self.rotation
                });
                Some(eligible[(h % eligible.len() as u64) as usize])
            }
        }
    }
}

fn borrower_of(args: &[JsValue], ctx: &mut Context) -> JsResult<Option<Borrower>> {
    if args.is_empty() {
        // Default borrower: the inbound connection of the current stream.
        return Ok(crate::vars::current_inbound().map(|i| Borrower::Inbound(i.id)));
    }
    let v = &args[0];
    Ok(if v.is_undefined() || v.is_null() {
        None
    } else if let Some(o) = v.as_object() {
        match crate::vars::inbound_id_of(&o) {
            Some(id) => Some(Borrower::Inbound(id)),
            None => Some(Borrower::Object(o.clone())),
        }
    } else {
        Some(Borrower::Text(v.to_string(ctx)?.to_std_string_escaped()))
    })
}

/// Whether the `unhealthy` cache holds a truthy value for `id`, looked up
/// without allocating an entry (`find`, as upstream; `get` for other objects).
fn is_unhealthy(cache: &JsValue, id: &str, ctx: &mut Context) -> JsResult<bool> {
    let Some(c) = cache.as_object() else {
        return Ok(false);
    };
    let mut get = c.get(js_string!("find"), ctx)?;
    if !get.is_callable() {
        get = c.get(js_string!("get"), ctx)?;
    }
    let Some(get) = get.as_callable() else {
        return Ok(false);
    };
    Ok(get.call(cache, &[js_string!(id).into()], ctx)?.to_boolean())
}

fn this_lb(this: &JsValue) -> JsResult<JsObject> {
    this.as_object()
        .filter(|o| o.is::<LoadBalancer>())
        .ok_or_else(|| {
            JsNativeError::typ()
                .with_message("not a load balancer")
                .into()
        })
}

/// `next(borrower?, tag?, unhealthy?)`.
fn next(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let obj = this_lb(this)?;
    let borrower = borrower_of(args, ctx)?;
    let tag = match args.get(1) {
        Some(v) if !v.is_undefined() && !v.is_null() => Some(super::algo::hash_value(v, ctx)?),
        _ => None,
    };
    let unhealthy = match args.get(2) {
        Some(v) if v.is_object() => v.clone(),
        _ => obj
            .downcast_ref::<LoadBalancer>()
            .map(|l| l.unhealthy.clone())
            .unwrap_or_default(),
    };
    let held = {
        let lb = obj.downcast_ref::<LoadBalancer>().expect("checked above");
        borrower.as_ref().and_then(|b| lb.sticky.get(b).cloned())
    };
    let eligible = if unhealthy.is_object() {
        // The cache is script code that may change the targets: ask it
        // about a copy of their ids.
        let ids = obj
            .downcast_ref::<LoadBalancer>()
            .expect("checked above")
            .targets
            .iter()
            .map(|t| (t.id.clone(), t.weight))
            .collect::<Vec<_>>();
        let mut eligible = Vec::with_capacity(ids.len());
        for (i, (id, w)) in ids.iter().enumerate() {
            if *w > 0.0 && !is_unhealthy(&unhealthy, id, ctx)? {
                eligible.push(i);
            }
        }
        eligible
    } else {
        let lb = obj.downcast_ref::<LoadBalancer>().expect("checked above");
        (0..lb.targets.len())
            .filter(|&i| lb.targets[i].weight > 0.0)
            .collect()
    };
    if let Some(res) = held {
        let ok = res.downcast_ref::<Resource>().is_some_and(|r| {
            let lb = obj.downcast_ref::<LoadBalancer>().expect("checked above");
            !r.freed.get()
                && eligible
                    .iter()
                    .any(|&i| lb.targets.get(i).is_some_and(|t| t.id == r.id))
        });
        if ok {
            return Ok(res.into());
        }
    }
    let chosen = {
        let mut lb = obj.downcast_mut::<LoadBalancer>().expect("checked above");
        // Upstream answers null when no target is eligible (none, or all unhealthy).
        let Some(i) = lb.select(&eligible, tag) else {
            return Ok(JsValue::null());
        };
        let t = &mut lb.targets[i];
        t.hits += 1.0;
        t.load += 1;
        t.id.clone()
    };
    let res = Resource::from_data(
        Resource {
            id: chosen,
            lb: obj.clone(),
            freed: Cell::new(false),
        },
        ctx,
    )?;
    if let Some(b) = borrower {
        let mut lb = obj.downcast_mut::<LoadBalancer>().expect("checked above");
        if lb.sticky.len() >= STICKY_LIMIT {
            lb.sticky.clear();
        }
        lb.sticky.insert(b, res.clone());
    }
    Ok(res.into())
}

macro_rules! balancer_class {
    ($ty:ident, $name:literal, $rule:expr) => {
        /// A load balancer class as scripts see it.
        #[derive(Trace, Finalize, JsData)]
        pub struct $ty;

        impl Class for $ty {
            const NAME: &'static str = $name;
            const LENGTH: usize = 2;

            fn data_constructor(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<Self> {
                Ok($ty)
            }

            fn construct(
                new_target: &JsValue,
                args: &[JsValue],
                ctx: &mut Context,
            ) -> JsResult<JsObject> {
                if new_target.is_undefined() {
                    return Err(JsNativeError::typ()
                        .with_message(concat!($name, " needs new"))
                        .into());
                }
                let lb = LoadBalancer::new(
                    $rule,
                    &args.first().cloned().unwrap_or_default(),
                    args.get(1).cloned().unwrap_or_default(),
                    ctx,
                )?;
                let proto = ctx
                    .get_global_class::<$ty>()
                    .map(|c| c.prototype())
                    .ok_or_else(|| JsNativeError::typ().with_message("class not registered"))?;
                Ok(JsObject::from_proto_and_data(Some(proto), lb).upcast())
            }

            fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
                init_methods(class)
            }
        }
    };
}

fn set_target(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let obj = this_lb(this)?;
    let id = args
        .first()
        .cloned()
        .unwrap_or_default()
        .to_string(ctx)?
        .to_std_string_escaped();
    let weight = match args.get(1) {
        Some(v) if !v.is_undefined() => v.to_number(ctx)?,
        _ => 1.0,
    };
    if let Some(mut lb) = obj.downcast_mut::<LoadBalancer>() {
        lb.set(id, weight);
    }
    Ok(JsValue::undefined())
}

fn init_methods(class: &mut ClassBuilder<'_>) -> JsResult<()> {
    class
        .method(js_string!("next"), 3, NativeFunction::from_fn_ptr(next))
        .method(js_string!("borrow"), 3, NativeFunction::from_fn_ptr(next))
        .method(
            js_string!("select"),
            1,
            // `select(key?, unhealthy?)`: a target's id, undefined when none is
            // eligible (upstream leaves the result unset there).
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                let tag = args.first().cloned().unwrap_or_default();
                let unhealthy = args.get(1).cloned().unwrap_or_default();
                let r = next(this, &[JsValue::undefined(), tag, unhealthy], ctx)?;
                match r.as_object() {
                    Some(o) => o.get(js_string!("id"), ctx),
                    None => Ok(JsValue::undefined()),
                }
            }),
        )
        // `set(target, weight)`; `add(target)` is `set` with weight 1.
        .method(
            js_string!("set"),
            2,
            NativeFunction::from_fn_ptr(set_target),
        )
        .method(
            js_string!("add"),
            1,
            NativeFunction::from_fn_ptr(set_target),
        );
    Ok(())
}

balancer_class!(
    RoundRobinLoadBalancer,
    "RoundRobinLoadBalancer",
    Rule::RoundRobin
);
balancer_class!(
    LeastWorkLoadBalancer,
    "LeastWorkLoadBalancer",
    Rule::LeastWork
);
balancer_class!(HashingLoadBalancer, "HashingLoadBalancer", Rule::Hashing);

#[cfg(test)]
mod tests {
    use crate::testing::run;

    #[test]
    fn no_eligible_target_is_null() {
        for class in [
            "RoundRobinLoadBalancer",
            "LeastWorkLoadBalancer",
            "HashingLoadBalancer",
        ] {
            let src = format!(
                "var empty = new algo.{class}([]);
                 var sick = new algo.{class}(['a', 'b'], {{ get: () => true }});
                 var ok = new algo.{class}(['a']);
                 [empty.next(), sick.next(), sick.borrow(), typeof empty.select(),
                  ok.next('x').id, ok.select(1, {{ get: () => true }}),
                  ok.next(null, null, new algo.Cache(() => true)).id].map(String).join()"
            );
            // A cache is asked with `find`: its allocator does not make targets sick.
            assert_eq!(
                run(&src),
                "null,null,null,undefined,a,undefined,a",
                "{class}"
            );
        }
    }
}
