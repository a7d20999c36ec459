//! Per-thread pools of spare containers (buffers, queues) that idle
//! connections give back and busy ones take, so an idle connection holds
//! none and a busy thread allocates none per use. Every pool is bounded by
//! its caller.

use std::cell::RefCell;
use std::thread::LocalKey;

/// A thread's spares of one kind.
pub type Pool<T> = RefCell<Vec<T>>;

/// A spare from `pool`, if it has one.
pub fn take<T: 'static>(pool: &'static LocalKey<Pool<T>>) -> Option<T> {
    // `try_with`: the pool may be gone already at thread exit.
    pool.try_with(|p| p.borrow_mut().pop()).ok().flatten()
}

/// Keeps `item` in `pool` unless it holds `max` already (then it is dropped).
pub fn keep<T: 'static>(pool: &'static LocalKey<Pool<T>>, item: T, max: usize) {
    let _ = pool.try_with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < max {
            p.push(item);
        }
    });
}
