//! `pipy.tty.raw`: the terminal on standard input in raw mode (keys as they
//! are typed, no echo) or not, as upstream's; output processing stays as it
//! was. The first state is put back when the process ends
//! ([`restore`]).

use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute;
use boa_engine::{js_string, Context, JsObject, JsResult, JsValue, NativeFunction};
use rustix::termios::{tcgetattr, tcsetattr, OptionalActions, Termios};
use std::sync::Mutex;

/// The terminal's first state, once raw mode was asked for, and whether it
/// is raw now.
static STATE: Mutex<(Option<Termios>, bool)> = Mutex::new((None, false));

fn set_raw(raw: bool) {
    let mut st = match STATE.lock() {
        Ok(s) => s,
        Err(e) => e.into_inner(),
    };
    if st.1 == raw {
        return;
    }
    let stdin = std::io::stdin();
    if !rustix::termios::isatty(&stdin) {
        return;
    }
    if st.0.is_none() {
        st.0 = tcgetattr(&stdin).ok();
    }
    let Some(initial) = st.0.clone() else { return };
    let mut term = initial.clone();
    if raw {
        term.make_raw();
        term.output_modes = initial.output_modes;
    }
    if tcsetattr(&stdin, OptionalActions::Now, &term).is_ok() {
        st.1 = raw;
    }
}

/// Puts the terminal back as it was, if a script made it raw.
pub fn restore() {
    set_raw(false);
}

/// The `pipy.tty` object.
pub(crate) fn object(ctx: &mut Context) -> JsResult<JsObject> {
    let get = NativeFunction::from_fn_ptr(|_, _, _| {
        let raw = STATE.lock().map(|s| s.1).unwrap_or(false);
        Ok(JsValue::from(raw))
    })
    .to_js_function(ctx.realm());
    let set = NativeFunction::from_fn_ptr(|_, args, _| {
        set_raw(args.first().is_some_and(JsValue::to_boolean));
        Ok(JsValue::undefined())
    })
    .to_js_function(ctx.realm());
    Ok(ObjectInitializer::new(ctx)
        .accessor(
            js_string!("raw"),
            Some(get),
            Some(set),
            Attribute::CONFIGURABLE,
        )
        .build())
}
