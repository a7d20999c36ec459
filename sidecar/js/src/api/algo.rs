//! `algo`: `hash`, `uuid`, and the native classes `URLRouter` and the load
//! balancers; `Cache` is completed in the prelude on top of this object.

use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute;
use boa_engine::{js_string, Context, JsResult, JsValue, NativeFunction};
use std::hash::{Hash, Hasher};

/// A stable hash of a script value (objects by their display form), kept within
/// the integers a JS number holds exactly.
pub fn hash_value(v: &JsValue, ctx: &mut Context) -> JsResult<u64> {
    let text = if v.is_object() {
        v.display().to_string()
    } else {
        v.to_string(ctx)?.to_std_string_escaped()
    };
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    Ok(h.finish() & ((1 << 53) - 1))
}

fn hash(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let v = args.first().cloned().unwrap_or_default();
    Ok(JsValue::from(hash_value(&v, ctx)? as f64))
}

fn uuid(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    Ok(js_string!(uuid::Uuid::new_v4().to_string()).into())
}

/// `__pipy_duration_ms(value)` for the prelude's `algo.Cache` (removed from the
/// global object once read): a number of seconds or text with a unit, through
/// the one unit parser (`pipy_core::units`), in milliseconds; a malformed value
/// throws.
fn duration_ms(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let v = args.first().cloned().unwrap_or_default();
    if let Some(n) = v.as_number() {
        return Ok(JsValue::from(n * 1000.0));
    }
    let s = v.to_string(ctx)?.to_std_string_escaped();
    pipy_core::units::parse_duration(&s)
        .map(|d| JsValue::from(d.as_secs_f64() * 1000.0))
        .map_err(|e| boa_engine::JsNativeError::typ().with_message(e).into())
}

/// Installs `algo` with its native members.
pub fn install(ctx: &mut Context) -> JsResult<()> {
    let algo = ObjectInitializer::new(ctx)
        .function(NativeFunction::from_fn_ptr(hash), js_string!("hash"), 1)
        .function(NativeFunction::from_fn_ptr(uuid), js_string!("uuid"), 0)
        .build();
    super::class_onto::<super::url_router::UrlRouter>(&algo, ctx)?;
    super::class_onto::<super::load_balancer::RoundRobinLoadBalancer>(&algo, ctx)?;
    super::class_onto::<super::load_balancer::LeastWorkLoadBalancer>(&algo, ctx)?;
    super::class_onto::<super::load_balancer::HashingLoadBalancer>(&algo, ctx)?;
    super::class_onto::<super::quota::QuotaObject>(&algo, ctx)?;
    super::class_onto::<super::algo_load_balancer::AlgoLoadBalancer>(&algo, ctx)?;
    // Made by allocate() only; on `algo` as the reference lists it.
    super::class_onto::<super::algo_load_balancer::PoolResource>(&algo, ctx)?;
    // Resources are made by next(); the class needs registering, not a global.
    ctx.register_global_class::<super::load_balancer::Resource>()?;
    ctx.global_object()
        .delete_property_or_throw(js_string!("LoadBalancerResource"), ctx)?;
    ctx.register_global_property(js_string!("algo"), algo, Attribute::all())?;
    let f = NativeFunction::from_fn_ptr(duration_ms).to_js_function(ctx.realm());
    ctx.register_global_property(js_string!("__pipy_duration_ms"), f, Attribute::all())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::testing::run;

    #[test]
    fn cache_ttl_goes_through_the_unit_parser() {
        assert_eq!(
            run("var c = new algo.Cache(null, null, { ttl: '100ms' }); c.set('k', 1); [c.get('k'), typeof __pipy_duration_ms].join()"),
            "1,undefined"
        );
        assert!(run("new algo.Cache(null, null, { ttl: '10x' })").contains("'10x'"));
    }
}
