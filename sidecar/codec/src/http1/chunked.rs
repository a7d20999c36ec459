//! The chunked transfer coding (RFC 9112 §7.1), decoded one byte of framing at a
//! time so that any split of the input works, while chunk data is sliced, not copied.

use super::DecodeError;
use bytes::{Buf, Bytes};
use pipy_core::Data;

/// Longest chunk-size line we accept (size plus extensions), a bound on work spent
/// on bytes we throw away.
const MAX_SIZE_LINE: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum St {
    /// Reading the hex size; `digits` so far.
    Size { size: u64, digits: u8 },
    /// Whitespace after the size (BWS before `;`).
    SizeWs { size: u64 },
    /// Inside chunk extensions, which we ignore.
    Ext { size: u64 },
    /// Saw CR ending the size line.
    SizeLf { size: u64 },
    /// Chunk data still to come.
    Data(u64),
    /// Expecting the CR after chunk data.
    DataCr,
    /// Expecting the LF after chunk data.
    DataLf,
    /// At the start of a trailer line (or of the final empty line).
    TrailerStart,
    /// Inside a trailer line, which we discard.
    Trailer,
    /// Saw CR; `last` when it ended the empty line that closes the message.
    TrailerLf { last: bool },
}

/// What a framing byte did.
enum Flow {
    More,
    Data,
    Done,
}

/// Decoder state for one chunked body.
#[derive(Debug)]
pub(super) struct Chunked {
    st: St,
    /// Bytes of the current size line, or of the whole trailer section.
    count: usize,
    /// Limit on the trailer section.
    max_trailer: usize,
}

impl Chunked {
    pub(super) fn new(max_trailer: usize) -> Self {
        Self {
            st: St::Size { size: 0, digits: 0 },
            count: 0,
            max_trailer,
        }
    }

    /// Consumes framing and data from `buf`, appending chunk data to `body`, until
    /// `buf` is empty (`Ok(false)`) or the message is complete (`Ok(true)`, with
    /// whatever follows left in `buf`).
    pub(super) fn decode(&mut self, buf: &mut Bytes, body: &mut Data) -> Result<bool, DecodeError> {
        while !buf.is_empty() {
            if let St::Data(left) = self.st {
                let n = usize::try_from(left).map_or(buf.len(), |l| l.min(buf.len()));
                body.push_bytes(buf.split_to(n));
                self.st = match left - n as u64 {
                    0 => St::DataCr,
                    rest => St::Data(rest),
                };
                continue;
            }
            let mut used = 0;
            let mut flow = Flow::More;
            for &b in buf.iter() {
                used += 1;
                flow = self.framing_byte(b)?;
                if !matches!(flow, Flow::More) {
                    break;
                }
            }
            buf.advance(used);
            if let Flow::Done = flow {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn framing_byte(&mut self, b: u8) -> Result<Flow, DecodeError> {
        self.count += 1;
        let bad = Err(DecodeError::BadChunk);
        self.st = match (self.st, b) {
            (St::Size { size, digits }, _) if b.is_ascii_hexdigit() => {
                if digits == 16 {
                    return bad;
                }
                St::Size {
                    size: (size << 4) | u64::from(hex(b)),
                    digits: digits + 1,
                }
            }
            (St::Size { digits: 0, .. }, _) => return bad,
            (St::Size { size, .. } | St::SizeWs { size }, b' ' | b'\t') => St::SizeWs { size },
            (St::Size { size, .. } | St::SizeWs { size } | St::Ext { size }, b';') => {
                St::Ext { size }
            }
            (St::Size { size, .. } | St::SizeWs { size } | St::Ext { size }, b'\r') => {
                St::SizeLf { size }
            }
            (St::Ext { size }, _) if !is_ctl(b) => St::Ext { size },
            (St::SizeLf { size: 0 }, b'\n') => {
                self.count = 0;
                St::TrailerStart
            }
            (St::SizeLf { size }, b'\n') => {
                self.st = St::Data(size);
                return Ok(Flow::Data);
            }
            (St::DataCr, b'\r') => St::DataLf,
            (St::DataLf, b'\n') => {
                self.count = 0;
                St::Size { size: 0, digits: 0 }
            }
            (St::TrailerStart, b'\r') => St::TrailerLf { last: true },
            // A trailer line may not start with whitespace (obs-fold).
            (St::TrailerStart, b' ' | b'\t') => return bad,
            (St::TrailerStart | St::Trailer, _) if !is_ctl(b) => St::Trailer,
            (St::Trailer, b'\r') => St::TrailerLf { last: false },
            (St::TrailerLf { last: true }, b'\n') => return Ok(Flow::Done),
            (St::TrailerLf { last: false }, b'\n') => St::TrailerStart,
            _ => return bad,
        };
        let limit = match self.st {
            St::TrailerStart | St::Trailer | St::TrailerLf { .. } => self.max_trailer,
            _ => MAX_SIZE_LINE,
        };
        if self.count > limit {
            return bad;
        }
        Ok(Flow::More)
    }
}

fn hex(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    }
}

/// Control characters other than HTAB.
fn is_ctl(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}
