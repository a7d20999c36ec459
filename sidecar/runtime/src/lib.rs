//! pipy-runtime: turns a codebase into running workers.
//!
//! - [`config`]: the Configuration builder behind `pipy().xxx()`, which parses
//!   script arguments and appends filter templates to layouts.
//! - [`worker`]: worker threads, each with its own current-thread tokio runtime,
//!   Boa engine and layouts; listeners shared with SO_REUSEPORT; graceful drain.

pub mod config;
mod listener;
pub mod options;
pub mod stats;
pub mod worker;

pub use worker::{run, Control, RunOptions};
