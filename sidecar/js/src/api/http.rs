//! `http`: `http.Directory`, static files for `serveHTTP`.
//!
//! As upstream: `new http.Directory(path, { fs, index, contentTypes,
//! defaultContentType, compression })` serves files under `path` of the
//! codebase (of the file system with `fs: true`). `serve(request)` gives a
//! response Message, or null when no file matches, so a script answers 404
//! itself. A path naming a folder gets its first index file (`index`, then
//! `index.html`, unless `index` lists others). The content type comes from
//! the extension (upstream's table, or `contentTypes`: an object or a
//! function of the request and the path), else `defaultContentType`. A
//! client accepting `br` or `gzip` gets `file.br` or `file.gz` when it is
//! there, or, when `compression(request, accepted, path, size)` says
//! `'gzip'`, the file gzipped once. Paths are normalized (`.` and `..`
//! segments, never above the root) and the query is ignored.
//!
//! Upstream keeps every file it served in memory for ever; here files are
//! kept up to [`CACHE_BYTES`] in all ([`MAX_CACHED_FILE`] each), and a file
//! system file is read again when it changed. Upstream's `tarball` option
//! is not supported (refused with a message).

use super::message::MessageObject;
use boa_engine::class::{Class, ClassBuilder};
use boa_engine::property::Attribute;
use boa_engine::{
    js_string, Context, JsData, JsNativeError, JsObject, JsResult, JsValue, NativeFunction,
};
use boa_gc::{Finalize, Trace};
use std::cell::RefCell;
use std::collections::HashMap;
use std::time::SystemTime;

/// Bytes of files a Directory keeps in memory at most.
pub const CACHE_BYTES: usize = 64 << 20;
/// Files larger than this are read for each request, never kept.
pub const MAX_CACHED_FILE: usize = 4 << 20;

const CONTENT_TYPES: &[(&str, &str)] = &[
    ("html", "text/html"),
    ("css", "text/css"),
    ("xml", "text/xml"),
    ("txt", "text/plain"),
    ("gif", "image/gif"),
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("svg", "image/svg+xml"),
    ("woff", "font/woff"),
    ("woff2", "font/woff2"),
    ("ico", "image/x-icon"),
    ("js", "application/javascript"),
    ("json", "application/json"),
];

#[derive(Clone)]
struct File {
    pathname: String,
    raw: bytes::Bytes,
    gz: Option<bytes::Bytes>,
    br: Option<bytes::Bytes>,
    content_type: String,
    modified: Option<SystemTime>,
}

struct State {
    root: String,
    fs: bool,
    index: Vec<String>,
    content_types: Option<HashMap<String, String>>,
    content_types_f: Option<JsValue>,
    default_content_type: String,
    compression: Option<JsValue>,
    cache: RefCell<HashMap<String, File>>,
    cached_bytes: std::cell::Cell<usize>,
}

/// Resolves `.` and `..` in a request path; the result never leaves the root.
pub fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    let mut out = format!("/{}", parts.join("/"));
    if path.ends_with('/') && out.len() > 1 {
        out.push('/');
    }
    out
}

impl State {
    fn load(&self, path: &str) -> Option<(bytes::Bytes, Option<SystemTime>)> {
        if path.contains('\0') {
            return None;
        }
        if self.fs {
            let full = std::path::Path::new(&self.root).join(path.trim_start_matches('/'));
            let meta = std::fs::metadata(&full).ok()?;
            if !meta.is_file() {
                return None;
            }
            let bytes = std::fs::read(&full).ok()?;
            Some((bytes.into(), meta.modified().ok()))
        } else {
            let joined = format!(
                "{}/{}",
                self.root.trim_end_matches('/'),
                path.trim_start_matches('/')
            );
            crate::module::read_file(&joined).map(|b| (b.into(), None))
        }
    }

    fn modified(&self, path: &str) -> Option<SystemTime> {
        let full = std::path::Path::new(&self.root).join(path.trim_start_matches('/'));
        std::fs::metadata(full).ok()?.modified().ok()
    }

