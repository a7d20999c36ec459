//! Exports the native module interface's C functions from the binary, so
//! that the modules a script loads (`use('mod.so')`) find them: a dynamic
//! symbol list made from the interface's header, given to the linker.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let header = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../nmi/include/pipy/nmi.h");
    println!("cargo:rerun-if-changed={}", header.display());
    let text = std::fs::read_to_string(&header).expect("sidecar/nmi/include/pipy/nmi.h");
    let mut list = String::from("{\n");
    for line in text.lines() {
        let Some(decl) = line.trim().strip_prefix("NMI_EXPORT ") else {
            continue;
        };
        let Some(name) = decl
            .split('(')
            .next()
            .and_then(|d| d.split_whitespace().last())
        else {
            continue;
        };
        let _ = writeln!(list, "  {};", name.trim_start_matches('*'));
    }
    list.push_str("};\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("nmi.syms");
    std::fs::write(&out, list).expect("write the dynamic symbol list");
    println!(
        "cargo:rustc-link-arg-bins=-Wl,--dynamic-list={}",
        out.display()
    );
}
