//! `exec(command, { stderr, env, onStart, onExit })`: a child process as a
//! filter, the stream's Data into its standard input, its standard output
//! out.
//!
//! As upstream: the command (text split into words as a shell would, quotes
//! and backslashes honoured, but run without a shell; or an array of words;
//! or a function giving either) starts at the stream's first event. `env`
//! (an object, or a function giving one) replaces the environment. Standard
//! error is kept for `onExit(code, stderr)` unless `stderr: true` mixes it
//! into the output. When the process has exited and its output is read, the
//! stream ends, or `onExit` gives what to output instead. `onStart(pid)` is
//! told the process id. The end of the input stream, or of the pipeline,
//! kills the process (SIGTERM, then SIGKILL after [`KILL_GRACE`]); it is
//! always reaped.
//!
//! Differs from upstream 1.5.18: `onExit` is called once, after the last of
//! the output (upstream may call it before the output is read, and again
//! after); `pty` is refused (a terminal needs unsafe code this build does
//! not have); kept standard error is bounded ([`MAX_STDERR`]).

use crate::util::{js, Callback};
use boa_engine::{JsResult, JsValue};
use bytes::Bytes;
use pipy_core::flow::Tap;
use pipy_core::{
    io, Data, Event, EventTarget, Filter, FilterTemplate, Outbox, Output, StreamError,
};
use std::cell::Cell;
use std::process::Stdio;
use std::rc::Rc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

/// Bytes of standard error kept for `onExit`.
pub const MAX_STDERR: usize = 1 << 20;
/// How long a killed process has to go after SIGTERM before SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(5);

/// Options of `exec`.
#[derive(Clone, Default)]
pub struct ExecOptions {
    /// Mix standard error into the output.
    pub stderr: bool,
    /// The environment (an object or a function giving one).
    pub env: Option<Callback>,
    /// Told the process id.
    pub on_start: Option<Callback>,
    /// Told the exit code (and standard error); gives what to output.
    pub on_exit: Option<Callback>,
}

/// Template of `exec`.
pub struct ExecTemplate {
    command: Callback,
    options: ExecOptions,
}

impl ExecTemplate {
    /// Runs `command` with `options`.
    pub fn new(command: Callback, options: ExecOptions) -> Self {
        Self { command, options }
    }
}

impl FilterTemplate for ExecTemplate {
    fn name(&self) -> &'static str {
        "exec"
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Exec {
            command: self.command.clone(),
            options: self.options.clone(),
            child: None,
            started: false,
            stdout_ended: false,
            stderr_ended: false,
            exit: Rc::new(Cell::new(None)),
            stderr: Data::new(),
            finished: false,
        })
    }
}

/// The running child: what feeds its input and what kills it.
struct Child {
    stdin: Rc<Outbox>,
    kill: Rc<tokio::sync::Notify>,
}

struct Exec {
    command: Callback,
    options: ExecOptions,
    child: Option<Child>,
    started: bool,
    stdout_ended: bool,
    stderr_ended: bool,
    exit: Rc<Cell<Option<i32>>>,
    stderr: Data,
    finished: bool,
}

const STDOUT: u64 = 1;
const STDERR: u64 = 2;
const EXITED: u64 = 3;

/// Splits a command line into words as a POSIX shell would (quotes and
/// backslashes), without expanding anything.
pub fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut has = false;
    let mut chars = line.chars();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => match chars.next() {
                Some(n @ ('"' | '\\' | '$' | '`')) => cur.push(n),
                Some(n) => {
                    cur.push('\\');
                    cur.push(n);
                }
                None => cur.push('\\'),
            },
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                has = true;
            }
            (None, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                has = true;
            }
            (None, c) if c.is_whitespace() => {
                if has || !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                    has = false;
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if has || !cur.is_empty() {
        words.push(cur);
    }
    words
}

fn words_of(v: &JsValue, ctx: &mut boa_engine::Context) -> JsResult<Vec<String>> {
    if let Some(o) = v.as_object().filter(|o| o.is_array()) {
        let a = boa_engine::object::builtins::JsArray::from_object(o.clone())?;
        let mut out = Vec::new();
        for i in 0..a.length(ctx)? {
            out.push(a.get(i, ctx)?.to_string(ctx)?.to_std_string_escaped());
        }
        return Ok(out);
    }
    Ok(split_words(&v.to_string(ctx)?.to_std_string_escaped()))
}

