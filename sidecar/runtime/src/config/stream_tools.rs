//! Configuration methods of the stream tools: `split`, `pack`, `insert`,
//! `produce`, `depositMessage`, `wait`, `loop`, `replay`, `tee`, `read`,
//! `exec`, `deframe` and the throttles.

use super::{append, append_joint, arg, err, layout_arg, Method};
use crate::options::{self, Options};
use boa_engine::{Context, JsResult, JsValue};
use pipy_filters::{
    deframe, deposit_message, exec, insert, pack, produce, r#loop, read, replay, split, tee,
    throttle, wait, Callback, SubLayout,
};
use std::rc::Rc;

/// Every method of this file, by name.
pub(super) fn methods() -> Vec<(&'static str, Method)> {
    vec![
        ("split", m_split),
        ("pack", m_pack),
        ("insert", m_insert),
        ("produce", m_produce),
        ("depositMessage", m_deposit_message),
        ("wait", m_wait),
        ("loop", m_loop),
        ("replay", m_replay),
        ("tee", m_tee),
        ("read", m_read),
        ("exec", m_exec),
        ("deframe", m_deframe),
        ("throttleConcurrency", |t, a, c| {
            m_throttle(throttle::Kind::Concurrency, t, a, c)
        }),
        ("throttleDataRate", |t, a, c| {
            m_throttle(throttle::Kind::DataRate, t, a, c)
        }),
        ("throttleMessageRate", |t, a, c| {
            m_throttle(throttle::Kind::MessageRate, t, a, c)
        }),
    ]
}

fn m_split(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let sep = arg(args, 0);
    if sep.is_undefined() {
        return Err(err("split(): expects a separator"));
    }
    let t = split::SplitTemplate::new(Callback::new(sep, "split"), ctx)
        .map_err(|e| err(format!("split(): {e}")))?;
    append(this, Rc::new(t))
}

/// An optional text option.
fn text(
    opts: &mut Options,
    key: &'static str,
    ctx: &mut Context,
) -> JsResult<Option<bytes::Bytes>> {
    let v = opts.get(key, ctx)?;
    if v.is_null_or_undefined() {
        return Ok(None);
    }
    let s = v.to_string(ctx)?.to_std_string_escaped();
    Ok(Some(bytes::Bytes::from(s)))
}

/// `pack`'s options (also the `batch` of a logger's `toHTTP`).
pub(crate) fn pack_options(opts: &mut Options, ctx: &mut Context) -> JsResult<pack::PackOptions> {
    let mut o = pack::PackOptions::default();
    if let Some(t) = opts.duration("timeout", ctx)? {
        o.timeout = Some(t);
    }
    if let Some(t) = opts.duration("interval", ctx)? {
        o.interval = Some(t);
    }
    opts.number("vacancy", ctx)?;
    o.prefix = text(opts, "prefix", ctx)?;
    o.postfix = text(opts, "postfix", ctx)?;
    o.separator = text(opts, "separator", ctx)?;
    Ok(o)
}

fn m_pack(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let a0 = arg(args, 0);
    let batch = if a0.is_null_or_undefined() {
        1
    } else {
        let n = a0.to_number(ctx)?;
        if n.is_finite() && n >= 1.0 {
            n as usize
        } else {
            1
        }
    };
    let mut opts = Options::new("pack", &arg(args, 1), ctx)?;
    let o = pack_options(&mut opts, ctx)?;
    opts.finish(ctx)?;
    append(this, Rc::new(pack::PackTemplate::new(batch, o)))
}

fn m_produce(this: &JsValue, args: &[JsValue], _ctx: &mut Context) -> JsResult<()> {
    let v = arg(args, 0);
    if !(v.is_callable() || v.as_promise().is_some() || pipy_js::convert::is_event_value(&v)) {
        return Err(err(
            "produce(): expects an Event, a Message, an array, a Promise or a function",
        ));
    }
    append(
        this,
        Rc::new(produce::ProduceTemplate(Callback::new(v, "produce"))),
    )
}

