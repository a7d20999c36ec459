//! pipy-runtime: turns a codebase into running workers.
//!
//! - [`config`]: the Configuration builder behind `pipy().xxx()`, which parses
//!   script arguments and appends filter templates to layouts.
//! - [`worker`]: worker threads, each with its own current-thread tokio runtime,
//!   Boa engine and layouts; listeners shared with SO_REUSEPORT; graceful drain.
//! - [`graph`]: the pipeline graph of each module, for status reports.
//! - [`dry_run()`]: loads a codebase as a worker would, opening no port (the
//!   operator validates codebases with it).

pub mod admin_pipelines;
pub mod config;
mod dry_run;
mod file_reader;
pub mod graph;
mod http_agent;
mod listener;
pub mod logging;
pub mod options;
mod outbound;
mod socket;
pub mod stats;
pub mod support;
mod udp;
pub mod worker;

pub use dry_run::{dry_run, dry_run_files, dry_run_within, graph_of_script, DRY_RUN_TIMEOUT};
pub use worker::{run, Control, RunOptions};
