//! `ReadBuffer`: socket reads into reference-counted chunks, sized to the traffic.

use bytes::{Bytes, BytesMut};

const MIN_CHUNK: usize = 4 * 1024;
const MAX_CHUNK: usize = 64 * 1024;

/// A read buffer that starts small (most HTTP messages are) and doubles while
/// reads fill it (bulk transfers), falling back when they stop doing so. Every
/// read becomes a `Bytes` that shares the buffer's allocation: no copy.
pub struct ReadBuffer {
    buf: BytesMut,
    chunk: usize,
}

impl Default for ReadBuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl ReadBuffer {
    /// An empty buffer.
    pub fn new() -> Self {
        Self {
            buf: BytesMut::with_capacity(MIN_CHUNK),
            chunk: MIN_CHUNK,
        }
    }

    /// The buffer to read into, with room for at least a quarter chunk.
    pub fn prepare(&mut self) -> &mut BytesMut {
        if self.buf.capacity() - self.buf.len() < self.chunk / 4 {
            self.buf.reserve(self.chunk);
        }
        &mut self.buf
    }

    /// Takes the `n` bytes just read.
    pub fn take(&mut self, n: usize) -> Bytes {
        if n >= self.chunk / 2 {
            self.chunk = (self.chunk * 2).min(MAX_CHUNK);
        } else if n < self.chunk / 8 {
            self.chunk = (self.chunk / 2).max(MIN_CHUNK);
        }
        self.buf.split().freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_with_bulk_reads_and_shrinks_back() {
        let mut r = ReadBuffer::new();
        for _ in 0..6 {
            let room = r.prepare().capacity() - r.prepare().len();
            r.prepare().extend_from_slice(&vec![1u8; room]);
            assert_eq!(r.take(room).len(), room);
        }
        assert_eq!(r.chunk, MAX_CHUNK);
        for _ in 0..10 {
            r.prepare().extend_from_slice(b"tiny");
            assert_eq!(&r.take(4)[..], b"tiny");
        }
        assert_eq!(r.chunk, MIN_CHUNK);
    }
}
