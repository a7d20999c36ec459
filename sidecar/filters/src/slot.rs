//! Sub-pipeline references filled in after the filter is appended.

use pipy_core::Layout;
use std::cell::RefCell;
use std::rc::Rc;

/// A sub-pipeline layout a filter will start, set by `.to(...)` or a name that the
/// script may define later.
#[derive(Clone, Default)]
pub struct SubLayout(Rc<RefCell<Option<Layout>>>);

impl SubLayout {
    /// An empty slot.
    pub fn new() -> Self {
        Self::default()
    }

    /// A slot already holding a layout.
    pub fn of(layout: Layout) -> Self {
        SubLayout(Rc::new(RefCell::new(Some(layout))))
    }

    /// Fills the slot.
    pub fn set(&self, layout: Layout) {
        *self.0.borrow_mut() = Some(layout);
    }

    /// Whether the slot is filled.
    pub fn is_set(&self) -> bool {
        self.0.borrow().is_some()
    }

    /// The layout, when set.
    pub fn get(&self) -> Option<Layout> {
        self.0.borrow().clone()
    }
}
