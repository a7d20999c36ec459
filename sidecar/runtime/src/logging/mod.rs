//! `logging`: the classes `logging.TextLogger`, `logging.JSONLogger` and
//! `logging.BinaryLogger` of upstream's API reference.
//!
//! `new logging.TextLogger(name)` makes a logger; `toStdout()`, `toStderr()`,
//! `toFile(filename, options)`, `toSyslog(priority)` and `toHTTP(url,
//! options)` add targets (each returns the logger); `log(...values)` turns
//! the values into one line and hands it to every target. A line is:
//!
//! - TextLogger: the values as text, separated by spaces; an object (or null)
//!   is followed by `:` and its JSON (`a [object Object]:{"b":2}`);
//! - JSONLogger: the JSON of each value, one after the other (undefined as
//!   `null`);
//! - BinaryLogger: Data as its bytes, strings as UTF-8, arrays as one byte
//!   per number, anything else as its text.
//!
//! Every line also goes into the history of the logger's name
//! ([`history`]), which a repo shows (and streams) as upstream's does.
//!
//! Logging never blocks a worker: the standard streams and syslog are written
//! by a background thread ([`writer`]), files by `tee`'s ([`pipy_filters::tee`],
//! always shared and appended to, rotated by `tee`'s options), collectors by
//! the worker's own event loop ([`http`]); each holds a bounded amount and
//! leaves out (and counts) lines past it.
//!
//! Where upstream differs: its text for an object names its C++ class
//! (`[object pjs::Array]:[1]`); here it is the script's `String(value)`, as
//! ECMAScript defines it (`1:[1]`).

pub mod history;
mod http;
mod syslog;
mod writer;

pub(crate) use http::{flush_http, unsent};
pub use writer::drain;

use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute;
use boa_engine::{
    js_string, Context, JsData, JsNativeError, JsObject, JsResult, JsValue, NativeFunction,
};
use boa_gc::{Finalize, Trace};
use bytes::Bytes;
use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use writer::Line;

/// How a logger turns values into a line.
#[derive(Clone, Copy)]
enum Format {
    Text,
    Json,
    Binary,
}

/// Where a logger's lines go.
enum Target {
    Stdout,
    Stderr,
    File(PathBuf, pipy_filters::tee::TeeOptions),
    Syslog(u8),
    Http(http::HttpTarget),
}

/// A logger: its format, its targets and the history of its name.
struct Logger {
    format: Format,
    targets: RefCell<Vec<Target>>,
    history: Option<std::sync::Arc<history::LogBuffer>>,
}

impl Logger {
    fn write(&self, line: Vec<u8>) {
        if let Some(h) = &self.history {
            h.push(String::from_utf8_lossy(&line).into_owned());
        }
        let targets = self.targets.borrow();
        let with_newline = || {
            let mut l = Vec::with_capacity(line.len() + 1);
            l.extend_from_slice(&line);
            l.push(b'\n');
            l
        };
        for t in targets.iter() {
            match t {
                Target::Stdout => writer::send(Line::Stdout(with_newline())),
                Target::Stderr => writer::send(Line::Stderr(with_newline())),
                Target::Syslog(severity) => writer::send(Line::Syslog(*severity, line.clone())),
                Target::File(path, options) => pipy_filters::tee::append_shared(
                    path.clone(),
                    options.clone(),
                    Bytes::from(with_newline()),
                ),
                Target::Http(h) => h.write(Bytes::from(line.clone())),
            }
        }
    }
}

fn json(v: &JsValue, ctx: &mut Context) -> String {
    pipy_js::convert::to_json_text(v, ctx).unwrap_or_else(|| "null".into())
}

fn text(v: &JsValue, ctx: &mut Context) -> String {
    match v.to_string(ctx) {
        Ok(s) => s.to_std_string_escaped(),
        // A Symbol, or an object whose toString throws.
        Err(_) => v.display().to_string(),
    }
}

