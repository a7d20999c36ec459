//! The `pjs_*` functions of the interface: script values for native code.
//! Every function takes and gives value numbers of [`crate::values`]; a
//! number that names nothing, or a value of the wrong kind, gives 0 (or -1
//! where the header says so) rather than an error.

// Reached by C through the symbol table, not by Rust paths.
#![allow(unreachable_pub)]

use crate::{engine, values};
use boa_engine::object::builtins::JsArray;
use boa_engine::{js_string, Context, JsData, JsObject, JsString, JsValue};
use boa_gc::{Finalize, Trace};
use std::ffi::{c_char, c_int, c_void, CStr};

/// `fn_object_free`.
pub(crate) type ObjectFree = unsafe extern "C" fn(*mut c_void);

/// A script object that carries a native pointer (`pjs_native`).
#[derive(Trace, JsData)]
struct NativeObject {
    #[unsafe_ignore_trace]
    ptr: usize,
    #[unsafe_ignore_trace]
    free: Option<ObjectFree>,
}

impl Finalize for NativeObject {
    fn finalize(&self) {
        // Not from inside the collector: the module's function may call the
        // interface, which needs the engine the collector runs in.
        if let Some(free) = self.free {
            crate::pipeline::finalized(free, self.ptr);
        }
    }
}

fn local(v: JsValue) -> c_int {
    values::alloc(v)
}

fn get(v: c_int) -> Option<JsValue> {
    values::get(v)
}

fn flag(b: bool) -> c_int {
    c_int::from(b)
}

/// A value's test, false for a number that names nothing.
fn test(v: c_int, f: impl FnOnce(&JsValue) -> bool) -> c_int {
    flag(get(v).is_some_and(|v| f(&v)))
}

/// Reads `len` bytes at `s` (up to its NUL when `len` is below 0) as text.
///
/// # Safety
/// `s` is NULL, or points at `len` readable bytes (a NUL-terminated string
/// when `len` is below 0).
unsafe fn text(s: *const c_char, len: c_int) -> String {
    if s.is_null() {
        return String::new();
    }
    let bytes = match usize::try_from(len) {
        // SAFETY: the caller's contract.
        Ok(n) => unsafe { std::slice::from_raw_parts(s.cast::<u8>(), n) },
        // SAFETY: the caller's contract.
        Err(_) => unsafe { CStr::from_ptr(s) }.to_bytes(),
    };
    String::from_utf8_lossy(bytes).into_owned()
}

#[no_mangle]
pub extern "C" fn pjs_undefined() -> c_int {
    local(JsValue::undefined())
}

#[no_mangle]
pub extern "C" fn pjs_null() -> c_int {
    local(JsValue::null())
}

#[no_mangle]
pub extern "C" fn pjs_boolean(b: c_int) -> c_int {
    local(JsValue::from(b != 0))
}

#[no_mangle]
pub extern "C" fn pjs_number(n: f64) -> c_int {
    local(JsValue::from(n))
}

/// # Safety
/// See [`text`].
#[no_mangle]
pub unsafe extern "C" fn pjs_string(s: *const c_char, len: c_int) -> c_int {
    // SAFETY: the interface's contract for `pjs_string`.
    let s = unsafe { text(s, len) };
    local(JsValue::from(JsString::from(s.as_str())))
}

#[no_mangle]
pub extern "C" fn pjs_object() -> c_int {
    engine::with(|ctx| JsObject::with_object_proto(ctx.intrinsics())).map_or(0, |o| local(o.into()))
}

#[no_mangle]
pub extern "C" fn pjs_array(len: c_int) -> c_int {
    engine::with(|ctx| {
        let a = JsArray::new(ctx).ok()?;
        a.set(js_string!("length"), len.max(0), true, ctx).ok()?;
        Some(a)
    })
    .flatten()
    .map_or(0, |a| local(a.into()))
}

#[no_mangle]
pub extern "C" fn pjs_native(ptr: *mut c_void, free: Option<ObjectFree>) -> c_int {
    let data = NativeObject {
        ptr: ptr as usize,
        free,
    };
    engine::with(|ctx| {
        let proto = ctx.intrinsics().constructors().object().prototype();
        JsObject::from_proto_and_data(Some(proto), data)
    })
    .map_or(0, |o| local(o.into()))
}

#[no_mangle]
pub extern "C" fn pjs_copy(v: c_int, src: c_int) -> c_int {
    if let Some(value) = get(src) {
        values::set(v, value);
    }
    v
}

