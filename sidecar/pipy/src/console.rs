//! The Admin console's files, embedded at build time from `gui/dist` (see
//! `build.rs`). A binary built where the console was not (no Node) serves a
//! page that says how to build it.

include!(concat!(env!("OUT_DIR"), "/console.rs"));

/// The page served when the console was not built into this binary.
const NOT_BUILT: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Pipy Repo</title></head><body><h1>Pipy Repo</h1>\
<p>The console was not built into this binary. Build it with <code>make gui</code> \
(Node.js and npm), then build <code>pipy</code> again. The REST API under \
<code>/api/v1/</code> works either way.</p></body></html>";

/// A console file by path: its media type and content.
pub(crate) fn file(path: &str) -> Option<(&'static str, &'static [u8])> {
    if let Some((_, media, body)) = CONSOLE.iter().find(|(p, _, _)| *p == path) {
        return Some((media, body));
    }
    (CONSOLE.is_empty() && path == "/index.html")
        .then_some(("text/html; charset=utf-8", NOT_BUILT.as_bytes()))
}
