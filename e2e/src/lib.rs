//! Helpers for tests that run the real `pipy` binary: starting processes, waiting for
//! their ports, a small independent HTTP/1 client, and test certificates.
//!
//! The binary is the one `cargo test --workspace` (or `make test`) builds next to the
//! test executables (`target/<profile>/pipy`), or the one `PIPY_BIN` names. The tests
//! of this crate (`tests/e2e/`) start whole repos and workers; `pipy`'s own tests use
//! the same helpers.

mod harness;
mod kube;
mod repo;
mod tls;

pub use harness::*;
pub use kube::*;
pub use repo::*;
pub use tls::*;
