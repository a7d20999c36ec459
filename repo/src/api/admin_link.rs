//! The admin link (spec §5.4): a WebSocket a worker opens on `/repo/CB/UUID`,
//! over which the repo tells it to `reload` after a publish of its codebase.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use http::{header, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::{lock, RepoState};

/// Open admin links by instance uuid.
pub(super) type Links = HashMap<String, mpsc::UnboundedSender<String>>;

/// Whether a request asks for a WebSocket.
pub(super) fn is_upgrade(req: &Request<Incoming>) -> bool {
    let has = |name: header::HeaderName, token: &str| {
        req.headers()
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    has(header::UPGRADE, "websocket") && has(header::CONNECTION, "upgrade")
}

/// Answers the upgrade with `101` and serves the link on its own task. The last
/// path segment is the instance's uuid.
pub(super) fn accept(
    state: Arc<RepoState>,
    path: &str,
    mut req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let Some(key) = req.headers().get(header::SEC_WEBSOCKET_KEY).cloned() else {
        return super::reply::bare(StatusCode::BAD_REQUEST);
    };
    let uuid = path.rsplit('/').next().unwrap_or("").to_string();
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let io = hyper_util::rt::TokioIo::new(upgraded);
        let ws = WebSocketStream::from_raw_socket(io, Role::Server, None).await;
        run(state, uuid, ws).await;
    });
    let mut res = Response::new(Full::new(Bytes::new()));
    *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = res.headers_mut();
    h.insert(
        header::UPGRADE,
        header::HeaderValue::from_static("websocket"),
    );
    h.insert(
        header::CONNECTION,
        header::HeaderValue::from_static("Upgrade"),
    );
    if let Ok(v) = header::HeaderValue::from_str(&derive_accept_key(key.as_bytes())) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    h.insert(
        header::SERVER,
        header::HeaderValue::from_static("pipy-repo"),
    );
    res
}

async fn run<S>(state: Arc<RepoState>, uuid: String, ws: WebSocketStream<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut tx, mut rx) = ws.split();
    let (send, mut commands) = mpsc::unbounded_channel::<String>();
    let mut registered = false;
    loop {
        tokio::select! {
            msg = rx.next() => match msg {
                // The link counts from the worker's first message (an empty frame).
                Some(Ok(Message::Text(_) | Message::Binary(_))) if !registered => {
                    lock(&state.links).insert(uuid.clone(), send.clone());
                    registered = true;
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
            cmd = commands.recv() => match cmd {
                Some(c) => {
                    if tx.send(Message::text(c)).await.is_err() {
                        break;
                    }
                }
                None => break,
            },
        }
    }
    if registered {
        let mut links = lock(&state.links);
        if links.get(&uuid).is_some_and(|s| s.same_channel(&send)) {
            links.remove(&uuid);
        }
    }
}

/// Sends `reload` to every linked instance of these codebases.
pub(super) fn push_reloads(state: &RepoState, codebases: &[String]) {
    let uuids = lock(&state.instances).uuids_of(codebases);
    let links = lock(&state.links);
    for uuid in uuids {
        if let Some(link) = links.get(&uuid) {
            let _ = link.send("reload".to_string());
        }
    }
}
