//! Work in flight on this thread that a worker with no port waits for
//! before it ends, as upstream's event loop runs while it has something to
//! do: timers, reads, outbound connections, child processes, HTTP requests
//! of `http.Agent`. Each piece of work holds a [`Busy`] guard for as long
//! as it runs. (A pipeline holds a worker only through such work.)

use std::cell::Cell;
use std::rc::Rc;

thread_local! {
    static COUNT: Cell<usize> = const { Cell::new(0) };
    static IDLE: Rc<tokio::sync::Notify> = Rc::new(tokio::sync::Notify::new());
}

/// Counts one piece of work until dropped.
#[must_use = "the work counts only while the guard lives"]
pub struct Busy(());

impl Busy {
    /// Counts a new piece of work on this thread.
    pub fn begin() -> Self {
        COUNT.with(|c| c.set(c.get() + 1));
        Busy(())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        // `try_with`: guards may drop while the thread ends and its locals go.
        let left = COUNT
            .try_with(|c| {
                let n = c.get().saturating_sub(1);
                c.set(n);
                n
            })
            .unwrap_or(1);
        if left == 0 {
            let _ = IDLE.try_with(|n| n.notify_waiters());
        }
    }
}

/// Pieces of work running on this thread.
pub fn count() -> usize {
    COUNT.with(Cell::get)
}

/// Waits until no work runs on this thread.
pub async fn idle() {
    let idle = IDLE.with(Rc::clone);
    while count() > 0 {
        let notified = idle.notified();
        if count() == 0 {
            break;
        }
        notified.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_count_while_they_live() {
        let before = count();
        let a = Busy::begin();
        let b = Busy::begin();
        assert_eq!(count(), before + 2);
        drop(a);
        assert_eq!(count(), before + 1);
        drop(b);
        assert_eq!(count(), before);
    }
}