fn env_of(v: &JsValue, ctx: &mut boa_engine::Context) -> JsResult<Option<Vec<(String, String)>>> {
    if v.is_null_or_undefined() {
        return Ok(None);
    }
    let Some(o) = v.as_object() else {
        return Err(boa_engine::JsNativeError::typ()
            .with_message("options.env didn't return an object")
            .into());
    };
    let mut vars = Vec::new();
    for key in o.own_property_keys(ctx)? {
        let name = key.to_string();
        if name.is_empty() {
            continue;
        }
        let value = o.get(key, ctx)?.to_string(ctx)?.to_std_string_escaped();
        vars.push((name, value));
    }
    Ok(Some(vars))
}

impl Exec {
    fn start(&mut self, out: &mut Output<'_>) -> Option<()> {
        let v = self.command.call(&[], out)?;
        let env = match &self.options.env {
            Some(cb) => Some(cb.call(&[], out)?),
            None => None,
        };
        let parsed = js(|ctx| -> JsResult<_> {
            let words = words_of(&v, ctx)?;
            let env = match env {
                Some(e) => env_of(&e, ctx)?,
                None => None,
            };
            Ok((words, env))
        });
        let (words, env) = match parsed {
            Ok(p) => p,
            Err(e) => {
                tracing::error!("exec: {e}");
                out.fail(StreamError::RuntimeError);
                return None;
            }
        };
        let Some((program, args)) = words.split_first() else {
            tracing::error!("exec: exec() with no arguments");
            out.fail(StreamError::RuntimeError);
            return None;
        };
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(vars) = env {
            cmd.env_clear().envs(vars);
        }
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("exec: cannot run {program}: {e}");
                out.fail(StreamError::RuntimeError);
                return None;
            }
        };
        tracing::debug!(
            "[exec] child process started [pid = {:?}]: {program}",
            child.id()
        );
        let pid = child.id().unwrap_or(0);
        let stdin = Outbox::new();
        let kill = Rc::new(tokio::sync::Notify::new());
        if let Some(w) = child.stdin.take() {
            io::spawn(Box::pin(write_stdin(w, stdin.clone())));
        }
        if let Some(r) = child.stdout.take() {
            io::spawn(Box::pin(read_pipe(r, out.reply_target(STDOUT))));
        }
        if let Some(r) = child.stderr.take() {
            io::spawn(Box::pin(read_pipe(r, out.reply_target(STDERR))));
        }
        // A worker with no port stays while the child runs.
        let busy = pipy_js::busy::Busy::begin();
        let waiting = wait_child(
            child,
            kill.clone(),
            self.exit.clone(),
            out.reply_target(EXITED),
        );
        io::spawn(Box::pin(async move {
            waiting.await;
            drop(busy);
        }));
        self.child = Some(Child { stdin, kill });
        if let Some(f) = &self.options.on_start {
            f.call(&[JsValue::from(pid)], out)?;
        }
        Some(())
    }

    fn kill(&mut self) {
        if let Some(c) = &self.child {
            c.kill.notify_one();
            c.stdin.abandon();
        }
    }

    /// Once the process exited and its output is read: the end of the stream,
    /// or what `onExit` gives.
    fn check_ending(&mut self, out: &mut Output<'_>) {
        let Some(code) = self.exit.get() else { return };
        if self.finished || !self.stdout_ended || !self.stderr_ended {
            return;
        }
        self.finished = true;
        let Some(f) = self.options.on_exit.clone() else {
            return out.push(Event::StreamEnd(StreamError::NoError));
        };
        let mut args = vec![JsValue::from(code)];
        if !self.options.stderr {
            let data = std::mem::take(&mut self.stderr);
            match js(|ctx| pipy_js::api::data::new_data(data, ctx)) {
                Ok(d) => args.push(d),
                Err(_) => return out.fail(StreamError::RuntimeError),
            }
        }
        let Some(ret) = f.call(&args, out) else {
            return;
        };
        if ret.is_undefined() {
            return;
        }
        let mut events = Vec::new();
        let ok = pipy_js::convert::is_event_value(&ret)
            && js(|ctx| pipy_js::convert::js_to_events(&ret, ctx, &mut events)).is_ok();
        if !ok {
            tracing::error!("exec: onExit didn't return an event or Message or an array of those");
            return out.fail(StreamError::RuntimeError);
        }
        events.into_iter().for_each(|e| out.push(e));
    }
}

