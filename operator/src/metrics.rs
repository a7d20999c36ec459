//! The operator's own metrics (reconciles, failures, durations) and its probe
//! endpoints, served on `--metrics-addr`: `GET /metrics` (OpenMetrics text),
//! `/healthz` (the process serves) and `/readyz` (the caches are in sync).

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response, StatusCode};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

/// The label of per-outcome metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// The error's kind, such as `kube` or `invalid`.
    pub kind: String,
}

/// Counters and histograms of the controller, and readiness.
pub struct Metrics {
    registry: Registry,
    /// Reconciles run.
    pub reconciles: Counter,
    /// Reconciles that failed, by kind.
    pub failures: Family<ErrorLabels, Counter>,
    /// How long reconciles took, in seconds.
    pub duration: Histogram,
    ready: AtomicBool,
    draining: AtomicBool,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("pipy_operator");
        let reconciles = Counter::default();
        let failures = Family::<ErrorLabels, Counter>::default();
        let duration = Histogram::new([
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ]);
        registry.register("reconciles", "Codebase reconciles run", reconciles.clone());
        registry.register(
            "reconcile_failures",
            "Codebase reconciles that failed",
            failures.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "How long Codebase reconciles took",
            duration.clone(),
        );
        Self {
            registry,
            reconciles,
            failures,
            duration,
            ready: AtomicBool::new(false),
            draining: AtomicBool::new(false),
        }
    }
}

/// Times one reconcile; records its duration when dropped.
pub struct ReconcileTimer<'a> {
    metrics: &'a Metrics,
    start: Instant,
}

impl Drop for ReconcileTimer<'_> {
    fn drop(&mut self) {
        self.metrics
            .duration
            .observe(self.start.elapsed().as_secs_f64());
    }
}

impl Metrics {
    /// Counts a reconcile and times it until the guard drops.
    pub fn reconcile(&self) -> ReconcileTimer<'_> {
        self.reconciles.inc();
        ReconcileTimer {
            metrics: self,
            start: Instant::now(),
        }
    }

    /// Counts a failed reconcile.
    pub fn failure(&self, kind: &str) {
        self.failures
            .get_or_create(&ErrorLabels {
                kind: kind.to_string(),
            })
            .inc();
    }

    /// Marks the operator ready (its caches are in sync).
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::SeqCst);
    }

    /// Marks the operator as stopping: `/readyz` fails from now on, so that endpoints
    /// drop this replica while it still serves.
    pub fn set_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// Everything as OpenMetrics text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    fn route(&self, req: &Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
        let (status, body) = match (req.method().as_str(), req.uri().path()) {
            ("GET", "/metrics") => (StatusCode::OK, self.render()),
            ("GET", "/healthz") => (StatusCode::OK, "ok\n".to_string()),
            ("GET", "/readyz") if self.draining.load(Ordering::SeqCst) => {
                (StatusCode::SERVICE_UNAVAILABLE, "stopping\n".to_string())
            }
            ("GET", "/readyz") if self.ready.load(Ordering::SeqCst) => {
                (StatusCode::OK, "ready\n".to_string())
            }
            ("GET", "/readyz") => (
                StatusCode::SERVICE_UNAVAILABLE,
                "caches not in sync yet\n".to_string(),
            ),
            ("GET", _) => (StatusCode::NOT_FOUND, String::new()),
            _ => (StatusCode::METHOD_NOT_ALLOWED, String::new()),
        };
        let mut res = Response::new(Full::new(Bytes::from(body)));
        *res.status_mut() = status;
        let content_type = if req.uri().path() == "/metrics" {
            "application/openmetrics-text; version=1.0.0; charset=utf-8"
        } else {
            "text/plain"
        };
        res.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static(content_type),
        );
        res
    }
}

/// Serves `/metrics`, `/healthz` and `/readyz` on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let res = metrics.route(&req);
                async move { Ok::<_, std::convert::Infallible>(res) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconciles_failures_and_durations_are_counted() {
        let m = Metrics::default();
        {
            let _t = m.reconcile();
        }
        m.failure("kube");
        let text = m.render();
        assert!(text.contains("pipy_operator_reconciles_total 1"), "{text}");
        assert!(
            text.contains(r#"pipy_operator_reconcile_failures_total{kind="kube"} 1"#),
            "{text}"
        );
        assert!(
            text.contains("pipy_operator_reconcile_duration_seconds_count 1"),
            "{text}"
        );
    }
}
