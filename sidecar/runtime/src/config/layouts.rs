//! Configuration methods that start or shape pipeline layouts: `listen`,
//! `pipeline`, `task`, `exit`, `to`, `export`, `import`, `repeat`.

use super::{arg, err, layout_arg, state, Listen, Task, TaskWhen};
use crate::options;
use boa_engine::{js_string, Context, JsResult, JsValue};
use pipy_core::Layout;
use std::net::SocketAddr;

pub(crate) fn m_listen(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    if arg(args, 0).is_null() {
        // `listen(null)`: the filters that follow build a layout nothing
        // listens for (as upstream: a way to switch a port off).
        let layout = Layout::new("Listen on nothing".to_string());
        layout.mark_defined();
        let st = state(this)?;
        let mut s = st.borrow_mut();
        s.current = Some(layout);
        s.joint = None;
        return Ok(());
    }
    let addr = parse_addr(&arg(args, 0), ctx)?;
    let mut opts = options::Options::new("listen", &arg(args, 1), ctx)?;
    let protocol = protocol_option(&mut opts, "listen", ctx)?;
    let socket = super::socket_options::socket_options(&mut opts, ctx)?;
    let max_connections = opts
        .number("maxConnections", ctx)?
        .filter(|n| *n > 0.0)
        .map(|n| n as usize);
    let transparent = opts.get("transparent", ctx)?.to_boolean();
    let peer_stats = opts.get("peerStats", ctx)?.to_boolean();
    // Upstream reads `masquerade` and does nothing with it.
    opts.get("masquerade", ctx)?;
    opts.finish(ctx)?;
    let layout = Layout::new(format!("Listen on {addr}"));
    layout.mark_defined();
    let st = state(this)?;
    let mut s = st.borrow_mut();
    s.listens.push(Listen {
        addr,
        protocol,
        options: socket,
        max_connections,
        transparent,
        peer_stats,
        layout: layout.clone(),
    });
    s.current = Some(layout);
    s.joint = None;
    Ok(())
}

/// `protocol`: `'tcp'` (the default) or `'udp'`.
pub(super) fn protocol_option(
    opts: &mut options::Options,
    method: &str,
    ctx: &mut Context,
) -> JsResult<pipy_core::io::Protocol> {
    let v = opts.get("protocol", ctx)?;
    if v.is_undefined() || v.is_null() {
        return Ok(pipy_core::io::Protocol::Tcp);
    }
    let s = v.to_string(ctx)?.to_std_string_escaped();
    pipy_core::io::Protocol::parse(&s).ok_or_else(|| {
        err(format!(
            "{method}(): option protocol: '{s}' is not 'tcp' or 'udp'"
        ))
    })
}

pub(super) fn m_pipeline(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let a = arg(args, 0);
    let name = if a.is_undefined() {
        String::new()
    } else {
        a.to_string(ctx)?.to_std_string_escaped()
    };
    let st = state(this)?;
    let mut s = st.borrow_mut();
    let layout = s.named(&name);
    if layout.is_defined() {
        return Err(err(format!("duplicated pipeline name '{name}'")));
    }
    layout.mark_defined();
    s.defined_order.push(name);
    s.current = Some(layout);
    s.joint = None;
    Ok(())
}

pub(super) fn m_task(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    // As upstream 1.5: `task([when], [startingEvents])`, the events (or a
    // function giving them) its `onStart`.
    let (a, starting) = match arg(args, 0) {
        a if a.is_string() || a.is_number() || a.is_null_or_undefined() => (a, arg(args, 1)),
        events => (JsValue::undefined(), events),
    };
    let events_or_none = starting.is_null_or_undefined()
        || starting.is_callable()
        || pipy_js::convert::is_event_value(&starting);
    if !events_or_none {
        return Err(err(
            "task(): starting events must be an Event, a Message, a function or an array of them",
        ));
    }
    // As upstream: a text starting with a digit is an interval, any other a
    // signal name.
    let when = if a.is_undefined() || a.is_null() {
        TaskWhen::Once
    } else if a.is_number()
        || a.as_string().is_some_and(|s| {
            s.to_std_string_escaped()
                .starts_with(|c: char| c.is_ascii_digit())
        })
    {
        let t = options::duration(&a, "task()", ctx)?.unwrap_or_default();
        // Upstream's range for task intervals.
        if !(0.01..=86400.0).contains(&t.as_secs_f64()) {
            return Err(err(format!(
                "task(): interval {}s out of range (0.01s to 1d)",
                t.as_secs_f64()
            )));
        }
        TaskWhen::Every(t)
    } else if let Some(name) = a.as_string().map(|s| s.to_std_string_escaped()) {
        if super::signal_number(&name).is_none() {
            return Err(err(format!("task(): invalid signal name '{name}'")));
        }
        TaskWhen::Signal(name)
    } else {
        return Err(err(format!(
            "task(): expects an interval or a signal name, not {}",
            a.type_of()
        )));
    };
    let layout = Layout::new("Task");
    layout.mark_defined();
    let st = state(this)?;
    let mut s = st.borrow_mut();
    s.tasks.push(Task {
        layout: layout.clone(),
        when,
    });
    s.current = Some(layout);
    s.joint = None;
    drop(s);
    if !starting.is_null_or_undefined() {
        super::hook(this, true, starting)?;
    }
    Ok(())
}

