//! `pipy.read(filename, builder)`: streams a file through a pipeline built
//! by `builder`, as upstream's codec tests and scripts use it.
//!
//! As upstream: the file (relative to the working directory; `-` is the
//! standard input) is read in chunks into a new pipeline whose output is
//! dropped, followed by a `StreamEnd`; the call returns a Promise, resolved
//! when the pipeline outputs its `StreamEnd` (rejected when the file cannot
//! be opened). A module may consist of such calls alone: the worker then
//! runs until they are done and exits.

use boa_engine::object::builtins::JsPromise;
use boa_engine::{js_string, Context, JsNativeError, JsResult, JsValue, NativeFunction};
use bytes::Bytes;
use pipy_core::flow::Tap;
use pipy_core::{Data, Event, EventTarget, Pipeline, StreamError};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Bytes read at a time.
const CHUNK: usize = 16 << 10;
/// How long a pipeline may take to end once its input ended.
const END_TIMEOUT: Duration = Duration::from_secs(10);

/// Adds `read` to the `pipy` object.
pub(crate) fn install(ctx: &mut Context) -> JsResult<()> {
    let pipy = ctx.global_object().get(js_string!("pipy"), ctx)?;
    let Some(pipy) = pipy.as_object() else {
        return Ok(());
    };
    let f = NativeFunction::from_fn_ptr(read).to_js_function(ctx.realm());
    pipy.set(js_string!("read"), f, false, ctx)?;
    Ok(())
}

fn read(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let name = args
        .first()
        .cloned()
        .unwrap_or_default()
        .to_string(ctx)?
        .to_std_string_escaped();
    let builder = args.get(1).cloned().unwrap_or_default();
    if !builder.is_callable() {
        return Err(JsNativeError::typ()
            .with_message("pipy.read(): argument #2 expects a function")
            .into());
    }
    let layout = crate::config::build_layout(&builder, ctx)?;
    let (promise, resolvers) = JsPromise::new_pending(ctx);
    // A worker with no port stays while it reads.
    let busy = pipy_js::busy::Busy::begin();
    let settle = move |result: Result<(), String>| {
        pipy_js::with_js(|ctx| {
            let _ = match result {
                Ok(()) => resolvers.resolve.call(&JsValue::undefined(), &[], ctx),
                Err(msg) => {
                    let err = JsNativeError::error().with_message(msg).into_opaque(ctx);
                    resolvers
                        .reject
                        .call(&JsValue::undefined(), &[err.into()], ctx)
                }
            };
            let _ = ctx.run_jobs();
        });
        drop(busy);
    };
    tokio::task::spawn_local(async move {
        let r = run(&name, layout).await;
        if let Err(e) = &r {
            tracing::error!("pipy.read(): {e}");
        }
        settle(r);
    });
    Ok(promise.into())
}

async fn run(name: &str, layout: pipy_core::Layout) -> Result<(), String> {
    let mut source: Box<dyn AsyncRead + Unpin> = if name == "-" {
        Box::new(tokio::io::stdin())
    } else {
        let f = tokio::fs::File::open(name)
            .await
            .map_err(|e| format!("cannot open file: {name}: {e}"))?;
        Box::new(f)
    };
    let ended = Rc::new(tokio::sync::Notify::new());
    let seen_end = Rc::new(RefCell::new(false));
    let (e, s) = (ended.clone(), seen_end.clone());
    let output = EventTarget::Func(Rc::new(move |evt: Event| {
        if evt.is_stream_end() {
            *s.borrow_mut() = true;
            e.notify_one();
        }
    }));
    let pipeline = Pipeline::new(&layout, pipy_core::Context::new(None), output);
    pipeline.start();
    let tap = Tap::new();
    let mut end = StreamError::NoError;
    loop {
        tap.opened().await;
        let mut buf = vec![0u8; CHUNK];
        match source.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => {
                buf.truncate(n);
                let _in = tap.enter();
                pipeline.input(Event::Data(Data::from(Bytes::from(buf))));
            }
            Err(e) => {
                tracing::error!("pipy.read(): {name}: {e}");
                end = StreamError::ReadError;
                break;
            }
        }
    }
    {
        let _in = tap.enter();
        pipeline.input(Event::StreamEnd(end));
    }
    if !*seen_end.borrow() {
        let _ = tokio::time::timeout(END_TIMEOUT, ended.notified()).await;
    }
    Ok(())
}
