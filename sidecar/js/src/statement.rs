//! Statement-style modules, as upstream Pipy 1.5 runs them beside the
//! expression-only form its reference documents: a `#!` line, top-level
//! statements, and ES `import`/`export` between the files of a codebase.
//!
//! A module is run as the body of a function inside `with (scope)` (see
//! `module.rs`), where ES module syntax cannot stand, so [`transform`]
//! rewrites each top-level `import` and `export` into plain statements over
//! two names the wrapper provides, keeping every line where it was (errors
//! point into the file as written):
//!
//! - `import d, { a, b as c } from './m.js'` defines `d`, `a` and `c` as
//!   getters of the module's scope over what `__pipy_import__('./m.js')`
//!   exports (live, as ES bindings), and `import * as ns from 'm'` `ns`;
//!   imports run where they stand (not hoisted); circular imports fail;
//! - `export default EXPR` becomes `__pipy_exports__.default = EXPR`, and
//!   `export default function name() {}` keeps its declaration (and name);
//! - `export var|let|const|function|class NAME ...` loses its `export`, and
//!   `export { a, b as c }` goes; the names become getters on the exports
//!   object once the body ran, so importers see their current values;
//! - `export * from 'm'` and `export { a } from 'm'` pass another module's
//!   exports on.
//!
//! Top-level `var $name` declarations are also listed: those are context
//! variables, one value per pipeline instance, as upstream treats them.

/// What [`transform`] makes of a statement-style module.
#[derive(Debug, PartialEq)]
pub struct Transformed {
    /// The body to run, with as many lines as the source.
    pub body: String,
    /// Code to run after the body (on its last line): the exports' getters.
    pub epilogue: String,
    /// Top-level `var $name` names, in order.
    pub context_vars: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Ident,
    Str,
    Punct,
    Other,
}

#[derive(Clone, Debug)]
struct Token {
    kind: Kind,
    start: usize,
    end: usize,
}

/// Words after which a `/` starts a regular expression, not a division.
const BEFORE_REGEX: &[&str] = &[
    "return",
    "typeof",
    "instanceof",
    "in",
    "of",
    "new",
    "delete",
    "void",
    "throw",
    "case",
    "do",
    "else",
    "yield",
    "await",
];

/// Splits `src` into tokens, skipping comments and whitespace. Strings,
/// template literals and regular expressions are single tokens.
fn tokenize(src: &str) -> Result<Vec<Token>, String> {
    let b = src.as_bytes();
    let mut out: Vec<Token> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let end = src[i + 2..]
                .find("*/")
                .ok_or_else(|| "unterminated comment".to_string())?;
            i += end + 4;
            continue;
        }
        let start = i;
        if c == b'\'' || c == b'"' {
            i += 1;
            while i < b.len() && b[i] != c {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push(Token {
                kind: Kind::Str,
                start,
                end: i.min(b.len()),
            });
            continue;
        }
        if c == b'`' {
            i = skip_template(b, i + 1)?;
            out.push(Token {
                kind: Kind::Other,
                start,
                end: i,
            });
            continue;
        }
        if c == b'/' && regex_may_start(src, out.last()) {
            i += 1;
            let mut class = false;
            while i < b.len() && (class || b[i] != b'/') && b[i] != b'\n' {
                match b[i] {
                    b'\\' => i += 1,
                    b'[' => class = true,
                    b']' => class = false,
                    _ => {}
                }
                i += 1;
            }
            i += 1;
            while i < b.len() && (b[i].is_ascii_alphanumeric()) {
                i += 1;
            }
            out.push(Token {
                kind: Kind::Other,
                start,
                end: i.min(b.len()),
            });
            continue;
        }
        if c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80 {
            while i < b.len()
                && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$' || b[i] >= 0x80)
            {
                i += 1;
            }
            let kind = if c.is_ascii_digit() {
                Kind::Other
            } else {
                Kind::Ident
            };
            out.push(Token {
                kind,
                start,
                end: i,
            });
            continue;
        }
        i += 1;
        out.push(Token {
            kind: Kind::Punct,
            start,
            end: i,
        });
    }
    Ok(out)
}

