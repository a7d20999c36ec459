//! Golden-file comparison shared by the test modules.

use std::path::{Path, PathBuf};

/// `operator/tests/golden/<area>`.
pub(crate) fn dir(area: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(area)
}

/// Whether `UPDATE_GOLDEN=1` asks to rewrite the golden files.
pub(crate) fn updating() -> bool {
    std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1")
}

/// Compares `actual` with the file at `path` (or writes it when updating, or removes
/// the file when `actual` is `None`); a description of the difference on mismatch.
pub(crate) fn check(path: &Path, actual: Option<&str>) -> Result<(), String> {
    if updating() {
        match actual {
            Some(text) => std::fs::write(path, text).map_err(|e| format!("{path:?}: {e}"))?,
            None if path.exists() => {
                std::fs::remove_file(path).map_err(|e| format!("{path:?}: {e}"))?
            }
            None => {}
        }
        return Ok(());
    }
    let expected = std::fs::read_to_string(path).ok();
    if expected.as_deref() == actual {
        return Ok(());
    }
    Err(format!(
        "{}: golden file differs\n--- expected\n{}\n--- actual\n{}",
        path.display(),
        expected.as_deref().unwrap_or("(no file)"),
        actual.unwrap_or("(no file)")
    ))
}