    fn content_type(&self, request: &JsValue, path: &str, ctx: &mut Context) -> JsResult<String> {
        let base = path.rsplit('/').next().unwrap_or("");
        let ext = base
            .split_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default();
        if let Some(f) = self.content_types_f.as_ref().and_then(|f| f.as_callable()) {
            let r = f.call(
                &JsValue::undefined(),
                &[request.clone(), js_string!(path).into()],
                ctx,
            )?;
            if let Some(o) = r.as_object() {
                let ct = o.get(js_string!(ext.as_str()), ctx)?;
                return Ok(ct.to_string(ctx)?.to_std_string_escaped());
            }
            if !r.is_null_or_undefined() {
                return Ok(r.to_string(ctx)?.to_std_string_escaped());
            }
        }
        let found = match &self.content_types {
            Some(m) => m.get(&ext).cloned(),
            None => CONTENT_TYPES
                .iter()
                .find(|(e, _)| *e == ext)
                .map(|(_, t)| t.to_string()),
        };
        Ok(found.unwrap_or_else(|| self.default_content_type.clone()))
    }

    fn find(&self, path: &str, request: &JsValue, ctx: &mut Context) -> JsResult<Option<File>> {
        if let Some(f) = self.cache.borrow().get(path) {
            let fresh = !self.fs || self.modified(&f.pathname) == f.modified;
            if fresh {
                return Ok(Some(f.clone()));
            }
        }
        let (pathname, (raw, modified)) = match self.load(path) {
            Some(r) => (path.to_owned(), r),
            None => {
                let dir = if path.ends_with('/') {
                    path.to_owned()
                } else {
                    format!("{path}/")
                };
                let mut found = None;
                for name in &self.index {
                    let p = format!("{dir}{name}");
                    if let Some(r) = self.load(&p) {
                        found = Some((p, r));
                        break;
                    }
                }
                match found {
                    Some(f) => f,
                    None => return Ok(None),
                }
            }
        };
        let gz = self.load(&format!("{pathname}.gz")).map(|r| r.0);
        let br = self.load(&format!("{pathname}.br")).map(|r| r.0);
        let content_type = self.content_type(request, &pathname, ctx)?;
        let file = File {
            pathname,
            raw,
            gz,
            br,
            content_type,
            modified,
        };
        let size = file.raw.len();
        if size <= MAX_CACHED_FILE {
            if self.cached_bytes.get() + size > CACHE_BYTES {
                self.cache.borrow_mut().clear();
                self.cached_bytes.set(0);
            }
            self.cached_bytes.set(self.cached_bytes.get() + size);
            self.cache
                .borrow_mut()
                .insert(path.to_owned(), file.clone());
        }
        Ok(Some(file))
    }
}

/// The script object of `http.Directory`.
#[derive(Trace, Finalize, JsData)]
pub struct Directory {
    #[unsafe_ignore_trace]
    state: crate::gc::SweepSafe<std::rc::Rc<State>>,
}

fn get(o: &JsObject, key: &str, ctx: &mut Context) -> JsResult<JsValue> {
    o.get(js_string!(key), ctx)
}

/// `accept-encoding` of a request: whether gzip and br are accepted.
fn accepted(request: &JsValue, ctx: &mut Context) -> JsResult<(bool, bool)> {
    let Some(req) = request.as_object() else {
        return Ok((false, false));
    };
    let head = get(&req, "head", ctx)?;
    let Some(head) = head.as_object() else {
        return Ok((false, false));
    };
    let headers = get(&head, "headers", ctx)?;
    let Some(h) = headers.as_object() else {
        return Ok((false, false));
    };
    let v = get(&h, "accept-encoding", ctx)?;
    let Some(s) = v.as_string() else {
        return Ok((false, false));
    };
    let s = s.to_std_string_escaped();
    let mut gz = false;
    let mut br = false;
    for item in s.split(',') {
        let name = item.trim().split(';').next().unwrap_or("").trim();
        gz |= name.eq_ignore_ascii_case("gzip");
        br |= name.eq_ignore_ascii_case("br");
    }
    Ok((gz, br))
}

fn request_path(request: &JsValue, ctx: &mut Context) -> JsResult<String> {
    let path = match request.as_object() {
        Some(req) => match get(&req, "head", ctx)?.as_object() {
            Some(h) => get(&h, "path", ctx)?,
            None => JsValue::undefined(),
        },
        None => JsValue::undefined(),
    };
    let path = if path.is_null_or_undefined() {
        String::new()
    } else {
        path.to_string(ctx)?.to_std_string_escaped()
    };
    let path = path.split('?').next().unwrap_or("");
    Ok(normalize(path))
}

