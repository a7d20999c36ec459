//! `stats`: the metric classes `stats.Counter`, `stats.Gauge` and
//! `stats.Histogram` of the upstream API reference.
//!
//! A metric object is a series of the process-wide registry
//! ([`pipy_metrics::live::Registry::global`]): every worker thread's engine
//! that creates the same name gets the same metric, and creating it again
//! after a reload keeps its values. `withLabels(...)` returns the series one
//! or more label levels down.

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::builtins::JsFunction;
use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute;
use boa_engine::{
    js_string, Context, JsData, JsNativeError, JsObject, JsResult, JsValue, NativeFunction,
};
use boa_gc::{Finalize, Trace};
use pipy_metrics::live::{Handle, Kind, Registry};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A script-visible metric class: a series handle in a JS object.
trait MetricClass: Class + Sized {
    fn handle(&self) -> &Handle;
    fn wrap(handle: Handle) -> Self;
}

fn arg(args: &[JsValue], i: usize) -> JsValue {
    args.get(i).cloned().unwrap_or_default()
}

fn string_list(v: &JsValue, what: &str, ctx: &mut Context) -> JsResult<Vec<String>> {
    if v.is_undefined() || v.is_null() {
        return Ok(Vec::new());
    }
    let Some(o) = v.as_object().filter(|o| o.is_array()) else {
        return Err(JsNativeError::typ()
            .with_message(format!("{what} must be an array"))
            .into());
    };
    let n = o.get(js_string!("length"), ctx)?.to_length(ctx)?;
    (0..n)
        .map(|i| Ok(o.get(i, ctx)?.to_string(ctx)?.to_std_string_escaped()))
        .collect()
}

fn number_list(v: &JsValue, ctx: &mut Context) -> JsResult<Vec<f64>> {
    let Some(o) = v.as_object().filter(|o| o.is_array()) else {
        return Err(JsNativeError::typ()
            .with_message("buckets must be an array of numbers")
            .into());
    };
    let n = o.get(js_string!("length"), ctx)?.to_length(ctx)?;
    (0..n).map(|i| o.get(i, ctx)?.to_number(ctx)).collect()
}

fn define(name: &JsValue, kind: Kind, labels: &JsValue, ctx: &mut Context) -> JsResult<Handle> {
    let name = name.to_string(ctx)?.to_std_string_escaped();
    let labels = string_list(labels, "label names", ctx)?;
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    Ok(Registry::global().metric(&name, kind, &labels))
}

/// The handle behind `this`, if it is a `T`.
fn this_handle<T: MetricClass>(this: &JsValue) -> JsResult<Handle> {
    this.as_object()
        .and_then(|o| o.downcast_ref::<T>().map(|m| m.handle().clone()))
        .ok_or_else(|| {
            JsNativeError::typ()
                .with_message(format!("not a {}", T::NAME))
                .into()
        })
}

/// `n` from an optional number argument, 1 by default.
fn amount(args: &[JsValue], ctx: &mut Context) -> JsResult<f64> {
    match args.first() {
        None => Ok(1.0),
        Some(v) if v.is_undefined() => Ok(1.0),
        Some(v) => v.to_number(ctx),
    }
}

fn with_labels<T: MetricClass>(
    this: &JsValue,
    args: &[JsValue],
    ctx: &mut Context,
) -> JsResult<JsValue> {
    let h = this_handle::<T>(this)?;
    let values = args
        .iter()
        .map(|v| Ok(v.to_string(ctx)?.to_std_string_escaped()))
        .collect::<JsResult<Vec<_>>>()?;
    let values: Vec<&str> = values.iter().map(String::as_str).collect();
    match h.with_labels(&values) {
        Some(sub) => Ok(T::from_data(T::wrap(sub), ctx)?.into()),
        None => Ok(JsValue::undefined()),
    }
}

/// The members every metric class has: `name`, `withLabels()`, `clear()`, `zero()`.
fn common<T: MetricClass>(class: &mut ClassBuilder<'_>) {
    let name = NativeFunction::from_fn_ptr(|this, _, _| {
        Ok(js_string!(this_handle::<T>(this)?.name()).into())
    })
    .to_js_function(class.context().realm());
    class
        .accessor(
            js_string!("name"),
            Some(name),
            None,
            Attribute::CONFIGURABLE,
        )
        .method(
            js_string!("withLabels"),
            0,
            NativeFunction::from_fn_ptr(with_labels::<T>),
        )
        .method(
            js_string!("clear"),
            0,
            NativeFunction::from_fn_ptr(|this, _, _| {
                this_handle::<T>(this)?.clear();
                Ok(JsValue::undefined())
            }),
        )
        .method(
            js_string!("zero"),
            0,
            NativeFunction::from_fn_ptr(|this, _, _| {
                this_handle::<T>(this)?.zero();
                Ok(JsValue::undefined())
            }),
        );
}

