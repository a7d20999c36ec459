//! End-to-end tests: real `pipy` repos and workers as processes on 127.0.0.1.

mod logs;
mod program;
mod repo;
mod tls;
