//! pipy-filters: one file per filter (or tight family), named as scripts spell it.
//!
//! Each file holds a template (what `pipy().xxx(...)` appends to a layout, with
//! its parsed arguments) and the filter it creates per pipeline. Templates know
//! nothing of the Configuration builder; the builder in `pipy-runtime` parses
//! script arguments into the `new` functions here.

pub mod branch;
pub mod chain;
pub mod connect;
pub mod demux;
pub mod demux_http;
pub mod dump;
pub mod handle;
pub mod http_codec;
mod http_reply;
pub mod mux;
pub mod mux_http;
pub mod replace;
pub mod serve_http;
mod slot;
mod util;

pub use slot::SubLayout;
pub use util::Callback;
