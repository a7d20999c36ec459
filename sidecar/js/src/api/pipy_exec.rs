//! `pipy.exec(command | argv, { env, stdin, stderr, onExit })`: runs a
//! program to its end and returns what it wrote to its standard output, as
//! upstream's does (its samples run `ip`, `bpftool`, ... with it).
//!
//! The command is split into words as a shell would (quotes and
//! backslashes, no expansion); `env` adds variables to the process's own
//! (upstream passes only these, so `sh` and friends are not found without a
//! `PATH`); `stdin` is written to its standard input; its standard error is
//! captured and given to `onExit(code, stderr)` unless `stderr: true`
//! passes it through. Like upstream's, the call waits for the program: the
//! worker does nothing else meanwhile, so keep it for short commands. What
//! is kept of each output is bounded ([`MAX_OUTPUT`]).

use super::data::{data_of, new_data};
use boa_engine::{js_string, Context, JsNativeError, JsResult, JsValue};
use std::io::{Read, Write};
use std::process::{Command, Stdio};

/// Bytes kept of a program's standard output and standard error, each.
pub const MAX_OUTPUT: usize = 16 << 20;

fn type_error(msg: &str) -> boa_engine::JsError {
    JsNativeError::typ().with_message(msg.to_string()).into()
}

/// A command line split into words: whitespace separates, quotes group,
/// a backslash escapes the next character (not in single quotes).
pub fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => word.extend(chars.next()),
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.extend(chars.next());
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// Reads at most [`MAX_OUTPUT`] bytes, then drains the rest unkept (so the
/// program is not blocked on a full pipe).
fn read_bounded(mut r: impl Read) -> Vec<u8> {
    let mut kept = Vec::new();
    let _ = r.by_ref().take(MAX_OUTPUT as u64).read_to_end(&mut kept);
    let _ = std::io::copy(&mut r, &mut std::io::sink());
    kept
}

/// `pipy.exec(...)`.
pub(crate) fn exec(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let cmd = args.first().cloned().unwrap_or_default();
    let argv: Vec<String> = if let Some(items) = crate::convert::array_values(&cmd, ctx)? {
        items
            .iter()
            .map(|v| Ok(v.to_string(ctx)?.to_std_string_escaped()))
            .collect::<JsResult<_>>()?
    } else if cmd.is_string() {
        split_words(&cmd.to_string(ctx)?.to_std_string_escaped())
    } else {
        return Err(type_error(
            "pipy.exec(): argument #1 expects a string or an array",
        ));
    };
    let Some((program, rest)) = argv.split_first() else {
        return Err(type_error("pipy.exec(): no command"));
    };
    let options = args.get(1).and_then(|v| v.as_object());
    let get = |name: &str, ctx: &mut Context| -> JsResult<JsValue> {
        match &options {
            Some(o) => o.get(js_string!(name), ctx),
            None => Ok(JsValue::undefined()),
        }
    };
    let mut command = Command::new(program);
    command.args(rest);
    if let Some(env) = get("env", ctx)?.as_object() {
        for key in env.own_property_keys(ctx)? {
            let v = env
                .get(key.clone(), ctx)?
                .to_string(ctx)?
                .to_std_string_escaped();
            command.env(key.to_string(), v);
        }
    }
    let stdin = get("stdin", ctx)?;
    let stdin = if stdin.is_null_or_undefined() {
        None
    } else if let Some(d) = data_of(&stdin) {
        Some(d.to_vec())
    } else {
        Some(stdin.to_string(ctx)?.to_std_string_escaped().into_bytes())
    };
    let pass_stderr = get("stderr", ctx)?.to_boolean();
    let on_exit = get("onExit", ctx)?;
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(if pass_stderr {
            Stdio::inherit()
        } else {
            Stdio::piped()
        });
    let mut child = command.spawn().map_err(|e| {
        JsNativeError::error().with_message(format!("pipy.exec(): cannot run {program}: {e}"))
    })?;
    // Input and error output on threads of their own, so that no pipe fills
    // while another is waited on.
    let writer = child.stdin.take().zip(stdin).map(|(mut pipe, bytes)| {
        std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        })
    });
    let err_reader = child
        .stderr
        .take()
        .map(|e| std::thread::spawn(move || read_bounded(e)));
    let out = child.stdout.take().map(read_bounded).unwrap_or_default();
    let status = child
        .wait()
        .map_err(|e| JsNativeError::error().with_message(format!("pipy.exec(): {program}: {e}")))?;
    if let Some(w) = writer {
        let _ = w.join();
    }
    let err = err_reader.and_then(|r| r.join().ok());
    if let Some(f) = on_exit.as_callable() {
        let code = JsValue::from(status.code().unwrap_or(-1));
        let mut call_args = vec![code];
        if let Some(e) = err {
            call_args.push(new_data(e.into(), ctx)?);
        }
        f.call(&JsValue::undefined(), &call_args, ctx)?;
    }
    new_data(out.into(), ctx)
}

#[cfg(test)]
mod tests {
    use super::split_words;
    use crate::testing::run;

    #[test]
    fn command_lines_split_as_a_shell_would() {
        assert_eq!(
            split_words("echo  a 'b c' \"d \\\" e\" f\\ g"),
            ["echo", "a", "b c", "d \" e", "f g"]
        );
        assert_eq!(split_words("  "), Vec::<String>::new());
        assert_eq!(split_words("x ''"), ["x", ""]);
    }

    #[test]
    fn programs_run_with_input_environment_and_exit_codes() {
        assert_eq!(run("pipy.exec('echo hello').toString()"), "hello\n");
        assert_eq!(
            run("var r = []; var out = pipy.exec(['sh', '-c', 'echo $X; echo oops >&2; exit 3'], { env: { X: 'ex' }, onExit: (c, e) => r.push(c, e.toString()) }); out.toString() + r.join('|')"),
            "ex\n3|oops\n"
        );
        assert_eq!(
            run("pipy.exec('cat', { stdin: new Data('in') }).toString()"),
            "in"
        );
        assert!(
            run("try { pipy.exec('/no/such/program') } catch (e) { e.message }")
                .contains("cannot run")
        );
    }
}