fn m_deposit_message(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let filename = arg(args, 0);
    if filename.is_null_or_undefined() {
        return Err(err("depositMessage(): expects a filename"));
    }
    let mut opts = Options::new("depositMessage", &arg(args, 1), ctx)?;
    let threshold = opts.size("threshold", ctx)?.unwrap_or(0) as usize;
    let keep = opts.get("keep", ctx)?.to_boolean();
    opts.finish(ctx)?;
    let t = deposit_message::DepositMessageTemplate::new(
        Callback::new(filename, "depositMessage"),
        threshold,
        keep,
    );
    append(this, Rc::new(t))
}

fn m_insert(this: &JsValue, args: &[JsValue], _ctx: &mut Context) -> JsResult<()> {
    let v = arg(args, 0);
    if !(v.is_callable() || pipy_js::convert::is_event_value(&v)) {
        return Err(err(
            "insert(): expects an Event, a Message, a function or an array",
        ));
    }
    append(
        this,
        Rc::new(insert::InsertTemplate(Callback::new(v, "insert"))),
    )
}

fn m_wait(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let cond = arg(args, 0);
    if !cond.is_callable() {
        return Err(err("wait(): expects a function"));
    }
    let mut opts = Options::new("wait", &arg(args, 1), ctx)?;
    let timeout = opts.duration("timeout", ctx)?;
    opts.finish(ctx)?;
    append(
        this,
        Rc::new(wait::WaitTemplate::new(
            Callback::new(cond, "wait"),
            timeout,
        )),
    )
}