impl Filter for Exec {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if !self.started {
            self.started = true;
            if self.start(out).is_none() {
                return;
            }
        }
        let Some(child) = &self.child else { return };
        match evt {
            Event::StreamEnd(_) => self.kill(),
            Event::Data(d) => child.stdin.push(Event::Data(d)),
            _ => {}
        }
    }

    fn on_reply(&mut self, key: u64, evt: Event, out: &mut Output<'_>) {
        match (key, evt) {
            (STDOUT, Event::Data(d)) => out.push(Event::Data(d)),
            (STDOUT, Event::StreamEnd(_)) => {
                self.stdout_ended = true;
                self.check_ending(out);
            }
            (STDERR, Event::Data(d)) => {
                if self.options.stderr {
                    out.push(Event::Data(d));
                } else if self.stderr.len() < MAX_STDERR {
                    let room = MAX_STDERR - self.stderr.len();
                    let mut d = d;
                    self.stderr.push(d.shift(room));
                }
            }
            (STDERR, Event::StreamEnd(_)) => {
                self.stderr_ended = true;
                self.check_ending(out);
            }
            (EXITED, _) => self.check_ending(out),
            _ => {}
        }
    }
}

impl Drop for Exec {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn write_stdin(mut w: tokio::process::ChildStdin, outbox: Rc<Outbox>) {
    loop {
        outbox.ready().await;
        let batch = outbox.take();
        for chunk in batch.data.chunks() {
            if w.write_all(chunk).await.is_err() {
                outbox.close();
                return;
            }
        }
        outbox.written(batch.data.len());
        if batch.end.is_some() || batch.abandoned || batch.overflow {
            return;
        }
    }
}

async fn read_pipe(mut r: impl AsyncRead + Unpin, reply: EventTarget) {
    let tap = Tap::new();
    let mut buf = vec![0u8; 16 << 10];
    loop {
        tap.opened().await;
        if reply.is_closed() {
            return;
        }
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let _in = tap.enter();
                reply.send(Event::Data(Data::from(Bytes::copy_from_slice(&buf[..n]))));
            }
        }
    }
    let _in = tap.enter();
    reply.send(Event::StreamEnd(StreamError::NoError));
}

async fn wait_child(
    mut child: tokio::process::Child,
    kill: Rc<tokio::sync::Notify>,
    exit: Rc<Cell<Option<i32>>>,
    reply: EventTarget,
) {
    let status = tokio::select! {
        s = child.wait() => s,
        _ = kill.notified() => {
            // SIGTERM first, as upstream; SIGKILL if it does not go.
            let pid = child.id().and_then(|p| i32::try_from(p).ok());
            if let Some(pid) = pid.and_then(rustix::process::Pid::from_raw) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            }
            match tokio::time::timeout(KILL_GRACE, child.wait()).await {
                Ok(s) => s,
                Err(_) => {
                    let _ = child.start_kill();
                    child.wait().await
                }
            }
        }
    };
    let code = match status {
        Ok(s) => {
            use std::os::unix::process::ExitStatusExt;
            s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0))
        }
        Err(_) => -1,
    };
    exit.set(Some(code));
    reply.send(Event::Data(Data::new()));
}

#[cfg(test)]
mod tests {
    use super::split_words;

    #[test]
    fn command_lines_split_as_a_shell_splits_them() {
        assert_eq!(split_words("ls -l  /tmp"), ["ls", "-l", "/tmp"]);
        assert_eq!(
            split_words(r#"sh -c 'echo "a b"; exit 3' "x\"y" a\ b ''"#),
            ["sh", "-c", r#"echo "a b"; exit 3"#, r#"x"y"#, "a b", ""]
        );
    }
}
