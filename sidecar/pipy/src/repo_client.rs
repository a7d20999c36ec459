//! Worker mode: `pipy http://HOST:PORT/repo/CB/` downloads a codebase from a repo,
//! runs it, checks for new versions and reports its status every 5 s
//! (spec/repo-api.md §7).

use anyhow::{bail, Context as _, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use pipy_js::codebase::{MemoryCodebase, SharedCodebase};
use pipy_runtime::Control;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How often the worker polls and reports.
const TICK: Duration = Duration::from_secs(5);

/// Where a codebase lives: the URL split at its last `/`.
#[derive(Clone, Debug)]
pub(crate) struct RepoUrl {
    authority: String,
    /// `/repo/CB`
    base: String,
    /// `/` for a codebase, `/main.js` for a single file.
    root: String,
    /// For an `https://` repo: how to talk TLS to it.
    tls: Option<Arc<rustls::ClientConfig>>,
    /// `--repo-token-file`: a bearer token sent with every request (read each time,
    /// since Kubernetes rotates projected ServiceAccount tokens in place).
    token_file: Option<std::path::PathBuf>,
}

/// A connection to the repo, plain or TLS.
trait RepoIo: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> RepoIo for T {}

impl RepoUrl {
    /// Parses `http://host:port/path`, or `https://…` with `tls` (from `--tls-trusted`,
    /// `--tls-cert`, `--tls-key`).
    pub(crate) fn parse(url: &str, tls: Option<Arc<rustls::ClientConfig>>) -> Result<Self> {
        let (rest, tls) = match (url.strip_prefix("http://"), url.strip_prefix("https://")) {
            (Some(rest), _) => (rest, None),
            (None, Some(rest)) => match tls {
                Some(tls) => (rest, Some(tls)),
                None => bail!("{url}: an https:// repo needs --tls-trusted (the CA to trust)"),
            },
            _ => bail!("{url}: only http:// and https:// repo URLs are supported"),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() {
            bail!("{url}: no host");
        }
        let cut = path.rfind('/').unwrap_or(0);
        Ok(Self {
            authority: authority.to_string(),
            base: path[..cut].to_string(),
            root: path[cut..].to_string(),
            tls,
            token_file: None,
        })
    }

    /// Sends the token in `file` as `authorization: Bearer …` with every request.
    pub(crate) fn with_token_file(mut self, file: Option<std::path::PathBuf>) -> Self {
        self.token_file = file;
        self
    }

    /// The `authorization` header's value, when a token file is set and readable.
    fn authorization(&self) -> Option<String> {
        let file = self.token_file.as_ref()?;
        match std::fs::read_to_string(file) {
            Ok(token) if !token.trim().is_empty() => Some(format!("Bearer {}", token.trim())),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!("--repo-token-file {}: {e}", file.display());
                None
            }
        }
    }

    /// Opens a connection to the repo (with the TLS handshake for `https://`); also
    /// returns this end's IP, which status reports carry.
    async fn connect(&self) -> Result<(Box<dyn RepoIo>, String)> {
        let stream = tokio::net::TcpStream::connect(&self.authority)
            .await
            .with_context(|| format!("connecting to {}", self.authority))?;
        let local_ip = stream
            .local_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default();
        let Some(config) = &self.tls else {
            return Ok((Box::new(stream), local_ip));
        };
        let host = match self.authority.rsplit_once(':') {
            Some((host, port)) if port.parse::<u16>().is_ok() => host,
            _ => self.authority.as_str(),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = rustls::pki_types::ServerName::try_from(host.to_string())
            .with_context(|| format!("{host}: not a TLS server name"))?;
        let tls = tokio_rustls::TlsConnector::from(config.clone())
            .connect(name, stream)
            .await
            .with_context(|| format!("TLS handshake with {}", self.authority))?;
        Ok((Box::new(tls), local_ip))
    }

    fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }
}

/// What a worker reports and how.
#[derive(Clone, Debug, Default)]
pub(crate) struct ClientOptions {
    /// `--instance-uuid`, or a random one.
    pub(crate) uuid: String,
    /// `--instance-name`.
    pub(crate) name: String,
    /// `--no-reload`: no polling for new versions.
    pub(crate) no_reload: bool,
    /// `--no-status`: no status reports.
    pub(crate) no_status: bool,
    /// `--no-metrics`: status reports without metrics.
    pub(crate) no_metrics: bool,
}

/// One downloaded version.
pub(crate) struct Download {
    /// The files.
    pub(crate) codebase: MemoryCodebase,
    /// The entry module.
    pub(crate) entry: String,
    /// The manifest's etag: the version.
    pub(crate) etag: String,
}

struct Conn {
    sender: SendRequest<Full<Bytes>>,
    authority: String,
    local_ip: String,
    url: RepoUrl,
}

impl Conn {
    async fn open(url: &RepoUrl) -> Result<Self> {
        let (stream, local_ip) = url.connect().await?;
        let authority = &url.authority;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Self {
            sender,
            authority: authority.to_string(),
            local_ip,
            url: url.clone(),
        })
    }

    async fn request(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, String, Bytes)> {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.authority);
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        if let Some(authorization) = self.url.authorization() {
            req = req.header("authorization", authorization);
        }
        let req = req.body(Full::new(Bytes::from(body.unwrap_or_default())))?;
        let res = self.sender.send_request(req).await?;
        let status = res.status();
        let etag = res
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = res.into_body().collect().await?.to_bytes();
        Ok((status, etag, body))
    }
}

