//! `os`: `env`, and the file functions of upstream's reference: `readFile`,
//! `writeFile`, `readDir`, `stat`, `unlink`; and those upstream 1.5 has
//! beyond it (its samples use them): `read`/`write` (which throw), `list`,
//! `rename`, `mkdir`, `rmdir`, `rm`, `chdir`, `home`, `abspath`, `platform`
//! and `os.path` (`os_path.rs`). `kill` is not here (it needs a system call
//! this build does not make).
//!
//! As upstream 1.5.18 behaves (compared side by side): `readFile` gives the
//! whole file as Data, or `null` with an error logged; `writeFile` takes
//! Data or text and logs what fails; `readDir` lists names, directories
//! with a trailing `/`, hidden ones left out (an empty list for what cannot
//! be read); `stat` gives `size`, `atime`, `mtime`, `ctime` (seconds, with
//! fractions) and the `is...()` tests, or `null`; `unlink` says whether the
//! file went. Beyond upstream's code, `stat` also has the other fields its
//! declarations list (`dev`, `ino`, `mode`, `nlink`, `uid`, `gid`, `rdev`,
//! `blksize`, `blocks`).

use super::data::{data_of, new_data};
use boa_engine::object::builtins::JsArray;
use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute;
use boa_engine::{js_string, Context, JsNativeError, JsObject, JsResult, JsValue, NativeFunction};
use pipy_core::Data;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

/// The path argument, which must be text.
fn path_arg(args: &[JsValue], f: &str) -> JsResult<String> {
    match args.first().and_then(|v| v.as_string()) {
        Some(s) => Ok(s.to_std_string_escaped()),
        None => Err(JsNativeError::typ()
            .with_message(format!("os.{f}: argument #1 expects a string"))
            .into()),
    }
}

fn read_file(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let path = path_arg(args, "readFile")?;
    match std::fs::read(&path) {
        Ok(b) => new_data(Data::from(bytes::Bytes::from(b)), ctx),
        Err(e) => {
            tracing::error!("cannot open file: {path}: {e}");
            Ok(JsValue::null())
        }
    }
}

fn write_file(_: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    let path = path_arg(args, "writeFile")?;
    let v = args.get(1).cloned().unwrap_or_default();
    let bytes = match (data_of(&v), v.as_string()) {
        (Some(d), _) => d.to_vec(),
        (None, Some(s)) => s.to_std_string_escaped().into_bytes(),
        _ => {
            return Err(JsNativeError::typ()
                .with_message("os.writeFile: argument #2 expects a Data or string")
                .into())
        }
    };
    if let Err(e) = std::fs::write(&path, bytes) {
        tracing::error!("cannot open file: {path}: {e}");
    }
    Ok(JsValue::undefined())
}

fn read_dir(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let path = path_arg(args, "readDir")?;
    let mut names = Vec::new();
    if let Ok(dir) = std::fs::read_dir(&path) {
        for entry in dir.flatten() {
            let mut name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                name.push('/');
            }
            names.push(JsValue::from(js_string!(name)));
        }
    }
    Ok(JsArray::from_iter(names, ctx).into())
}

fn stat(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let path = path_arg(args, "stat")?;
    let Ok(m) = std::fs::metadata(&path) else {
        return Ok(JsValue::null());
    };
    let secs = |s: i64, ns: i64| s as f64 + ns as f64 / 1e9;
    let t = m.file_type();
    let test = |b: bool| NativeFunction::from_copy_closure(move |_, _, _| Ok(JsValue::from(b)));
    let a = Attribute::all();
    Ok(ObjectInitializer::new(ctx)
        .property(js_string!("dev"), m.dev() as f64, a)
        .property(js_string!("ino"), m.ino() as f64, a)
        .property(js_string!("mode"), m.mode(), a)
        .property(js_string!("nlink"), m.nlink() as f64, a)
        .property(js_string!("uid"), m.uid(), a)
        .property(js_string!("gid"), m.gid(), a)
        .property(js_string!("rdev"), m.rdev() as f64, a)
        .property(js_string!("size"), m.size() as f64, a)
        .property(js_string!("blksize"), m.blksize() as f64, a)
        .property(js_string!("blocks"), m.blocks() as f64, a)
        .property(js_string!("atime"), secs(m.atime(), m.atime_nsec()), a)
        .property(js_string!("mtime"), secs(m.mtime(), m.mtime_nsec()), a)
        .property(js_string!("ctime"), secs(m.ctime(), m.ctime_nsec()), a)
        .function(test(t.is_file()), js_string!("isFile"), 0)
        .function(test(t.is_dir()), js_string!("isDirectory"), 0)
        .function(test(t.is_char_device()), js_string!("isCharacterDevice"), 0)
        .function(test(t.is_block_device()), js_string!("isBlockDevice"), 0)
        .function(test(t.is_fifo()), js_string!("isFIFO"), 0)
        // `stat` follows links, as upstream's does: never a link.
        .function(test(t.is_symlink()), js_string!("isSymbolicLink"), 0)
        .function(test(t.is_socket()), js_string!("isSocket"), 0)
        .build()
        .into())
}

