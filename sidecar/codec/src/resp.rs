//! RESP, the Redis serialization protocol (version 2): a streaming decoder
//! of values and their encoder.
//!
//! The decoder takes chunks cut anywhere and reports, for each top-level
//! value, where it starts, every byte of it (so a filter can pass the raw
//! bytes on, as upstream does) and the value once complete. Everything is
//! bounded: a line ([`MAX_LINE`]), a message ([`Decoder::new`]'s limit, bulk
//! strings included) and array nesting ([`MAX_DEPTH`]); past a bound, or on
//! bytes that are not RESP, it stops with an error.

use bytes::{Bytes, BytesMut};

/// Longest line (simple string, error, length) accepted.
pub const MAX_LINE: usize = 64 << 10;
/// Deepest nesting of arrays accepted.
pub const MAX_DEPTH: usize = 64;

/// A RESP value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// `+text`
    Simple(Bytes),
    /// `-message`
    Error(Bytes),
    /// `:n`
    Integer(i64),
    /// `$n` and n bytes; `None` for `$-1`.
    Bulk(Option<Bytes>),
    /// `*n` and n values; `None` for `*-1`.
    Array(Option<Vec<Value>>),
}

/// What the decoder found, in order.
pub type Step = crate::Step<Value>;

/// Why decoding stopped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A byte that RESP does not allow there.
    #[error("malformed RESP")]
    Malformed,
    /// A line, message or nesting past its bound.
    #[error("RESP message too large")]
    TooLarge,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Waiting for a type byte.
    Type,
    /// Reading a line of the given type byte, up to `\r`.
    Line(u8),
    /// Expecting `\n` after a line.
    LineEnd(u8),
    /// Reading `left` bytes of a bulk string.
    Bulk {
        left: usize,
    },
    /// Expecting `\r` then `\n` after a bulk string.
    BulkCr,
    BulkLf,
}

/// A streaming RESP decoder.
pub struct Decoder {
    state: State,
    line: Vec<u8>,
    bulk: BytesMut,
    /// Arrays being filled: elements so far and how many are expected.
    stack: Vec<(Vec<Value>, usize)>,
    /// Bytes of the current top-level value so far.
    size: usize,
    limit: usize,
    failed: bool,
}

impl Decoder {
    /// A decoder whose messages may be at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            state: State::Type,
            line: Vec::new(),
            bulk: BytesMut::new(),
            stack: Vec::new(),
            size: 0,
            limit,
            failed: false,
        }
    }

    /// Decodes `input`, appending what it found to `out`.
    pub fn feed(&mut self, input: &Bytes, out: &mut Vec<Step>) -> Result<(), Error> {
        if self.failed {
            return Err(Error::Malformed);
        }
        let r = self.feed_inner(input, out);
        if r.is_err() {
            self.failed = true;
        }
        r
    }

    fn feed_inner(&mut self, input: &Bytes, out: &mut Vec<Step>) -> Result<(), Error> {
        // Raw bytes go out in runs, cut where a value ends.
        let mut run_start = 0;
        let mut i = 0;
        while i < input.len() {
            if self.state == State::Type && self.stack.is_empty() && self.size == 0 {
                out.push(Step::Start);
            }
            let done = match self.state {
                State::Bulk { left } => {
                    let take = left.min(input.len() - i);
                    self.bulk.extend_from_slice(&input[i..i + take]);
                    self.count(take)?;
                    i += take;
                    self.state = if take == left {
                        State::BulkCr
                    } else {
                        State::Bulk { left: left - take }
                    };
                    None
                }
                _ => {
                    let c = input[i];
                    i += 1;
                    self.count(1)?;
                    self.byte(c)?
                }
            };
            if let Some(v) = done {
                if let Some(v) = self.complete(v)? {
                    out.push(Step::Raw(input.slice(run_start..i)));
                    run_start = i;
                    out.push(Step::End(v));
                    self.size = 0;
                }
            }
        }
        if run_start < input.len() {
            out.push(Step::Raw(input.slice(run_start..)));
        }
        Ok(())
    }

    fn count(&mut self, n: usize) -> Result<(), Error> {
        self.size += n;
        if self.size > self.limit {
            return Err(Error::TooLarge);
        }
        Ok(())
    }

    /// One byte outside bulk data; a value when one is complete.
    fn byte(&mut self, c: u8) -> Result<Option<Value>, Error> {
        match self.state {
            State::Type => match c {
                b'+' | b'-' | b':' | b'$' | b'*' => {
                    self.line.clear();
                    self.state = State::Line(c);
                    Ok(None)
                }
                _ => Err(Error::Malformed),
            },
            State::Line(t) => {
                if c == b'\r' {
                    self.state = State::LineEnd(t);
                } else if self.line.len() >= MAX_LINE {
                    return Err(Error::TooLarge);
                } else {
                    self.line.push(c);
                }
                Ok(None)
            }
            State::LineEnd(t) => {
                if c != b'\n' {
                    return Err(Error::Malformed);
                }
                self.state = State::Type;
                self.line_done(t)
            }
            State::BulkCr => {
                if c != b'\r' {
                    return Err(Error::Malformed);
                }
                self.state = State::BulkLf;
                Ok(None)
            }
            State::BulkLf => {
                if c != b'\n' {
                    return Err(Error::Malformed);
                }
                self.state = State::Type;
                Ok(Some(Value::Bulk(Some(
                    std::mem::take(&mut self.bulk).freeze(),
                ))))
            }
            State::Bulk { .. } => Ok(None),
        }
    }

    /// The line as an integer: digits, after a `-` for a negative one.
    fn number(&self) -> Result<i64, Error> {
        let digits = self.line.strip_prefix(b"-").unwrap_or(&self.line);
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return Err(Error::Malformed);
        }
        std::str::from_utf8(&self.line)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .ok_or(Error::Malformed)
    }

    fn line_done(&mut self, t: u8) -> Result<Option<Value>, Error> {
        let text = || Bytes::copy_from_slice(&self.line);
        match t {
            b'+' => Ok(Some(Value::Simple(text()))),
            b'-' => Ok(Some(Value::Error(text()))),
            b':' => Ok(Some(Value::Integer(self.number()?))),
            b'$' => match self.number()? {
                -1 => Ok(Some(Value::Bulk(None))),
                n if n >= 0 => {
                    let n = usize::try_from(n).map_err(|_| Error::TooLarge)?;
                    if n > self.limit {
                        return Err(Error::TooLarge);
                    }
                    self.bulk = BytesMut::with_capacity(n.min(64 << 10));
                    self.state = if n == 0 {
                        State::BulkCr
                    } else {
                        State::Bulk { left: n }
                    };
                    Ok(None)
                }
                _ => Err(Error::Malformed),
            },
            _ => match self.number()? {
                -1 => Ok(Some(Value::Array(None))),
                0 => Ok(Some(Value::Array(Some(Vec::new())))),
                n if n > 0 => {
                    if self.stack.len() >= MAX_DEPTH {
                        return Err(Error::TooLarge);
                    }
                    // Each element takes three bytes at least.
                    let n = usize::try_from(n).map_err(|_| Error::TooLarge)?;
                    if n > self.limit / 3 {
                        return Err(Error::TooLarge);
                    }
                    self.stack.push((Vec::new(), n));
                    Ok(None)
                }
                _ => Err(Error::Malformed),
            },
        }
    }

    /// Puts a finished value into the array being filled; the top-level
    /// value when it completes one.
    fn complete(&mut self, mut v: Value) -> Result<Option<Value>, Error> {
        loop {
            let Some((items, want)) = self.stack.last_mut() else {
                return Ok(Some(v));
            };
            items.push(v);
            if items.len() < *want {
                return Ok(None);
            }
            let (items, _) = self.stack.pop().ok_or(Error::Malformed)?;
            v = Value::Array(Some(items));
        }
    }
}

