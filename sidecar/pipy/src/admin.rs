//! The admin port of a worker or a script run (`--admin-port`): `/metrics` as
//! Prometheus (OpenMetrics) text, `/status` as JSON, and `/readyz`: `200` once the
//! codebase's first version loaded, `503` before (a sidecar's readiness probe); and
//! the paths of the script's `admin(path)` pipelines, answered by them. (In repo
//! mode the admin port is the repo itself.)

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

/// Most bytes of a request body for an `admin(path)` pipeline.
const MAX_ADMIN_BODY: usize = 1 << 20;

/// A request for a path of an `admin(path)` pipeline goes to worker 0.
async fn to_pipeline(
    req: Request<hyper::body::Incoming>,
    tx: tokio::sync::mpsc::Sender<pipy_runtime::admin_pipelines::AdminRequest>,
) -> Response<Full<Bytes>> {
    use http_body_util::BodyExt;
    let (parts, body) = req.into_parts();
    let body = match http_body_util::Limited::new(body, MAX_ADMIN_BODY)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => return reply(StatusCode::PAYLOAD_TOO_LARGE, "text/plain", String::new()),
    };
    let head = pipy_core::RequestHead {
        method: parts.method.to_string(),
        path: parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "/".into()),
        headers: pipy_runtime::admin_pipelines::header_map(parts.headers.iter().map(|(n, v)| {
            (
                Bytes::copy_from_slice(n.as_str().as_bytes()),
                Bytes::copy_from_slice(v.as_bytes()),
            )
        })),
        ..Default::default()
    };
    let (reply_tx, reply_rx) = tokio::sync::oneshot::channel();
    let sent = tx.send(pipy_runtime::admin_pipelines::AdminRequest {
        head,
        body,
        reply: reply_tx,
    });
    if sent.await.is_err() {
        return reply(StatusCode::SERVICE_UNAVAILABLE, "text/plain", String::new());
    }
    let limit = pipy_runtime::admin_pipelines::ANSWER_TIMEOUT + std::time::Duration::from_secs(1);
    let Ok(Ok((status, fields, body))) = tokio::time::timeout(limit, reply_rx).await else {
        return reply(StatusCode::GATEWAY_TIMEOUT, "text/plain", String::new());
    };
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    for (n, v) in fields {
        if let (Ok(n), Ok(v)) = (
            hyper::header::HeaderName::from_bytes(&n),
            hyper::header::HeaderValue::from_bytes(&v),
        ) {
            if n != hyper::header::CONTENT_LENGTH && n != hyper::header::TRANSFER_ENCODING {
                r.headers_mut().append(n, v);
            }
        }
    }
    r
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
                            let pipeline = pipy_runtime::admin_pipelines::route(req.uri().path());
                            let direct = pipeline.is_none().then(|| route(&req, &status, &ready));
                            async move {
                                let r = match (direct, pipeline) {
                                    (Some(r), _) => r,
                                    (None, Some(tx)) => to_pipeline(req, tx).await,
                                    (None, None) => {
                                        reply(StatusCode::NOT_FOUND, "text/plain", String::new())
                                    }
                                };
                                Ok::<_, std::convert::Infallible>(r)
                            }
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