/// Whether a body is a manifest rather than a script (§7.1).
fn is_manifest(body: &[u8]) -> bool {
    body.len() > 2 && body[0] == b'/' && body[1] != b'/' && body[1] != b'*'
}

/// Downloads the codebase: the manifest, then each file on the same connection.
pub(crate) async fn download(url: &RepoUrl) -> Result<Download> {
    let mut conn = Conn::open(url).await?;
    let top = format!("{}{}", url.base, url.root);
    let (status, etag, body) = conn.request(Method::GET, &top, None).await?;
    if status != StatusCode::OK {
        bail!("GET {top}: {status}");
    }
    let mut codebase = MemoryCodebase::new(format!("{}://{}{}", url.scheme(), url.authority, top));
    if !is_manifest(&body) {
        codebase.insert(&url.root, body.to_vec());
        return Ok(Download {
            codebase,
            entry: url.root.clone(),
            etag,
        });
    }
    let text = String::from_utf8_lossy(&body).into_owned();
    let files: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let entry = files
        .first()
        .map(|s| s.to_string())
        .unwrap_or_else(|| "/main.js".into());
    for file in &files {
        let path = format!("{}{}", url.base, file);
        let (status, _, content) = conn.request(Method::GET, &path, None).await?;
        match status {
            StatusCode::OK => codebase.insert(file, content.to_vec()),
            StatusCode::NOT_FOUND => tracing::warn!("{path}: not found, skipped"),
            other => bail!("GET {path}: {other}"),
        }
    }
    Ok(Download {
        codebase,
        entry,
        etag,
    })
}

/// Downloads until it works (every 5 s) or shutdown.
pub(crate) async fn first_download(
    url: &RepoUrl,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<Download> {
    loop {
        match download(url).await {
            Ok(d) => return Some(d),
            Err(e) => tracing::warn!("download failed, retrying in 5 s: {e:#}"),
        }
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = shutdown.wait_for(|v| *v) => return None,
        }
    }
}

type Link = tokio_tungstenite::WebSocketStream<Box<dyn RepoIo>>;

/// Opens the admin link `ws://HOST/repo/CB/UUID` and says hello (spec §5.4).
async fn open_link(url: &RepoUrl, uuid: &str) -> Result<Link> {
    use futures_util::SinkExt;
    let (stream, _) = url.connect().await?;
    let scheme = if url.tls.is_some() { "wss" } else { "ws" };
    let target = format!("{scheme}://{}{}/{}", url.authority, url.base, uuid);
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(target)?;
    if let Some(authorization) = url.authorization() {
        request
            .headers_mut()
            .insert("authorization", authorization.parse()?);
    }
    let (mut ws, _) = tokio_tungstenite::client_async(request, stream).await?;
    ws.send(tokio_tungstenite::tungstenite::Message::text(""))
        .await?;
    Ok(ws)
}

/// The next command on the link; `None` when it closed. Pending without a link.
async fn next_command(link: &mut Option<Link>) -> Option<String> {
    use futures_util::StreamExt;
    let Some(ws) = link else {
        return std::future::pending().await;
    };
    loop {
        match ws.next().await {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) => {
                return Some(t.to_string())
            }
            Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_))) | Some(Err(_)) | None => {
                return None
            }
            Some(Ok(_)) => {}
        }
    }
}

