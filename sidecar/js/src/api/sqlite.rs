//! `sqlite(filename)`: a SQLite database file (rusqlite, SQLite bundled), a
//! global upstream has beyond its reference (its samples/webapp keeps its
//! data with it).
//!
//! As upstream's: `db.exec(sql)` runs one or more statements and gives the
//! rows as objects of text (or null); `db.sql(sql)` prepares a statement
//! with `bind(i, value)` (1-based), `exec()` (every row, with typed values:
//! numbers, an `Int` past 32 bits, `Data` for blobs, text, null), `step()`
//! (`false` while a row is there, `true` when done), `row()`, `column(i)`
//! and `reset()`; `db.close()`. Errors read `SQLite error: ...`.
//!
//! Bounded: a statement's rows are gathered up to [`MAX_RESULT`] bytes of
//! values; past that the call fails instead of growing.

use super::data::{data_of, new_data};
use boa_engine::class::{Class, ClassBuilder};
use boa_engine::object::builtins::JsArray;
use boa_engine::property::Attribute;
use boa_engine::{
    js_string, Context, JsData, JsNativeError, JsObject, JsResult, JsValue, NativeFunction,
};
use boa_gc::{Finalize, Trace};
use rusqlite::fallible_iterator::FallibleIterator;
use rusqlite::types::{Value, ValueRef};
use rusqlite::Connection;
use std::cell::RefCell;
use std::rc::Rc;

/// Bytes of values one statement's rows may hold at most.
pub const MAX_RESULT: usize = 64 << 20;

type Db = Rc<RefCell<Option<Connection>>>;

fn sql_error(e: impl SqliteMessage) -> boa_engine::JsError {
    JsNativeError::error()
        .with_message(format!("SQLite error: {}", e.message()))
        .into()
}

/// SQLite's own message for an error (as `sqlite3_errmsg` gives it, which
/// upstream shows), without what rusqlite adds around it.
trait SqliteMessage {
    fn message(&self) -> String;
}

impl SqliteMessage for rusqlite::Error {
    fn message(&self) -> String {
        match self {
            rusqlite::Error::SqlInputError { msg, .. } => msg.clone(),
            rusqlite::Error::SqliteFailure(_, Some(m)) => m.clone(),
            other => other.to_string(),
        }
    }
}

impl SqliteMessage for &str {
    fn message(&self) -> String {
        self.to_string()
    }
}

impl SqliteMessage for String {
    fn message(&self) -> String {
        self.clone()
    }
}

fn closed() -> boa_engine::JsError {
    JsNativeError::error()
        .with_message("Database is closed")
        .into()
}

