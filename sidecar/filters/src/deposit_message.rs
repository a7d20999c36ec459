//! `depositMessage(filename, { threshold, keep })`: a message whose body
//! passes `threshold` bytes (0 by default) is deposited in a file: the
//! first `threshold` bytes go on at once, the rest is written to the file
//! (which gets the whole body) and read back from it once the message has
//! ended, then the message's end follows. Without `keep` the file is
//! removed afterwards. Upstream 1.5's filter of this name: a memory bound
//! for large bodies, whatever the pace of the reader.
//!
//! The file is written and read in the worker's thread, a chunk at a time
//! (reads [`READ_CHUNK`] bytes per turn of the loop).

use crate::util::Callback;
use pipy_core::{Data, Event, EventTarget, Filter, FilterTemplate, Output, StreamError};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::time::Duration;

/// Bytes read back from the file per turn of the loop.
pub const READ_CHUNK: usize = 64 << 10;

const DATA: u64 = 1;
const END: u64 = 2;

/// Template of `depositMessage`.
pub struct DepositMessageTemplate {
    filename: Callback,
    threshold: usize,
    keep: bool,
}

impl DepositMessageTemplate {
    /// `depositMessage(filename, { threshold, keep })`.
    pub fn new(filename: Callback, threshold: usize, keep: bool) -> Self {
        Self {
            filename,
            threshold,
            keep,
        }
    }
}

impl FilterTemplate for DepositMessageTemplate {
    fn name(&self) -> &'static str {
        "depositMessage"
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(DepositMessage {
            filename: self.filename.clone(),
            threshold: self.threshold,
            keep: self.keep,
            started: false,
            passed: Data::new(),
            file: None,
            end: None,
            trailing: None,
        })
    }
}

struct DepositMessage {
    filename: Callback,
    threshold: usize,
    keep: bool,
    started: bool,
    /// Body bytes passed on at once (before the threshold), kept for the
    /// file.
    passed: Data,
    /// The file being written, and its name.
    file: Option<(File, PathBuf)>,
    /// The event that ended the message, sent after the file's content.
    end: Option<Event>,
    /// The stream's end, if it came while the file was read back.
    trailing: Option<Event>,
}

impl Drop for DepositMessage {
    fn drop(&mut self) {
        // A stream gone while its file was written leaves no file behind.
        if let (Some((_, path)), false) = (self.file.take(), self.keep) {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl DepositMessage {
    fn deposit(&mut self, data: &Data, out: &mut Output<'_>) -> std::io::Result<()> {
        if self.file.is_none() {
            let Some(name) = self.filename.call(&[], out) else {
                return Ok(());
            };
            let path = PathBuf::from(name.display().to_string().trim_matches('"'));
            let file = File::create(&path)?;
            self.file = Some((file, path));
        }
        if let Some((file, _)) = &mut self.file {
            for chunk in data.chunks() {
                file.write_all(chunk)?;
            }
        }
        Ok(())
    }

    /// Reads the file back from where the passed bytes end, a chunk per
    /// turn, then the end.
    fn read_back(&mut self, out: &mut Output<'_>) {
        let Some((written, path)) = self.file.take() else {
            return;
        };
        drop(written);
        let reader = Reader {
            data: out.reply_target(DATA),
            end: out.reply_target(END),
            path,
            keep: self.keep,
        };
        let opened = File::open(&reader.path)
            .and_then(|mut f| f.seek(SeekFrom::Start(self.passed.len() as u64)).map(|_| f));
        match opened {
            Ok(f) => reader.step(f),
            Err(e) => {
                tracing::error!("depositMessage: {}: {e}", reader.path.display());
                reader.finish(false);
            }
        }
    }
}

/// Sends a deposited file's content back to the filter.
struct Reader {
    data: EventTarget,
    end: EventTarget,
    path: PathBuf,
    keep: bool,
}

impl Reader {
    fn step(self, mut file: File) {
        let mut buf = vec![0u8; READ_CHUNK];
        match file.read(&mut buf) {
            Ok(0) => self.finish(true),
            Ok(n) => {
                buf.truncate(n);
                self.data
                    .send(Event::Data(Data::from(bytes::Bytes::from(buf))));
                pipy_core::io::after(Duration::ZERO, Box::new(move || self.step(file)));
            }
            Err(e) => {
                tracing::error!("depositMessage: {}: {e}", self.path.display());
                self.finish(false);
            }
        }
    }

    fn finish(self, ok: bool) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
        self.end.send(if ok {
            Event::Data(Data::new())
        } else {
            Event::StreamEnd(StreamError::ReadError)
        });
    }
}

impl Filter for DepositMessage {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match evt {
            Event::MessageStart(_) => {
                if !self.started {
                    self.started = true;
                    out.push(evt);
                }
            }
            Event::Data(d) => {
                if !self.started || d.is_empty() {
                    return;
                }
                if self.file.is_none() && self.passed.len() < self.threshold {
                    self.passed.push(d.clone());
                    out.push(Event::Data(d));
                    return;
                }
                if self.file.is_none() {
                    // The file gets the whole body: the bytes passed on too.
                    let passed = self.passed.clone();
                    if let Err(e) = self.deposit(&passed, out) {
                        tracing::error!("depositMessage: {e}");
                        self.file = None;
                        return out.fail(StreamError::WriteError);
                    }
                }
                if let Err(e) = self.deposit(&d, out) {
                    tracing::error!("depositMessage: {e}");
                    self.file = None;
                    out.fail(StreamError::WriteError);
                }
            }
            Event::MessageEnd(_) | Event::StreamEnd(_) => {
                if self.end.is_some() {
                    // Reading back: the stream's end follows the message.
                    if matches!(evt, Event::StreamEnd(_)) {
                        self.trailing = Some(evt);
                    }
                    return;
                }
                if !self.started {
                    if matches!(evt, Event::StreamEnd(_)) {
                        out.push(evt);
                    }
                    return;
                }
                if self.file.is_some() {
                    self.end = Some(evt);
                    self.read_back(out);
                } else {
                    out.push(evt);
                }
            }
        }
    }

    fn on_reply(&mut self, key: u64, evt: Event, out: &mut Output<'_>) {
        match key {
            DATA => out.push(evt),
            END => match evt {
                Event::StreamEnd(e) => out.fail(e),
                _ => {
                    let end = self.end.take();
                    out.push(end.unwrap_or(Event::MessageEnd(Default::default())));
                    if let Some(t) = self.trailing.take() {
                        out.push(t);
                    }
                }
            },
            _ => {}
        }
    }
}