/// One line of `values` in a logger's format.
fn format_line(format: Format, values: &[JsValue], ctx: &mut Context) -> JsResult<Vec<u8>> {
    let mut line = Vec::new();
    match format {
        Format::Text => {
            for (i, v) in values.iter().enumerate() {
                if i > 0 {
                    line.push(b' ');
                }
                line.extend_from_slice(text(v, ctx).as_bytes());
                // As upstream, null counts as an object (`typeof null`).
                if v.is_object() || v.is_null() {
                    line.push(b':');
                    line.extend_from_slice(json(v, ctx).as_bytes());
                }
            }
        }
        Format::Json => {
            for v in values {
                line.extend_from_slice(json(v, ctx).as_bytes());
            }
        }
        Format::Binary => {
            for v in values {
                if let Some(d) = pipy_js::api::data::data_of(v) {
                    line.extend(d.bytes());
                } else if v.is_string() {
                    line.extend_from_slice(text(v, ctx).as_bytes());
                } else if let Some(items) = pipy_js::convert::array_values(v, ctx)? {
                    for item in items {
                        let n = item.to_number(ctx)?;
                        // A byte per number, wrapping as upstream's `char(n)`.
                        line.push(if n.is_finite() { n as i64 as u8 } else { 0 });
                    }
                } else {
                    line.extend_from_slice(text(v, ctx).as_bytes());
                }
            }
        }
    }
    Ok(line)
}

/// The logger behind `this`, of any of the three classes.
fn logger_of(this: &JsValue) -> JsResult<Rc<Logger>> {
    let o = this.as_object();
    let found = o.and_then(|o| {
        o.downcast_ref::<TextLogger>()
            .map(|l| l.0.clone())
            .or_else(|| o.downcast_ref::<JsonLogger>().map(|l| l.0.clone()))
            .or_else(|| o.downcast_ref::<BinaryLogger>().map(|l| l.0.clone()))
    });
    found.ok_or_else(|| JsNativeError::typ().with_message("not a logger").into())
}

fn arg(args: &[JsValue], i: usize) -> JsValue {
    args.get(i).cloned().unwrap_or_default()
}

fn add(this: &JsValue, target: Target) -> JsResult<JsValue> {
    logger_of(this)?.targets.borrow_mut().push(target);
    Ok(this.clone())
}

fn log(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let logger = logger_of(this)?;
    let line = format_line(logger.format, args, ctx)?;
    logger.write(line);
    Ok(JsValue::undefined())
}

fn to_file(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let name = arg(args, 0);
    if !name.is_string() {
        return Err(JsNativeError::typ()
            .with_message("toFile(): argument #1 expects a filename")
            .into());
    }
    let name = name.to_string(ctx)?.to_std_string_escaped();
    let mut opts = crate::options::Options::new("toFile", &arg(args, 1), ctx)?;
    let mut options = crate::config::tee_options(&mut opts, ctx)?;
    opts.finish(ctx)?;
    // As upstream's: a log file is shared by every logger writing it and
    // appended to.
    options.shared = true;
    options.append = true;
    let path = if name == "-" {
        PathBuf::from("-")
    } else {
        std::path::absolute(&name).unwrap_or_else(|_| PathBuf::from(&name))
    };
    add(this, Target::File(path, options))
}

fn to_syslog(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let priority = arg(args, 0);
    let severity = if priority.is_null_or_undefined() {
        6
    } else {
        let p = priority.to_string(ctx)?.to_std_string_escaped();
        match syslog::SEVERITIES.iter().position(|s| *s == p) {
            Some(i) => i as u8,
            None => {
                return Err(JsNativeError::typ()
                    .with_message(format!(
                        "toSyslog(): unknown priority '{p}', expects one of {}",
                        syslog::SEVERITIES.join(", ")
                    ))
                    .into())
            }
        }
    };
    add(this, Target::Syslog(severity))
}

fn to_http(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let target = http::HttpTarget::new(&arg(args, 0), &arg(args, 1), ctx)?;
    add(this, Target::Http(target))
}

