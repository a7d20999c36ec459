//! The `pipy_*` functions of the interface: events, a module's definitions,
//! and its running pipelines.

// Reached by C through the symbol table, not by Rust paths.
#![allow(unreachable_pub)]

use crate::module::{self, FreeFn, InitFn, PipelineDef, ProcessFn};
use crate::{engine, pipeline, values};
use boa_engine::class::Class;
use boa_engine::{JsObject, JsValue};
use pipy_core::{Data, StreamError};
use pipy_js::api::data::{new_data, DataObject};
use pipy_js::api::message::{MessageEndObject, MessageStartObject, StreamEndObject};
use std::ffi::{c_char, c_int, c_void, CStr};

fn object(v: c_int) -> Option<JsObject> {
    values::get(v)?.as_object()
}

fn is<T: boa_engine::NativeObject>(v: c_int) -> c_int {
    c_int::from(object(v).is_some_and(|o| o.is::<T>()))
}

fn local(v: JsValue) -> c_int {
    values::alloc(v)
}

/// The optional object argument a number names: `Ok(None)` for 0, `Err` for
/// a number that names nothing or a value that is not an object.
fn optional_object(v: c_int) -> Result<Option<JsValue>, ()> {
    if v == 0 {
        return Ok(None);
    }
    match values::get(v) {
        Some(x) if x.is_object() => Ok(Some(x)),
        _ => Err(()),
    }
}

/// Runs `f` on the bytes of the `Data` value `v` names.
fn on_data<R>(v: c_int, f: impl FnOnce(&mut Data) -> R) -> Option<R> {
    let o = object(v)?;
    let mut d = o.downcast_mut::<DataObject>()?;
    Some(f(&mut d.data))
}

fn new_data_value(d: Data) -> c_int {
    engine::with(|ctx| new_data(d, ctx).ok())
        .flatten()
        .map_or(0, local)
}

fn count(n: usize) -> c_int {
    c_int::try_from(n).unwrap_or(c_int::MAX)
}

/// # Safety
/// `s` is NULL or a NUL-terminated string.
unsafe fn c_text(s: *const c_char) -> Option<String> {
    // SAFETY: the caller's contract.
    (!s.is_null()).then(|| unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned())
}

#[no_mangle]
pub extern "C" fn pipy_is_Data(obj: c_int) -> c_int {
    is::<DataObject>(obj)
}

#[no_mangle]
pub extern "C" fn pipy_is_MessageStart(obj: c_int) -> c_int {
    is::<MessageStartObject>(obj)
}

#[no_mangle]
pub extern "C" fn pipy_is_MessageEnd(obj: c_int) -> c_int {
    is::<MessageEndObject>(obj)
}

#[no_mangle]
pub extern "C" fn pipy_is_StreamEnd(obj: c_int) -> c_int {
    is::<StreamEndObject>(obj)
}

/// # Safety
/// `buf` is NULL or points at `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn pipy_Data_new(buf: *const c_char, len: c_int) -> c_int {
    let bytes = match usize::try_from(len) {
        Ok(n) if n > 0 && !buf.is_null() => {
            // SAFETY: `len` bytes at `buf` by the caller's contract.
            unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), n) }.to_vec()
        }
        _ => Vec::new(),
    };
    new_data_value(Data::from(bytes))
}

/// Appends to a `Data` in place: a number as one byte, a string as its UTF-8
/// bytes, or another `Data`. Gives `obj`, or 0.
#[no_mangle]
pub extern "C" fn pipy_Data_push(obj: c_int, data: c_int) -> c_int {
    let Some(more) = values::get(data) else {
        return 0;
    };
    let more = if let Some(n) = more.as_number() {
        // One byte, as upstream's `push((char)n)`.
        Data::from(vec![n as i64 as u8])
    } else if let Some(s) = more.as_string() {
        Data::from(s.to_std_string_lossy())
    } else if let Some(d) = pipy_js::api::data::data_of(&more) {
        d
    } else {
        return 0;
    };
    on_data(obj, |d| d.push(more)).map_or(0, |()| obj)
}

/// Takes the last `len` bytes off a `Data` into a new one.
#[no_mangle]
pub extern "C" fn pipy_Data_pop(obj: c_int, len: c_int) -> c_int {
    let n = usize::try_from(len).unwrap_or(0);
    let popped = on_data(obj, |d| {
        let keep = d.len().saturating_sub(n);
        let head = d.shift(keep);
        std::mem::replace(d, head)
    });
    popped.map_or(0, new_data_value)
}

