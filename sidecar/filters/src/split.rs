//! `split(separator)`: cuts a byte stream into Messages at every separator.
//!
//! As upstream: the separator (text or Data, at most 1 KiB, or a function
//! giving one, asked once per message run) is matched across chunk boundaries
//! and removed; input message boundaries are not kept. Each run of bytes
//! between separators becomes a Message, streamed as it arrives (bytes that may
//! start a separator are held back until the next chunk tells). At the end of
//! an input message or stream what is left becomes a last Message, empty when
//! the input ended with a separator.

use crate::util::{js, Callback};
use bytes::Bytes;
use pipy_core::{Data, Event, Filter, FilterTemplate, Head, Output, StreamError};

/// The longest separator upstream accepts.
pub const MAX_SEPARATOR: usize = 1024;

/// Template of `split(separator)`.
pub struct SplitTemplate {
    separator: Callback,
    /// Prepared once when the separator is a constant.
    fixed: Option<Matcher>,
}

impl SplitTemplate {
    /// A split filter; a constant separator is checked now (with the
    /// engine of the script calling `split`).
    pub fn new(separator: Callback, ctx: &mut boa_engine::Context) -> Result<Self, String> {
        let fixed = if separator.is_function() {
            None
        } else {
            let bytes = separator_bytes(separator.value(), ctx)?;
            Some(Matcher::new(bytes)?)
        };
        Ok(Self { separator, fixed })
    }
}

fn separator_bytes(
    v: &boa_engine::JsValue,
    ctx: &mut boa_engine::Context,
) -> Result<Vec<u8>, String> {
    if let Some(d) = pipy_js::api::data::data_of(v) {
        return Ok(d.to_vec());
    }
    v.to_string(ctx)
        .map(|s| s.to_std_string_escaped().into_bytes())
        .map_err(|e| e.to_string())
}

impl FilterTemplate for SplitTemplate {
    fn name(&self) -> &'static str {
        "split"
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Split {
            separator: self.separator.clone(),
            matcher: self.fixed.clone(),
            run: None,
        })
    }
}

/// A separator with its KMP failure table.
#[derive(Clone)]
pub(crate) struct Matcher {
    pattern: std::rc::Rc<[u8]>,
    lps: std::rc::Rc<[usize]>,
}

impl Matcher {
    pub(crate) fn new(pattern: Vec<u8>) -> Result<Self, String> {
        if pattern.len() > MAX_SEPARATOR {
            return Err("separator over 1KB is not supported".into());
        }
        if pattern.is_empty() {
            return Err("separator cannot be empty".into());
        }
        let mut lps = vec![0usize; pattern.len()];
        let mut k = 0;
        for i in 1..pattern.len() {
            while k > 0 && pattern[i] != pattern[k] {
                k = lps[k - 1];
            }
            if pattern[i] == pattern[k] {
                k += 1;
            }
            lps[i] = k;
        }
        Ok(Self {
            pattern: pattern.into(),
            lps: lps.into(),
        })
    }
}

/// What a [`Splitter`] cuts a stream into.
pub(crate) enum Piece {
    /// Bytes between separators (never empty).
    Bytes(Data),
    /// A separator was here.
    Separator,
}

/// Cuts a byte stream at every occurrence of a separator, across chunk
/// boundaries, holding back only bytes that may start a separator.
pub(crate) struct Splitter {
    matcher: Matcher,
    matched: usize,
}

impl Splitter {
    pub(crate) fn new(matcher: Matcher) -> Self {
        Self {
            matcher,
            matched: 0,
        }
    }

    /// The first `len` bytes of what is pending: `held` bytes of the
    /// separator's start (held back from earlier chunks) then `bytes[start..]`.
    fn pending(&self, held: usize, bytes: &Bytes, start: usize, len: usize) -> Data {
        let from_held = held.min(len);
        let mut body = Data::new();
        if from_held > 0 {
            body.push_bytes(Bytes::copy_from_slice(&self.matcher.pattern[..from_held]));
        }
        body.push_bytes(bytes.slice(start..start + (len - from_held)));
        body
    }