fn unlink(_: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    let path = path_arg(args, "unlink")?;
    Ok(JsValue::from(std::fs::remove_file(path).is_ok()))
}

fn text_arg(args: &[JsValue], i: usize, f: &str, ctx: &mut Context) -> JsResult<String> {
    match args.get(i) {
        Some(v) if v.is_string() => Ok(v.to_string(ctx)?.to_std_string_escaped()),
        _ => Err(JsNativeError::typ()
            .with_message(format!("os.{f}: argument #{} expects a string", i + 1))
            .into()),
    }
}

fn fs_error(f: &str, path: &str, e: std::io::Error) -> boa_engine::JsError {
    JsNativeError::error()
        .with_message(format!("os.{f}: {path}: {e}"))
        .into()
}

/// An option of `mkdir`/`rmdir`/`rm`'s options object.
fn flag(args: &[JsValue], name: &str, ctx: &mut Context) -> JsResult<bool> {
    match args.get(1).and_then(|v| v.as_object()) {
        Some(o) => Ok(o.get(js_string!(name), ctx)?.to_boolean()),
        None => Ok(false),
    }
}

/// `os.read(file)`: like `readFile`, but a failure throws (upstream's).
fn read(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let path = text_arg(args, 0, "read", ctx)?;
    let b = std::fs::read(&path).map_err(|e| fs_error("read", &path, e))?;
    new_data(Data::from(bytes::Bytes::from(b)), ctx)
}

/// `os.write(file, data)`: like `writeFile`, but a failure throws.
fn write(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let path = text_arg(args, 0, "write", ctx)?;
    let v = args.get(1).cloned().unwrap_or_default();
    let bytes = match (data_of(&v), v.is_string()) {
        (Some(d), _) => d.to_vec(),
        (None, true) => v.to_string(ctx)?.to_std_string_escaped().into_bytes(),
        _ => {
            return Err(JsNativeError::typ()
                .with_message("os.write: argument #2 expects a Data or string")
                .into())
        }
    };
    std::fs::write(&path, bytes).map_err(|e| fs_error("write", &path, e))?;
    Ok(JsValue::undefined())
}

fn rename(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let from = text_arg(args, 0, "rename", ctx)?;
    let to = text_arg(args, 1, "rename", ctx)?;
    std::fs::rename(&from, &to).map_err(|e| fs_error("rename", &from, e))?;
    Ok(JsValue::undefined())
}

/// `os.kill(pid, signal = 0)`: sends a signal to a process, as upstream's
/// (signal 0 only checks it exists). A pid of 0 or below, which would reach
/// a whole process group or every process, is refused.
fn kill(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let pid = args.first().cloned().unwrap_or_default().to_i32(ctx)?;
    let signal = args.get(1).cloned().unwrap_or_default().to_i32(ctx)?;
    if pid <= 0 {
        return Err(JsNativeError::range()
            .with_message(format!("os.kill: pid {pid} is not a process"))
            .into());
    }
    use rustix::process::{kill_process, test_kill_process, Pid, Signal};
    let Some(target) = Pid::from_raw(pid) else {
        return Ok(JsValue::undefined());
    };
    let r = match signal {
        0 => test_kill_process(target),
        n => match Signal::from_named_raw(n) {
            Some(sig) => kill_process(target, sig),
            None => {
                return Err(JsNativeError::range()
                    .with_message(format!("os.kill: no signal {n}"))
                    .into())
            }
        },
    };
    if let Err(e) = r {
        tracing::error!("os.kill({pid}, {signal}): {e}");
    }
    Ok(JsValue::undefined())
}

/// `os.mkdir(path, { recursive })`.
fn mkdir(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let path = text_arg(args, 0, "mkdir", ctx)?;
    let r = if flag(args, "recursive", ctx)? {
        std::fs::create_dir_all(&path)
    } else {
        std::fs::create_dir(&path)
    };
    r.map_err(|e| fs_error("mkdir", &path, e))?;
    Ok(JsValue::undefined())
}

/// `os.rmdir(path, { recursive, force })` and `os.rm(path, { recursive,
/// force })`: `force` makes a missing path no error; they say whether
/// something went.
fn remove(args: &[JsValue], f: &str, dir_only: bool, ctx: &mut Context) -> JsResult<JsValue> {
    let path = text_arg(args, 0, f, ctx)?;
    let (recursive, force) = (flag(args, "recursive", ctx)?, flag(args, "force", ctx)?);
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(m) => m,
        Err(_) if force => return Ok(JsValue::from(false)),
        Err(e) => return Err(fs_error(f, &path, e)),
    };
    let r = if meta.is_dir() {
        if recursive {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_dir(&path)
        }
    } else if dir_only {
        Err(std::io::Error::other("not a directory"))
    } else {
        std::fs::remove_file(&path)
    };
    r.map_err(|e| fs_error(f, &path, e))?;
    Ok(JsValue::from(true))
}