/// The end of a template literal starting after its backtick, `${...}`
/// parts included.
fn skip_template(b: &[u8], mut i: usize) -> Result<usize, String> {
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'`' => return Ok(i + 1),
            b'$' if b.get(i + 1) == Some(&b'{') => {
                let mut depth = 1;
                i += 2;
                while i < b.len() && depth > 0 {
                    match b[i] {
                        b'{' => depth += 1,
                        b'}' => depth -= 1,
                        b'`' => {
                            i = skip_template(b, i + 1)?;
                            continue;
                        }
                        b'\'' | b'"' => {
                            let q = b[i];
                            i += 1;
                            while i < b.len() && b[i] != q {
                                if b[i] == b'\\' {
                                    i += 1;
                                }
                                i += 1;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    Err("unterminated template literal".into())
}

fn regex_may_start(src: &str, prev: Option<&Token>) -> bool {
    match prev {
        None => true,
        Some(t) => match t.kind {
            // After `)`, `]`, `}` or a postfix `++`/`--` (the tokenizer sees
            // their last `+`/`-`), a `/` divides.
            Kind::Punct => {
                let prev_is_pair =
                    t.start > 0 && src.as_bytes()[t.start - 1] == src.as_bytes()[t.start];
                let postfix = matches!(&src[t.start..t.end], "+" | "-") && prev_is_pair;
                !postfix && !matches!(&src[t.start..t.end], ")" | "]" | "}")
            }
            Kind::Ident => BEFORE_REGEX.contains(&&src[t.start..t.end]),
            _ => false,
        },
    }
}

/// Whether a module is written in statements (a `#!` line, or a first word
/// that starts a statement) rather than as one expression.
pub fn is_statement_module(src: &str) -> bool {
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    if src.starts_with("#!") {
        return true;
    }
    let Ok(tokens) = tokenize(src) else {
        return false;
    };
    let Some(first) = tokens.first() else {
        return false;
    };
    first.kind == Kind::Ident
        && matches!(
            &src[first.start..first.end],
            "import"
                | "export"
                | "var"
                | "let"
                | "const"
                | "function"
                | "if"
                | "for"
                | "while"
                | "switch"
                | "try"
                | "throw"
                | "class"
                | "do"
        )
}

/// The text of token `i`.
fn text<'a>(src: &'a str, tokens: &[Token], i: usize) -> &'a str {
    tokens.get(i).map_or("", |t| &src[t.start..t.end])
}

/// `src[from..to]` blanked but for its line breaks (what a rewrite replaced
/// keeps its lines).
fn newlines(src: &str, from: usize, to: usize) -> String {
    src[from..to].chars().filter(|c| *c == '\n').collect()
}

/// The end (token index) of the statement starting at `i`: its `;`, or the
/// last token before a line break at depth 0 that does not continue it.
fn statement_end(src: &str, tokens: &[Token], i: usize) -> usize {
    let mut depth = 0i32;
    let mut j = i;
    while j < tokens.len() {
        let t = text(src, tokens, j);
        match t {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" | "}" => depth -= 1,
            ";" if depth == 0 => return j,
            _ => {}
        }
        if depth <= 0 && j + 1 < tokens.len() {
            let gap = &src[tokens[j].end..tokens[j + 1].start];
            let next = text(src, tokens, j + 1);
            let continues = matches!(
                next,
                "." | ","
                    | "("
                    | "["
                    | "?"
                    | ":"
                    | "+"
                    | "-"
                    | "*"
                    | "/"
                    | "="
                    | "&"
                    | "|"
                    | "from"
                    | "as"
            ) || matches!(
                t,
                "," | "="
                    | "("
                    | "["
                    | "{"
                    | "."
                    | "+"
                    | "-"
                    | "*"
                    | "&"
                    | "|"
                    | "?"
                    | ":"
                    | "from"
                    | "as"
                    | "import"
                    | "export"
                    | "default"
            );
            if depth == 0 && gap.contains('\n') && !continues {
                return j;
            }
        }
        if depth < 0 {
            return j.saturating_sub(1);
        }
        j += 1;
    }
    tokens.len().saturating_sub(1)
}

/// The names a `var` statement (tokens `i..=end`) declares; empty when it
/// destructures (its names are not plain).
fn declared_names<'a>(src: &'a str, tokens: &[Token], i: usize, end: usize) -> Vec<&'a str> {
    let mut names = Vec::new();
    let mut d = 0;
    let mut expect_name = true;
    for j in i + 1..=end.min(tokens.len().saturating_sub(1)) {
        let w = text(src, tokens, j);
        match w {
            "(" | "[" | "{" if expect_name && d == 0 => return Vec::new(),
            "(" | "[" | "{" => d += 1,
            ")" | "]" | "}" => d -= 1,
            "," if d == 0 => expect_name = true,
            _ if expect_name && d == 0 => {
                if tokens[j].kind == Kind::Ident {
                    names.push(w);
                }
                expect_name = false;
            }
            _ => {}
        }
    }
    names
}

