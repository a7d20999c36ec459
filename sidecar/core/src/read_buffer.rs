//! `ReadBuffer`: socket reads into reference-counted chunks, sized to the traffic.

use crate::spare;
use bytes::{Bytes, BytesMut};
use std::cell::RefCell;

const MIN_CHUNK: usize = 4 * 1024;
const MAX_CHUNK: usize = 64 * 1024;
/// Spare buffers kept per thread for the next read of any connection: enough
/// for the connections busy at once, while idle ones hold none.
const POOL_SIZE: usize = 256;

thread_local! {
    /// What idle connections let go of, for connections that read next.
    static POOL: spare::Pool<BytesMut> = const { RefCell::new(Vec::new()) };
}

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
            buf: BytesMut::new(),
            chunk: MIN_CHUNK,
        }
    }

    /// The buffer to read into, with room for at least a quarter chunk.
    pub fn prepare(&mut self) -> &mut BytesMut {
        if self.buf.capacity() - self.buf.len() < self.chunk / 4 {
            match spare::take(&POOL) {
                Some(b) if b.capacity() >= self.chunk / 4 && self.buf.is_empty() => self.buf = b,
                _ => self.buf.reserve(self.chunk),
            }
        }
        &mut self.buf
    }

    /// Lets go of the buffer while nothing is being read (the connection
    /// waits): what is left of it goes to this thread's pool, for whichever
    /// connection reads next, so a waiting connection holds no buffer and a
    /// busy thread allocates none per read.
    pub fn release(&mut self) {
        if !self.buf.is_empty() || self.buf.capacity() == 0 {
            return;
        }
        spare::keep(&POOL, std::mem::take(&mut self.buf), POOL_SIZE);
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
    fn a_released_buffer_serves_the_next_read_elsewhere() {
        let mut a = ReadBuffer::new();
        a.prepare().extend_from_slice(b"request");
        let taken = a.take(7);
        let rest = a.buf.as_ptr();
        a.release();
        assert_eq!(a.buf.capacity(), 0, "a waiting reader holds nothing");
        let mut b = ReadBuffer::new();
        assert_eq!(b.prepare().as_ptr(), rest, "the next read takes the rest");
        assert_eq!(
            &taken[..],
            b"request",
            "bytes already read stay as they were"
        );
    }

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
