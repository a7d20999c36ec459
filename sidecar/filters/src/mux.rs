//! `mux(key?, options?)` (`muxQueue` in upstream 1.5's pipeline API): the
//! messages of many streams go, each whole and one
//! after another, into one shared sub-pipeline per key (by default the
//! inbound connection); the first `outputCount` messages (1 by default) the
//! shared pipeline outputs for each are that stream's answers, in order. This
//! is upstream 1.5's behaviour (its reference pages still say a mux outputs
//! its input; compared side by side). How long shared pipelines live and how
//! many streams share one: `mux_pool`.

use crate::mux_pool::{session_key, Pool, Session, Sharing, Wire};
use crate::util::Callback;
use crate::SubLayout;
use pipy_core::{
    Event, EventTarget, Filter, FilterDump, FilterTemplate, Output, StreamError, SubKind,
};
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

/// Options of `mux`.
#[derive(Clone, Debug)]
pub struct MuxOptions {
    /// How long a shared pipeline nobody uses stays open.
    pub max_idle: Duration,
    /// Messages after which a shared pipeline takes no new streams (0: no limit).
    pub max_messages: usize,
    /// Streams one shared pipeline takes at once; more open another one for
    /// the same key (0: no limit).
    pub max_queue: usize,
    /// Answers (messages out of the shared pipeline) per message in.
    pub output_count: usize,
}

impl Default for MuxOptions {
    fn default() -> Self {
        Self {
            max_idle: Duration::from_secs(60),
            max_messages: 0,
            max_queue: 0,
            output_count: 1,
        }
    }
}

impl MuxOptions {
    pub(crate) fn sharing(&self) -> Sharing {
        Sharing {
            max_idle: self.max_idle,
            max_queue: self.max_queue,
        }
    }
}

/// A stream waiting for answers.
struct Waiter {
    target: EventTarget,
    left: usize,
}

/// `mux`'s routing: answers go to the streams in the order their messages
/// went in.
#[derive(Default)]
struct Queue {
    waiting: VecDeque<Waiter>,
}

impl Wire for Queue {
    fn route(&mut self, evt: Event, deliveries: &mut Vec<(EventTarget, Event)>) {
        let Some(front) = self.waiting.front_mut() else {
            return;
        };
        let target = front.target.clone();
        if matches!(evt, Event::MessageEnd(_)) {
            front.left -= 1;
            if front.left == 0 {
                self.waiting.pop_front();
            }
        }
        deliveries.push((target, evt));
    }

    fn end(&mut self) -> Vec<EventTarget> {
        self.waiting.drain(..).map(|w| w.target).collect()
    }
}

/// Template of `mux()`.
pub struct MuxTemplate {
    key: Option<Callback>,
    sub: SubLayout,
    options: MuxOptions,
    options_fn: Option<(Callback, OptionsParser)>,
    output_count_fn: Option<Callback>,
    pool: Rc<Pool<Queue>>,
}

impl MuxTemplate {
    /// `mux(key?, options?)`; the shared pipeline comes with `.to(...)`.
    pub fn new(key: Option<Callback>, sub: SubLayout, options: MuxOptions) -> Self {
        Self {
            key,
            sub,
            options,
            options_fn: None,
            output_count_fn: None,
            pool: Rc::default(),
        }
    }

    /// The same, with `outputCount` given by a function of each message's
    /// `MessageStart`, as upstream asks it per message.
    pub fn with_output_count_fn(mut self, f: Callback) -> Self {
        self.output_count_fn = Some(f);
        self
    }

    /// The same, with options given by a function, asked when a stream sends
    /// its first message and read by `parse`.
    pub fn with_options_fn(mut self, f: Callback, parse: OptionsParser) -> Self {
        self.options_fn = Some((f, parse));
        self
    }
}

/// Reads the options object a function returned (the Configuration's reader).
pub type OptionsParser =
    fn(&boa_engine::JsValue, &mut boa_engine::Context) -> boa_engine::JsResult<MuxOptions>;

impl FilterTemplate for MuxTemplate {
    fn name(&self) -> &'static str {
        "mux"
    }
    fn dump(&self) -> Option<FilterDump> {
        Some(FilterDump::joint(self.name(), vec![self.sub.get()]).with_kind(SubKind::Mux))
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Mux {
            key: self.key.clone(),
            sub: self.sub.clone(),
            options: self.options.clone(),
            options_fn: self.options_fn.clone(),
            output_count_fn: self.output_count_fn.clone(),
            pool: self.pool.clone(),
            session: None,
            message: Vec::new(),
            held: 0,
            expected: 0,
            input_ended: false,
            done: false,
        })
    }
}

