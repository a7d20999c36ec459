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
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ScriptError {}
