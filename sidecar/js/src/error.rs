//! Script errors with their location.

use std::fmt;

/// A script failed to parse, evaluate or run.
#[derive(Debug, Clone)]
pub struct ScriptError {
    /// What went wrong, with the engine's location (`file:line:column`) when known.
    pub message: String,
}

impl ScriptError {
    /// An error with a message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// From an engine error.
    pub fn from_js(err: &boa_engine::JsError) -> Self {
        Self::new(err.to_string())
    }

    /// From an engine error raised while compiling or evaluating `file`, whose
    /// first line was prefixed with `col_shift` characters of wrapper. Syntax
    /// errors become `file:line:column: message`; runtime errors already name
    /// their position and get the file in front. Positions past the end of
    /// `source` (an unexpected end of input, found on the wrapper's closing
    /// line) are reported at the end of the source.
    pub fn in_file(file: &str, err: &boa_engine::JsError, col_shift: usize, source: &str) -> Self {
        let text = err.to_string();
        if let Some((msg, line, col)) = split_position(&text) {
            let lines = source.lines().count().max(1);
            let (line, col) = if line > lines {
                let last = source.lines().last().map_or(0, |l| l.chars().count());
                (lines, last + 1 + if lines == 1 { col_shift } else { 0 })
            } else {
                (line, col)
            };
            let col = if line == 1 {
                col.saturating_sub(col_shift).max(1)
            } else {
                col
            };
            return Self::new(format!("{file}:{line}:{col}: {msg}"));
        }
        Self::new(format!(
            "{file}: {}",
            unshift_first_line(&text, file, col_shift)
        ))
    }
}

/// Takes the wrapper's `col_shift` characters off the columns of positions on the first
/// line of `file` (`(file:1:N)`), which a runtime error and its stack trace count from
/// the start of the wrapped source.
fn unshift_first_line(text: &str, file: &str, col_shift: usize) -> String {
    let marker = format!("({file}:1:");
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(&marker) {
        let after = &rest[at + marker.len()..];
        let digits = after
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after.len());
        out.push_str(&rest[..at + marker.len()]);
        match after[..digits].parse::<usize>() {
            Ok(col) => out.push_str(&col.saturating_sub(col_shift).max(1).to_string()),
            Err(_) => out.push_str(&after[..digits]),
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

/// Where the script runs now, as `file:line:column`: the innermost position in
/// a script file (the call site of a native function, such as a Configuration
/// method, while it runs). Columns on a module's first line do not count the
/// module wrapper. `None` outside any script file.
pub fn script_location(ctx: &mut boa_engine::Context) -> Option<String> {
    // The engine keeps call sites to itself; an Error made here records them.
    let ctor = ctx.intrinsics().constructors().error().constructor();
    let e = ctor.construct(&[], None, ctx).ok()?;
    let stack = e
        .get(boa_engine::js_string!("stack"), ctx)
        .ok()?
        .as_string()?
        .to_std_string_escaped();
    stack.lines().find_map(|l| {
        let inner = l.trim_end().strip_suffix(')')?;
        let (_, at) = inner.rsplit_once('(')?;
        let (rest, col) = at.rsplit_once(':')?;
        let (file, line) = rest.rsplit_once(':')?;
        let (line, col): (usize, usize) = (line.parse().ok()?, col.parse().ok()?);
        let col = if line == 1 {
            col.saturating_sub(crate::module::WRAPPER_PREFIX.len())
                .max(1)
        } else {
            col
        };
        Some(format!("{file}:{line}:{col}"))
    })
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ScriptError {}

/// Splits `"... at line N, col M ..."` into the message and the position.
fn split_position(text: &str) -> Option<(&str, usize, usize)> {
    let at = text.find(" at line ")?;
    let rest = &text[at + " at line ".len()..];
    let comma = rest.find(", col ")?;
    let line: usize = rest[..comma].trim().parse().ok()?;
    let after = &rest[comma + ", col ".len()..];
    let end = after
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(after.len());
    let col: usize = after[..end].parse().ok()?;
    Some((text[..at].trim_end(), line, col))
}

#[cfg(test)]
mod tests {
    use super::{split_position, unshift_first_line};

    #[test]
    fn first_line_columns_of_runtime_errors_lose_the_wrapper() {
        let t = "Error: boom (main.js:1:90)\n    at <main> (main.js:1:70)\n    at f (main.js:2:5)";
        assert_eq!(
            unshift_first_line(t, "main.js", 60),
            "Error: boom (main.js:1:30)\n    at <main> (main.js:1:10)\n    at f (main.js:2:5)"
        );
        assert_eq!(
            unshift_first_line("x (lib.js:1:3)", "main.js", 60),
            "x (lib.js:1:3)"
        );
    }

    #[test]
    fn native_functions_know_their_call_site() {
        crate::testing::engine(&[("main.js", "pipy()\n  .x\n  .y()")]);
        let at = crate::with_js(|ctx| {
            let f = boa_engine::NativeFunction::from_fn_ptr(|_, _, ctx| {
                let at = super::script_location(ctx).unwrap_or_default();
                Ok(boa_engine::js_string!(at).into())
            })
            .to_js_function(ctx.realm());
            let o = boa_engine::JsObject::with_object_proto(ctx.intrinsics());
            o.set(boa_engine::js_string!("x"), o.clone(), false, ctx)
                .unwrap();
            o.set(boa_engine::js_string!("y"), f, false, ctx).unwrap();
            ctx.register_global_property(
                boa_engine::js_string!("pipy"),
                boa_engine::NativeFunction::from_copy_closure_with_captures(
                    |_, _, o, _| Ok(o.clone().into()),
                    o,
                )
                .to_js_function(ctx.realm()),
                boa_engine::property::Attribute::all(),
            )
            .unwrap();
            crate::module::load("main.js", ctx).map(|(_, v)| v.display().to_string())
        });
        assert_eq!(at.unwrap(), "\"main.js:3:5\"");
    }

    #[test]
    fn positions_are_split_out_of_syntax_errors() {
        let t = "SyntaxError: expected ')' at line 4, col 3 (native)";
        assert_eq!(split_position(t), Some(("SyntaxError: expected ')'", 4, 3)));
        assert_eq!(split_position("TypeError: x (a.js:1:2)"), None);
    }
}
