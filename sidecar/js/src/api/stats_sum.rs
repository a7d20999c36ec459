//! `stats.sum(names)`: a Promise of the named metrics summed over every
//! thread, as upstream's (its stress sample reports with it). Each is a
//! snapshot object: `name`, `type`, `label` (of a sub-metric), `value` (a
//! number, or a histogram's bucket counts then count and sum), `submetrics()`
//! (one per value of the next label) and, for a histogram, `percentile` with
//! `calculate(p)`. Our registry is shared by the threads, so a snapshot is
//! already their sum.

use crate::convert::define_hidden;
use boa_engine::object::builtins::{JsArray, JsPromise};
use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute;
use boa_engine::{js_string, Context, JsNativeError, JsObject, JsResult, JsValue, NativeFunction};
use pipy_metrics::live::Registry;
use pipy_metrics::{Entry, Node};

/// `stats.sum(names)`.
pub(crate) fn sum(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let names = args.first().cloned().unwrap_or_default();
    let Some(list) = names.as_object().filter(|o| o.is_array()) else {
        return Err(JsNativeError::typ()
            .with_message("stats.sum: argument #1 expects an array of names")
            .into());
    };
    super::stats::collect();
    let data = Registry::global().snapshot();
    let result = ObjectInitializer::new(ctx).build();
    let n = list.get(js_string!("length"), ctx)?.to_length(ctx)?;
    for i in 0..n {
        let name = list.get(i, ctx)?.to_string(ctx)?.to_std_string_escaped();
        if let Some(e) = data.get(&name) {
            let m = snapshot(e, &e.root, None, ctx)?;
            result.set(js_string!(name), m, false, ctx)?;
        }
    }
    Ok(JsPromise::resolve(result, ctx)?.into())
}

/// The short type of a metric (`Histogram` without its buckets).
fn type_name(e: &Entry) -> &str {
    match e.kind.find('[') {
        Some(i) => &e.kind[..i],
        None => &e.kind,
    }
}

fn snapshot(e: &Entry, node: &Node, label: Option<&str>, ctx: &mut Context) -> JsResult<JsObject> {
    let value: JsValue = match node.values.as_slice() {
        [v] => (*v).into(),
        values => JsArray::from_iter(values.iter().map(|v| JsValue::from(*v)), ctx).into(),
    };
    let a = Attribute::READONLY | Attribute::ENUMERABLE;
    let obj = ObjectInitializer::new(ctx)
        .property(js_string!("name"), js_string!(e.name.as_str()), a)
        .property(js_string!("type"), js_string!(type_name(e)), a)
        .property(
            js_string!("label"),
            label.map_or(JsValue::undefined(), |l| js_string!(l).into()),
            a,
        )
        .property(js_string!("value"), value, a)
        .build();
    let mut subs = Vec::with_capacity(node.subs.len());
    for s in &node.subs {
        subs.push(JsValue::from(snapshot(e, s, Some(&s.key), ctx)?));
    }
    let subs = JsArray::from_iter(subs, ctx);
    define_hidden(&obj, "__submetrics", subs, ctx)?;
    let f = NativeFunction::from_fn_ptr(|this, _, ctx| match this.as_object() {
        Some(o) => o.get(js_string!("__submetrics"), ctx),
        None => Ok(JsValue::undefined()),
    })
    .to_js_function(ctx.realm());
    define_hidden(&obj, "submetrics", f, ctx)?;
    if let Some(bounds) = e.buckets() {
        let percentile = percentile(&bounds, &node.values, ctx)?;
        obj.set(js_string!("percentile"), percentile, false, ctx)?;
    }
    Ok(obj)
}

/// `percentile.calculate(p)`: the value under which `p` percent of the
/// samples fall, interpolated within its bucket (upstream's formula).
fn percentile(bounds: &[&str], values: &[f64], ctx: &mut Context) -> JsResult<JsObject> {
    let bounds: Vec<f64> = bounds
        .iter()
        .map(|b| match *b {
            "Inf" | "+Inf" | "Infinity" => f64::INFINITY,
            b => b.parse().unwrap_or(f64::INFINITY),
        })
        .collect();
    let counts = &values[..bounds.len().min(values.len())];
    let obj = ObjectInitializer::new(ctx).build();
    let b = JsArray::from_iter(bounds.iter().map(|v| JsValue::from(*v)), ctx);
    let c = JsArray::from_iter(counts.iter().map(|v| JsValue::from(*v)), ctx);
    define_hidden(&obj, "__bounds", b, ctx)?;
    define_hidden(&obj, "__counts", c, ctx)?;
    let f = NativeFunction::from_fn_ptr(calculate).to_js_function(ctx.realm());
    define_hidden(&obj, "calculate", f, ctx)?;
    Ok(obj)
}

fn numbers(o: &JsObject, key: &str, ctx: &mut Context) -> JsResult<Vec<f64>> {
    let v = o.get(js_string!(key), ctx)?;
    let Some(a) = v.as_object() else {
        return Ok(Vec::new());
    };
    let n = a.get(js_string!("length"), ctx)?.to_length(ctx)?;
    (0..n).map(|i| a.get(i, ctx)?.to_number(ctx)).collect()
}

fn calculate(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let Some(o) = this.as_object() else {
        return Ok(JsValue::undefined());
    };
    let p = args.first().cloned().unwrap_or_default().to_number(ctx)?;
    let bounds = numbers(&o, "__bounds", ctx)?;
    let counts = numbers(&o, "__counts", ctx)?;
    Ok(at_percentile(&bounds, &counts, p).into())
}

fn at_percentile(bounds: &[f64], counts: &[f64], p: f64) -> f64 {
    if p <= 0.0 {
        return 0.0;
    }
    let samples: f64 = counts.iter().sum();
    let wanted = (samples * p / 100.0).floor();
    let mut seen = 0.0;
    for (i, (&bound, &count)) in bounds.iter().zip(counts).enumerate() {
        seen += count;
        if seen >= wanted && count > 0.0 {
            let last = if i > 0 { bounds[i - 1] } else { 0.0 };
            return bound - (bound - last) * (seen - wanted) / count;
        }
    }
    f64::INFINITY
}

#[cfg(test)]
mod tests {
    use super::at_percentile;

    #[test]
    fn percentiles_interpolate_within_buckets() {
        let bounds = [1.0, 2.0, 4.0, f64::INFINITY];
        let counts = [50.0, 30.0, 20.0, 0.0];
        assert_eq!(at_percentile(&bounds, &counts, 50.0), 1.0);
        assert_eq!(at_percentile(&bounds, &counts, 65.0), 1.5);
        assert_eq!(at_percentile(&bounds, &counts, 90.0), 3.0);
        assert_eq!(at_percentile(&bounds, &counts, 0.0), 0.0);
    }
}