#[no_mangle]
pub extern "C" fn pjs_hold(v: c_int) -> c_int {
    values::hold(v);
    v
}

#[no_mangle]
pub extern "C" fn pjs_free(v: c_int) {
    values::release(v);
}

#[no_mangle]
pub extern "C" fn pjs_type_of(v: c_int) -> c_int {
    // As upstream's: null is an object; undefined and names of nothing are 0.
    match get(v) {
        Some(v) if v.is_boolean() => 1,
        Some(v) if v.is_number() || v.is_bigint() => 2,
        Some(v) if v.is_string() => 3,
        Some(v) if v.is_object() || v.is_null() => 4,
        _ => 0,
    }
}

/// Class ids, process-wide and by name (as upstream's, the same on every
/// thread and engine): the names of constructors, numbered from 1.
static CLASS_NAMES: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Most class names numbered (scripts that make classes of new names without
/// end get 0 past it).
const MAX_CLASSES: usize = 4096;

fn class_number(name: &str) -> c_int {
    if name.is_empty() {
        return 0;
    }
    let mut names = CLASS_NAMES.lock().unwrap_or_else(|e| e.into_inner());
    let i = match names.iter().position(|n| n == name) {
        Some(i) => i,
        None if names.len() < MAX_CLASSES => {
            names.push(name.to_string());
            names.len() - 1
        }
        None => return 0,
    };
    c_int::try_from(i + 1).unwrap_or(0)
}

fn class_name(id: c_int) -> Option<String> {
    let i = usize::try_from(id).ok()?.checked_sub(1)?;
    let names = CLASS_NAMES.lock().unwrap_or_else(|e| e.into_inner());
    names.get(i).cloned()
}

/// The constructor a global name gives, in this engine.
fn global_constructor(name: &str, ctx: &mut Context) -> Option<JsObject> {
    let global = ctx.global_object();
    let v = global.get(JsString::from(name), ctx).ok()?;
    v.as_object().filter(|c| c.is_constructor())
}

/// The name of a value's class: its constructor's `name`.
fn class_name_of(v: &JsValue, ctx: &mut Context) -> Option<String> {
    let proto = v.as_object()?.prototype()?;
    let ctor = proto
        .get(js_string!("constructor"), ctx)
        .ok()?
        .as_object()?;
    let name = ctor.get(js_string!("name"), ctx).ok()?;
    name.as_string().map(|s| s.to_std_string_lossy())
}

#[no_mangle]
pub extern "C" fn pjs_class_of(v: c_int) -> c_int {
    let Some(v) = get(v) else { return 0 };
    engine::with(|ctx| class_name_of(&v, ctx))
        .flatten()
        .map_or(0, |n| class_number(&n))
}

/// # Safety
/// `name` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn pjs_class_id(name: *const c_char) -> c_int {
    // SAFETY: the caller's contract.
    let name = unsafe { text(name, -1) };
    // Only names of classes there are (upstream's answers 0 for others).
    let known = engine::with(|ctx| global_constructor(&name, ctx).is_some());
    if known == Some(true) {
        class_number(&name)
    } else {
        0
    }
}

#[no_mangle]
pub extern "C" fn pjs_is_undefined(v: c_int) -> c_int {
    test(v, JsValue::is_undefined)
}

#[no_mangle]
pub extern "C" fn pjs_is_null(v: c_int) -> c_int {
    test(v, JsValue::is_null)
}

#[no_mangle]
pub extern "C" fn pjs_is_nullish(v: c_int) -> c_int {
    test(v, JsValue::is_null_or_undefined)
}

#[no_mangle]
pub extern "C" fn pjs_is_string(v: c_int) -> c_int {
    test(v, JsValue::is_string)
}

#[no_mangle]
pub extern "C" fn pjs_is_empty_string(v: c_int) -> c_int {
    test(v, |v| v.as_string().is_some_and(|s| s.is_empty()))
}

#[no_mangle]
pub extern "C" fn pjs_is_object(v: c_int) -> c_int {
    test(v, JsValue::is_object)
}

#[no_mangle]
pub extern "C" fn pjs_is_instance_of(v: c_int, class_id: c_int) -> c_int {
    let (Some(v), Some(name)) = (get(v), class_name(class_id)) else {
        return 0;
    };
    let is = engine::with(|ctx| {
        let ctor = global_constructor(&name, ctx)?;
        v.instance_of(&ctor.into(), ctx).ok()
    });
    flag(is.flatten() == Some(true))
}

