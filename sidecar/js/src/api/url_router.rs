//! `algo.URLRouter`: maps `[host]/path` patterns to values.
//!
//! Patterns (as upstream's trie): an optional host, then a path. A host whose first
//! label is `*` (`*.example.com`) stands for exactly one label in that place
//! (`a.example.com`, not `example.com` nor `a.b.example.com`). A path ending in
//! `/*` matches itself and everything below it segment-wise (`/hi/*` matches `/hi`,
//! `/hi/x`, not `/hix`); any other path must match exactly. A pattern without a
//! path, or with a port in its host, is refused ("invalid URL pattern").
//! Lookup tries routes of the exact host, then wildcard hosts, then host-less
//! routes; within those, an exact path wins over prefixes, the deepest prefix
//! over shallower ones. Hosts compare without regard to case (upstream compares
//! them as given; DNS names are case-insensitive, so we deliberately differ).

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::{
    js_string, Context, JsData, JsNativeError, JsObject, JsResult, JsValue, NativeFunction,
};
use boa_gc::{Finalize, Trace};

#[derive(Trace, Finalize)]
struct Route {
    /// Lower-case host; empty for any host; `*.x.y` for one label in front of `x.y`.
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
    fn add(&mut self, pattern: &str, value: JsValue) -> Result<(), &'static str> {
        let Some(i) = pattern.find('/') else {
            return Err("invalid URL pattern");
        };
        let (host, path) = pattern.split_at(i);
        if host.contains(':') {
            return Err("invalid URL pattern");
        }
        let host = host.to_ascii_lowercase();
        let (path, prefix) = match path.strip_suffix("/*") {
            Some(p) => (p.to_string(), true),
            None => (path.to_string(), false),
        };
        self.routes.push(Route {
            host,
            path,
            prefix,
            value,
        });
        Ok(())
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
                // `*` stands for exactly one label (an empty one too, as upstream).
                host.split_once('.')
                    .filter(|(_, rest)| *rest == suffix)
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

fn pattern_error(msg: &'static str) -> boa_engine::JsError {
    JsNativeError::error().with_message(msg).into()
}

fn add_routes(router: &mut UrlRouter, routes: &JsValue, ctx: &mut Context) -> JsResult<()> {
    let Some(obj) = routes.as_object() else {
        return Ok(());
    };
    for key in obj.own_property_keys(ctx)? {
        let value = obj.get(key.clone(), ctx)?;
        router.add(&key.to_string(), value).map_err(pattern_error)?;
    }
    Ok(())
}

/// Splits `find(...)` arguments into a host and a path: one argument is a URL
/// path with or without a host in front; several are a host then path parts.
/// `None` when there is no path at all (upstream finds nothing then).
fn host_and_path(args: &[JsValue], ctx: &mut Context) -> JsResult<Option<(String, String)>> {
    let mut parts = Vec::with_capacity(args.len());
    for a in args {
        if !a.is_undefined() && !a.is_null() {
            parts.push(a.to_string(ctx)?.to_std_string_escaped());
        }
    }
    Ok(match parts.len() {
        0 => None,
        1 => {
            let s = &parts[0];
            s.find('/')
                .map(|i| (s[..i].to_string(), s[i..].to_string()))
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
            Some((parts[0].clone(), path))
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
                    r.add(&pattern, value).map_err(pattern_error)?;
                }
                Ok(JsValue::undefined())
            }),
        );
        class.method(
            js_string!("find"),
            2,
            NativeFunction::from_fn_ptr(|this, args, ctx| {
                let o = this_router(this)?;
                let Some((host, path)) = host_and_path(args, ctx)? else {
                    return Ok(JsValue::undefined());
                };
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
            r.add(p, JsValue::from(i as i32)).unwrap();
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

    /// As upstream's trie: `*` is one label, never several, never none.
    #[test]
    fn a_wildcard_host_covers_exactly_one_label() {
        let r = router(&["*.example.com/*", "example.com/*", "/*"]);
        assert_eq!(find(&r, "a.example.com", "/"), Some(0));
        assert_eq!(find(&r, "A.Example.com:8080", "/x"), Some(0));
        assert_eq!(find(&r, "example.com", "/"), Some(1));
        assert_eq!(find(&r, "a.b.example.com", "/"), Some(2));
        assert_eq!(find(&r, ".example.com", "/"), Some(0));
        let r = router(&["*/x"]);
        assert_eq!(
            find(&r, "a.b", "/x"),
            None,
            "a lone `*` host matches nothing"
        );
    }

    #[test]
    fn patterns_need_a_path_and_no_port() {
        let mut r = UrlRouter::default();
        assert!(r.add("example.com", JsValue::undefined()).is_err());
        assert!(r.add("example.com:80/x", JsValue::undefined()).is_err());
        assert!(r.add("*", JsValue::undefined()).is_err());
        crate::testing::engine(&[]);
        assert_eq!(
            crate::testing::eval("var r = new algo.URLRouter({ '/a/*': 1 }); [r.find('/a/b'), r.find('h', 'a', 'b'), r.find('nohost')].join()"),
            "1,1,"
        );
        assert!(
            crate::testing::eval("new algo.URLRouter({ 'x': 1 })").contains("invalid URL pattern")
        );
    }
}