struct Mux {
    key: Option<Callback>,
    sub: SubLayout,
    options: MuxOptions,
    /// Asked once, at the stream's first message; then `None`.
    options_fn: Option<(Callback, OptionsParser)>,
    output_count_fn: Option<Callback>,
    pool: Rc<Pool<Queue>>,
    session: Option<Rc<Session<Queue>>>,
    /// The message being gathered, to go into the shared pipeline whole.
    message: Vec<Event>,
    /// Bytes of body in `message`.
    held: usize,
    /// Answers still to come.
    expected: usize,
    input_ended: bool,
    done: bool,
}

impl Mux {
    fn session(&mut self, out: &Output<'_>) -> Option<Rc<Session<Queue>>> {
        if let Some(s) = &self.session {
            return Some(s.clone());
        }
        // A key function that throws ends the stream (`Callback::call`).
        let key = session_key(&self.key, out)?;
        let layout = self.sub.get()?;
        let s = self.pool.join(key, self.options.sharing(), &layout, out);
        self.session = Some(s.clone());
        Some(s)
    }

    fn leave(&mut self) {
        if let Some(s) = self.session.take() {
            s.leave();
        }
    }
}

impl Mux {
    /// Sends the gathered message into the shared pipeline and waits for its
    /// answers.
    fn send(&mut self, out: &mut Output<'_>) {
        let mut count = self.options.output_count;
        if let (Some(f), Some(start)) = (&self.output_count_fn, self.message.first_mut()) {
            let arg = crate::util::js(|ctx| pipy_js::convert::event_to_js(start, ctx));
            let Ok(arg) = arg else { return };
            // A function that throws ends the stream (`Callback::call`).
            let Some(v) = f.call(&[arg], out) else { return };
            count = v.as_number().map_or(1, |n| n.max(0.0) as usize);
        }
        let Some(s) = self.session(out) else {
            self.message.clear();
            return;
        };
        s.count_message(self.options.max_messages);
        if count > 0 {
            s.wire().waiting.push_back(Waiter {
                target: out.reply_target(0),
                left: count,
            });
            self.expected += count;
        }
        let message = std::mem::take(&mut self.message);
        self.held = 0;
        s.input(message);
    }

    fn finish(&mut self, err: StreamError, out: &mut Output<'_>) {
        self.done = true;
        self.leave();
        out.push(Event::StreamEnd(err));
    }
}

impl Filter for Mux {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        if self.done {
            return;
        }
        match evt {
            Event::MessageStart(_) => {
                if let Some((f, parse)) = self.options_fn.take() {
                    // A function that throws ends the stream (`Callback::call`).
                    let Some(v) = f.call(&[], out) else { return };
                    match crate::util::js(|ctx| parse(&v, ctx)) {
                        Ok(o) => self.options = o,
                        Err(e) => {
                            tracing::error!("mux(): options: {e}");
                            out.fail(StreamError::RuntimeError);
                            return;
                        }
                    }
                }
                self.message.clear();
                self.held = 0;
                self.message.push(evt);
            }
            Event::Data(d) => {
                if self.message.is_empty() {
                    return;
                }
                self.held += d.len();
                if self.held > crate::handle::DEFAULT_BODY_LIMIT {
                    tracing::error!(
                        "mux: a message over {} bytes",
                        crate::handle::DEFAULT_BODY_LIMIT
                    );
                    self.message.clear();
                    out.fail(StreamError::BufferOverflow);
                    return;
                }
                self.message.push(Event::Data(d));
            }
            Event::MessageEnd(_) => {
                if self.message.is_empty() {
                    return;
                }
                self.message.push(evt);
                self.send(out);
            }
            Event::StreamEnd(err) => {
                self.input_ended = true;
                if self.expected == 0 {
                    self.finish(err, out);
                }
            }
        }
    }

    fn on_reply(&mut self, _key: u64, evt: Event, out: &mut Output<'_>) {
        if self.done {
            return;
        }
        match evt {
            Event::StreamEnd(err) => self.finish(err, out),
            Event::MessageEnd(_) => {
                out.push(evt);
                self.expected = self.expected.saturating_sub(1);
                if self.input_ended && self.expected == 0 {
                    self.finish(StreamError::NoError, out);
                }
            }
            e => out.push(e),
        }
    }
}

impl Drop for Mux {
    fn drop(&mut self) {
        self.leave();
    }
}