#[no_mangle]
pub extern "C" fn pjs_is_array(v: c_int) -> c_int {
    test(v, |v| v.as_object().is_some_and(|o| o.is_array()))
}

#[no_mangle]
pub extern "C" fn pjs_is_function(v: c_int) -> c_int {
    test(v, JsValue::is_callable)
}

#[no_mangle]
pub extern "C" fn pjs_is_native(v: c_int) -> c_int {
    test(v, |v| v.as_object().is_some_and(|o| o.is::<NativeObject>()))
}

#[no_mangle]
pub extern "C" fn pjs_is_equal(a: c_int, b: c_int) -> c_int {
    let (Some(a), Some(b)) = (get(a), get(b)) else {
        return 0;
    };
    flag(engine::with(|ctx| a.equals(&b, ctx).unwrap_or(false)) == Some(true))
}

#[no_mangle]
pub extern "C" fn pjs_is_identical(a: c_int, b: c_int) -> c_int {
    let (Some(a), Some(b)) = (get(a), get(b)) else {
        return 0;
    };
    flag(a.strict_equals(&b))
}

#[no_mangle]
pub extern "C" fn pjs_to_boolean(v: c_int) -> c_int {
    test(v, JsValue::to_boolean)
}

#[no_mangle]
pub extern "C" fn pjs_to_number(v: c_int) -> f64 {
    let Some(v) = get(v) else { return 0.0 };
    engine::with(|ctx| v.to_number(ctx).unwrap_or(f64::NAN)).unwrap_or(0.0)
}

#[no_mangle]
pub extern "C" fn pjs_to_string(v: c_int) -> c_int {
    let Some(v) = get(v) else { return 0 };
    engine::with(|ctx| v.to_string(ctx).ok())
        .flatten()
        .map_or(0, |s| local(s.into()))
}

/// A string value's text; `None` for other values.
fn string_of(v: c_int) -> Option<String> {
    get(v)?.as_string().map(|s| s.to_std_string_lossy())
}

fn count(n: usize) -> c_int {
    c_int::try_from(n).unwrap_or(c_int::MAX)
}

// Lengths and positions count characters (code points), as upstream's
// strings do.
#[no_mangle]
pub extern "C" fn pjs_string_get_length(str: c_int) -> c_int {
    string_of(str).map_or(-1, |s| count(s.chars().count()))
}

#[no_mangle]
pub extern "C" fn pjs_string_get_char_code(str: c_int, pos: c_int) -> c_int {
    let Some(s) = string_of(str) else { return -1 };
    let Ok(pos) = usize::try_from(pos) else {
        return -1;
    };
    s.chars().nth(pos).map_or(-1, |c| count(c as usize))
}

#[no_mangle]
pub extern "C" fn pjs_string_get_utf8_size(str: c_int) -> c_int {
    string_of(str).map_or(-1, |s| count(s.len()))
}

/// # Safety
/// `buf` points at `len` writable bytes (or `len` is 0 or below).
#[no_mangle]
pub unsafe extern "C" fn pjs_string_get_utf8_data(
    str: c_int,
    buf: *mut c_char,
    len: c_int,
) -> c_int {
    let Some(s) = string_of(str) else { return -1 };
    let room = usize::try_from(len).unwrap_or(0);
    let n = room.min(s.len());
    if n > 0 && !buf.is_null() {
        // SAFETY: `buf` has `len` bytes of room by the caller's contract and
        // `n` is at most that.
        unsafe { std::ptr::copy_nonoverlapping(s.as_ptr(), buf.cast::<u8>(), n) };
    }
    count(s.len())
}

/// The object and the string key two numbers name.
fn object_and_key(obj: c_int, k: c_int) -> Option<(JsObject, JsString)> {
    let o = get(obj)?.as_object()?.clone();
    let k = get(k)?.as_string()?.clone();
    Some((o, k))
}

#[no_mangle]
pub extern "C" fn pjs_object_get_property(obj: c_int, k: c_int, v: c_int) -> c_int {
    let Some((o, k)) = object_and_key(obj, k) else {
        return 0;
    };
    if get(v).is_none() {
        return 0;
    }
    let value = engine::with(|ctx| o.get(k, ctx).unwrap_or_default()).unwrap_or_default();
    flag(values::set(v, value))
}

#[no_mangle]
pub extern "C" fn pjs_object_set_property(obj: c_int, k: c_int, v: c_int) -> c_int {
    let (Some((o, k)), Some(value)) = (object_and_key(obj, k), get(v)) else {
        return 0;
    };
    flag(engine::with(|ctx| o.set(k, value, true, ctx).is_ok()) == Some(true))
}

