//! The shared helpers of process-level tests live in the `pipy-e2e` crate.

pub use pipy_e2e::*;