/// Takes the first `len` bytes off a `Data` into a new one.
#[no_mangle]
pub extern "C" fn pipy_Data_shift(obj: c_int, len: c_int) -> c_int {
    let n = usize::try_from(len).unwrap_or(0);
    on_data(obj, |d| d.shift(n)).map_or(0, new_data_value)
}

#[no_mangle]
pub extern "C" fn pipy_Data_get_size(obj: c_int) -> c_int {
    on_data(obj, |d| count(d.len())).unwrap_or(-1)
}

/// Copies up to `len` bytes of a `Data` to `buf`; gives its whole size.
///
/// # Safety
/// `buf` points at `len` writable bytes (or `len` is 0 or below).
#[no_mangle]
pub unsafe extern "C" fn pipy_Data_get_data(obj: c_int, buf: *mut c_char, len: c_int) -> c_int {
    let room = usize::try_from(len).unwrap_or(0);
    on_data(obj, |d| {
        if !buf.is_null() {
            let mut at = 0;
            for chunk in d.chunks() {
                if at >= room {
                    break;
                }
                let n = chunk.len().min(room - at);
                // SAFETY: `buf` has `len` bytes of room (caller's contract)
                // and `at + n` stays within them.
                unsafe {
                    std::ptr::copy_nonoverlapping(chunk.as_ptr(), buf.cast::<u8>().add(at), n)
                };
                at += n;
            }
        }
        count(d.len())
    })
    .unwrap_or(-1)
}

#[no_mangle]
pub extern "C" fn pipy_MessageStart_new(head: c_int) -> c_int {
    let Ok(head) = optional_object(head) else {
        return 0;
    };
    let start = MessageStartObject::new(head.unwrap_or_default());
    engine::with(|ctx| MessageStartObject::from_data(start, ctx).ok())
        .flatten()
        .map_or(0, |o| local(o.into()))
}

#[no_mangle]
pub extern "C" fn pipy_MessageStart_get_head(obj: c_int) -> c_int {
    object(obj)
        .filter(|o| o.is::<MessageStartObject>())
        .and_then(|o| engine::with(|ctx| MessageStartObject::head_of(&o, ctx).ok()).flatten())
        .map_or(0, local)
}

#[no_mangle]
pub extern "C" fn pipy_MessageEnd_new(tail: c_int, payload: c_int) -> c_int {
    let (Ok(tail), Ok(payload)) = (optional_object(tail), optional_object(payload)) else {
        return 0;
    };
    let end = MessageEndObject {
        tail: tail.unwrap_or_default(),
        payload: payload.unwrap_or_default(),
    };
    engine::with(|ctx| MessageEndObject::from_data(end, ctx).ok())
        .flatten()
        .map_or(0, |o| local(o.into()))
}

#[no_mangle]
pub extern "C" fn pipy_MessageEnd_get_tail(obj: c_int) -> c_int {
    object(obj)
        .and_then(|o| o.downcast_ref::<MessageEndObject>().map(|m| m.tail.clone()))
        .map_or(0, local)
}

#[no_mangle]
pub extern "C" fn pipy_MessageEnd_get_payload(obj: c_int) -> c_int {
    object(obj)
        .and_then(|o| {
            o.downcast_ref::<MessageEndObject>()
                .map(|m| m.payload.clone())
        })
        .map_or(0, local)
}

/// A `StreamEnd`, with the error a string names (0: none). An unknown name
/// gives 0, as upstream's.
#[no_mangle]
pub extern "C" fn pipy_StreamEnd_new(error: c_int) -> c_int {
    let error = if error == 0 {
        StreamError::NoError
    } else {
        let Some(name) =
            values::get(error).and_then(|v| v.as_string().map(|s| s.to_std_string_lossy()))
        else {
            return 0;
        };
        match StreamError::ALL.into_iter().find(|e| e.name() == name) {
            Some(e) => e,
            None => return 0,
        }
    };
    let end = StreamEndObject {
        error: error.name().to_string(),
    };
    engine::with(|ctx| StreamEndObject::from_data(end, ctx).ok())
        .flatten()
        .map_or(0, |o| local(o.into()))
}

#[no_mangle]
pub extern "C" fn pipy_StreamEnd_get_error(obj: c_int) -> c_int {
    object(obj)
        .and_then(|o| {
            o.downcast_ref::<StreamEndObject>().map(|m| {
                if m.error.is_empty() {
                    JsValue::undefined()
                } else {
                    JsValue::from(boa_engine::JsString::from(m.error.as_str()))
                }
            })
        })
        .map_or(0, local)
}

