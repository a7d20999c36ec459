//! pipy-js: the PipyJS host on Boa.
//!
//! Each worker thread owns one Boa [`boa_engine::Context`], reached through
//! [`with_js`]. The host provides:
//! - the global API objects scripts use (`Data`, `Message`, `MessageStart`,
//!   `MessageEnd`, `StreamEnd`, `URL`, `URLSearchParams`, `algo`, `crypto`, `os`,
//!   `console`, `JSON.encode/decode`, `pipy.load/solve/exit/restart`), one file per
//!   entry under [`api`];
//! - modules ([`module`]): a file whose value is a Configuration, evaluated so
//!   that the context variables declared with `pipy({...})` read like globals but
//!   resolve to the *current* pipeline's context ([`vars`]);
//! - conversions between engine events and JS values ([`convert`]);
//! - [`call`] to run a script callback inside a pipeline's context.

pub mod api;
pub mod busy;
pub mod codebase;
pub mod convert;
mod error;
pub mod gc;
mod host;
pub mod module;
pub mod overlay;
pub mod promise;
pub mod statement;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
pub mod vars;

pub use error::{script_location, ScriptError};
pub use host::{call, end_thread, engine_generation, init_thread, try_with_js, with_js, HostHooks};