/// Appends the wire form of `v` to `out`.
pub fn encode(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Simple(s) => {
            out.push(b'+');
            out.extend_from_slice(s);
            out.extend_from_slice(b"\r\n");
        }
        Value::Error(s) => {
            out.push(b'-');
            out.extend_from_slice(s);
            out.extend_from_slice(b"\r\n");
        }
        Value::Integer(n) => out.extend_from_slice(format!(":{n}\r\n").as_bytes()),
        Value::Bulk(None) => out.extend_from_slice(b"$-1\r\n"),
        Value::Bulk(Some(b)) => {
            out.extend_from_slice(format!("${}\r\n", b.len()).as_bytes());
            out.extend_from_slice(b);
            out.extend_from_slice(b"\r\n");
        }
        Value::Array(None) => out.extend_from_slice(b"*-1\r\n"),
        Value::Array(Some(items)) => {
            out.extend_from_slice(format!("*{}\r\n", items.len()).as_bytes());
            for i in items {
                encode(i, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8], cut: usize) -> Result<(Vec<Value>, Vec<u8>, usize), Error> {
        let mut d = Decoder::new(1 << 20);
        let mut steps = Vec::new();
        for piece in bytes.chunks(cut.max(1)) {
            d.feed(&Bytes::copy_from_slice(piece), &mut steps)?;
        }
        let (mut values, mut raw, mut starts) = (Vec::new(), Vec::new(), 0);
        for s in steps {
            match s {
                Step::Start => starts += 1,
                Step::Raw(b) => raw.extend_from_slice(&b),
                Step::End(v) => values.push(v),
            }
        }
        Ok((values, raw, starts))
    }

    #[test]
    fn every_type_decodes_and_encodes_back_in_any_pieces() {
        let wire = b"+OK\r\n-ERR bad\r\n:-42\r\n$5\r\nhello\r\n$0\r\n\r\n$-1\r\n*-1\r\n*0\r\n*3\r\n:1\r\n*2\r\n$3\r\nset\r\n+x\r\n$1\r\nk\r\n";
        for cut in [1, 2, 5, 7, wire.len()] {
            let (values, raw, starts) = decode(wire, cut).unwrap();
            assert_eq!(raw, wire, "raw bytes pass whole");
            assert_eq!(starts, values.len());
            assert_eq!(values.len(), 9);
            assert_eq!(values[2], Value::Integer(-42));
            assert_eq!(values[3], Value::Bulk(Some(Bytes::from_static(b"hello"))));
            let mut again = Vec::new();
            values.iter().for_each(|v| encode(v, &mut again));
            assert_eq!(again, wire);
        }
    }

    #[test]
    fn malformed_and_oversized_input_are_errors() {
        assert_eq!(decode(b"?x\r\n", 100), Err(Error::Malformed));
        assert_eq!(decode(b"$3\r\nabcd\r\n", 100), Err(Error::Malformed));
        assert_eq!(decode(b":12a\r\n", 100), Err(Error::Malformed));
        assert_eq!(decode(b"$99999999\r\n", 100), Err(Error::TooLarge));
        assert_eq!(decode(b"*99999999\r\n", 100), Err(Error::TooLarge));
        assert_eq!(decode(&b"*1\r\n".repeat(65), 100), Err(Error::TooLarge));
        let long = [b"+".as_slice(), &vec![b'a'; MAX_LINE + 1]].concat();
        assert_eq!(decode(&long, 100), Err(Error::TooLarge));
    }
}