/// # Safety
/// `name` and `ns` are NULL or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn pipy_define_variable(
    id: c_int,
    name: *const c_char,
    ns: *const c_char,
    value: c_int,
) -> c_int {
    // SAFETY: the caller's contract.
    let (Some(name), ns) = (unsafe { c_text(name) }, unsafe { c_text(ns) }) else {
        return -1;
    };
    let value = if value == 0 {
        JsValue::undefined()
    } else {
        match values::get(value) {
            Some(v) => v,
            None => return -1,
        }
    };
    module::define_variable(id, name, ns, value)
}

/// # Safety
/// `name` is NULL or a NUL-terminated string; the functions are NULL or of
/// the interface's types.
#[no_mangle]
pub unsafe extern "C" fn pipy_define_pipeline(
    name: *const c_char,
    init: Option<InitFn>,
    free: Option<FreeFn>,
    process: Option<ProcessFn>,
) {
    // SAFETY: the caller's contract.
    let name = unsafe { c_text(name) }.unwrap_or_default();
    module::define_pipeline(
        name,
        PipelineDef {
            init,
            free,
            process,
        },
    );
}

#[no_mangle]
pub extern "C" fn pipy_hold(ppl: c_int) {
    pipeline::hold(ppl);
}

#[no_mangle]
pub extern "C" fn pipy_free(ppl: c_int) {
    pipeline::release(ppl);
}

/// Outputs an event (`Data`, `MessageStart`, `MessageEnd`, `StreamEnd`)
/// from pipeline `ppl`; other values are ignored.
#[no_mangle]
pub extern "C" fn pipy_output_event(ppl: c_int, evt: c_int) {
    let Some(v) = values::get(evt) else { return };
    let is_event = v.as_object().is_some_and(|o| {
        o.is::<DataObject>()
            || o.is::<MessageStartObject>()
            || o.is::<MessageEndObject>()
            || o.is::<StreamEndObject>()
    });
    if !is_event {
        return;
    }
    let events = engine::with(|ctx| {
        let mut out = Vec::new();
        let _ = pipy_js::convert::js_to_events(&v, ctx, &mut out);
        out
    })
    .unwrap_or_default();
    for e in events {
        pipeline::output(ppl, e);
    }
}

#[no_mangle]
pub extern "C" fn pipy_get_variable(ppl: c_int, id: c_int, value: c_int) {
    let Some((module, pctx)) = pipeline::context_of(ppl) else {
        return;
    };
    let Some((vars, slot)) = module.variable(id) else {
        return;
    };
    if let Some(Ok(v)) = engine::with(|ctx| pipy_js::vars::read_in(&pctx, vars, slot, ctx)) {
        values::set(value, v);
    }
}

#[no_mangle]
pub extern "C" fn pipy_set_variable(ppl: c_int, id: c_int, value: c_int) {
    let Some((module, pctx)) = pipeline::context_of(ppl) else {
        return;
    };
    let (Some((vars, slot)), Some(v)) = (module.variable(id), values::get(value)) else {
        return;
    };
    let _ = engine::with(|ctx| pipy_js::vars::write_in(&pctx, vars, slot, v, ctx));
}

/// Runs `f(user_ptr)` on pipeline `ppl`'s thread after `timeout` seconds
/// (callable from any thread).
#[no_mangle]
pub extern "C" fn pipy_schedule(
    ppl: c_int,
    timeout: f64,
    f: Option<unsafe extern "C" fn(*mut c_void)>,
    user_ptr: *mut c_void,
) {
    if let Some(f) = f {
        pipeline::schedule(ppl, timeout, f, user_ptr as usize);
    }
}

/// Names and addresses of this file's C functions.
pub(crate) fn functions() -> Vec<(&'static str, usize)> {
    macro_rules! table {
        ($($f:ident),* $(,)?) => { vec![$((stringify!($f), $f as *const () as usize)),*] };
    }
    table![
        pipy_is_Data,
        pipy_is_MessageStart,
        pipy_is_MessageEnd,
        pipy_is_StreamEnd,
        pipy_Data_new,
        pipy_Data_push,
        pipy_Data_pop,
        pipy_Data_shift,
        pipy_Data_get_size,
        pipy_Data_get_data,
        pipy_MessageStart_new,
        pipy_MessageStart_get_head,
        pipy_MessageEnd_new,
        pipy_MessageEnd_get_tail,
        pipy_MessageEnd_get_payload,
        pipy_StreamEnd_new,
        pipy_StreamEnd_get_error,
        pipy_define_variable,
        pipy_define_pipeline,
        pipy_hold,
        pipy_free,
        pipy_output_event,
        pipy_get_variable,
        pipy_set_variable,
        pipy_schedule,
    ]
}