/// The methods every logger class has.
fn methods(class: &mut ClassBuilder<'_>) {
    class
        .method(js_string!("log"), 0, NativeFunction::from_fn_ptr(log))
        .method(
            js_string!("toStdout"),
            0,
            NativeFunction::from_fn_ptr(|this, _, _| add(this, Target::Stdout)),
        )
        .method(
            js_string!("toStderr"),
            0,
            NativeFunction::from_fn_ptr(|this, _, _| add(this, Target::Stderr)),
        )
        .method(
            js_string!("toFile"),
            1,
            NativeFunction::from_fn_ptr(to_file),
        )
        .method(
            js_string!("toSyslog"),
            0,
            NativeFunction::from_fn_ptr(to_syslog),
        )
        .method(
            js_string!("toHTTP"),
            1,
            NativeFunction::from_fn_ptr(to_http),
        );
}

/// `new X(name)`: the name is required (it names the log in the repo's GUI).
fn new_logger(
    args: &[JsValue],
    format: Format,
    class: &str,
    ctx: &mut Context,
) -> JsResult<Rc<Logger>> {
    let name = arg(args, 0);
    if !name.is_string() {
        return Err(JsNativeError::typ()
            .with_message(format!("logging.{class}(): argument #1 expects a name"))
            .into());
    }
    let name = name.to_string(ctx)?.to_std_string_escaped();
    Ok(Rc::new(Logger {
        format,
        targets: RefCell::new(Vec::new()),
        history: history::history(&name),
    }))
}

macro_rules! logger_class {
    ($ty:ident, $name:literal, $format:expr) => {
        #[doc = concat!("`logging.", $name, "`.")]
        #[derive(Trace, Finalize, JsData)]
        struct $ty(#[unsafe_ignore_trace] Rc<Logger>);

        impl Class for $ty {
            const NAME: &'static str = $name;
            const LENGTH: usize = 1;

            fn data_constructor(
                _: &JsValue,
                args: &[JsValue],
                ctx: &mut Context,
            ) -> JsResult<Self> {
                new_logger(args, $format, $name, ctx).map($ty)
            }

            fn object_constructor(
                instance: &JsObject<Self>,
                _: &[JsValue],
                ctx: &mut Context,
            ) -> JsResult<()> {
                let logger = instance.borrow().data().0.clone();
                bind_log(&instance.clone().upcast(), logger, ctx)
            }

            fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
                methods(class);
                Ok(())
            }
        }
    };
}

/// The logger a bound `log` writes to.
#[derive(Trace, Finalize)]
struct Bound(#[unsafe_ignore_trace] Rc<Logger>);

/// Gives a logger its own `log`, bound to it: upstream's methods keep their
/// object when taken off it, and its own tests log with `logger.log` passed
/// around alone (`log = new logging.JSONLogger(n).toHTTP(url).log`).
fn bind_log(object: &JsObject, logger: Rc<Logger>, ctx: &mut Context) -> JsResult<()> {
    let f = NativeFunction::from_copy_closure_with_captures(
        |_, args, bound: &Bound, ctx| {
            let line = format_line(bound.0.format, args, ctx)?;
            bound.0.write(line);
            Ok(JsValue::undefined())
        },
        Bound(logger),
    )
    .to_js_function(ctx.realm());
    pipy_js::convert::define_hidden(object, "log", f, ctx)
}

logger_class!(TextLogger, "TextLogger", Format::Text);
logger_class!(JsonLogger, "JSONLogger", Format::Json);
logger_class!(BinaryLogger, "BinaryLogger", Format::Binary);

/// Installs the global `logging`.
pub(crate) fn install(ctx: &mut Context) -> JsResult<()> {
    let logging = ObjectInitializer::new(ctx).build();
    pipy_js::api::class_onto::<TextLogger>(&logging, ctx)?;
    pipy_js::api::class_onto::<JsonLogger>(&logging, ctx)?;
    pipy_js::api::class_onto::<BinaryLogger>(&logging, ctx)?;
    ctx.register_global_property(js_string!("logging"), logging, Attribute::all())?;
    Ok(())
}