fn serve(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let state = this
        .as_object()
        .and_then(|o| {
            o.downcast_ref::<Directory>()
                .map(|d| std::rc::Rc::clone(&d.state))
        })
        .ok_or_else(|| JsNativeError::typ().with_message("not an http.Directory"))?;
    let request = args.first().cloned().unwrap_or_default();
    let path = request_path(&request, ctx)?;
    let Some(file) = state.find(&path, &request, ctx)? else {
        return Ok(JsValue::null());
    };
    let (has_gz, has_br) = accepted(&request, ctx)?;
    let headers = crate::convert::object_initializer(ctx).build();
    headers.set(
        js_string!("content-type"),
        js_string!(file.content_type.as_str()),
        false,
        ctx,
    )?;
    let body = match (&file.br, &file.gz) {
        (Some(br), _) if has_br => {
            headers.set(js_string!("content-encoding"), js_string!("br"), false, ctx)?;
            br.clone()
        }
        (_, Some(gz)) if has_gz => {
            headers.set(
                js_string!("content-encoding"),
                js_string!("gzip"),
                false,
                ctx,
            )?;
            gz.clone()
        }
        _ => {
            let mut body = file.raw.clone();
            if let (true, Some(f)) = (
                has_gz || has_br,
                state.compression.as_ref().and_then(|f| f.as_callable()),
            ) {
                let acc = crate::convert::object_initializer(ctx).build();
                if has_gz {
                    acc.set(js_string!("gzip"), true, false, ctx)?;
                }
                if has_br {
                    acc.set(js_string!("br"), true, false, ctx)?;
                }
                let r = f.call(
                    &JsValue::undefined(),
                    &[
                        request.clone(),
                        acc.into(),
                        js_string!(file.pathname.as_str()).into(),
                        JsValue::from(file.raw.len() as f64),
                    ],
                    ctx,
                )?;
                if r.to_boolean() {
                    match r.as_string().map(|s| s.to_std_string_escaped()).as_deref() {
                        Some("gzip") => {
                            let mut c = pipy_codec::compression::Compressor::new(
                                pipy_codec::compression::Algorithm::Gzip,
                            )
                            .ok_or_else(|| {
                                JsNativeError::error().with_message("gzip unavailable")
                            })?;
                            let mut gz = c.input(&file.raw);
                            gz.extend(c.finish());
                            let gz = bytes::Bytes::from(gz);
                            if let Some(f) = state.cache.borrow_mut().get_mut(&path) {
                                f.gz = Some(gz.clone());
                            }
                            headers.set(
                                js_string!("content-encoding"),
                                js_string!("gzip"),
                                false,
                                ctx,
                            )?;
                            body = gz;
                        }
                        Some(_) => {
                            return Err(JsNativeError::typ()
                                .with_message(
                                    "callback returned an unsupported compression algorithm",
                                )
                                .into())
                        }
                        None => {
                            return Err(JsNativeError::typ()
                                .with_message("callback expected to return a string")
                                .into())
                        }
                    }
                }
            }
            body
        }
    };
    let head = crate::convert::object_initializer(ctx)
        .property(js_string!("status"), 200, Attribute::all())
        .property(js_string!("headers"), headers, Attribute::all())
        .build();
    let body = super::data::new_data(pipy_core::Data::from(body), ctx)?;
    Ok(MessageObject::from_data(
        MessageObject {
            head: head.into(),
            body,
            tail: JsValue::undefined(),
            payload: JsValue::undefined(),
        },
        ctx,
    )?
    .into())
}

impl Class for Directory {
    const NAME: &'static str = "Directory";
    const LENGTH: usize = 2;

