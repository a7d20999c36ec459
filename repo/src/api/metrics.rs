//! Metrics of the repo and of its reporting instances (spec §6.2):
//! `/api/v1/metrics[/…]` as JSON history and `/metrics` as Prometheus
//! (OpenMetrics) text.

use std::io::Write as _;

use http::header::{HeaderValue, CONTENT_ENCODING, CONTENT_TYPE};
use http::{Method, StatusCode};
use pipy_metrics::history::MetricHistory;
use pipy_metrics::prometheus::{self, Source};
use serde_json::{Map, Value};

use super::reply::{self, bare, Reply};
use super::{RepoState, Req};

/// `{"time":…,"metrics":[…]}`.
fn document(time: u64, metrics: Value) -> Reply {
    let mut o = Map::new();
    o.insert("time".into(), Value::from(time));
    o.insert("metrics".into(), metrics);
    reply::json(Value::Object(o).to_string())
}

/// All metrics of `h` (`name` empty) or the one called `name` with its series.
fn select(h: Option<&MetricHistory>, name: &str) -> Value {
    match (h, name) {
        (None, _) => Value::Array(Vec::new()),
        (Some(h), "") => h.list(),
        (Some(h), name) => h.one(name),
    }
}

/// `/api/v1/metrics` and `/api/v1/metrics/…`: `rest` is what follows
/// `/api/v1/metrics/` in the path (`""` for both `/api/v1/metrics` and
/// `/api/v1/metrics/`): `NAME`, `UUID/` or `UUID/NAME`.
pub(super) fn api(state: &RepoState, req: &Req, rest: &str) -> Reply {
    if req.method != Method::GET {
        return bare(StatusCode::METHOD_NOT_ALLOWED);
    }
    let instances = state.instances();
    let time = instances.tick_time();
    match rest.split_once('/') {
        // The repo's own metrics: it runs no program, so it has none.
        None => document(time, select(None, rest)),
        Some((uuid, name)) => match instances.history(uuid) {
            Some(h) => document(time, select(Some(h), name)),
            None => bare(StatusCode::NOT_FOUND),
        },
    }
}

/// Whether a request's `accept-encoding` lists gzip.
pub(super) fn accepts_gzip(headers: &http::HeaderMap) -> bool {
    headers
        .get_all(http::header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or("").trim();
            // `gzip;q=0` refuses it.
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    == Some(0.0)
            });
            name.eq_ignore_ascii_case("gzip") && !refused
        })
}

/// `200` with `body`, the exposition (maybe gzipped), as OpenMetrics text.
fn exposition(body: Vec<u8>) -> Reply {
    let mut r = reply::content(body);
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(prometheus::CONTENT_TYPE),
    );
    r
}

/// `GET /metrics`: every instance's latest metrics, with `instance="<name or index>"`.
pub(super) fn prometheus_text(state: &RepoState, req: &Req) -> Reply {
    if req.method != Method::GET {
        return bare(StatusCode::METHOD_NOT_ALLOWED);
    }
    let text = {
        let instances = state.instances();
        let latest = instances.latest_metrics();
        let sources: Vec<Source<'_>> = latest
            .iter()
            .map(|(label, data)| Source {
                data,
                labels: vec![("instance".to_owned(), label.clone())],
            })
            .collect();
        prometheus::render(&sources)
    };
    if !req.accepts_gzip {
        return exposition(text.into_bytes());
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let body = match gz.write_all(text.as_bytes()).and_then(|()| gz.finish()) {
        Ok(b) => b,
        Err(_) => return exposition(text.into_bytes()),
    };
    let mut r = exposition(body);
    r.headers_mut()
        .insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    r
}

#[cfg(test)]
mod tests {
    use super::accepts_gzip;

    #[test]
    fn gzip_is_accepted_unless_refused() {
        let h = |v: &'static str| {
            let mut m = http::HeaderMap::new();
            m.insert(
                http::header::ACCEPT_ENCODING,
                http::HeaderValue::from_static(v),
            );
            m
        };
        assert!(accepts_gzip(&h("gzip, deflate, br")));
        assert!(accepts_gzip(&h("br;q=1.0, GZIP;q=0.5")));
        assert!(!accepts_gzip(&h("gzip;q=0, br")));
        assert!(!accepts_gzip(&h("identity")));
        assert!(!accepts_gzip(&http::HeaderMap::new()));
    }
}
