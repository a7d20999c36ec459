//! The script values native code names by number (`pjs_value`), one table per
//! thread, with upstream's lifetimes: a value made during a call into native
//! code lives until that call returns ([`scope`]) unless held; holds and frees
//! count; 0 names nothing.

use boa_engine::JsValue;
use std::cell::RefCell;

/// Most values one thread's native code names at once: past it, making a
/// value gives 0 (a module that holds values and never frees them cannot take
/// the process's memory).
pub(crate) const MAX_VALUES: usize = 1 << 20;

struct Slot {
    value: JsValue,
    holds: u32,
}

#[derive(Default)]
struct Table {
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    /// Values made in each call into native code still running, innermost last.
    scopes: Vec<Vec<i32>>,
    live: usize,
    warned: bool,
}

thread_local! {
    static TABLE: RefCell<Table> = RefCell::new(Table::default());
}

fn index(id: i32) -> Option<usize> {
    usize::try_from(id).ok()?.checked_sub(1)
}

/// Names `value` for native code. Made inside a call into native code, it
/// lives until that call returns; made outside one (while a module
/// initialises), until freed.
pub(crate) fn alloc(value: JsValue) -> i32 {
    TABLE.with(|t| {
        let mut t = t.borrow_mut();
        if t.live >= MAX_VALUES {
            if !std::mem::replace(&mut t.warned, true) {
                tracing::error!(
                    "native modules hold {MAX_VALUES} values on this thread: no more are made"
                );
            }
            return 0;
        }
        let in_scope = !t.scopes.is_empty();
        let slot = Slot {
            value,
            holds: u32::from(in_scope),
        };
        let i = match t.free.pop() {
            Some(i) => {
                t.slots[i] = Some(slot);
                i
            }
            None => {
                t.slots.push(Some(slot));
                t.slots.len() - 1
            }
        };
        t.live += 1;
        let id = i32::try_from(i + 1).unwrap_or(0);
        if let Some(scope) = t.scopes.last_mut() {
            scope.push(id);
        }
        id
    })
}

/// The value `id` names.
pub(crate) fn get(id: i32) -> Option<JsValue> {
    let i = index(id)?;
    TABLE.with(|t| t.borrow().slots.get(i)?.as_ref().map(|s| s.value.clone()))
}

/// Makes `id` name `value` instead; false when `id` names nothing.
pub(crate) fn set(id: i32, value: JsValue) -> bool {
    let Some(i) = index(id) else { return false };
    TABLE.with(|t| match t.borrow_mut().slots.get_mut(i) {
        Some(Some(s)) => {
            s.value = value;
            true
        }
        _ => false,
    })
}

/// One more hold on `id`.
pub(crate) fn hold(id: i32) {
    let Some(i) = index(id) else { return };
    TABLE.with(|t| {
        if let Some(Some(s)) = t.borrow_mut().slots.get_mut(i) {
            s.holds = s.holds.saturating_add(1);
        }
    });
}

/// One hold less on `id`; the last one lets the value go.
pub(crate) fn release(id: i32) {
    let Some(i) = index(id) else { return };
    // The value drops after the table's borrow ends (dropping a script
    // value may run a native object's free function).
    let gone = TABLE.with(|t| {
        let mut t = t.borrow_mut();
        let last = match t.slots.get_mut(i) {
            Some(Some(s)) if s.holds > 1 => {
                s.holds -= 1;
                false
            }
            Some(Some(_)) => true,
            _ => false,
        };
        if !last {
            return None;
        }
        t.live -= 1;
        t.free.push(i);
        t.slots[i].take()
    });
    drop(gone);
}

/// Runs `f` (a call into native code) with its own scope of values: those it
/// made and did not hold go when it returns.
pub(crate) fn scope<R>(f: impl FnOnce() -> R) -> R {
    TABLE.with(|t| t.borrow_mut().scopes.push(Vec::new()));
    let r = f();
    let made = TABLE.with(|t| t.borrow_mut().scopes.pop().unwrap_or_default());
    for id in made {
        release(id);
    }
    r
}

/// Lets go of every value (the thread's engine is going away).
pub(crate) fn clear() {
    let old = TABLE.with(|t| std::mem::take(&mut *t.borrow_mut()));
    drop(old);
}

/// Values named now on this thread.
#[cfg(test)]
pub(crate) fn live() -> usize {
    TABLE.with(|t| t.borrow().live)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_made_in_a_call_go_when_it_returns_unless_held() {
        clear();
        let (kept, dropped) = scope(|| {
            let a = alloc(JsValue::from(1));
            let b = alloc(JsValue::from(2));
            hold(a);
            (a, b)
        });
        assert_eq!(get(kept).and_then(|v| v.as_number()), Some(1.0));
        assert!(get(dropped).is_none());
        assert_eq!(live(), 1);
        release(kept);
        assert!(get(kept).is_none());
        assert_eq!(live(), 0);
    }

    #[test]
    fn values_made_outside_a_call_live_until_freed_and_ids_are_reused() {
        clear();
        let a = alloc(JsValue::from(7));
        assert_ne!(a, 0);
        scope(|| {});
        assert!(get(a).is_some());
        release(a);
        assert!(get(a).is_none());
        let b = alloc(JsValue::from(8));
        assert_eq!(a, b, "a freed number is given again");
        assert!(get(0).is_none() && get(-5).is_none());
        release(b);
    }

    #[test]
    fn nested_calls_keep_their_own_values() {
        clear();
        scope(|| {
            let outer = alloc(JsValue::from(1));
            let inner = scope(|| alloc(JsValue::from(2)));
            assert!(get(inner).is_none());
            assert!(get(outer).is_some());
        });
        assert_eq!(live(), 0);
    }
}