/// The most text one frame of streamed lines gathers (more goes in the next).
const MAX_FRAME: usize = 1 << 20;

/// Streamed lines of the logs the repo watches (`log/on/NAME`), by name, as
/// `Arc`s from their histories.
type LogStreams = Vec<(String, tokio::sync::mpsc::Receiver<Arc<str>>)>;

/// Obeys a log command from the repo (spec §5.4): `log/tail/NAME` answers
/// `log-tail/NAME\n<history>`, `log/on/NAME` starts streaming, `log/off/NAME` stops it.
/// NAME is `pipy_log` or a script logger's name; other commands and unknown
/// names are ignored, as upstream does.
async fn obey_log(command: &str, link: &mut Option<Link>, streams: &mut LogStreams) {
    let command = command.lines().next().unwrap_or_default();
    if let Some(name) = command.strip_prefix("log/tail/") {
        if let Some(history) = crate::log_buffer::with_log(name, |l| l.tail()) {
            send_on_link(link, format!("log-tail/{name}\n{history}")).await;
        }
    } else if let Some(name) = command.strip_prefix("log/on/") {
        if streams.iter().all(|(n, _)| n != name) {
            if let Some(rx) = crate::log_buffer::with_log(name, |l| l.subscribe()) {
                streams.push((name.to_owned(), rx));
            }
        }
    } else if let Some(name) = command.strip_prefix("log/off/") {
        streams.retain(|(n, _)| n != name);
    }
}

/// The next frame of streamed lines, `log/NAME\n` and every line of that log
/// waiting by then (so lines logged together go in one frame). Pending while
/// nothing is streamed.
async fn next_log_lines(streams: &mut LogStreams) -> Option<String> {
    if streams.is_empty() {
        return std::future::pending().await;
    }
    let (i, first) = std::future::poll_fn(|cx| {
        for (i, (_, rx)) in streams.iter_mut().enumerate() {
            if let std::task::Poll::Ready(line) = rx.poll_recv(cx) {
                return std::task::Poll::Ready((i, line));
            }
        }
        std::task::Poll::Pending
    })
    .await;
    let Some(first) = first else {
        streams.remove(i);
        return None;
    };
    // The log served goes last: a busy one does not starve the others.
    let stream = streams.remove(i);
    streams.push(stream);
    let (name, rx) = streams.last_mut()?;
    let mut frame = format!("log/{name}\n{first}\n");
    while frame.len() < MAX_FRAME {
        let Ok(line) = rx.try_recv() else {
            break;
        };
        frame.push_str(&line);
        frame.push('\n');
    }
    Some(frame)
}

/// Sends a text frame on the link; a link that fails is dropped (the next tick
/// reconnects).
async fn send_on_link(link: &mut Option<Link>, text: String) {
    use futures_util::SinkExt;
    if let Some(ws) = link {
        if ws
            .send(tokio_tungstenite::tungstenite::Message::text(text))
            .await
            .is_err()
        {
            *link = None;
        }
    }
}

/// Checks the repo for a new version and, when there is one, swaps it in and
/// asks the workers to reload. Returns the new (request number, etag).
async fn check_update(
    url: &RepoUrl,
    current: &mut String,
    shared: &SharedCodebase,
    control: &Control,
) -> Option<(u64, String)> {
    let top = format!("{}{}", url.base, url.root);
    let mut conn = Conn::open(url).await.ok()?;
    let (status, etag, _) = conn.request(Method::HEAD, &top, None).await.ok()?;
    if status != StatusCode::OK || etag == *current {
        return None;
    }
    match download(url).await {
        Ok(d) => {
            shared.replace(Arc::new(d.codebase), Some(d.entry));
            *current = d.etag.clone();
            Some((control.request_reload(), d.etag))
        }
        Err(e) => {
            tracing::warn!("download of a new version failed: {e:#}");
            None
        }
    }
}

