//! Global API objects, one file per entry of the API reference.
//!
//! Native classes live in Rust; a few value classes whose work is plain logic
//! (URL parsing helpers, load balancers, caches) are written in the JS prelude
//! (`prelude.js`), which runs once per engine.

pub mod algo;
pub mod algo_load_balancer;
pub mod console;
pub mod crypto;
pub mod data;
pub mod dns;
pub mod head;
pub mod hessian;
pub mod http;
pub mod hub;
pub mod int;
pub mod load_balancer;
pub mod message;
pub mod netmask;
pub mod os;
pub mod os_path;
pub mod pipy;
pub mod pipy_exec;
pub mod protobuf;
pub mod quota;
pub mod sqlite;
pub mod stats;
mod stats_sum;
pub mod timeout;
pub mod tty;
pub mod url;
pub mod url_router;
pub mod xml;
pub mod yaml;

use boa_engine::{Context, JsResult, Source};

const PRELUDE: &str = include_str!("prelude.js");

/// Registers native class `C` and moves its constructor from the global
/// object onto `target` (`algo.Cache`, `stats.Gauge`, `logging.TextLogger`).
pub fn class_onto<C: boa_engine::class::Class>(
    target: &boa_engine::JsObject,
    ctx: &mut Context,
) -> JsResult<()> {
    use boa_engine::js_string;
    ctx.register_global_class::<C>()?;
    let global = ctx.global_object();
    let ctor = global.get(js_string!(C::NAME), ctx)?;
    global.delete_property_or_throw(js_string!(C::NAME), ctx)?;
    target.set(js_string!(C::NAME), ctor, false, ctx)?;
    Ok(())
}

/// Installs every global of PipyJS into a fresh engine.
pub fn install(ctx: &mut Context) -> JsResult<()> {
    ctx.register_global_class::<data::DataObject>()?;
    ctx.register_global_class::<head::HeadObject>()?;
    ctx.global_object()
        .delete_property_or_throw(boa_engine::js_string!("HttpHead"), ctx)?;
    ctx.register_global_class::<message::MessageObject>()?;
    ctx.register_global_class::<message::MessageStartObject>()?;
    ctx.register_global_class::<message::MessageEndObject>()?;
    ctx.register_global_class::<message::StreamEndObject>()?;
    ctx.register_global_class::<netmask::Netmask>()?;
    ctx.register_global_class::<timeout::Timeout>()?;
    console::install(ctx)?;
    os::install(ctx)?;
    pipy::install(ctx)?;
    crypto::install(ctx)?;
    algo::install(ctx)?;
    stats::install(ctx)?;
    url::install(ctx)?;
    http::install(ctx)?;
    xml::install(ctx)?;
    yaml::install(ctx)?;
    hessian::install(ctx)?;
    protobuf::install(ctx)?;
    sqlite::install(ctx)?;
    dns::install(ctx)?;
    crate::vars::install_builtins(ctx)?;
    ctx.eval(Source::from_bytes(PRELUDE))?;
    Ok(())
}
