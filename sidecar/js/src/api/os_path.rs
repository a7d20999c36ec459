//! `os.path`: `basename(path, suffix?)`, `dirname`, `join(...parts)`,
//! `resolve(...parts)` and `normalize`, on `/` paths as Node's `path`
//! (which upstream's mirrors) does: `join` skips empty parts and normalizes,
//! `resolve` starts over at an absolute part and gives an absolute path.
//!
//! Where upstream 1.5.18 differs (side by side): its `join` does not
//! normalize (`a/b/../c`), `basename(p, suffix)` keeps the suffix,
//! `basename('/x/y/')` and `dirname('x')` are empty, and `normalize` keeps
//! `//` and turns `a/../../b` into `/b`; here Node's results.

use boa_engine::object::ObjectInitializer;
use boa_engine::{js_string, Context, JsObject, JsResult, JsValue, NativeFunction};

/// `path` with `.` and `..` resolved and repeated `/` collapsed; `.` for
/// nothing left of a relative path.
pub fn normalize(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// The last part of `path` (trailing `/` ignored), less `suffix` if it ends so.
pub fn basename(path: &str, suffix: Option<&str>) -> String {
    let trimmed = path.trim_end_matches('/');
    let name = trimmed.rsplit('/').next().unwrap_or("");
    match suffix {
        Some(s) if !s.is_empty() && name.len() > s.len() && name.ends_with(s) => {
            name[..name.len() - s.len()].to_string()
        }
        _ => name.to_string(),
    }
}

/// All of `path` but its last part: `.` when there is none, `/` at the root.
pub fn dirname(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(0) => "/".into(),
        Some(i) => trimmed[..i].to_string(),
        None if path.starts_with('/') => "/".into(),
        None => ".".into(),
    }
}

fn texts(args: &[JsValue], ctx: &mut Context) -> JsResult<Vec<String>> {
    args.iter()
        .map(|a| Ok(a.to_string(ctx)?.to_std_string_escaped()))
        .collect()
}

/// `os.path.join(...parts)`.
pub fn join(parts: &[String]) -> String {
    let kept: Vec<&str> = parts
        .iter()
        .map(String::as_str)
        .filter(|p| !p.is_empty())
        .collect();
    if kept.is_empty() {
        return ".".into();
    }
    normalize(&kept.join("/"))
}

/// `os.path.resolve(...parts)`: from the working directory, an absolute part
/// starting over.
pub fn resolve(parts: &[String]) -> String {
    let mut path = std::env::current_dir()
        .map(|d| d.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "/".into());
    for p in parts.iter().filter(|p| !p.is_empty()) {
        if p.starts_with('/') {
            path = p.clone();
        } else {
            path = format!("{path}/{p}");
        }
    }
    normalize(&path)
}

fn text_result(s: String) -> JsResult<JsValue> {
    Ok(js_string!(s.as_str()).into())
}

/// The `os.path` object.
pub fn object(ctx: &mut Context) -> JsObject {
    ObjectInitializer::new(ctx)
        .function(
            NativeFunction::from_fn_ptr(|_, args, ctx| {
                let t = texts(args, ctx)?;
                let path = t.first().cloned().unwrap_or_default();
                text_result(basename(&path, t.get(1).map(String::as_str)))
            }),
            js_string!("basename"),
            2,
        )
        .function(
            NativeFunction::from_fn_ptr(|_, args, ctx| {
                text_result(dirname(
                    &texts(args, ctx)?.first().cloned().unwrap_or_default(),
                ))
            }),
            js_string!("dirname"),
            1,
        )
        .function(
            NativeFunction::from_fn_ptr(|_, args, ctx| text_result(join(&texts(args, ctx)?))),
            js_string!("join"),
            0,
        )
        .function(
            NativeFunction::from_fn_ptr(|_, args, ctx| text_result(resolve(&texts(args, ctx)?))),
            js_string!("resolve"),
            0,
        )
        .function(
            NativeFunction::from_fn_ptr(|_, args, ctx| {
                text_result(normalize(
                    &texts(args, ctx)?.first().cloned().unwrap_or_default(),
                ))
            }),
            js_string!("normalize"),
            1,
        )
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_as_node_and_upstream_make_them() {
        assert_eq!(normalize("/a//b/./c/../d/"), "/a/b/d");
        assert_eq!(normalize("a/../../b"), "../b");
        assert_eq!(normalize("/../x"), "/x");
        assert_eq!(normalize(""), ".");
        assert_eq!(join(&["a".into(), "".into(), "b/../c".into()]), "a/c");
        assert_eq!(join(&[]), ".");
        assert_eq!(basename("/x/y.js", Some(".js")), "y");
        assert_eq!(basename("/x/y/", None), "y");
        assert_eq!(dirname("/x/y"), "/x");
        assert_eq!(dirname("/x"), "/");
        assert_eq!(dirname("x"), ".");
        assert_eq!(
            resolve(&["/a".into(), "b".into(), "/c".into(), "d".into()]),
            "/c/d"
        );
        assert!(resolve(&["x".into()]).starts_with('/'));
    }
}