#[no_mangle]
pub extern "C" fn pjs_object_delete(obj: c_int, k: c_int) -> c_int {
    let Some((o, k)) = object_and_key(obj, k) else {
        return 0;
    };
    flag(engine::with(|ctx| o.delete_property_or_throw(k, ctx).is_ok()) == Some(true))
}

/// Calls `cb(key, value, user_ptr)` for each own enumerable string key of the
/// object, in order, until it returns 0.
///
/// # Safety
/// `cb` is a valid function of the interface's type.
#[no_mangle]
pub unsafe extern "C" fn pjs_object_iterate(
    obj: c_int,
    cb: Option<unsafe extern "C" fn(c_int, c_int, *mut c_void) -> c_int>,
    user_ptr: *mut c_void,
) {
    let (Some(o), Some(cb)) = (get(obj).and_then(|v| v.as_object()), cb) else {
        return;
    };
    // Gathered first: the callback runs outside the engine's borrow.
    let pairs = engine::with(|ctx| {
        // `Object.keys`: own enumerable string keys, in order.
        let object_ctor = ctx.intrinsics().constructors().object().constructor();
        let keys = object_ctor
            .get(js_string!("keys"), ctx)
            .ok()
            .and_then(|f| f.as_callable())
            .and_then(|f| f.call(&JsValue::undefined(), &[o.clone().into()], ctx).ok())
            .and_then(|a| a.as_object())
            .and_then(|a| JsArray::from_object(a).ok());
        let mut pairs = Vec::new();
        let Some(keys) = keys else { return pairs };
        let n = keys.length(ctx).unwrap_or(0);
        for i in 0..n {
            let Some(name) = keys.get(i, ctx).ok().and_then(|k| k.as_string()) else {
                continue;
            };
            let value = o.get(name.clone(), ctx).unwrap_or_default();
            pairs.push((JsValue::from(name), value));
        }
        pairs
    })
    .unwrap_or_default();
    for (k, v) in pairs {
        let go_on = values::scope(|| {
            let (k, v) = (local(k), local(v));
            // SAFETY: the module's callback with its own pointer.
            unsafe { cb(k, v, user_ptr) }
        });
        if go_on == 0 {
            break;
        }
    }
}

fn array(arr: c_int) -> Option<JsArray> {
    let o = get(arr)?.as_object()?.clone();
    o.is_array().then(|| JsArray::from_object(o).ok()).flatten()
}

/// Runs `f` on the array `arr` names, with the engine.
fn on_array<R>(arr: c_int, f: impl FnOnce(&JsArray, &mut Context) -> R) -> Option<R> {
    let a = array(arr)?;
    engine::with(|ctx| f(&a, ctx))
}

#[no_mangle]
pub extern "C" fn pjs_array_get_length(arr: c_int) -> c_int {
    on_array(arr, |a, ctx| {
        a.length(ctx).map_or(-1, |n| count(n as usize))
    })
    .unwrap_or(-1)
}

#[no_mangle]
pub extern "C" fn pjs_array_set_length(arr: c_int, len: c_int) -> c_int {
    let ok = on_array(arr, |a, ctx| {
        a.set(js_string!("length"), len.max(0), true, ctx).is_ok()
    });
    flag(ok == Some(true))
}

#[no_mangle]
pub extern "C" fn pjs_array_get_element(arr: c_int, i: c_int, v: c_int) -> c_int {
    if get(v).is_none() {
        return 0;
    }
    let Ok(i) = u32::try_from(i) else { return 0 };
    let Some(value) = on_array(arr, |a, ctx| a.get(i, ctx).unwrap_or_default()) else {
        return 0;
    };
    flag(values::set(v, value))
}

#[no_mangle]
pub extern "C" fn pjs_array_set_element(arr: c_int, i: c_int, v: c_int) -> c_int {
    let (Some(value), Ok(i)) = (get(v), u32::try_from(i)) else {
        return 0;
    };
    flag(on_array(arr, |a, ctx| a.set(i, value, true, ctx).is_ok()) == Some(true))
}

#[no_mangle]
pub extern "C" fn pjs_array_delete(arr: c_int, i: c_int) -> c_int {
    let Ok(i) = u32::try_from(i) else { return 0 };
    flag(on_array(arr, |a, ctx| a.delete_property_or_throw(i, ctx).is_ok()) == Some(true))
}

