//! Validation before publishing: the codebase is loaded by the real PipyJS host in a dry
//! run ([`pipy_runtime::dry_run()`]): every module parsed and evaluated, every pipeline
//! layout built, no port opened, no task started. A codebase that fails gets
//! `Valid=False` with the [`ValidationError`] as its message.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use pipy_js::codebase::MemoryCodebase;

/// Why a codebase does not load: `file:line:column: message`, the position when the
/// engine knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// The codebase path of the file at fault (`/main.js`); the entry file when the
    /// engine names none.
    pub file: String,
    /// The 1-based line, when known.
    pub line: Option<u32>,
    /// The 1-based column, when known (only with a line).
    pub column: Option<u32>,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ValidationError {}

/// Loads the codebase made of `files` (codebase path to content) from `main`, as a
/// sidecar would, without opening any port.
pub fn validate_codebase(
    files: &BTreeMap<String, Vec<u8>>,
    main: &str,
) -> Result<(), ValidationError> {
    validate_codebase_within(files, main, pipy_runtime::DRY_RUN_TIMEOUT)
}

/// [`validate_codebase`] that gives up after `limit`: the admission webhook answers
/// within the API server's timeout.
pub fn validate_codebase_within(
    files: &BTreeMap<String, Vec<u8>>,
    main: &str,
    limit: std::time::Duration,
) -> Result<(), ValidationError> {
    let main = absolute(main);
    if !files.keys().any(|path| absolute(path) == main) {
        return Err(ValidationError {
            file: main,
            line: None,
            column: None,
            message: "the entry file is not in the codebase".into(),
        });
    }
    let mut codebase = MemoryCodebase::new("(dry run)");
    for (path, content) in files {
        codebase.insert(path, content.clone());
    }
    pipy_runtime::dry_run_within(Arc::new(codebase), &main, limit)
        .map_err(|e| parse_error(&format!("{e:#}"), &main, files))
}

/// Reads the file and the position out of an engine message.
///
/// The host writes `file:line:column: message` for a syntax error and `file: message`
/// for a runtime error, whose position follows as `(file:line:column)` in the message or
/// its stack trace. A module loaded by another (`use`) fails inside the loader's call, so
/// the prefixes nest: `main.js: TypeError: lib.js:3:8: SyntaxError: ...`. The innermost
/// file of `files` wins; the message keeps its first line without positions.
fn parse_error(text: &str, main: &str, files: &BTreeMap<String, Vec<u8>>) -> ValidationError {
    let text = text.trim();
    let first_line = text.lines().next().unwrap_or_default();
    let is_file = |token: &str| files.keys().any(|f| absolute(f) == absolute(token));
    let tokens: Vec<&str> = first_line.split(": ").collect();
    let mut error = ValidationError {
        file: main.to_owned(),
        line: None,
        column: None,
        message: String::new(),
    };
    let mut message_from = 0;
    for (i, token) in tokens.iter().enumerate() {
        if is_file(token) {
            error.file = absolute(token);
            (error.line, error.column) = (None, None);
        } else if let Some((file, line, column)) = position(token).filter(|p| is_file(p.0)) {
            error.file = absolute(file);
            (error.line, error.column) = (Some(line), Some(column));
        } else if token.chars().all(|c| c.is_ascii_alphanumeric()) {
            continue;
        } else {
            break;
        }
        message_from = i + 1;
    }
    error.message = without_positions(&tokens[message_from.min(tokens.len())..].join(": "));
    if error.message.is_empty() {
        error.message = first_line.to_owned();
    }
    if error.line.is_none() {
        let file = pipy_js::codebase::normalize(&error.file);
        if let Some((line, column)) = first_position_in(text, file) {
            (error.line, error.column) = (Some(line), Some(column));
        }
    }
    error
}

/// A codebase path with its leading `/`.
fn absolute(path: &str) -> String {
    format!("/{}", pipy_js::codebase::normalize(path))
}

/// `file:line:column`.
fn position(token: &str) -> Option<(&str, u32, u32)> {
    let mut parts = token.rsplitn(3, ':');
    let column = parts.next()?.parse().ok()?;
    let line = parts.next()?.parse().ok()?;
    let file = parts.next().filter(|f| !f.is_empty())?;
    Some((file, line, column))
}

/// `message` without the `(file:line:column)` positions the engine appends.
fn without_positions(message: &str) -> String {
    let mut message = message.trim_end();
    while let Some(open) = message.strip_suffix(')').and_then(|m| m.rfind(" (")) {
        let inner = &message[open + 2..message.len() - 1];
        if position(inner).is_none() {
            break;
        }
        message = message[..open].trim_end();
    }
    message.to_owned()
}

/// The first `(file:line:column)` of `file` in `text`: the innermost place the error
/// passed through in that file.
fn first_position_in(text: &str, file: &str) -> Option<(u32, u32)> {
    let marker = format!("({file}:");
    let at = text.find(&marker)?;
    let rest = &text[at + 1..];
    let end = rest.find(')')?;
    position(&rest[..end]).map(|(_, line, column)| (line, column))
}

#[cfg(test)]
mod tests;
