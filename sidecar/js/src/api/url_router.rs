//! `algo.URLRouter`: maps `[host]/path` patterns to values.
//!
//! Patterns: an optional host (a leading `*.` matches any sub-domain), then a
//! path that either must match exactly or, ending in `/*`, matches itself and
//! everything below it segment-wise (`/hi/*` matches `/hi`, `/hi/x`, not `/hix`).
//! Lookup tries routes of the exact host, then wildcard domains, then host-less
//! routes; within those, an exact path wins over prefixes, the deepest prefix
//! over shallower ones.

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::{
    js_string, Context, JsData, JsNativeError, JsObject, JsResult, JsValue, NativeFunction,
};
use boa_gc::{Finalize, Trace};

#[derive(Trace, Finalize)]
struct Route {
    /// Lower-case host; empty for any host; `*.x.y` for sub-domains of `x.y`.
    #[unsafe_ignore_trace]
    host: String,
    /// Path without the trailing `/*` of a prefix pattern.
    #[unsafe_ignore_trace]
    path: String,
    prefix: bool,
    value: JsValue,
}

/// The Rust side of a `URLRouter`.
#[derive(Trace, Finalize, JsData, Default)]
pub struct UrlRouter {
    routes: Vec<Route>,
}

impl UrlRouter {
    fn add(&mut self, pattern: &str, value: JsValue) {
        let (host, path) = match pattern.find('/') {
            Some(i) => (&pattern[..i], &pattern[i..]),
            None => (pattern, "/*"),
        };
        let host = if host == "*" {
            String::new()
        } else {
            host.to_ascii_lowercase()
        };
        let (path, prefix) = match path.strip_suffix("/*") {
            Some(p) => (p.to_string(), true),
            None if path == "*" => (String::new(), true),
            None => (path.to_string(), false),
        };
        self.routes.push(Route {
            host,
            path,
            prefix,
            value,
        });
    }

    fn path_matches(route: &Route, path: &str) -> Option<usize> {
        if !route.prefix {
            return (route.path == path).then_some(usize::MAX);
        }
        let rest = path.strip_prefix(route.path.as_str())?;
        (rest.is_empty() || rest.starts_with('/')).then_some(route.path.len())
    }

    /// The best route's value for a host and a path.
    pub fn find(&self, host: &str, path: &str) -> Option<JsValue> {
        let path = path.split('?').next().unwrap_or("");
        let host = host
            .rsplit_once(':')
            .filter(|(h, p)| !h.ends_with(']') || p.is_empty())
            .map_or(host, |(h, _)| h);
        let host = host.to_ascii_lowercase();
        // Host ranks: exact host, then wildcard domain, then any host.
        let host_rank = |r: &Route| -> Option<u8> {
            if r.host.is_empty() {
                Some(0)
            } else if r.host == host {
                Some(2)
            } else if let Some(suffix) = r.host.strip_prefix("*.") {
                host.strip_suffix(suffix)
                    .filter(|h| h.ends_with('.'))
                    .map(|_| 1)
            } else {
                None
            }
        };
        let mut best: Option<(u8, usize, &Route)> = None;
        for r in &self.routes {
            let Some(rank) = host_rank(r) else { continue };
            let Some(depth) = Self::path_matches(r, path) else {
                continue;
            };
            if best.is_none_or(|(br, bd, _)| (rank, depth) > (br, bd)) {
                best = Some((rank, depth, r));
            }
        }
        best.map(|(_, _, r)| r.value.clone())
    }
}

fn this_router(this: &JsValue) -> JsResult<JsObject> {
    this.as_object()
        .filter(|o| o.is::<UrlRouter>())
        .ok_or_else(|| JsNativeError::typ().with_message("not a URLRouter").into())
}

