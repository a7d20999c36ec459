//! `Data`: a rope of `Bytes` chunks.

use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;
use std::fmt;

/// A sequence of bytes held as reference-counted chunks.
///
/// Pushing and shifting move chunk handles, never the bytes themselves, except when
/// a chunk has to be split, which only slices it.
#[derive(Clone, Default)]
pub struct Data {
    chunks: Chunks,
    len: usize,
}

/// The chunks of a `Data`: most hold one chunk (a read, a body), kept inline
/// with no allocation of its own, and the type stays as small as a deque.
#[derive(Clone, Default)]
enum Chunks {
    #[default]
    Empty,
    One(Bytes),
    Many(VecDeque<Bytes>),
}

impl Chunks {
    fn len(&self) -> usize {
        match self {
            Chunks::Empty => 0,
            Chunks::One(_) => 1,
            Chunks::Many(d) => d.len(),
        }
    }

    fn push_back(&mut self, b: Bytes) {
        self.insert(b, false);
    }

    fn push_front(&mut self, b: Bytes) {
        self.insert(b, true);
    }

    fn insert(&mut self, b: Bytes, front: bool) {
        *self = match std::mem::take(self) {
            Chunks::Empty => Chunks::One(b),
            Chunks::One(a) if front => Chunks::Many(VecDeque::from([b, a])),
            Chunks::One(a) => Chunks::Many(VecDeque::from([a, b])),
            Chunks::Many(mut d) => {
                if front {
                    d.push_front(b);
                } else {
                    d.push_back(b);
                }
                Chunks::Many(d)
            }
        };
    }

    fn pop_front(&mut self) -> Option<Bytes> {
        match self {
            Chunks::Empty => None,
            Chunks::One(_) => match std::mem::take(self) {
                Chunks::One(a) => Some(a),
                _ => None,
            },
            Chunks::Many(d) => d.pop_front(),
        }
    }

    fn first(&self) -> Option<&Bytes> {
        match self {
            Chunks::Empty => None,
            Chunks::One(a) => Some(a),
            Chunks::Many(d) => d.front(),
        }
    }

    fn iter(&self) -> impl Iterator<Item = &Bytes> {
        let (one, many) = match self {
            Chunks::Empty => (None, None),
            Chunks::One(a) => (Some(a), None),
            Chunks::Many(d) => (None, Some(d)),
        };
        one.into_iter().chain(many.into_iter().flatten())
    }

    fn extend(&mut self, other: Chunks) {
        for c in other.into_iter() {
            self.push_back(c);
        }
    }

    fn into_iter(self) -> impl Iterator<Item = Bytes> {
        let (one, many) = match self {
            Chunks::Empty => (None, None),
            Chunks::One(a) => (Some(a), None),
            Chunks::Many(d) => (None, Some(d)),
        };
        one.into_iter().chain(many.into_iter().flatten())
    }
}

impl Data {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Total number of bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a chunk (empty chunks are dropped).
    pub fn push_bytes(&mut self, b: Bytes) {
        if !b.is_empty() {
            self.len += b.len();
            self.chunks.push_back(b);
        }
    }

    /// Appends all chunks of another buffer.
    pub fn push(&mut self, other: Data) {
        self.len += other.len;
        self.chunks.extend(other.chunks);
    }

    /// Prepends a chunk.
    pub fn unshift_bytes(&mut self, b: Bytes) {
        if !b.is_empty() {
            self.len += b.len();
            self.chunks.push_front(b);
        }
    }

    /// Removes and returns the first `n` bytes (fewer if the buffer is shorter).
    pub fn shift(&mut self, n: usize) -> Data {
        let mut out = Data::new();
        let mut left = n.min(self.len);
        while left > 0 {
            let Some(mut c) = self.chunks.pop_front() else {
                break;
            };
            if c.len() <= left {
                left -= c.len();
                self.len -= c.len();
                out.push_bytes(c);
            } else {
                let head = c.split_to(left);
                self.len -= left;
                left = 0;
                out.push_bytes(head);
                self.chunks.push_front(c);
            }
        }
        out
    }

    /// Drops the first `n` bytes.
    pub fn skip(&mut self, n: usize) {
        let _ = self.shift(n);
    }