    pub(crate) fn input(&mut self, data: &Data, emit: &mut dyn FnMut(Piece)) {
        let n = self.matcher.pattern.len();
        let bytes = data.to_bytes();
        // The stream not yet emitted is `held` bytes (always the separator's
        // first bytes: KMP's state says the last `j` bytes seen are
        // `pattern[..j]`) followed by `bytes[start..]`.
        let mut start = 0;
        let mut held = self.matched;
        let mut j = self.matched;
        for (i, &c) in bytes.iter().enumerate() {
            while j > 0 && c != self.matcher.pattern[j] {
                j = self.matcher.lps[j - 1];
            }
            if c == self.matcher.pattern[j] {
                j += 1;
            }
            if j == n {
                let body_len = held + (i + 1 - start) - n;
                let body = self.pending(held, &bytes, start, body_len);
                if !body.is_empty() {
                    emit(Piece::Bytes(body));
                }
                emit(Piece::Separator);
                start = i + 1;
                held = 0;
                j = 0;
            }
        }
        // What cannot be the start of a separator goes out now.
        let free = held + (bytes.len() - start) - j;
        if free > 0 {
            emit(Piece::Bytes(self.pending(held, &bytes, start, free)));
        }
        self.matched = j;
    }

    /// The bytes held back, at the end of the stream.
    pub(crate) fn end(&mut self, emit: &mut dyn FnMut(Piece)) {
        let rest = std::mem::take(&mut self.matched);
        if rest > 0 {
            let held = Bytes::copy_from_slice(&self.matcher.pattern[..rest]);
            emit(Piece::Bytes(Data::from(held)));
        }
    }
}

/// A message being cut.
struct Run {
    splitter: Splitter,
    started: bool,
}

struct Split {
    separator: Callback,
    matcher: Option<Matcher>,
    run: Option<Run>,
}

impl Run {
    fn emit(started: &mut bool, piece: Piece, out: &mut Output<'_>) {
        if !*started {
            *started = true;
            out.push(Event::MessageStart(Head::None));
        }
        match piece {
            Piece::Bytes(d) => out.push(Event::Data(d)),
            Piece::Separator => {
                out.push(Event::MessageEnd(Head::None));
                *started = false;
            }
        }
    }

    fn input(&mut self, data: Data, out: &mut Output<'_>) {
        let started = &mut self.started;
        self.splitter
            .input(&data, &mut |p| Self::emit(started, p, out));
    }

    fn end(&mut self, out: &mut Output<'_>) {
        let started = &mut self.started;
        self.splitter.end(&mut |p| Self::emit(started, p, out));
        Self::emit(started, Piece::Separator, out);
    }
}

impl Filter for Split {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match evt {
            Event::Data(d) => {
                if self.run.is_none() {
                    let matcher = match &self.matcher {
                        Some(m) => m.clone(),
                        None => {
                            let Some(v) = self.separator.call(&[], out) else {
                                return;
                            };
                            match js(|ctx| separator_bytes(&v, ctx)).and_then(Matcher::new) {
                                Ok(m) => m,
                                Err(e) => {
                                    tracing::error!("split: {e}");
                                    out.fail(StreamError::RuntimeError);
                                    return;
                                }
                            }
                        }
                    };
                    self.run = Some(Run {
                        splitter: Splitter::new(matcher),
                        started: false,
                    });
                }
                if let Some(run) = &mut self.run {
                    run.input(d, out);
                }
            }
            Event::MessageEnd(_) => {
                if let Some(mut run) = self.run.take() {
                    run.end(out);
                }
            }
            Event::StreamEnd(e) => {
                if let Some(mut run) = self.run.take() {
                    run.end(out);
                }
                // Upstream passes the StreamEnd only while a message is being
                // cut, and so drops it after a complete input Message; a
                // stream must end, so it always goes on here.
                out.push(Event::StreamEnd(e));
            }
            Event::MessageStart(_) => {}
        }
    }
}
