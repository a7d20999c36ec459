//! Integration tests of `pipy-operator`, one binary with a module per area.
//!
//! Golden files live under `operator/tests/golden/`; run with `UPDATE_GOLDEN=1` to
//! rewrite them from the current code, then review the diff.

mod golden;
mod inject_golden;
mod webhook_https;
