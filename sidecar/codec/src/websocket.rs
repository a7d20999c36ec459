//! WebSocket framing (RFC 6455 §5.2): a streaming frame decoder and the frame
//! header encoder.
//!
//! The decoder reads any number of frames from chunks cut anywhere, and
//! hands back each frame's header, its payload unmasked as it arrives (never
//! buffered whole, so a frame's length costs no memory), and its end. As
//! upstream's decoder, it checks nothing the filter does not use: reserved
//! bits and opcodes are passed on, control frames are not told apart.

use bytes::{Bytes, BytesMut};

/// A frame's header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHead {
    /// The final fragment of its message.
    pub fin: bool,
    /// The opcode (low four bits of the first byte).
    pub opcode: u8,
    /// The masking key, when the payload is masked.
    pub mask: Option<[u8; 4]>,
    /// Payload length.
    pub len: u64,
}

/// What the decoder found, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// A frame begins.
    Head(FrameHead),
    /// Payload bytes, unmasked.
    Payload(Bytes),
    /// The frame's payload is complete.
    End,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Reading the header; `need` bytes make it complete so far.
    Header { need: usize },
    /// Reading `left` payload bytes, the mask at `pos`.
    Payload { left: u64, pos: usize },
}

/// A streaming frame decoder.
#[derive(Debug)]
pub struct Decoder {
    state: State,
    header: Vec<u8>,
    head: Option<FrameHead>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self {
            state: State::Header { need: 2 },
            header: Vec::with_capacity(14),
            head: None,
        }
    }
}

/// XORs `data` with `mask`, starting at byte `pos` of the mask cycle.
pub fn apply_mask(data: &mut [u8], mask: [u8; 4], pos: usize) {
    for (i, b) in data.iter_mut().enumerate() {
        *b ^= mask[(pos + i) & 3];
    }
}

impl Decoder {
    /// A decoder at the start of a frame.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the decoder is between frames.
    pub fn at_boundary(&self) -> bool {
        matches!(self.state, State::Header { need: 2 }) && self.header.is_empty()
    }

    /// Decodes `input`, appending what it found to `out`.
    pub fn feed(&mut self, mut input: Bytes, out: &mut Vec<Step>) {
        while !input.is_empty() {
            match self.state {
                State::Header { need } => {
                    let take = (need - self.header.len()).min(input.len());
                    self.header.extend_from_slice(&input.split_to(take));
                    if self.header.len() == need {
                        self.header_progress(out);
                    }
                }
                State::Payload { left, pos } => {
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(input.len());
                    let chunk = input.split_to(take);
                    let chunk = match self.head.and_then(|h| h.mask) {
                        Some(mask) => {
                            let mut m = BytesMut::from(&chunk[..]);
                            apply_mask(&mut m, mask, pos);
                            m.freeze()
                        }
                        None => chunk,
                    };
                    out.push(Step::Payload(chunk));
                    let left = left - take as u64;
                    if left == 0 {
                        self.frame_end(out);
                    } else {
                        self.state = State::Payload {
                            left,
                            pos: pos + take,
                        };
                    }
                }
            }
        }
    }

    /// The header grew to the size it was known to need: it is either
    /// complete, or now known to need more.
    fn header_progress(&mut self, out: &mut Vec<Step>) {
        let h = &self.header;
        let masked = h[1] & 0x80 != 0;
        let short = h[1] & 0x7f;
        let ext = match short {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let need = 2 + ext + if masked { 4 } else { 0 };
        if h.len() < need {
            self.state = State::Header { need };
            return;
        }
        let len = match ext {
            2 => u64::from(u16::from_be_bytes([h[2], h[3]])),
            8 => u64::from_be_bytes([h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9]]),
            _ => u64::from(short),
        };
        let mask = masked.then(|| {
            let at = 2 + ext;
            [h[at], h[at + 1], h[at + 2], h[at + 3]]
        });
        let head = FrameHead {
            fin: h[0] & 0x80 != 0,
            opcode: h[0] & 0x0f,
            mask,
            len,
        };
        self.header.clear();
        self.head = Some(head);
        out.push(Step::Head(head));
        if len == 0 {
            self.frame_end(out);
        } else {
            self.state = State::Payload { left: len, pos: 0 };
        }
    }

    fn frame_end(&mut self, out: &mut Vec<Step>) {
        out.push(Step::End);
        self.head = None;
        self.state = State::Header { need: 2 };
    }
}

/// The header of a frame: `fin`, `opcode`, the payload's `len`, and `mask`
/// when the payload is masked (the caller masks it, [`apply_mask`]).
pub fn encode_head(fin: bool, opcode: u8, mask: Option<[u8; 4]>, len: u64) -> Vec<u8> {
    let mut h = Vec::with_capacity(14);
    h.push((opcode & 0x0f) | if fin { 0x80 } else { 0 });
    let m = if mask.is_some() { 0x80 } else { 0 };
    if len < 126 {
        h.push(len as u8 | m);
    } else if len <= 0xffff {
        h.push(126 | m);
        h.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        h.push(127 | m);
        h.extend_from_slice(&len.to_be_bytes());
    }
    if let Some(k) = mask {
        h.extend_from_slice(&k);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(bytes: &[u8], cut: usize) -> (Vec<FrameHead>, Vec<u8>, usize) {
        let mut d = Decoder::new();
        let mut steps = Vec::new();
        for piece in bytes.chunks(cut.max(1)) {
            d.feed(Bytes::copy_from_slice(piece), &mut steps);
        }
        let mut heads = Vec::new();
        let mut payload = Vec::new();
        let mut ends = 0;
        for s in steps {
            match s {
                Step::Head(h) => heads.push(h),
                Step::Payload(b) => payload.extend_from_slice(&b),
                Step::End => ends += 1,
            }
        }
        (heads, payload, ends)
    }

    #[test]
    fn rfc_examples_decode_in_any_pieces() {
        // RFC 6455 §5.7: unmasked "Hello", masked "Hello", and a fragmented
        // unmasked "Hel" + "lo".
        let plain = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        let masked = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let frag = [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f];
        for cut in [1, 2, 3, 100] {
            let (h, p, e) = decode_all(&plain, cut);
            assert_eq!(
                (h[0].fin, h[0].opcode, h[0].mask, &p[..], e),
                (true, 1, None, &b"Hello"[..], 1)
            );
            let (h, p, _) = decode_all(&masked, cut);
            assert_eq!(
                (h[0].mask, &p[..]),
                (Some([0x37, 0xfa, 0x21, 0x3d]), &b"Hello"[..])
            );
            let (h, p, e) = decode_all(&frag, cut);
            assert_eq!(
                (h.len(), h[0].fin, h[1].fin, h[1].opcode, &p[..], e),
                (2, false, true, 0, &b"Hello"[..], 2)
            );
        }
    }

    #[test]
    fn lengths_of_all_three_sizes_round_trip() {
        for len in [0u64, 125, 126, 65535, 65536, 70000] {
            let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
            for mask in [None, Some([1, 2, 3, 4])] {
                let mut frame = encode_head(true, 2, mask, len);
                let mut body = payload.clone();
                if let Some(k) = mask {
                    apply_mask(&mut body, k, 0);
                }
                frame.extend_from_slice(&body);
                let (h, p, e) = decode_all(&frame, 4093);
                assert_eq!((h[0].len, h[0].opcode, h[0].mask, e), (len, 2, mask, 1));
                assert_eq!(p, payload);
            }
        }
        assert_eq!(encode_head(true, 1, None, 126)[1], 126);
        assert_eq!(encode_head(true, 1, None, 65536)[1], 127);
    }
}