/// Polls for new versions and reports status every 5 s until shutdown; a
/// `reload` on the admin link checks at once.
pub(crate) async fn poll(
    url: RepoUrl,
    opts: ClientOptions,
    shared: Arc<SharedCodebase>,
    control: Arc<Control>,
    first_etag: String,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut reporter = crate::report::Reporter::new(&opts, crate::now_ms());
    let mut current = first_etag;
    // A reload asked for (its request number and etag) that has not loaded yet.
    let mut pending: Option<(u64, String)> = None;
    // Upstream reports `""` until the first reload (its first load does not set the
    // version). We report the version that runs from the first report on: a repo
    // that counts instances by version (pipy-operator's `Ready`) needs it, and `""`
    // says nothing a reader could use.
    let mut reported = current.clone();
    let mut ip = String::new();
    let mut link: Option<Link> = None;
    let mut pushed = false;
    let mut log_streams: LogStreams = Vec::new();
    loop {
        if !opts.no_reload || pushed {
            if let Some(p) = check_update(&url, &mut current, &shared, &control).await {
                pending = Some(p);
            }
        }
        if let Some((generation, etag)) = &pending {
            if control.loaded() >= *generation {
                reported = etag.clone();
                pending = None;
            }
        }
        if !opts.no_status {
            let names = crate::log_buffer::names();
            let logs: Vec<&str> = names.iter().map(String::as_str).collect();
            let body = reporter.body(crate::now_ms(), &ip, &reported, &logs);
            let mut answer = None;
            if let Ok(mut conn) = Conn::open(&url).await {
                let path = format!("{}/", url.base);
                if let Ok((status, _, _)) = conn.request(Method::POST, &path, Some(body)).await {
                    ip = conn.local_ip.clone();
                    answer = Some(status);
                }
            }
            reporter.answered(answer);
            // Reconnects ride on the same 5 s tick, as upstream.
            if link.is_none() {
                link = open_link(&url, &opts.uuid).await.ok();
            }
        }
        pushed = false;
        // Log commands and streamed lines are served while waiting for the next tick.
        let tick = tokio::time::Instant::now() + TICK;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(tick) => break,
                _ = shutdown.wait_for(|v| *v) => return,
                Some(lines) = next_log_lines(&mut log_streams) => {
                    send_on_link(&mut link, lines).await;
                    if link.is_none() {
                        log_streams.clear();
                    }
                }
                cmd = next_command(&mut link) => match cmd {
                    Some(c) if c.lines().next() == Some("reload") => {
                        pushed = true;
                        break;
                    }
                    Some(c) => obey_log(&c, &mut link, &mut log_streams).await,
                    None => {
                        // The repo asks again (`log/on`) once the link is back.
                        link = None;
                        log_streams.clear();
                        break;
                    }
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_at_the_last_slash() {
        let u = RepoUrl::parse("http://127.0.0.1:6060/repo/hello/", None).unwrap();
        assert_eq!(
            (u.authority.as_str(), u.base.as_str(), u.root.as_str()),
            ("127.0.0.1:6060", "/repo/hello", "/")
        );
        let u = RepoUrl::parse("http://h:1/repo/a/b/main.js", None).unwrap();
        assert_eq!(
            (u.base.as_str(), u.root.as_str()),
            ("/repo/a/b", "/main.js")
        );
        assert!(RepoUrl::parse("https://h/x", None).is_err());
        assert!(RepoUrl::parse("ftp://h/x", None).is_err());
    }

    #[test]
    fn manifests_are_told_from_scripts() {
        assert!(is_manifest(b"/main.js\n/lib.js"));
        assert!(!is_manifest(b"// comment\npipy()"));
        assert!(!is_manifest(b"/* c */ pipy()"));
        assert!(!is_manifest(b"pipy()"));
    }

    #[test]
    fn streamed_lines_that_wait_together_go_in_one_frame() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        let (tx2, rx2) = tokio::sync::mpsc::channel(8);
        let mut streams: LogStreams = vec![("pipy_log".into(), rx), ("access".into(), rx2)];
        tx2.try_send(Arc::from("x")).unwrap();
        tx.try_send(Arc::from("a")).unwrap();
        tx.try_send(Arc::from("b")).unwrap();
        let frame = rt.block_on(next_log_lines(&mut streams));
        assert_eq!(frame.as_deref(), Some("log/pipy_log\na\nb\n"));
        let frame = rt.block_on(next_log_lines(&mut streams));
        assert_eq!(frame.as_deref(), Some("log/access\nx\n"));
        drop(tx);
        assert_eq!(rt.block_on(next_log_lines(&mut streams)), None);
        assert_eq!(streams.len(), 1);
    }
}