    fn data_constructor(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<Self> {
        let root = args
            .first()
            .cloned()
            .unwrap_or_default()
            .to_string(ctx)?
            .to_std_string_escaped();
        let mut state = State {
            root,
            fs: false,
            index: vec!["index".into(), "index.html".into()],
            content_types: None,
            content_types_f: None,
            default_content_type: "application/octet-stream".into(),
            compression: None,
            cache: RefCell::new(HashMap::new()),
            cached_bytes: std::cell::Cell::new(0),
        };
        if let Some(o) = args.get(1).and_then(|v| v.as_object()) {
            state.fs = get(&o, "fs", ctx)?.to_boolean();
            if get(&o, "tarball", ctx)?.to_boolean() {
                return Err(JsNativeError::typ()
                    .with_message(
                        "http.Directory: the tarball option is not supported by this build",
                    )
                    .into());
            }
            let index = get(&o, "index", ctx)?;
            if let Some(a) = index.as_object().filter(|a| a.is_array()) {
                let a = boa_engine::object::builtins::JsArray::from_object(a.clone())?;
                state.index.clear();
                for i in 0..a.length(ctx)? {
                    state
                        .index
                        .push(a.get(i, ctx)?.to_string(ctx)?.to_std_string_escaped());
                }
            } else if !index.is_null_or_undefined() {
                state.index = vec![index.to_string(ctx)?.to_std_string_escaped()];
            }
            let ct = get(&o, "contentTypes", ctx)?;
            if ct.is_callable() {
                state.content_types_f = Some(ct);
            } else if let Some(m) = ct.as_object() {
                let mut map = HashMap::new();
                for key in m.own_property_keys(ctx)? {
                    let v = m
                        .get(key.clone(), ctx)?
                        .to_string(ctx)?
                        .to_std_string_escaped();
                    map.insert(key.to_string(), v);
                }
                state.content_types = Some(map);
            }
            let d = get(&o, "defaultContentType", ctx)?;
            if !d.is_null_or_undefined() {
                state.default_content_type = d.to_string(ctx)?.to_std_string_escaped();
            }
            let c = get(&o, "compression", ctx)?;
            if c.is_callable() {
                state.compression = Some(c);
            }
        }
        Ok(Directory {
            state: crate::gc::SweepSafe::new(std::rc::Rc::new(state)),
        })
    }

    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        class.method(js_string!("serve"), 1, NativeFunction::from_fn_ptr(serve));
        Ok(())
    }
}

/// Installs `http` with its classes.
pub fn install(ctx: &mut Context) -> JsResult<()> {
    let http = crate::convert::object_initializer(ctx).build();
    ctx.register_global_class::<Directory>()?;
    let global = ctx.global_object();
    let ctor = global.get(js_string!("Directory"), ctx)?;
    global.delete_property_or_throw(js_string!("Directory"), ctx)?;
    // `http.Directory.defaultContentTypes`: a fresh object on each read, in
    // name order, as upstream's.
    if let Some(c) = ctor.as_object() {
        let get = NativeFunction::from_fn_ptr(|_, _, ctx| {
            let o = crate::convert::object_initializer(ctx).build();
            let mut types = CONTENT_TYPES.to_vec();
            types.sort();
            for (ext, ty) in types {
                o.set(js_string!(ext), js_string!(ty), false, ctx)?;
            }
            Ok(o.into())
        })
        .to_js_function(ctx.realm());
        c.define_property_or_throw(
            js_string!("defaultContentTypes"),
            boa_engine::property::PropertyDescriptor::builder()
                .get(get)
                .enumerable(false)
                .configurable(true),
            ctx,
        )?;
    }
    http.set(js_string!("Directory"), ctor, false, ctx)?;
    ctx.register_global_property(js_string!("http"), http, Attribute::all())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn default_content_types_are_upstreams() {
        assert_eq!(
            crate::testing::run("JSON.stringify(http.Directory.defaultContentTypes)"),
            r#"{"css":"text/css","gif":"image/gif","html":"text/html","ico":"image/x-icon","jpg":"image/jpeg","js":"application/javascript","json":"application/json","png":"image/png","svg":"image/svg+xml","txt":"text/plain","woff":"font/woff","woff2":"font/woff2","xml":"text/xml"}"#
        );
    }

    #[test]
    fn paths_never_leave_the_root() {
        assert_eq!(normalize("/a/./b/../c"), "/a/c");
        assert_eq!(normalize("/../../etc/passwd"), "/etc/passwd");
        assert_eq!(normalize("/dir/"), "/dir/");
        assert_eq!(normalize(""), "/");
        assert_eq!(normalize("//x//y"), "/x/y");
    }
}
