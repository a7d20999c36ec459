//! Reading what scripts pass to Configuration methods: option objects, durations
//! and sizes. Every option goes through here, so a malformed value (`'10x'`) or a
//! wrong type stops the load with a message naming the method and the option
//! (the engine adds the script's file:line:column), and an option name a method
//! does not know gets a warning with its position. Upstream ignores unknown
//! names silently, so scripts carrying them still load.

use boa_engine::{js_string, Context, JsError, JsNativeError, JsObject, JsResult, JsValue};
pub use pipy_core::units::{parse_duration, parse_size};
use std::time::Duration;

fn type_error(msg: String) -> JsError {
    JsNativeError::typ().with_message(msg).into()
}

/// A duration given as seconds (a number) or text with a unit (`100ms`, `5s`,
/// `2m`, `1h`, `1d`); `None` for undefined or null. `what` names the value in
/// errors (`connect(): connectTimeout`).
pub fn duration(v: &JsValue, what: &str, ctx: &mut Context) -> JsResult<Option<Duration>> {
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    if let Some(n) = v.as_number() {
        return Duration::try_from_secs_f64(n)
            .map(Some)
            .map_err(|_| type_error(format!("{what}: {n} is not a duration in seconds")));
    }
    if !v.is_string() {
        return Err(type_error(format!(
            "{what}: expects a number of seconds or a string such as '5s', not {}",
            v.type_of()
        )));
    }
    let s = v.to_string(ctx)?.to_std_string_escaped();
    parse_duration(&s)
        .map(Some)
        .map_err(|e| type_error(format!("{what}: {e}")))
}

/// A size in bytes given as a number or text with a unit (`64k`, `1m`); `None`
/// for undefined or null.
pub fn size(v: &JsValue, what: &str, ctx: &mut Context) -> JsResult<Option<u64>> {
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    if let Some(n) = v.as_number() {
        if n >= 0.0 && n.is_finite() {
            return Ok(Some(n as u64));
        }
        return Err(type_error(format!("{what}: {n} is not a size in bytes")));
    }
    if !v.is_string() {
        return Err(type_error(format!(
            "{what}: expects a number of bytes or a string such as '64k', not {}",
            v.type_of()
        )));
    }
    let s = v.to_string(ctx)?.to_std_string_escaped();
    parse_size(&s)
        .map(Some)
        .map_err(|e| type_error(format!("{what}: {e}")))
}

/// The options object of a Configuration method, read key by key. Each key read
/// counts as known; [`Options::finish`] warns about the others.
pub struct Options {
    method: &'static str,
    obj: Option<JsObject>,
    known: Vec<&'static str>,
    location: Option<String>,
}

impl Options {
    /// The options argument `v` of `method` (`"connect"`): an object, or undefined
    /// or null for none; anything else is an error.
    pub fn new(method: &'static str, v: &JsValue, ctx: &mut Context) -> JsResult<Self> {
        let obj = match v.as_object() {
            Some(o) if !o.is_callable() && !o.is_array() => Some(o.clone()),
            None if v.is_undefined() || v.is_null() => None,
            _ => {
                return Err(type_error(format!(
                    "{method}(): options must be an object, not {}",
                    if v.is_object() {
                        "a function or array"
                    } else {
                        v.type_of()
                    }
                )))
            }
        };
        Ok(Self {
            method,
            obj,
            known: Vec::new(),
            location: pipy_js::script_location(ctx),
        })
    }

    fn what(&self, key: &str) -> String {
        format!("{}(): option {key}", self.method)
    }

    /// The raw value of `key` (undefined when absent).
    pub fn get(&mut self, key: &'static str, ctx: &mut Context) -> JsResult<JsValue> {
        self.known.push(key);
        match &self.obj {
            Some(o) => o.get(js_string!(key), ctx),
            None => Ok(JsValue::undefined()),
        }
    }

    /// `key` as a duration ([`duration`]).
    pub fn duration(&mut self, key: &'static str, ctx: &mut Context) -> JsResult<Option<Duration>> {
        let v = self.get(key, ctx)?;
        duration(&v, &self.what(key), ctx)
    }

    /// `key` as a size in bytes ([`size`]).
    pub fn size(&mut self, key: &'static str, ctx: &mut Context) -> JsResult<Option<u64>> {
        let v = self.get(key, ctx)?;
        size(&v, &self.what(key), ctx)
    }

    /// `key` as a number; a value of another type is an error.
    pub fn number(&mut self, key: &'static str, ctx: &mut Context) -> JsResult<Option<f64>> {
        let v = self.get(key, ctx)?;
        if v.is_undefined() || v.is_null() {
            return Ok(None);
        }
        v.as_number().map(Some).ok_or_else(|| {
            type_error(format!(
                "{}: expects a number, not {}",
                self.what(key),
                v.type_of()
            ))
        })
    }

    /// Warns (with the script's position) about every key of the object that no
    /// read asked for: likely a misspelt option, which would otherwise do nothing.
    pub fn finish(self, ctx: &mut Context) -> JsResult<()> {
        let Some(o) = &self.obj else {
            return Ok(());
        };
        for key in o.own_property_keys(ctx)? {
            let name = key.to_string();
            if !self.known.iter().any(|k| *k == name) {
                tracing::warn!(
                    "{}: {}(): unknown option '{name}' (ignored)",
                    self.location.as_deref().unwrap_or("script"),
                    self.method
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_and_named_in_errors() {
        let mut ctx = Context::default();
        let v = JsValue::from(js_string!("10x"));
        let e = duration(&v, "connect(): option connectTimeout", &mut ctx).unwrap_err();
        assert!(
            e.to_string()
                .contains("connect(): option connectTimeout: '10x'"),
            "{e}"
        );
        assert_eq!(
            duration(&JsValue::from(1.5), "t", &mut ctx).unwrap(),
            Some(Duration::from_millis(1500))
        );
        assert!(duration(&JsValue::from(true), "t", &mut ctx).is_err());
        assert!(duration(&JsValue::from(-1), "t", &mut ctx).is_err());
        assert_eq!(
            size(&JsValue::from(js_string!("2k")), "s", &mut ctx).unwrap(),
            Some(2048)
        );
        assert!(size(&JsValue::from(js_string!("2x")), "s", &mut ctx).is_err());
        assert!(Options::new("connect", &JsValue::from(5), &mut ctx).is_err());
        let mut o = Options::new("connect", &JsValue::undefined(), &mut ctx).unwrap();
        assert_eq!(o.number("retryCount", &mut ctx).unwrap(), None);
    }
}