fn chdir(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let path = text_arg(args, 0, "chdir", ctx)?;
    std::env::set_current_dir(&path).map_err(|e| fs_error("chdir", &path, e))?;
    Ok(JsValue::undefined())
}

/// Installs `os` with `os.env` holding the process environment. Names and values
/// that are not UTF-8 are read with U+FFFD in place of their bad bytes: the
/// environment comes from outside the process and must not stop it.
pub fn install(ctx: &mut Context) -> JsResult<()> {
    let env = JsObject::with_object_proto(ctx.intrinsics());
    for (k, v) in std::env::vars_os() {
        let (k, v) = (k.to_string_lossy(), v.to_string_lossy());
        env.set(js_string!(&*k), js_string!(&*v), false, ctx)?;
    }
    let os = ObjectInitializer::new(ctx)
        .property(js_string!("env"), env, Attribute::all())
        .function(
            NativeFunction::from_fn_ptr(read_file),
            js_string!("readFile"),
            1,
        )
        .function(
            NativeFunction::from_fn_ptr(write_file),
            js_string!("writeFile"),
            2,
        )
        .function(
            NativeFunction::from_fn_ptr(read_dir),
            js_string!("readDir"),
            1,
        )
        .function(NativeFunction::from_fn_ptr(stat), js_string!("stat"), 1)
        .function(NativeFunction::from_fn_ptr(unlink), js_string!("unlink"), 1)
        .function(NativeFunction::from_fn_ptr(kill), js_string!("kill"), 2)
        .function(NativeFunction::from_fn_ptr(read), js_string!("read"), 1)
        .function(NativeFunction::from_fn_ptr(write), js_string!("write"), 2)
        .function(NativeFunction::from_fn_ptr(read_dir), js_string!("list"), 1)
        .function(NativeFunction::from_fn_ptr(rename), js_string!("rename"), 2)
        .function(NativeFunction::from_fn_ptr(mkdir), js_string!("mkdir"), 2)
        .function(
            NativeFunction::from_fn_ptr(|_, args, ctx| remove(args, "rmdir", true, ctx)),
            js_string!("rmdir"),
            2,
        )
        .function(
            NativeFunction::from_fn_ptr(|_, args, ctx| remove(args, "rm", false, ctx)),
            js_string!("rm"),
            2,
        )
        .function(NativeFunction::from_fn_ptr(chdir), js_string!("chdir"), 1)
        .function(
            NativeFunction::from_fn_ptr(|_, _, _| {
                let home = std::env::var("HOME").unwrap_or_default();
                Ok(js_string!(home.as_str()).into())
            }),
            js_string!("home"),
            0,
        )
        .function(
            NativeFunction::from_fn_ptr(|_, args, ctx| {
                let p = text_arg(args, 0, "abspath", ctx)?;
                Ok(js_string!(super::os_path::resolve(&[p]).as_str()).into())
            }),
            js_string!("abspath"),
            1,
        )
        .property(
            js_string!("platform"),
            js_string!(std::env::consts::OS),
            Attribute::all(),
        )
        .build();
    let path = super::os_path::object(ctx);
    os.set(js_string!("path"), path, false, ctx)?;
    ctx.register_global_property(js_string!("os"), os, Attribute::all())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::testing::run;

    #[test]
    fn files_are_written_read_listed_stated_and_removed() {
        let dir = std::env::temp_dir().join(format!("pipy-os-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join(".hidden"), "x").unwrap();
        let d = dir.display();
        let got = run(&format!(
            "(() => {{
              os.writeFile('{d}/a.txt', 'hello');
              os.writeFile('{d}/b.bin', new Data([1, 2, 3]));
              const s = os.stat('{d}/a.txt');
              const t = os.stat('{d}/sub');
              return [
                os.readFile('{d}/a.txt').toString(),
                os.readFile('{d}/b.bin').toArray().join(':'),
                os.readDir('{d}').sort().join(','),
                s.size, s.isFile(), s.isDirectory(), t.isDirectory(), s.mtime > 1e9,
                os.stat('{d}/none'), os.readFile('{d}/none'),
                os.unlink('{d}/a.txt'), os.unlink('{d}/a.txt'), os.readDir('{d}/none').length,
              ].join(' ');
            }})()"
        ));
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            got,
            "hello 1:2:3 a.txt,b.bin,sub/ 5 true false true true   true false 0"
        );
    }
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn env_values_that_are_not_utf8_do_not_panic() {
        let bad = std::ffi::OsStr::from_bytes(b"a\xffb");
        std::env::set_var("PIPY_TEST_NOT_UTF8", bad);
        std::env::set_var("PIPY_TEST_UTF8", "ok");
        assert_eq!(
            run("os.env.PIPY_TEST_NOT_UTF8 + ',' + os.env.PIPY_TEST_UTF8"),
            "a\u{fffd}b,ok"
        );
    }
}
