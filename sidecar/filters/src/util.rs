//! Shared helpers: script callbacks and values that may be functions.

use boa_engine::JsValue;
use pipy_core::{Context, Output, StreamError};
use std::rc::Rc;

/// A script value given to a filter: either a constant or a function called per
/// use with some arguments.
#[derive(Clone)]
pub struct Callback {
    value: JsValue,
    /// Where the filter was declared, for error messages.
    pub origin: &'static str,
}

impl Callback {
    /// Wraps a script value.
    pub fn new(value: JsValue, origin: &'static str) -> Self {
        Self { value, origin }
    }

    /// Whether the value is a function.
    pub fn is_function(&self) -> bool {
        self.value.is_callable()
    }

    /// The raw value.
    pub fn value(&self) -> &JsValue {
        &self.value
    }

    /// Calls the function with `args` (or returns the constant), logging errors
    /// (once, with the script's file:line:column) under the filter's name.
    pub fn eval(&self, args: &[JsValue], ctx: &Rc<Context>) -> Option<JsValue> {
        if !self.value.is_callable() {
            return Some(self.value.clone());
        }
        match pipy_js::call(&self.value, args, ctx) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::error!("{}: exception in callback: {}", self.origin, e);
                None
            }
        }
    }

    /// [`Callback::eval`] for a filter at work: when the function throws, the
    /// stream ends there with a `RuntimeError` ([`Output::fail`]) and `None` tells
    /// the filter to stop.
    pub fn call(&self, args: &[JsValue], out: &Output<'_>) -> Option<JsValue> {
        let v = self.eval(args, out.context());
        if v.is_none() {
            out.fail(StreamError::RuntimeError);
        }
        v
    }
}

/// Calls `f` with the thread's engine.
pub(crate) fn js<R>(f: impl FnOnce(&mut boa_engine::Context) -> R) -> R {
    pipy_js::with_js(f)
}