/// Names as (name, local) pairs.
type Names = Vec<(String, String)>;

/// A list of names, `{ a, b as c }`, from the `{` at `open`; and the token
/// index after its `}`.
fn binding_list(src: &str, tokens: &[Token], open: usize) -> Result<(Names, usize), String> {
    let mut pairs = Vec::new();
    let mut j = open + 1;
    loop {
        let t = text(src, tokens, j);
        if t == "}" {
            break;
        }
        if t == "," {
            j += 1;
            continue;
        }
        if tokens.get(j).map(|t| t.kind) != Some(Kind::Ident)
            && tokens.get(j).map(|t| t.kind) != Some(Kind::Str)
        {
            return Err(format!("unexpected '{t}' in a list of names"));
        }
        let name = t.trim_matches(['\'', '"']).to_string();
        if text(src, tokens, j + 1) == "as" {
            let alias = text(src, tokens, j + 2).to_string();
            pairs.push((name, alias));
            j += 3;
        } else {
            pairs.push((name.clone(), name));
            j += 1;
        }
    }
    Ok((pairs, j + 1))
}

/// The end (token index) of a statement that ends with the module name at
/// `name`: the name, or a `;` right after it on the same line.
fn module_statement_end(src: &str, tokens: &[Token], name: usize) -> usize {
    if text(src, tokens, name + 1) == ";"
        && !src[tokens[name].end..tokens[name + 1].start].contains('\n')
    {
        name + 1
    } else {
        name
    }
}

/// The index of the module name of an `import` starting at `i`: the first
/// string after `from`, or right after `import`.
fn import_name_index(src: &str, tokens: &[Token], i: usize) -> Result<usize, String> {
    if tokens.get(i + 1).map(|t| t.kind) == Some(Kind::Str) {
        return Ok(i + 1);
    }
    let mut depth = 0;
    let mut j = i + 1;
    while j < tokens.len() {
        match text(src, tokens, j) {
            "{" => depth += 1,
            "}" => depth -= 1,
            "from" if depth == 0 => {
                return match tokens.get(j + 1) {
                    Some(t) if t.kind == Kind::Str => Ok(j + 1),
                    _ => Err("expected a module name after 'from'".into()),
                }
            }
            ";" if depth == 0 => break,
            _ => {}
        }
        j += 1;
    }
    Err("an import without 'from'".into())
}