/// `sqlite(filename)`'s object.
#[derive(Trace, Finalize, JsData)]
struct Database(#[unsafe_ignore_trace] Db);

/// A row as gathered: column names and values.
type Row = Rc<(Rc<[String]>, Vec<Value>)>;

/// `db.sql(text)`'s object.
#[derive(Trace, Finalize, JsData)]
struct Statement {
    #[unsafe_ignore_trace]
    db: Db,
    #[unsafe_ignore_trace]
    sql: String,
    #[unsafe_ignore_trace]
    binds: RefCell<Vec<(usize, Value)>>,
    /// `step()`'s rows and the one it is on.
    #[unsafe_ignore_trace]
    cursor: RefCell<Option<(Vec<Row>, usize)>>,
}

fn value_size(v: &Value) -> usize {
    match v {
        Value::Text(t) => t.len(),
        Value::Blob(b) => b.len(),
        _ => 8,
    }
}

/// Runs `sql` with `binds` and gathers its rows.
fn run(conn: &Connection, sql: &str, binds: &[(usize, Value)]) -> JsResult<Vec<Row>> {
    let mut stmt = conn.prepare_cached(sql).map_err(sql_error)?;
    stmt.clear_bindings();
    for (i, v) in binds {
        stmt.raw_bind_parameter(*i, v).map_err(sql_error)?;
    }
    collect_rows(&mut stmt, |v| v.into())
}

/// The rows a prepared statement gives, each value made by `value`, within
/// [`MAX_RESULT`].
fn collect_rows(
    stmt: &mut rusqlite::Statement<'_>,
    value: fn(ValueRef<'_>) -> Value,
) -> JsResult<Vec<Row>> {
    let names: Rc<[String]> = stmt.column_names().iter().map(|n| n.to_string()).collect();
    let n = names.len();
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    let mut size = 0;
    while let Some(row) = rows.next().map_err(sql_error)? {
        let mut values = Vec::with_capacity(n);
        for i in 0..n {
            let v = value(row.get_ref(i).map_err(sql_error)?);
            size += value_size(&v);
            values.push(v);
        }
        if size > MAX_RESULT {
            return Err(sql_error(format!("result larger than {MAX_RESULT} bytes")));
        }
        out.push(Rc::new((names.clone(), values)));
    }
    Ok(out)
}

/// A value as `sqlite3_exec` hands it over: text, or null.
fn as_text(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Text(i.to_string()),
        ValueRef::Real(f) if f.fract() == 0.0 && f.abs() < 1e15 => Value::Text(format!("{f:.1}")),
        ValueRef::Real(f) => Value::Text(f.to_string()),
        ValueRef::Text(t) | ValueRef::Blob(t) => {
            Value::Text(String::from_utf8_lossy(t).into_owned())
        }
    }
}

fn rows_to_js(rows: &[Row], ctx: &mut Context) -> JsResult<JsValue> {
    let items = rows
        .iter()
        .map(|r| row_to_js(r, ctx))
        .collect::<JsResult<Vec<_>>>()?;
    Ok(JsArray::from_iter(items, ctx).into())
}

fn value_to_js(v: &Value, ctx: &mut Context) -> JsResult<JsValue> {
    Ok(match v {
        Value::Null => JsValue::null(),
        Value::Integer(i) if (*i >> 32) == 0 => JsValue::from(*i as f64),
        Value::Integer(i) => super::int::new_int("i64", i.to_string(), ctx)?,
        Value::Real(f) => JsValue::from(*f),
        Value::Text(t) => js_string!(t.as_str()).into(),
        Value::Blob(b) => new_data(b.clone().into(), ctx)?,
    })
}

fn row_to_js(row: &Row, ctx: &mut Context) -> JsResult<JsValue> {
    let o = JsObject::with_object_proto(ctx.intrinsics());
    for (name, v) in row.0.iter().zip(&row.1) {
        let v = value_to_js(v, ctx)?;
        o.set(js_string!(name.as_str()), v, false, ctx)?;
    }
    Ok(o.into())
}

fn this_db(this: &JsValue) -> JsResult<Db> {
    this.as_object()
        .and_then(|o| o.downcast_ref::<Database>().map(|d| d.0.clone()))
        .ok_or_else(|| JsNativeError::typ().with_message("not a database").into())
}

fn with_statement<R>(this: &JsValue, f: impl FnOnce(&Statement) -> JsResult<R>) -> JsResult<R> {
    let o = this
        .as_object()
        .ok_or_else(|| JsNativeError::typ().with_message("not a statement"))?;
    let s = o
        .downcast_ref::<Statement>()
        .ok_or_else(|| JsNativeError::typ().with_message("not a statement"))?;
    f(&s)
}

fn text_arg(args: &[JsValue], ctx: &mut Context) -> JsResult<String> {
    crate::convert::arg_text(args, 0, ctx)
}

/// `db.exec(sql)`: every statement of `sql`; rows as text, as sqlite3_exec.
fn db_exec(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let db = this_db(this)?;
    let sql = text_arg(args, ctx)?;
    let rows = {
        let conn = db.borrow();
        let conn = conn.as_ref().ok_or_else(closed)?;
        let mut batch = rusqlite::Batch::new(conn, &sql);
        let mut all = Vec::new();
        while let Some(mut stmt) = batch.next().map_err(sql_error)? {
            all.extend(collect_rows(&mut stmt, as_text)?);
        }
        all
    };
    rows_to_js(&rows, ctx)
}

/// `db.sql(sql)`: a statement (checked now, as upstream prepares it).
fn db_sql(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let db = this_db(this)?;
    let sql = text_arg(args, ctx)?;
    {
        let conn = db.borrow();
        let conn = conn.as_ref().ok_or_else(closed)?;
        conn.prepare_cached(&sql).map_err(sql_error)?;
    }
    let stmt = Statement {
        db,
        sql,
        binds: RefCell::new(Vec::new()),
        cursor: RefCell::new(None),
    };
    Ok(Statement::from_data(stmt, ctx)?.into())
}

fn db_close(this: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    this_db(this)?.borrow_mut().take();
    Ok(JsValue::undefined())
}

fn js_to_value(v: &JsValue, ctx: &mut Context) -> JsResult<Value> {
    if v.is_null_or_undefined() {
        return Ok(Value::Null);
    }
    if let Some(b) = v.as_boolean() {
        return Ok(Value::Integer(i64::from(b)));
    }
    if let Some(n) = v.as_number() {
        return Ok(Value::Real(n));
    }
    if let Some(o) = v.as_object() {
        if let Some(d) = data_of(v) {
            return Ok(Value::Blob(d.to_vec()));
        }
        if let Some((_, i)) = super::int::int_of(&o, ctx)? {
            return Ok(Value::Integer(i));
        }
    }
    Ok(Value::Text(v.to_string(ctx)?.to_std_string_escaped()))
}

fn st_bind(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let i = args.first().cloned().unwrap_or_default().to_number(ctx)?;
    if !(i >= 1.0 && i.fract() == 0.0) {
        return Err(sql_error("bind(): parameters count from 1"));
    }
    let v = js_to_value(&args.get(1).cloned().unwrap_or_default(), ctx)?;
    with_statement(this, |s| {
        let mut b = s.binds.borrow_mut();
        b.retain(|(j, _)| *j != i as usize);
        b.push((i as usize, v));
        Ok(())
    })?;
    Ok(this.clone())
}

fn st_reset(this: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    with_statement(this, |s| {
        s.cursor.borrow_mut().take();
        Ok(())
    })?;
    Ok(this.clone())
}

fn gather(s: &Statement) -> JsResult<Vec<Row>> {
    let conn = s.db.borrow();
    let conn = conn.as_ref().ok_or_else(closed)?;
    run(conn, &s.sql, &s.binds.borrow())
}

fn st_exec(this: &JsValue, _: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let rows = with_statement(this, |s| {
        s.cursor.borrow_mut().take();
        gather(s)
    })?;
    rows_to_js(&rows, ctx)
}

/// `step()`: `false` when it moved onto a row, `true` when there is none left.
fn st_step(this: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    with_statement(this, |s| {
        // A statement stepped past its end starts again, as sqlite3_step
        // does.
        let exhausted = matches!(&*s.cursor.borrow(), Some((rows, pos)) if *pos > rows.len());
        if s.cursor.borrow().is_none() || exhausted {
            let rows = gather(s)?;
            *s.cursor.borrow_mut() = Some((rows, 0));
        }
        let mut c = s.cursor.borrow_mut();
        let Some((rows, pos)) = c.as_mut() else {
            return Ok(JsValue::from(true));
        };
        *pos += 1;
        Ok(JsValue::from(*pos > rows.len()))
    })
}

fn current(s: &Statement) -> Option<Row> {
    let c = s.cursor.borrow();
    let (rows, pos) = c.as_ref()?;
    rows.get(pos.checked_sub(1)?).cloned()
}

fn st_row(this: &JsValue, _: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    match with_statement(this, |s| Ok(current(s)))? {
        Some(r) => row_to_js(&r, ctx),
        None => Ok(JsValue::null()),
    }
}

fn st_column(this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let i = args.first().cloned().unwrap_or_default().to_number(ctx)?;
    let row = with_statement(this, |s| Ok(current(s)))?;
    match row.and_then(|r| (i >= 0.0).then(|| r.1.get(i as usize).cloned()).flatten()) {
        Some(v) => value_to_js(&v, ctx),
        None => Ok(JsValue::undefined()),
    }
}

impl Class for Database {
    const NAME: &'static str = "SQLiteDatabase";
    fn data_constructor(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<Self> {
        Err(JsNativeError::typ()
            .with_message("databases come from sqlite(filename)")
            .into())
    }
    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        class
            .method(js_string!("exec"), 1, NativeFunction::from_fn_ptr(db_exec))
            .method(js_string!("sql"), 1, NativeFunction::from_fn_ptr(db_sql))
            .method(
                js_string!("close"),
                0,
                NativeFunction::from_fn_ptr(db_close),
            );
        Ok(())
    }
}

impl Class for Statement {
    const NAME: &'static str = "SQLiteStatement";
    fn data_constructor(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<Self> {
        Err(JsNativeError::typ()
            .with_message("statements come from db.sql(text)")
            .into())
    }
    fn init(class: &mut ClassBuilder<'_>) -> JsResult<()> {
        class
            .method(js_string!("bind"), 2, NativeFunction::from_fn_ptr(st_bind))
            .method(
                js_string!("reset"),
                0,
                NativeFunction::from_fn_ptr(st_reset),
            )
            .method(js_string!("exec"), 0, NativeFunction::from_fn_ptr(st_exec))
            .method(js_string!("step"), 0, NativeFunction::from_fn_ptr(st_step))
            .method(js_string!("row"), 0, NativeFunction::from_fn_ptr(st_row))
            .method(
                js_string!("column"),
                1,
                NativeFunction::from_fn_ptr(st_column),
            );
        Ok(())
    }
}

/// `sqlite(filename)`: opens (or creates) the database file.
fn open(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let name = text_arg(args, ctx)?;
    let conn = Connection::open(&name).map_err(sql_error)?;
    // A database another worker writes at the same moment waits a little
    // rather than failing at once.
    let _ = conn.busy_timeout(std::time::Duration::from_secs(5));
    Ok(Database::from_data(Database(Rc::new(RefCell::new(Some(conn)))), ctx)?.into())
}

/// Installs the global `sqlite`.
pub fn install(ctx: &mut Context) -> JsResult<()> {
    ctx.register_global_class::<Database>()?;
    ctx.register_global_class::<Statement>()?;
    let global = ctx.global_object();
    for name in [Database::NAME, Statement::NAME] {
        global.delete_property_or_throw(js_string!(name), ctx)?;
    }
    let f = NativeFunction::from_fn_ptr(open).to_js_function(ctx.realm());
    ctx.register_global_property(js_string!("sqlite"), f, Attribute::all())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::testing::run;

    #[test]
    fn a_database_file_keeps_rows_typed_and_as_text() {
        let dir = std::env::temp_dir().join(format!("pipy-sqlite-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("t.db");
        let script = format!(
            "var db = sqlite({file:?});\
             db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, x REAL, b BLOB, big INTEGER)');\
             db.sql('INSERT INTO t (name, x, b, big) VALUES (?, ?, ?, ?)').bind(1, 'a').bind(2, 1.5).bind(3, new Data('hi')).bind(4, new Int('i64', '8589934592')).exec();\
             db.sql('INSERT INTO t (name) VALUES (?)').bind(1, 'b').exec();\
             var s = db.sql('SELECT id, name FROM t ORDER BY id'); var walked = [];\
             while (!s.step()) walked.push(s.column(0) + ':' + s.row().name);\
             var typed = db.sql('SELECT * FROM t WHERE id = 1').exec()[0];\
             JSON.stringify([db.exec('SELECT id, name, x FROM t'), walked, typed.name, typed.x, typed.b.toString(), typed.big.toString(), typed.id])",
            file = file.to_string_lossy()
        );
        assert_eq!(
            run(&script),
            r#"[[{"id":"1","name":"a","x":"1.5"},{"id":"2","name":"b","x":null}],["1:a","2:b"],"a",1.5,"hi","8589934592",1]"#
        );
        assert!(run(&format!(
            "try {{ sqlite({:?}).sql('SELEC nothing') }} catch (e) {{ e.message }}",
            file.to_string_lossy()
        ))
        .starts_with("SQLite error: "));
        assert!(file.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