fn m_loop(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let builder = arg(args, 0);
    if !builder.is_callable() {
        return Err(err("loop(): expects a function"));
    }
    let sub = layout_arg(this, &builder, ctx)?;
    append(this, Rc::new(r#loop::LoopTemplate(sub)))
}

fn m_replay(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let mut opts = Options::new("replay", &arg(args, 0), ctx)?;
    let delay = opts.get("delay", ctx)?;
    let delay = if delay.is_null_or_undefined() {
        None
    } else if delay.is_callable() {
        Some(Callback::new(delay, "replay"))
    } else {
        // Checked now, so a typo fails at load time.
        options::duration(&delay, "replay(): delay", ctx)?;
        Some(Callback::new(delay, "replay"))
    };
    opts.finish(ctx)?;
    let sub = SubLayout::new();
    append_joint(
        this,
        Rc::new(replay::ReplayTemplate::new(sub.clone(), delay)),
        sub,
    )
}

fn string_or_function(v: &JsValue, method: &str) -> JsResult<()> {
    if v.is_callable() || v.is_string() {
        Ok(())
    } else {
        Err(err(format!(
            "{method}(): expects a filename or a function returning one"
        )))
    }
}

/// `tee`'s options (also those of a logger's `toFile`).
pub(crate) fn tee_options(opts: &mut Options, ctx: &mut Context) -> JsResult<tee::TeeOptions> {
    let mut o = tee::TeeOptions {
        append: opts.get("append", ctx)?.to_boolean(),
        shared: opts.get("shared", ctx)?.to_boolean(),
        ..Default::default()
    };
    if let Some(n) = opts.size("maxFileSize", ctx)? {
        o.max_file_size = n;
    }
    if let Some(n) = opts.number("maxFileCount", ctx)? {
        o.max_file_count = if n > 0.0 { n as usize } else { 0 };
    }
    if let Some(d) = opts.duration("rotateInterval", ctx)? {
        o.rotate_interval = d;
    }
    Ok(o)
}

fn m_tee(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let filename = arg(args, 0);
    string_or_function(&filename, "tee")?;
    let mut opts = Options::new("tee", &arg(args, 1), ctx)?;
    let o = tee_options(&mut opts, ctx)?;
    opts.finish(ctx)?;
    append(
        this,
        Rc::new(tee::TeeTemplate::new(Callback::new(filename, "tee"), o)),
    )
}

fn m_read(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let filename = arg(args, 0);
    string_or_function(&filename, "read")?;
    let mut opts = Options::new("read", &arg(args, 1), ctx)?;
    let mut number_or_fn = |key: &'static str, ctx: &mut Context| -> JsResult<Option<Callback>> {
        let v = opts.get(key, ctx)?;
        Ok((!v.is_null_or_undefined()).then(|| Callback::new(v, "read")))
    };
    let seek = number_or_fn("seek", ctx)?;
    let size = number_or_fn("size", ctx)?;
    opts.finish(ctx)?;
    append(
        this,
        Rc::new(read::ReadTemplate::new(
            Callback::new(filename, "read"),
            seek,
            size,
        )),
    )
}

fn m_throttle(
    kind: throttle::Kind,
    this: &JsValue,
    args: &[JsValue],
    ctx: &mut Context,
) -> JsResult<()> {
    let t = throttle::ThrottleTemplate::new(kind, Callback::new(arg(args, 0), "throttle"), true);
    let name = pipy_core::FilterTemplate::name(&t);
    let quota = arg(args, 0);
    if !(quota.is_callable() || pipy_js::api::quota::is_quota(&quota)) {
        return Err(err(format!(
            "{name}(): expects an algo.Quota or a function returning that"
        )));
    }
    let mut opts = Options::new(name, &arg(args, 1), ctx)?;
    let block = opts.get("blockInput", ctx)?;
    let block_input = block.is_null_or_undefined() || block.to_boolean();
    opts.finish(ctx)?;
    append(
        this,
        Rc::new(throttle::ThrottleTemplate::new(
            kind,
            Callback::new(quota, name),
            block_input,
        )),
    )
}

fn m_exec(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let command = arg(args, 0);
    let is_array = command.as_object().is_some_and(|o| o.is_array());
    if !(command.is_callable() || command.is_string() || is_array) {
        return Err(err(
            "exec(): expects a command line, an array of words or a function returning either",
        ));
    }
    let mut opts = Options::new("exec", &arg(args, 1), ctx)?;
    if opts.get("pty", ctx)?.to_boolean() {
        return Err(err(
            "exec(): pty is not supported by this build (the output is read from pipes)",
        ));
    }
    let callback = |v: JsValue, what: &str| -> JsResult<Option<Callback>> {
        if v.is_null_or_undefined() {
            Ok(None)
        } else if v.is_callable() {
            Ok(Some(Callback::new(v, "exec")))
        } else {
            Err(err(format!("exec(): {what} expects a function")))
        }
    };
    let env = opts.get("env", ctx)?;
    let o = exec::ExecOptions {
        stderr: opts.get("stderr", ctx)?.to_boolean(),
        env: (!env.is_null_or_undefined()).then(|| Callback::new(env, "exec")),
        on_start: callback(opts.get("onStart", ctx)?, "onStart")?,
        on_exit: callback(opts.get("onExit", ctx)?, "onExit")?,
    };
    opts.finish(ctx)?;
    append(
        this,
        Rc::new(exec::ExecTemplate::new(Callback::new(command, "exec"), o)),
    )
}

fn m_deframe(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let states = arg(args, 0);
    let Some(obj) = states.as_object().filter(|_| !states.is_callable()) else {
        return Err(err("deframe(): expects an object of states"));
    };
    let mut list = Vec::new();
    for key in obj.own_property_keys(ctx)? {
        let v = obj.get(key.clone(), ctx)?;
        list.push((key.to_string(), Callback::new(v, "deframe")));
    }
    if list.is_empty() {
        return Err(err("deframe(): needs at least one state"));
    }
    append(this, Rc::new(deframe::DeframeTemplate::new(list)))
}