/// Rewrites a statement-style module (see the module docs).
pub fn transform(src: &str) -> Result<Transformed, String> {
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    // `#!...` is a comment here; its line stays.
    let src_owned;
    let src = if src.starts_with("#!") {
        let end = src.find('\n').unwrap_or(src.len());
        src_owned = format!("//{}", &src[2.min(end)..]);
        src_owned.as_str()
    } else {
        src
    };
    let tokens = tokenize(src)?;
    let mut body = String::with_capacity(src.len());
    let mut epilogue = String::new();
    let mut context_vars = Vec::new();
    let mut copied = 0;
    let mut depth = 0i32;
    let mut i = 0;
    let at_statement_start = |i: usize| -> bool {
        i == 0
            || matches!(text(src, &tokens, i - 1), ";" | "}" | "{")
            || src[tokens[i - 1].end..tokens[i].start].contains('\n')
    };
    while i < tokens.len() {
        let t = text(src, &tokens, i);
        match t {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" | "}" => depth -= 1,
            _ => {}
        }
        if t == "var" && tokens[i].kind == Kind::Ident && at_statement_start(i) {
            // Context variables: `var $a`, `var $a = 1, $b` (a `let` inside
            // the module's `with` would shadow them: only `var`). Upstream
            // makes them of `var $name`s in functions too: there the
            // declaration goes (a local would hide the context variable) and
            // what it assigns stays, as `   $a = 1, $b;`. A `var` that also
            // declares other names keeps them all local.
            let end = statement_end(src, &tokens, i);
            let names = declared_names(src, &tokens, i, end);
            if depth == 0 {
                for n in names.iter().filter(|n| n.starts_with('$')) {
                    if !context_vars.iter().any(|c| c == n) {
                        context_vars.push(n.to_string());
                    }
                }
                i = end + 1;
                continue;
            }
            if !names.is_empty() && names.iter().all(|n| n.starts_with('$')) {
                body.push_str(&src[copied..tokens[i].start]);
                body.push_str("   ");
                copied = tokens[i].end;
                if text(src, &tokens, end) != ";" {
                    body.push_str(&src[copied..tokens[end].end]);
                    body.push(';');
                    copied = tokens[end].end;
                }
                for n in names {
                    if !context_vars.iter().any(|c| c == n) {
                        context_vars.push(n.to_string());
                    }
                }
                i = end + 1;
                continue;
            }
        }
        if depth != 0 || tokens[i].kind != Kind::Ident || !at_statement_start(i) {
            i += 1;
            continue;
        }
        match t {
            "import" if !matches!(text(src, &tokens, i + 1), "(" | ".") => {
                // It ends at its module name: what follows is code of its own.
                let end = module_statement_end(src, &tokens, import_name_index(src, &tokens, i)?);
                let stmt_end = tokens[end].end;
                let replacement = rewrite_import(src, &tokens, i, end)?;
                body.push_str(&src[copied..tokens[i].start]);
                body.push_str(&replacement);
                body.push_str(&newlines(src, tokens[i].start, stmt_end));
                copied = stmt_end;
                i = end + 1;
            }
            "export" => {
                let (replace_to, replacement, next, names) = rewrite_export(src, &tokens, i)?;
                body.push_str(&src[copied..tokens[i].start]);
                body.push_str(&replacement);
                body.push_str(&newlines(src, tokens[i].start, replace_to));
                copied = replace_to;
                for (local, exported) in names {
                    epilogue.push_str(&format!(
                        "Object.defineProperty(__pipy_exports__, {exported:?}, {{ get: () => {local}, enumerable: true, configurable: true }});"
                    ));
                }
                if let Some(e) = next.1 {
                    epilogue.push_str(&e);
                }
                i = next.0;
                // A `{`-opening export (a function or class body) is walked
                // through by the main loop to keep depths right.
                continue;
            }
            _ => i += 1,
        }
    }
    body.push_str(&src[copied..]);
    Ok(Transformed {
        body,
        epilogue,
        context_vars,
    })
}

fn module_name(src: &str, tokens: &[Token], i: usize) -> Result<String, String> {
    let t = tokens.get(i).ok_or("a module name is missing")?;
    if t.kind != Kind::Str {
        return Err(format!(
            "expected a module name, found '{}'",
            &src[t.start..t.end]
        ));
    }
    Ok(src[t.start..t.end].to_string())
}

