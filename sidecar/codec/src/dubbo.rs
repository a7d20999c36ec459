//! Dubbo frames: a 16-byte header (magic `0xdabb`, flags, status, request
//! ID, body length) and a body, which passes through in pieces as it comes
//! (it is never gathered, however long).

use bytes::Bytes;

/// Length of the header.
pub const HEADER: usize = 16;

const MAGIC: [u8; 2] = [0xda, 0xbb];

/// A frame's header fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Head {
    /// Request ID, all 64 bits.
    pub request_id: u64,
    /// Flag 0x80.
    pub is_request: bool,
    /// Flag 0x40.
    pub is_two_way: bool,
    /// Flag 0x20.
    pub is_event: bool,
    /// The low five flag bits (2: hessian2).
    pub serialization_type: u8,
    /// Status (20: OK).
    pub status: u8,
}

/// What a [`Decoder`] found, in order.
pub type Step = crate::FrameStep<Head>;

/// Why input was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The header did not begin with `0xdabb`.
    #[error("not a Dubbo frame (bad magic)")]
    BadMagic,
}

/// Cuts a byte stream into frames, however it is split.
#[derive(Default)]
pub struct Decoder {
    head: Vec<u8>,
    /// Body bytes still to come, once the header is whole.
    left: Option<u64>,
    failed: bool,
}

impl Decoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes `input`, appending what it found to `out`.
    pub fn feed(&mut self, input: &Bytes, out: &mut Vec<Step>) -> Result<(), Error> {
        if self.failed {
            return Err(Error::BadMagic);
        }
        let mut i = 0;
        while i < input.len() {
            match self.left {
                None => {
                    let take = (HEADER - self.head.len()).min(input.len() - i);
                    self.head.extend_from_slice(&input[i..i + take]);
                    i += take;
                    if self.head.len() < HEADER {
                        continue;
                    }
                    let h = &self.head;
                    if h[..2] != MAGIC {
                        self.failed = true;
                        return Err(Error::BadMagic);
                    }
                    let mut id = [0u8; 8];
                    id.copy_from_slice(&h[4..12]);
                    let len = u32::from_be_bytes([h[12], h[13], h[14], h[15]]);
                    out.push(Step::Start(Head {
                        request_id: u64::from_be_bytes(id),
                        is_request: h[2] & 0x80 != 0,
                        is_two_way: h[2] & 0x40 != 0,
                        is_event: h[2] & 0x20 != 0,
                        serialization_type: h[2] & 0x1f,
                        status: h[3],
                    }));
                    self.head.clear();
                    self.left = Some(u64::from(len));
                }
                Some(left) => {
                    let take = left.min((input.len() - i) as u64) as usize;
                    out.push(Step::Body(input.slice(i..i + take)));
                    i += take;
                    self.left = Some(left - take as u64);
                }
            }
            // An empty body ends its frame at once (upstream waits for, and
            // loses, the next byte).
            if self.left == Some(0) {
                out.push(Step::End);
                self.left = None;
            }
        }
        Ok(())
    }
}

/// Writes a header for a body of `len` bytes.
pub fn encode_header(h: &Head, len: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(&MAGIC);
    out.push(
        (h.serialization_type & 0x1f)
            | u8::from(h.is_request) << 7
            | u8::from(h.is_two_way) << 6
            | u8::from(h.is_event) << 5,
    );
    out.push(h.status);
    out.extend_from_slice(&h.request_id.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_come_out_whole_however_the_stream_is_cut() {
        let head = Head {
            request_id: 0x8000_0000_0000_0002,
            is_request: true,
            is_two_way: true,
            serialization_type: 2,
            ..Head::default()
        };
        let mut wire = Vec::new();
        encode_header(&head, 3, &mut wire);
        wire.extend_from_slice(b"abc");
        let reply = Head {
            request_id: 2,
            status: 20,
            serialization_type: 2,
            ..Head::default()
        };
        encode_header(&reply, 0, &mut wire);
        assert_eq!(&wire[..4], &[0xda, 0xbb, 0xc2, 0x00]);
        for cut in 0..wire.len() {
            let mut d = Decoder::new();
            let mut steps = Vec::new();
            d.feed(&Bytes::copy_from_slice(&wire[..cut]), &mut steps)
                .unwrap();
            d.feed(&Bytes::copy_from_slice(&wire[cut..]), &mut steps)
                .unwrap();
            let body: Vec<u8> = steps
                .iter()
                .filter_map(|s| match s {
                    Step::Body(b) => Some(b.to_vec()),
                    _ => None,
                })
                .flatten()
                .collect();
            assert_eq!(body, b"abc");
            assert_eq!(steps.first(), Some(&Step::Start(head)));
            assert_eq!(steps.iter().filter(|s| **s == Step::End).count(), 2);
            assert_eq!(steps[steps.len() - 2], Step::Start(reply));
        }
    }

    #[test]
    fn a_bad_magic_is_refused() {
        let mut d = Decoder::new();
        let mut steps = Vec::new();
        let r = d.feed(
            &Bytes::from_static(&[0xca, 0xfe, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            &mut steps,
        );
        assert_eq!(r, Err(Error::BadMagic));
        assert!(steps.is_empty());
    }
}