/// `watch(filename)`: a pipeline started (as a task, with no input but what
/// its `onStart` gives) each time that file of the codebase changes, one run
/// at a time, as upstream. The file is looked at every second; a file that
/// appears or goes counts as a change.
pub(super) fn m_watch(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let name = arg(args, 0);
    let name = if name.is_string() {
        name.to_string(ctx)?.to_std_string_escaped()
    } else {
        String::new()
    };
    if name.is_empty() {
        return Err(err("watch(): filename cannot be empty"));
    }
    let path = if name.starts_with('/') {
        name
    } else {
        format!("/{name}")
    };
    let layout = Layout::new("Watch");
    layout.mark_defined();
    let st = state(this)?;
    let mut s = st.borrow_mut();
    s.tasks.push(Task {
        layout: layout.clone(),
        when: TaskWhen::Watch(path),
    });
    s.current = Some(layout);
    s.joint = None;
    Ok(())
}

/// `admin(path)`: a pipeline answering the admin port's requests for `path`
/// (which starts with `/admin/`, as upstream requires); its input is the
/// request Message, its output the response Message.
pub(super) fn m_admin(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let path = arg(args, 0);
    let path = if path.is_string() {
        path.to_string(ctx)?.to_std_string_escaped()
    } else {
        String::new()
    };
    if !path.starts_with("/admin/") {
        return Err(err("admin(): path must start with /admin/"));
    }
    let layout = Layout::new("Admin");
    layout.mark_defined();
    let st = state(this)?;
    let mut s = st.borrow_mut();
    s.admins.push((path, layout.clone()));
    s.current = Some(layout);
    s.joint = None;
    Ok(())
}

pub(super) fn m_exit(this: &JsValue, _args: &[JsValue], _ctx: &mut Context) -> JsResult<()> {
    let layout = Layout::new("Exit");
    layout.mark_defined();
    let st = state(this)?;
    let mut s = st.borrow_mut();
    s.exits.push(layout.clone());
    s.current = Some(layout);
    s.joint = None;
    Ok(())
}

pub(super) fn m_to(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let joint = state(this)?
        .borrow_mut()
        .joint
        .take()
        .ok_or_else(|| err("to() must follow a filter that starts sub-pipelines"))?;
    let sub = layout_arg(this, &arg(args, 0), ctx)?;
    if let Some(l) = sub.get() {
        joint.set(l);
    }
    Ok(())
}

pub(super) fn m_export(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let module = state(this)?.borrow().module;
    let ns = arg(args, 0).to_string(ctx)?.to_std_string_escaped();
    let vars = arg(args, 1)
        .as_object()
        .ok_or_else(|| err("export() expects an object of variables"))?;
    let scope = pipy_js::module::scope(module).ok_or_else(|| err("no module scope"))?;
    pipy_js::vars::export(module, &scope, &ns, &vars, ctx)
}

pub(super) fn m_import(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let module = state(this)?.borrow().module;
    let spec = arg(args, 0)
        .as_object()
        .ok_or_else(|| err("import() expects an object"))?;
    let scope = pipy_js::module::scope(module).ok_or_else(|| err("no module scope"))?;
    pipy_js::vars::import(module, &scope, &spec, ctx)
}

pub(super) fn m_repeat(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<()> {
    let what = arg(args, 0);
    if what.is_callable() {
        // Upstream 1.5's filter `repeat(condition).to(...)`.
        let sub = pipy_filters::SubLayout::new();
        let condition = pipy_filters::Callback::new(what, "repeat");
        let t = pipy_filters::replay::ReplayTemplate::repeat(sub.clone(), condition);
        return super::append_joint(this, std::rc::Rc::new(t), sub);
    }
    let f = arg(args, 1);
    let f = f
        .as_callable()
        .ok_or_else(|| err("repeat() expects a function"))?;
    if let Some(n) = what.as_number() {
        for i in 0..(n.max(0.0) as u32) {
            f.call(
                &JsValue::undefined(),
                &[this.clone(), JsValue::from(i)],
                ctx,
            )?;
        }
        return Ok(());
    }
    let obj = what
        .as_object()
        .filter(|o| o.is_array())
        .ok_or_else(|| err("repeat() expects a count or an array"))?;
    let n = obj.get(js_string!("length"), ctx)?.to_length(ctx)?;
    for i in 0..n {
        let item = obj.get(i, ctx)?;
        f.call(
            &JsValue::undefined(),
            &[this.clone(), item, JsValue::from(i as u32)],
            ctx,
        )?;
    }
    Ok(())
}

pub(super) fn parse_addr(v: &JsValue, ctx: &mut Context) -> JsResult<SocketAddr> {
    if let Some(n) = v.as_number() {
        return Ok(SocketAddr::from(([0, 0, 0, 0], n as u16)));
    }
    let s = v.to_string(ctx)?.to_std_string_escaped();
    if let Ok(port) = s.parse::<u16>() {
        return Ok(SocketAddr::from(([0, 0, 0, 0], port)));
    }
    let s2 = s.replace("localhost", "127.0.0.1");
    s2.parse()
        .map_err(|_| err(format!("invalid listening address '{s}'")))
}