    /// Removes bytes from the front while `pred` holds; the first byte for which it
    /// fails stays in the buffer.
    pub fn shift_while(&mut self, mut pred: impl FnMut(u8) -> bool) -> Data {
        let mut n = 0;
        'outer: for c in self.chunks.iter() {
            for &b in c.iter() {
                if !pred(b) {
                    break 'outer;
                }
                n += 1;
            }
        }
        self.shift(n)
    }

    /// Removes bytes up to and including the first byte for which `pred` holds
    /// (everything if none does).
    pub fn shift_to(&mut self, mut pred: impl FnMut(u8) -> bool) -> Data {
        let mut n = 0;
        'outer: for c in self.chunks.iter() {
            for &b in c.iter() {
                n += 1;
                if pred(b) {
                    break 'outer;
                }
            }
        }
        self.shift(n)
    }

    /// The chunks, in order.
    pub fn chunks(&self) -> impl Iterator<Item = &Bytes> {
        self.chunks.iter()
    }

    /// Takes the chunks out, leaving the buffer empty.
    pub fn take_chunks(&mut self) -> impl Iterator<Item = Bytes> {
        self.len = 0;
        std::mem::take(&mut self.chunks).into_iter()
    }

    /// Iterates over every byte.
    pub fn bytes(&self) -> impl Iterator<Item = u8> + '_ {
        self.chunks.iter().flat_map(|c| c.iter().copied())
    }

    /// The content as one contiguous `Bytes` (free when there is one chunk).
    pub fn to_bytes(&self) -> Bytes {
        match self.chunks.len() {
            0 => Bytes::new(),
            1 => self.chunks.first().cloned().unwrap_or_default(),
            _ => {
                let mut b = BytesMut::with_capacity(self.len);
                for c in self.chunks.iter() {
                    b.extend_from_slice(c);
                }
                b.freeze()
            }
        }
    }

    /// The content copied into a `Vec`.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len);
        for c in self.chunks.iter() {
            v.extend_from_slice(c);
        }
        v
    }
}

impl From<Bytes> for Data {
    fn from(b: Bytes) -> Self {
        let mut d = Data::new();
        d.push_bytes(b);
        d
    }
}

impl From<&'static str> for Data {
    fn from(s: &'static str) -> Self {
        Bytes::from_static(s.as_bytes()).into()
    }
}

impl From<String> for Data {
    fn from(s: String) -> Self {
        Bytes::from(s).into()
    }
}

impl From<Vec<u8>> for Data {
    fn from(v: Vec<u8>) -> Self {
        Bytes::from(v).into()
    }
}

impl PartialEq for Data {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.bytes().eq(other.bytes())
    }
}

impl fmt::Debug for Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Data({:?})", String::from_utf8_lossy(&self.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rope(parts: &[&'static str]) -> Data {
        let mut d = Data::new();
        for p in parts {
            d.push_bytes(Bytes::from_static(p.as_bytes()));
        }
        d
    }

    #[test]
    fn shift_splits_chunks_without_losing_bytes() {
        let mut d = rope(&["hel", "lo ", "world"]);
        assert_eq!(d.len(), 11);
        let a = d.shift(4);
        assert_eq!(a.to_vec(), b"hell");
        assert_eq!(d.to_vec(), b"o world");
        assert_eq!(d.len(), 7);
        let b = d.shift(100);
        assert_eq!(b.to_vec(), b"o world");
        assert!(d.is_empty());
    }

    #[test]
    fn shift_to_and_while() {
        let mut d = rope(&["ab", "c\nde"]);
        assert_eq!(d.shift_to(|b| b == b'\n').to_vec(), b"abc\n");
        assert_eq!(d.to_vec(), b"de");
        let mut d = rope(&["aaab"]);
        assert_eq!(d.shift_while(|b| b == b'a').to_vec(), b"aaa");
        assert_eq!(d.to_vec(), b"b");
    }

    #[test]
    fn push_concatenates_and_equality_ignores_chunking() {
        let mut a = rope(&["x"]);
        a.push(rope(&["y", "z"]));
        assert_eq!(a, rope(&["xyz"]));
        assert_ne!(a, rope(&["xy"]));
        assert_eq!(a.to_bytes(), Bytes::from_static(b"xyz"));
    }
}