fn rewrite_import(src: &str, tokens: &[Token], i: usize, end: usize) -> Result<String, String> {
    let mut j = i + 1;
    // `import 'm'`
    if tokens.get(j).map(|t| t.kind) == Some(Kind::Str) {
        return Ok(format!(
            "__pipy_import__({});",
            module_name(src, tokens, j)?
        ));
    }
    let mut default = None;
    let mut namespace = None;
    let mut list = None;
    loop {
        let t = text(src, tokens, j);
        match t {
            "*" => {
                if text(src, tokens, j + 1) != "as" {
                    return Err("expected 'as' after 'import *'".into());
                }
                namespace = Some(text(src, tokens, j + 2).to_string());
                j += 3;
            }
            "{" => {
                let (pairs, next) = binding_list(src, tokens, j)?;
                list = Some(pairs);
                j = next;
            }
            "," => j += 1,
            "from" => break,
            _ if tokens.get(j).map(|t| t.kind) == Some(Kind::Ident) => {
                default = Some(t.to_string());
                j += 1;
            }
            _ => return Err(format!("unexpected '{t}' in an import")),
        }
        if j > end {
            return Err("an import without 'from'".into());
        }
    }
    let m = module_name(src, tokens, j + 1)?;
    // Imported names are live, as ES bindings are (and upstream's): getters
    // on the module's scope, read through `with`.
    let mut binds = Vec::new();
    if let Some(d) = default {
        binds.push(("default".to_string(), d));
    }
    binds.extend(list.unwrap_or_default());
    let mut out = String::from("((m) => {");
    for (name, local) in &binds {
        out.push_str(&format!(
            " Object.defineProperty(__pipy_scope__, {local:?}, {{ get: () => m[{name:?}], configurable: true }});"
        ));
    }
    if let Some(n) = namespace {
        out.push_str(&format!(
            " Object.defineProperty(__pipy_scope__, {n:?}, {{ value: m, configurable: true }});"
        ));
    }
    out.push_str(&format!(" }})(__pipy_import__({m}));"));
    Ok(out)
}

/// What an export became: (source offset rewritten up to, replacement text,
/// (next token index, extra epilogue), exported (local, name) pairs).
type ExportRewrite = (
    usize,
    String,
    (usize, Option<String>),
    Vec<(String, String)>,
);

