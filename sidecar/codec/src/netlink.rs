//! Netlink messages (netlink(7)): a 16-byte header in the host's byte order
//! (length of the whole message, type, flags, sequence number, port ID), a
//! payload, and padding to a multiple of 4 bytes before the next message.

/// Length of the header.
pub const HEADER: usize = 16;

/// Where messages are aligned.
const ALIGN: usize = 4;

/// A message's header fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Head {
    /// `nlmsg_type`.
    pub kind: u16,
    /// `nlmsg_flags`.
    pub flags: u16,
    /// `nlmsg_seq`.
    pub seq: u32,
    /// `nlmsg_pid`.
    pub pid: u32,
}

/// What a [`Decoder`] found, in order.
pub type Step = crate::FrameStep<Head>;

/// Why input was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A length shorter than the header itself.
    #[error("netlink message length {0} is shorter than its header")]
    BadLength(u32),
}

/// Writes the header of a message whose payload has `payload` bytes, then
/// (after the payload) [`padding`] bytes of zeros go to the next message.
pub fn encode_header(head: &Head, payload: usize, out: &mut Vec<u8>) {
    let len = (HEADER + payload) as u32;
    out.extend_from_slice(&len.to_ne_bytes());
    out.extend_from_slice(&head.kind.to_ne_bytes());
    out.extend_from_slice(&head.flags.to_ne_bytes());
    out.extend_from_slice(&head.seq.to_ne_bytes());
    out.extend_from_slice(&head.pid.to_ne_bytes());
}

/// Zero bytes after a message of `payload` bytes of payload.
pub fn padding(payload: usize) -> usize {
    (ALIGN - (HEADER + payload) % ALIGN) % ALIGN
}

/// Cuts a byte stream (or the datagrams of a netlink socket) into messages,
/// however it is split; payloads pass in pieces, never gathered.
#[derive(Default)]
pub struct Decoder {
    head: Vec<u8>,
    /// Payload bytes still to come, then padding to skip.
    left: usize,
    skip: usize,
    in_message: bool,
    failed: bool,
}

impl Decoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; what they complete goes to `out`.
    pub fn feed(&mut self, input: &bytes::Bytes, out: &mut Vec<Step>) -> Result<(), Error> {
        let mut bytes = input.clone();
        while !bytes.is_empty() && !self.failed {
            if self.in_message {
                let n = self.left.min(bytes.len());
                if n > 0 {
                    out.push(Step::Body(bytes.split_to(n)));
                    self.left -= n;
                }
                if self.left == 0 {
                    self.in_message = false;
                    out.push(Step::End);
                }
                continue;
            }
            if self.skip > 0 {
                let n = self.skip.min(bytes.len());
                let _ = bytes.split_to(n);
                self.skip -= n;
                continue;
            }
            let n = (HEADER - self.head.len()).min(bytes.len());
            self.head.extend_from_slice(&bytes.split_to(n));
            if self.head.len() < HEADER {
                continue;
            }
            let h = std::mem::take(&mut self.head);
            let word = |i: usize| u32::from_ne_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
            let half = |i: usize| u16::from_ne_bytes([h[i], h[i + 1]]);
            let len = word(0);
            if (len as usize) < HEADER {
                self.failed = true;
                return Err(Error::BadLength(len));
            }
            out.push(Step::Start(Head {
                kind: half(4),
                flags: half(6),
                seq: word(8),
                pid: word(12),
            }));
            let payload = len as usize - HEADER;
            self.skip = padding(payload);
            if payload == 0 {
                out.push(Step::End);
            } else {
                self.left = payload;
                self.in_message = true;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_with_padding_in_any_split() {
        let mut wire = Vec::new();
        let a = Head {
            kind: 16,
            flags: 0x301,
            seq: 7,
            pid: 0,
        };
        encode_header(&a, 5, &mut wire);
        wire.extend_from_slice(b"hello");
        wire.resize(wire.len() + padding(5), 0);
        let b = Head {
            kind: 3,
            flags: 2,
            seq: 8,
            pid: 42,
        };
        encode_header(&b, 0, &mut wire);
        assert_eq!(wire.len(), 24 + 16);
        for split in 1..wire.len() {
            let mut d = Decoder::new();
            let mut steps = Vec::new();
            let wire = bytes::Bytes::from(wire.clone());
            d.feed(&wire.slice(..split), &mut steps).unwrap();
            d.feed(&wire.slice(split..), &mut steps).unwrap();
            let body: Vec<u8> = steps
                .iter()
                .filter_map(|s| match s {
                    Step::Body(b) => Some(b.to_vec()),
                    _ => None,
                })
                .flatten()
                .collect();
            assert_eq!(body, b"hello");
            assert_eq!(steps.first(), Some(&Step::Start(a)));
            assert!(steps.contains(&Step::Start(b)));
            assert_eq!(steps.iter().filter(|s| **s == Step::End).count(), 2);
        }
    }

    #[test]
    fn a_length_below_the_header_is_refused() {
        let mut wire = Vec::new();
        encode_header(&Head::default(), 0, &mut wire);
        wire[..4].copy_from_slice(&8u32.to_ne_bytes());
        assert_eq!(
            Decoder::new().feed(&bytes::Bytes::from(wire), &mut Vec::new()),
            Err(Error::BadLength(8))
        );
    }
}
