//! Embeds the Admin console (`gui/dist`, made by `npm run build` in `gui/`)
//! into this library, so that whoever serves the repo (the `pipy` binary,
//! `pipy-operator`) serves every asset itself.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    embed_console();
}

/// Embeds the built console (`gui/dist`, made by `npm run build` in `gui/`):
/// a generated table of its files, each `include_bytes!`-ed, so that every
/// asset is served by the binary itself. Without a build (no Node on the
/// machine) the table is empty and the repo serves a page that says so.
fn embed_console() {
    let dist = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../gui/dist");
    println!("cargo:rerun-if-changed={}", dist.display());
    let mut files = Vec::new();
    collect(&dist, &dist, &mut files);
    files.sort();
    let mut table = String::from("/// The console's files: (path, media type, content).\n");
    table.push_str("static CONSOLE: &[(&str, &str, &[u8])] = &[\n");
    for (path, full) in &files {
        println!("cargo:rerun-if-changed={}", full.display());
        let _ = writeln!(
            table,
            "    ({path:?}, {:?}, include_bytes!({:?})),",
            media_type(path),
            full.display().to_string()
        );
    }
    table.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("console.rs");
    std::fs::write(&out, table).expect("write the console table");
}

fn collect(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, out);
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push((format!("/{}", rel.to_string_lossy()), path.clone()));
        }
    }
}

fn media_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}