#[no_mangle]
pub extern "C" fn pjs_array_push(arr: c_int, v: c_int) -> c_int {
    let Some(value) = get(v) else { return -1 };
    on_array(arr, |a, ctx| {
        a.push(value, ctx)
            .and_then(|_| a.length(ctx))
            .map_or(-1, |n| count(n as usize))
    })
    .unwrap_or(-1)
}

#[no_mangle]
pub extern "C" fn pjs_array_pop(arr: c_int) -> c_int {
    on_array(arr, |a, ctx| a.pop(ctx).ok())
        .flatten()
        .map_or(0, local)
}

#[no_mangle]
pub extern "C" fn pjs_array_shift(arr: c_int) -> c_int {
    on_array(arr, |a, ctx| a.shift(ctx).ok())
        .flatten()
        .map_or(0, local)
}

#[no_mangle]
pub extern "C" fn pjs_array_unshift(arr: c_int, v: c_int) -> c_int {
    let Some(value) = get(v) else { return -1 };
    on_array(arr, |a, ctx| {
        a.unshift(&[value], ctx)
            .and_then(|_| a.length(ctx))
            .map_or(-1, |n| count(n as usize))
    })
    .unwrap_or(-1)
}

/// Removes `del_cnt` elements at `pos`, inserts the `ins_cnt` values of `v`
/// there, and gives the removed ones as a new array (`Array.prototype.splice`).
///
/// # Safety
/// `v` points at `ins_cnt` value numbers (or `ins_cnt` is 0).
#[no_mangle]
pub unsafe extern "C" fn pjs_array_splice(
    arr: c_int,
    pos: c_int,
    del_cnt: c_int,
    ins_cnt: c_int,
    v: *const c_int,
) -> c_int {
    let (Ok(del), Ok(ins)) = (usize::try_from(del_cnt), usize::try_from(ins_cnt)) else {
        return 0;
    };
    let ids: &[c_int] = if ins == 0 || v.is_null() {
        &[]
    } else {
        // SAFETY: `ins_cnt` numbers at `v` by the caller's contract.
        unsafe { std::slice::from_raw_parts(v, ins) }
    };
    let mut args = vec![JsValue::from(pos), JsValue::from(count(del))];
    for id in ids {
        match get(*id) {
            Some(x) => args.push(x),
            None => return -1,
        }
    }
    on_array(arr, |a, ctx| {
        let splice = a.get(js_string!("splice"), ctx).ok()?;
        let f = splice.as_callable()?.clone();
        f.call(&a.clone().into(), &args, ctx).ok()
    })
    .flatten()
    .map_or(0, local)
}

#[no_mangle]
pub extern "C" fn pjs_native_ptr(obj: c_int) -> *mut c_void {
    get(obj)
        .and_then(|v| {
            v.as_object()
                .and_then(|o| o.downcast_ref::<NativeObject>().map(|n| n.ptr))
        })
        .map_or(std::ptr::null_mut(), |p| p as *mut c_void)
}

/// Names and addresses of this file's C functions.
pub(crate) fn functions() -> Vec<(&'static str, usize)> {
    macro_rules! table {
        ($($f:ident),* $(,)?) => { vec![$((stringify!($f), $f as *const () as usize)),*] };
    }
    table![
        pjs_undefined,
        pjs_null,
        pjs_boolean,
        pjs_number,
        pjs_string,
        pjs_object,
        pjs_array,
        pjs_native,
        pjs_copy,
        pjs_hold,
        pjs_free,
        pjs_type_of,
        pjs_class_of,
        pjs_class_id,
        pjs_is_undefined,
        pjs_is_null,
        pjs_is_nullish,
        pjs_is_string,
        pjs_is_empty_string,
        pjs_is_object,
        pjs_is_instance_of,
        pjs_is_array,
        pjs_is_function,
        pjs_is_native,
        pjs_is_equal,
        pjs_is_identical,
        pjs_to_boolean,
        pjs_to_number,
        pjs_to_string,
        pjs_string_get_length,
        pjs_string_get_char_code,
        pjs_string_get_utf8_size,
        pjs_string_get_utf8_data,
        pjs_object_get_property,
        pjs_object_set_property,
        pjs_object_delete,
        pjs_object_iterate,
        pjs_array_get_length,
        pjs_array_set_length,
        pjs_array_get_element,
        pjs_array_set_element,
        pjs_array_delete,
        pjs_array_push,
        pjs_array_pop,
        pjs_array_shift,
        pjs_array_unshift,
        pjs_array_splice,
        pjs_native_ptr,
    ]
}