fn rewrite_export(src: &str, tokens: &[Token], i: usize) -> Result<ExportRewrite, String> {
    let next = text(src, tokens, i + 1);
    let after = tokens.get(i + 1).ok_or("nothing after 'export'")?;
    match next {
        "default" => {
            // `export default function name() {}` (or a class, or async):
            // the declaration stays, with its name bound in the module.
            let mut k = i + 2;
            if text(src, tokens, k) == "async" {
                k += 1;
            }
            if matches!(text(src, tokens, k), "function" | "class") {
                let mut n = k + 1;
                if text(src, tokens, n) == "*" {
                    n += 1;
                }
                if tokens.get(n).map(|t| t.kind) == Some(Kind::Ident) {
                    let name = text(src, tokens, n).to_string();
                    let to = tokens[i + 2].start;
                    return Ok((
                        to,
                        String::new(),
                        (i + 2, None),
                        vec![(name, "default".into())],
                    ));
                }
            }
            let to = tokens.get(i + 2).map_or(after.end, |t| t.start);
            Ok((
                to,
                "__pipy_exports__.default = ".into(),
                (i + 2, None),
                Vec::new(),
            ))
        }
        "var" | "let" | "const" => {
            let end = statement_end(src, tokens, i + 1);
            let mut names = Vec::new();
            let mut j = i + 2;
            let mut d = 0;
            let mut expect_name = true;
            while j <= end {
                let w = text(src, tokens, j);
                match w {
                    "(" | "[" | "{" if expect_name && d == 0 => {
                        return Err("exporting a destructured declaration is not supported".into())
                    }
                    "(" | "[" | "{" => d += 1,
                    ")" | "]" | "}" => d -= 1,
                    "," if d == 0 => expect_name = true,
                    _ if expect_name && d == 0 => {
                        if w.starts_with('$') {
                            return Err(format!("cannot export a context variable ({w})"));
                        }
                        names.push((w.to_string(), w.to_string()));
                        expect_name = false;
                    }
                    _ => {}
                }
                j += 1;
            }
            // Only `export ` goes: the declaration is then read by the main loop.
            Ok((after.start, String::new(), (i + 1, None), names))
        }
        "function" | "class" | "async" => {
            let mut j = i + 2;
            if text(src, tokens, j) == "function" || text(src, tokens, j) == "*" {
                j += 1;
            }
            if text(src, tokens, j) == "*" {
                j += 1;
            }
            let name = text(src, tokens, j).to_string();
            if tokens.get(j).map(|t| t.kind) != Some(Kind::Ident) {
                return Err(format!("an exported {next} needs a name"));
            }
            Ok((
                after.start,
                String::new(),
                (i + 1, None),
                vec![(name.clone(), name)],
            ))
        }
        "{" => {
            let (pairs, j) = binding_list(src, tokens, i + 1)?;
            if text(src, tokens, j) == "from" {
                let m = module_name(src, tokens, j + 1)?;
                let end = module_statement_end(src, tokens, j + 1);
                let to = tokens[end].end;
                let getters: String = pairs
                    .iter()
                    .map(|(n, a)| {
                        format!(
                            "Object.defineProperty(__pipy_exports__, {a:?}, {{ get: () => __pipy_import__({m})[{n:?}], enumerable: true, configurable: true }});"
                        )
                    })
                    .collect();
                return Ok((to, String::new(), (end + 1, Some(getters)), Vec::new()));
            }
            let end = if text(src, tokens, j) == ";" {
                j
            } else {
                j - 1
            };
            let to = tokens[end].end;
            Ok((to, String::new(), (end + 1, None), pairs))
        }
        "*" => {
            if text(src, tokens, i + 2) != "from" {
                return Err("expected 'from' after 'export *'".into());
            }
            let m = module_name(src, tokens, i + 3)?;
            let end = module_statement_end(src, tokens, i + 3);
            let to = tokens[end].end;
            let copy = format!(
                "((m) => Object.keys(m).forEach((k) => k !== 'default' && Object.defineProperty(__pipy_exports__, k, {{ get: () => m[k], enumerable: true, configurable: true }})))(__pipy_import__({m}));"
            );
            Ok((to, String::new(), (end + 1, Some(copy)), Vec::new()))
        }
        _ => Err(format!("unexpected '{next}' after 'export'")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(src: &str) -> Transformed {
        transform(src).unwrap()
    }

    #[test]
    fn modules_in_statements_are_told_from_expressions() {
        assert!(is_statement_module("#!/usr/bin/env pipy\npipy()"));
        assert!(is_statement_module("// c\nimport a from './a.js'"));
        assert!(is_statement_module("var x = 1\npipy()"));
        assert!(!is_statement_module("pipy().listen(8080)"));
        assert!(!is_statement_module("((a = 1) => pipy())()"));
        assert!(!is_statement_module("/* var */ (pipy())"));
    }

    #[test]
    fn imports_become_live_bindings_on_the_same_lines() {
        let out = t("import a from './a.js'\nimport { b, c as d } from \"./b.js\";\nimport * as ns from './n.js'\nimport e, {\n  f,\n} from './e.js'\nimport './side.js'\nx()");
        let lines: Vec<&str> = out.body.lines().collect();
        assert_eq!(lines[0], "((m) => { Object.defineProperty(__pipy_scope__, \"a\", { get: () => m[\"default\"], configurable: true }); })(__pipy_import__('./a.js'));");
        assert!(
            lines[1].contains("\"b\", { get: () => m[\"b\"]")
                && lines[1].contains("\"d\", { get: () => m[\"c\"]"),
            "{}",
            lines[1]
        );
        assert!(
            lines[1].ends_with("})(__pipy_import__(\"./b.js\"));"),
            "{}",
            lines[1]
        );
        assert!(lines[2].contains("\"ns\", { value: m,"), "{}", lines[2]);
        assert!(
            lines[3].contains("\"e\", { get: () => m[\"default\"]") && lines[3].contains("\"f\""),
            "{}",
            lines[3]
        );
        assert_eq!(lines[6], "__pipy_import__('./side.js');");
        assert_eq!(lines[7], "x()");
        assert_eq!(out.body.lines().count(), 8);
    }

    #[test]
    fn exports_become_getters_after_the_body() {
        let out = t("export default { a: 1 }\nexport var x = 1, y = [2, 3]\nexport function f() { return { z: 1 } }\nvar q = 2\nexport { q as r }\nexport class C {}");
        let lines: Vec<&str> = out.body.lines().collect();
        assert_eq!(lines[0], "__pipy_exports__.default = { a: 1 }");
        assert_eq!(lines[1], "var x = 1, y = [2, 3]");
        assert_eq!(lines[2], "function f() { return { z: 1 } }");
        assert_eq!(lines[4], "");
        assert_eq!(lines[5], "class C {}");
        for name in ["\"x\"", "\"y\"", "\"f\"", "\"r\"", "\"C\""] {
            assert!(out.epilogue.contains(name), "{name} in {}", out.epilogue);
        }
        assert!(out.epilogue.contains("get: () => q"));
    }

    #[test]
    fn context_variables_are_listed_and_the_shebang_kept_as_a_comment() {
        let out = t("#!/usr/bin/env pipy\nvar $a, b = 1, $c = { x: [1, 2] }\nlet $d\nfunction f() { var $inner }\nvar e = $a");
        assert_eq!(out.context_vars, ["$a", "$c", "$inner"]);
        assert!(out.body.starts_with("///usr/bin/env pipy\n"));
    }

    /// Upstream: `var $name` in a function is a context variable too (the
    /// ws-udp sample's server keeps `$source` per tunnel so).
    #[test]
    fn var_dollar_names_in_functions_become_assignments_to_context_variables() {
        let out = t("function run() {\n  var $x\n  var $y = 1, $z = [2, 3]\n  var $m = 1, n = 2\n  var { $p } = o\n  return $x\n}");
        assert_eq!(out.context_vars, ["$x", "$y", "$z"]);
        assert_eq!(
            out.body,
            "function run() {\n      $x;\n      $y = 1, $z = [2, 3];\n  var $m = 1, n = 2\n  var { $p } = o\n  return $x\n}"
        );
    }

    #[test]
    fn strings_comments_and_templates_hide_keywords() {
        let out = t("var s = 'import x from \"y\"'\n// export default 1\nvar t = `${ {a: 'export'}.a } import`\nvar r = /export/g\nexport default s");
        assert!(out.body.contains("'import x from \"y\"'"));
        assert!(out.body.contains("// export default 1"));
        assert!(out.body.ends_with("__pipy_exports__.default = s"));
    }

    #[test]
    fn a_line_after_an_import_is_code_of_its_own() {
        let out = t("import a from './a.js'\n(function () { x() })()\nexport * from './b.js'\n[1, 2].forEach(f)\nexport { c } from './c.js';\n+y");
        let lines: Vec<&str> = out.body.lines().collect();
        assert_eq!(lines[1], "(function () { x() })()");
        assert_eq!(lines[3], "[1, 2].forEach(f)");
        assert_eq!(lines[5], "+y");
    }

    #[test]
    fn a_named_default_export_keeps_its_name() {
        let out = t("export default function handler(req) { return 1 }\nuse(handler)\nexport default async function g() {}");
        assert!(
            out.body.starts_with("function handler(req)"),
            "{}",
            out.body
        );
        assert!(
            out.epilogue.contains("\"default\", { get: () => handler"),
            "{}",
            out.epilogue
        );
        let out = t("export default class C {}");
        assert_eq!(out.body, "class C {}");
    }

    #[test]
    fn only_var_makes_context_variables_and_a_bom_is_skipped() {
        let out = t("\u{feff}var $a = i++ / 2, $b\nlet $c\nimport d from './d.js'");
        assert_eq!(out.context_vars, ["$a", "$b"]);
        assert!(
            out.body.contains("__pipy_import__('./d.js')"),
            "{}",
            out.body
        );
        assert!(is_statement_module("\u{feff}import x from 'y'"));
    }

    #[test]
    fn unsupported_forms_are_refused_with_a_reason() {
        assert!(transform("export var $x = 1")
            .unwrap_err()
            .contains("context variable"));
        assert!(transform("export const { a } = o")
            .unwrap_err()
            .contains("destructured"));
        assert!(transform("import a").is_err());
    }
}
