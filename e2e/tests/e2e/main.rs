//! End-to-end tests: real `pipy` repos and workers as processes on 127.0.0.1, and the
//! Helm chart and Kubernetes examples checked without a cluster (`chart`); the cluster
//! suite (`cluster`) runs only when `E2E_KUBECONFIG` names a disposable cluster.

mod chart;
mod cluster;
mod kube;
mod logs;
mod operator;
mod program;
mod repo;
mod tls;
