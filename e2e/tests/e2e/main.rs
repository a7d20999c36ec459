//! End-to-end tests: real `pipy` repos and workers as processes on 127.0.0.1, and the
//! Helm chart and Kubernetes examples checked without a cluster (`chart`).

mod chart;
mod logs;
mod program;
mod repo;
mod tls;