/// Adds `sign * n` (n defaulting to 1) to a counter or gauge.
fn add<T: MetricClass, const NEGATIVE: bool>(
    this: &JsValue,
    args: &[JsValue],
    ctx: &mut Context,
) -> JsResult<JsValue> {
    let h = this_handle::<T>(this)?;
    let n = amount(args, ctx)?;
    h.add(if NEGATIVE { -n } else { n });
    Ok(JsValue::undefined())
}

/// `new stats.Counter(name, labelNames?)`.
#[derive(Trace, Finalize, JsData)]
pub struct Counter(#[unsafe_ignore_trace] Handle);

/// `new stats.Gauge(name, labelNames?)`.
#[derive(Trace, Finalize, JsData)]
pub struct Gauge(#[unsafe_ignore_trace] Handle);

/// `new stats.Histogram(name, buckets, labelNames?)`.
#[derive(Trace, Finalize, JsData)]
pub struct Histogram(#[unsafe_ignore_trace] Handle);

macro_rules! metric_class {
    ($ty:ident) => {
        impl MetricClass for $ty {
            fn handle(&self) -> &Handle {
                &self.0
            }
            fn wrap(handle: Handle) -> Self {
                $ty(handle)
            }
        }
    };
}
metric_class!(Counter);
metric_class!(Gauge);
metric_class!(Histogram);

impl Class for Counter {
    const NAME: &'static str = "Counter";
    const LENGTH: usize = 2;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        Ok(Counter(define(
            &arg(args, 0),
            Kind::Counter,
            &arg(args, 1),
            ctx,
        )?))
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        common::<Self>(class);
        class
            .method(
                js_string!("increase"),
                1,
                NativeFunction::from_fn_ptr(add::<Self, false>),
            )
            // Upstream lets a counter go down; a Prometheus counter only goes
            // up (or resets), so here `decrease` leaves it as it is.
            .method(
                js_string!("decrease"),
                1,
                NativeFunction::from_fn_ptr(|this, _, _| {
                    this_handle::<Counter>(this)?;
                    tracing::debug!("stats.Counter.decrease(): a counter only goes up");
                    Ok(JsValue::undefined())
                }),
            );
        Ok(())
    }
}

thread_local! {
    /// `new stats.Gauge(name, labels, onCollect)`'s callbacks of this thread's
    /// engine, with their gauges.
    static ON_COLLECT: std::cell::RefCell<Vec<(JsObject, JsFunction)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Gauges with a collection callback, on every thread.
static CALLBACKS: AtomicUsize = AtomicUsize::new(0);

/// Whether any engine has a gauge with a collection callback.
pub fn has_collect_callbacks() -> bool {
    CALLBACKS.load(Ordering::Relaxed) > 0
}

/// Forgets this thread's callbacks (its engine is being replaced).
pub(crate) fn reset_thread() {
    let n = ON_COLLECT.with(|c| std::mem::take(&mut *c.borrow_mut()).len());
    CALLBACKS.fetch_sub(n, Ordering::Relaxed);
}

/// Runs this thread's gauge callbacks, each with its gauge, as upstream does
/// before its metrics are read; a callback that throws is logged.
pub fn collect() {
    let callbacks = ON_COLLECT.with(|c| c.borrow().clone());
    if callbacks.is_empty() {
        return;
    }
    crate::with_js(|ctx| {
        for (gauge, f) in callbacks {
            if let Err(e) = f.call(&JsValue::undefined(), &[gauge.into()], ctx) {
                tracing::error!("stats.Gauge collection callback: {e}");
            }
        }
        let _ = ctx.run_jobs();
    });
}

impl Class for Gauge {
    const NAME: &'static str = "Gauge";
    const LENGTH: usize = 2;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let on_collect = arg(args, 2);
        if !on_collect.is_null_or_undefined() && !on_collect.is_callable() {
            return Err(JsNativeError::typ()
                .with_message("stats.Gauge(): argument #3 expects a function")
                .into());
        }
        Ok(Gauge(define(
            &arg(args, 0),
            Kind::Gauge,
            &arg(args, 1),
            ctx,
        )?))
    }

    fn object_constructor(
        instance: &JsObject<Self>,
        args: &[JsValue],
        _: &mut Context,
    ) -> JsResult<()> {
        if let Some(f) = arg(args, 2).as_callable().and_then(JsFunction::from_object) {
            // One callback per gauge name on a thread: a gauge made again
            // (per request, say) replaces the earlier one, not adds to it.
            let name = instance.borrow().data().0.name().to_owned();
            let gauge: JsObject = instance.clone().upcast();
            ON_COLLECT.with(|c| {
                let mut c = c.borrow_mut();
                let same = c.iter().position(|(g, _)| {
                    g.downcast_ref::<Gauge>()
                        .is_some_and(|g| g.0.name() == name)
                });
                match same {
                    Some(i) => c[i] = (gauge, f),
                    None => {
                        c.push((gauge, f));
                        CALLBACKS.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        Ok(())
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        common::<Self>(class);
        class
            .method(
                js_string!("increase"),
                1,
                NativeFunction::from_fn_ptr(add::<Self, false>),
            )
            .method(
                js_string!("decrease"),
                1,
                NativeFunction::from_fn_ptr(add::<Self, true>),
            )
            .method(
                js_string!("set"),
                1,
                NativeFunction::from_fn_ptr(|this, args, ctx| {
                    let h = this_handle::<Gauge>(this)?;
                    h.set(arg(args, 0).to_number(ctx)?);
                    Ok(JsValue::undefined())
                }),
            );
        Ok(())
    }
}

impl Class for Histogram {
    const NAME: &'static str = "Histogram";
    const LENGTH: usize = 3;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let buckets = number_list(&arg(args, 1), ctx)?;
        if buckets.is_empty() {
            return Err(JsNativeError::range()
                .with_message("a histogram needs at least one bucket")
                .into());
        }
        let kind = Kind::Histogram(buckets);
        Ok(Histogram(define(&arg(args, 0), kind, &arg(args, 2), ctx)?))
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        common::<Self>(class);
        class.method(
            js_string!("observe"),
            1,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                let h = this_handle::<Histogram>(this)?;
                h.observe(arg(args, 0).to_number(ctx)?);
                Ok(JsValue::undefined())
            }),
        );
        Ok(())
    }
}

/// Installs the global `stats`.
pub fn install(ctx: &mut Context) -> JsResult<()> {
    let stats = ObjectInitializer::new(ctx).build();
    super::class_onto::<Counter>(&stats, ctx)?;
    super::class_onto::<Gauge>(&stats, ctx)?;
    super::class_onto::<Histogram>(&stats, ctx)?;
    let sum = NativeFunction::from_fn_ptr(super::stats_sum::sum).to_js_function(ctx.realm());
    stats.set(js_string!("sum"), sum, false, ctx)?;
    ctx.register_global_property(js_string!("stats"), stats, Attribute::all())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use boa_engine::{Context, Source};
    use pipy_metrics::live::Registry;

    #[test]
    fn scripts_count_into_the_process_registry() {
        let mut ctx = Context::default();
        super::install(&mut ctx).unwrap();
        let src = r#"
            var c = new stats.Counter('js_test_requests', ['path']);
            c.withLabels('/a').increase();
            c.withLabels('/a').increase(2);
            c.withLabels('/b').increase();
            c.withLabels('/a').decrease(10);
            var g = new stats.Gauge('js_test_gauge');
            g.set(5); g.decrease(); g.increase(0.5);
            var h = new stats.Histogram('js_test_hist', [1, 10, Infinity]);
            h.observe(3);
            [c.name, c.withLabels('/a').withLabels('x') === undefined].join()
        "#;
        let v = ctx.eval(Source::from_bytes(src)).unwrap();
        assert_eq!(v.display().to_string(), "\"js_test_requests,true\"");
        // A second engine (another worker thread, or a reload) adds to the same metric.
        let mut ctx2 = Context::default();
        super::install(&mut ctx2).unwrap();
        ctx2.eval(Source::from_bytes(
            "new stats.Counter('js_test_requests', ['path']).withLabels('/b').increase()",
        ))
        .unwrap();
        let data = Registry::global().snapshot();
        let c = data.get("js_test_requests").unwrap();
        assert_eq!(c.root.values, vec![5.0]);
        assert_eq!(c.root.sub("/b").unwrap().values, vec![2.0]);
        assert_eq!(data.get("js_test_gauge").unwrap().root.values, vec![4.5]);
        let h = data.get("js_test_hist").unwrap();
        assert_eq!(h.root.values, vec![0.0, 1.0, 0.0, 1.0, 3.0]);
    }
}