fn add_routes(router: &mut UrlRouter, routes: &JsValue, ctx: &mut Context) -> JsResult<()> {
    let Some(obj) = routes.as_object() else {
        return Ok(());
    };
    for key in obj.own_property_keys(ctx)? {
        let value = obj.get(key.clone(), ctx)?;
        router.add(&key.to_string(), value);
    }
    Ok(())
}

/// Splits `find(...)` arguments into a host and a path: one argument is a URL
/// path with or without a host in front; several are a host then path parts.
fn host_and_path(args: &[JsValue], ctx: &mut Context) -> JsResult<(String, String)> {
    let mut parts = Vec::with_capacity(args.len());
    for a in args {
        if !a.is_undefined() && !a.is_null() {
            parts.push(a.to_string(ctx)?.to_std_string_escaped());
        }
    }
    Ok(match parts.len() {
        0 => (String::new(), "/".into()),
        1 => {
            let s = &parts[0];
            if s.starts_with('/') {
                (String::new(), s.clone())
            } else {
                match s.find('/') {
                    Some(i) => (s[..i].to_string(), s[i..].to_string()),
                    None => (s.clone(), "/".into()),
                }
            }
        }
        _ => {
            let mut path = String::new();
            for p in &parts[1..] {
                if !path.ends_with('/') && !p.starts_with('/') {
                    path.push('/');
                }
                path.push_str(
                    p.strip_prefix('/')
                        .filter(|_| path.ends_with('/'))
                        .unwrap_or(p),
                );
            }
            (parts[0].clone(), path)
        }
    })
}

impl Class for UrlRouter {
    const NAME: &'static str = "URLRouter";
    const LENGTH: usize = 1;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let mut r = UrlRouter::default();
        if let Some(routes) = args.first() {
            add_routes(&mut r, routes, ctx)?;
        }
        Ok(r)
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        class.method(
            js_string!("add"),
            2,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                let o = this_router(this)?;
                let pattern = args
                    .first()
                    .cloned()
                    .unwrap_or_default()
                    .to_string(ctx)?
                    .to_std_string_escaped();
                let value = args.get(1).cloned().unwrap_or_default();
                if let Some(mut r) = o.downcast_mut::<UrlRouter>() {
                    r.add(&pattern, value);
                }
                Ok(JsValue::undefined())
            }),
        );
        class.method(
            js_string!("find"),
            2,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                let o = this_router(this)?;
                let (host, path) = host_and_path(args, ctx)?;
                let found = o
                    .downcast_ref::<UrlRouter>()
                    .and_then(|r| r.find(&host, &path));
                Ok(found.unwrap_or_default())
            }),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(patterns: &[&str]) -> UrlRouter {
        let mut r = UrlRouter::default();
        for (i, p) in patterns.iter().enumerate() {
            r.add(p, JsValue::from(i as i32));
        }
        r
    }

    fn find(r: &UrlRouter, host: &str, path: &str) -> Option<i32> {
        r.find(host, path)
            .and_then(|v| v.as_number())
            .map(|n| n as i32)
    }

    #[test]
    fn prefixes_exact_paths_and_hosts() {
        let r = router(&[
            "/hi/*",
            "/echo",
            "/ip/*",
            "/hi/there/*",
            "example.com/x/*",
            "*.example.com/x/*",
        ]);
        assert_eq!(find(&r, "localhost:8000", "/hi"), Some(0));
        assert_eq!(find(&r, "h", "/hi/"), Some(0));
        assert_eq!(find(&r, "h", "/hi/x/y?q=1"), Some(0));
        assert_eq!(find(&r, "h", "/hi/there/deep"), Some(3));
        assert_eq!(find(&r, "h", "/hix"), None);
        assert_eq!(find(&r, "h", "/echo"), Some(1));
        assert_eq!(find(&r, "h", "/echo/x"), None);
        assert_eq!(find(&r, "Example.COM:80", "/x/1"), Some(4));
        assert_eq!(find(&r, "a.example.com", "/x/1"), Some(5));
        assert_eq!(find(&r, "other", "/x/1"), None);
    }
}
