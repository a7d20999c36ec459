//! End-to-end tests: real `pipy` repos and workers as processes on 127.0.0.1; the Helm
//! chart and Kubernetes examples rendered and checked (`chart`); the operator, the
//! chart and an injected sidecar against a real kube-apiserver (`kube`, with the
//! control plane of `e2e/kube/`); the cluster suite (`cluster`) runs only when
//! `E2E_KUBECONFIG` names a disposable cluster with a kubelet.

mod chart;
mod cluster;
mod kube;
mod logs;
mod program;
mod repo;
mod tls;
