//! `deframe(states)`: a byte-level state machine written in the script.
//!
//! As upstream: `states` maps state names to functions (or constant
//! results); the first is the initial state. Each input byte is given to the
//! current state's function, which returns the next state's name, or an
//! array: events to output, then the next state's name, then optionally a
//! number of bytes to read and where to: a `Data` (appended to), an array
//! (bytes pushed as numbers), or nothing (the bytes pass to the output as
//! Data). Once read, the state's function gets that `Data` or array instead
//! of a byte. An unknown state or a bad result ends the stream with an
//! error. Reads into a buffer are bounded ([`MAX_READ`]).

use crate::util::{js, Callback};
use boa_engine::object::builtins::JsArray;
use boa_engine::{JsResult, JsValue};
use pipy_core::{Data, Event, Filter, FilterTemplate, Output, StreamError};
use pipy_js::api::data::DataObject;
use std::rc::Rc;

/// Most bytes one read into a buffer may ask for.
pub const MAX_READ: usize = crate::handle::DEFAULT_BODY_LIMIT;

/// Template of `deframe`.
pub struct DeframeTemplate {
    states: Rc<Vec<(String, Callback)>>,
}

impl DeframeTemplate {
    /// A state machine of `states`, in order (the first is the initial one).
    pub fn new(states: Vec<(String, Callback)>) -> Self {
        Self {
            states: Rc::new(states),
        }
    }
}

impl FilterTemplate for DeframeTemplate {
    fn name(&self) -> &'static str {
        "deframe"
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Deframe {
            states: self.states.clone(),
            state: 0,
            read: None,
            failed: false,
        })
    }
}

/// Where a read goes.
enum Target {
    Data(JsValue),
    Array(JsValue),
    Pass,
}

struct Read {
    left: usize,
    target: Target,
}

/// What a state gave: events to output, the next state, and a read.
type Outcome = (Vec<Event>, JsValue, Option<Read>);

struct Deframe {
    states: Rc<Vec<(String, Callback)>>,
    state: usize,
    read: Option<Read>,
    failed: bool,
}

impl Deframe {
    /// Runs the current state with `arg`; sets the next state and read.
    fn step(&mut self, arg: JsValue, out: &mut Output<'_>) -> bool {
        let Some((_, cb)) = self.states.get(self.state) else {
            return false;
        };
        let Some(v) = cb.call(&[arg], out) else {
            return false;
        };
        let r = js(|ctx| -> JsResult<Result<Outcome, String>> {
            let Some(arr) = v.as_object().filter(|o| o.is_array()) else {
                return Ok(Ok((Vec::new(), v.clone(), None)));
            };
            let a = JsArray::from_object(arr.clone())?;
            let len = a.length(ctx)?;
            let mut events = Vec::new();
            let mut i = 0;
            while i < len {
                let e = a.get(i, ctx)?;
                if e.is_string()
                    || !pipy_js::convert::is_event_value(&e)
                    || e.as_object().is_some_and(|o| o.is_array())
                {
                    break;
                }
                pipy_js::convert::js_to_events(&e, ctx, &mut events)?;
                i += 1;
            }
            let next = a.get(i, ctx)?;
            let size = a.get(i + 1, ctx)?;
            let buf = a.get(i + 2, ctx)?;
            if size.is_null_or_undefined() {
                return Ok(Ok((events, next, None)));
            }
            let n = size.to_number(ctx)?;
            if n.is_nan() || n < 1.0 {
                return Ok(Err(format!("invalid reading length {n}")));
            }
            let n = n as usize;
            let target = if buf.is_null_or_undefined() {
                Target::Pass
            } else if buf.as_object().is_some_and(|o| o.is::<DataObject>()) {
                Target::Data(buf)
            } else if buf.as_object().is_some_and(|o| o.is_array()) {
                Target::Array(buf)
            } else {
                return Ok(Err("invalid read buffer".into()));
            };
            if n > MAX_READ && !matches!(target, Target::Pass) {
                return Ok(Err(format!("a read of {n} bytes is over {MAX_READ}")));
            }
            Ok(Ok((events, next, Some(Read { left: n, target }))))
        });
        let (events, next, read) = match r {
            Ok(Ok(x)) => x,
            Ok(Err(msg)) => return self.error(&msg, out),
            Err(e) => return self.error(&e.to_string(), out),
        };
        events.into_iter().for_each(|e| out.push(e));
        let Some(name) = next.as_string().map(|s| s.to_std_string_escaped()) else {
            return self.error("invalid state returned", out);
        };
        let Some(i) = self.states.iter().position(|(n, _)| *n == name) else {
            return self.error(&format!("invalid state: {name}"), out);
        };
        self.state = i;
        self.read = read;
        true
    }

    fn error(&mut self, msg: &str, out: &mut Output<'_>) -> bool {
        tracing::error!("deframe: {msg}");
        out.fail(StreamError::RuntimeError);
        false
    }

    fn feed(&mut self, mut d: Data, out: &mut Output<'_>) -> bool {
        while !d.is_empty() {
            if let Some(read) = &mut self.read {
                let piece = d.shift(read.left);
                read.left -= piece.len();
                let done = read.left == 0;
                match &read.target {
                    Target::Pass => out.push(Event::Data(piece)),
                    Target::Data(v) => {
                        if let Some(o) = v.as_object() {
                            if let Some(mut d) = o.downcast_mut::<DataObject>() {
                                d.data.push(piece);
                            }
                        }
                    }
                    Target::Array(v) => {
                        let r = js(|ctx| -> JsResult<()> {
                            let Some(o) = v.as_object() else {
                                return Ok(());
                            };
                            let a = JsArray::from_object(o.clone())?;
                            for b in piece.bytes() {
                                a.push(i32::from(b), ctx)?;
                            }
                            Ok(())
                        });
                        if r.is_err() {
                            return self.error("cannot fill the read array", out);
                        }
                    }
                }
                if done {
                    let Some(read) = self.read.take() else {
                        continue;
                    };
                    let arg = match read.target {
                        Target::Data(v) | Target::Array(v) => v,
                        Target::Pass => JsValue::from(-1),
                    };
                    if !self.step(arg, out) {
                        return false;
                    }
                }
            } else {
                let byte = d.shift(1).bytes().next().unwrap_or(0);
                if !self.step(JsValue::from(i32::from(byte)), out) {
                    return false;
                }
            }
        }
        true
    }
}

impl Filter for Deframe {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match evt {
            Event::Data(d) => {
                let ok = !self.failed && self.feed(d, out);
                self.failed = !ok;
            }
            Event::StreamEnd(e) => {
                self.state = 0;
                self.read = None;
                self.failed = false;
                out.push(Event::StreamEnd(e));
            }
            _ => {}
        }
    }
}
