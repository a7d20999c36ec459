//! The admin port of a worker or a script run (`--admin-port`): `/metrics` as
//! Prometheus (OpenMetrics) text, `/status` as JSON, and `/readyz`: `200` once the
//! codebase's first version loaded, `503` before (a sidecar's readiness probe). (In
//! repo mode the admin port is the repo itself.)

use anyhow::{Context as _, Result};
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;

/// What `/status` shows.
pub(crate) type StatusFn = Arc<dyn Fn() -> serde_json::Value + Send + Sync>;

/// Whether the first version loaded (what `/readyz` tells).
pub(crate) type ReadyFn = Arc<dyn Fn() -> bool + Send + Sync>;

fn reply(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

fn route(
    req: &Request<hyper::body::Incoming>,
    status: &StatusFn,
    ready: &ReadyFn,
) -> Response<Full<Bytes>> {
    if req.method() != hyper::Method::GET {
        return reply(StatusCode::METHOD_NOT_ALLOWED, "text/plain", String::new());
    }
    match req.uri().path() {
        "/metrics" => reply(
            StatusCode::OK,
            pipy_metrics::prometheus::CONTENT_TYPE,
            pipy_runtime::stats::render_prometheus(),
        ),
        "/status" | "/api/v1/status" => {
            reply(StatusCode::OK, "application/json", status().to_string())
        }
        "/readyz" if ready() => reply(StatusCode::OK, "text/plain", "ready\n".into()),
        "/readyz" => reply(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "the codebase is not loaded yet\n".into(),
        ),
        _ => reply(StatusCode::NOT_FOUND, "text/plain", String::new()),
    }
}

/// Binds `addr` and serves the admin port on its own thread until shutdown.
pub(crate) fn spawn(
    addr: SocketAddr,
    status: StatusFn,
    ready: ReadyFn,
    mut shutdown: watch::Receiver<bool>,
) -> Result<()> {
    let listener =
        std::net::TcpListener::bind(addr).with_context(|| format!("admin port {addr}"))?;
    listener.set_nonblocking(true)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("pipy-admin".into())
        .spawn(move || {
            rt.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                loop {
                    let (stream, _) = tokio::select! {
                        r = listener.accept() => match r { Ok(a) => a, Err(_) => continue },
                        _ = shutdown.wait_for(|v| *v) => return,
                    };
                    let (status, ready) = (status.clone(), ready.clone());
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |req| {
                            let r = route(&req, &status, &ready);
                            async move { Ok::<_, std::convert::Infallible>(r) }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            })
        })?;
    tracing::info!(target: "listener", "[listener] Listening on TCP port {} at {} (admin)", addr.port(), addr.ip());
    Ok(())
}
