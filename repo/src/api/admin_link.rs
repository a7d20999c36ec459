//! The admin link (spec §5.4): a WebSocket a worker opens on `/repo/CB/UUID`,
//! over which the repo tells it to `reload` after a publish of its codebase and relays
//! its logs (`logs.rs`). [`upgrade`] answers any WebSocket upgrade of the service.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use http::{header, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use super::reply::Reply;
use super::{lock, logs, RepoState};

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
pub(super) fn accept(state: Arc<RepoState>, path: &str, req: Request<Incoming>) -> Reply {
    let uuid = path.rsplit('/').next().unwrap_or("").to_string();
    upgrade(req, move |ws| run(state, uuid, ws))
}

/// The WebSocket a `101` answer turns a connection into.
pub(super) type Socket = WebSocketStream<TokioIo<Upgraded>>;

/// Answers a WebSocket upgrade with `101` (a request without a key gets `400`) and runs
/// `serve` on the socket in its own task once hyper hands the connection over.
pub(super) fn upgrade<F, Fut>(mut req: Request<Incoming>, serve: F) -> Reply
where
    F: FnOnce(Socket) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let Some(key) = req.headers().get(header::SEC_WEBSOCKET_KEY).cloned() else {
        return super::reply::bare(StatusCode::BAD_REQUEST);
    };
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        serve(ws).await;
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

async fn run(state: Arc<RepoState>, uuid: String, ws: Socket) {
    let (mut tx, mut rx) = ws.split();
    let (send, mut commands) = mpsc::unbounded_channel::<String>();
    let mut registered = false;
    loop {
        tokio::select! {
            msg = rx.next() => match msg {
                Some(Ok(Message::Text(text))) => {
                    // The link counts from the worker's first message (an empty frame).
                    if !registered {
                        lock(&state.links).insert(uuid.clone(), send.clone());
                        registered = true;
                        logs::on_link(&state, &uuid);
                    }
                    on_message(&state, &uuid, text);
                }
                Some(Ok(Message::Binary(_))) if !registered => {
                    lock(&state.links).insert(uuid.clone(), send.clone());
                    registered = true;
                    logs::on_link(&state, &uuid);
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

/// A worker's message: `log-tail/NAME\nHISTORY` or `log/NAME\nLINES` (spec §5.4); the
/// first line is the command, the rest its payload. Anything else is ignored.
fn on_message(state: &RepoState, uuid: &str, text: Utf8Bytes) {
    let (command, payload) = match text.find('\n') {
        Some(i) => (&text[..i], i + 1),
        None => (&text[..], text.len()),
    };
    // Cut the payload out of the frame without copying it: it goes to every watcher.
    let payload =
        || Utf8Bytes::try_from(Bytes::from(text.clone()).slice(payload..)).unwrap_or_default();
    if let Some(name) = command.strip_prefix("log-tail/") {
        logs::on_tail(state, uuid, name.trim(), payload());
    } else if let Some(name) = command.strip_prefix("log/") {
        let name = name.trim();
        if !logs::on_lines(state, uuid, name, payload()) {
            // Nobody watches any more: the worker can stop streaming (as upstream).
            send_to(state, uuid, format!("log/off/{name}"));
        }
    }
}

/// Sends one command on `uuid`'s admin link, if it has one.
pub(super) fn send_to(state: &RepoState, uuid: &str, command: String) {
    if let Some(link) = lock(&state.links).get(uuid) {
        let _ = link.send(command);
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
