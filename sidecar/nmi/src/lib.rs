//! Native modules: shared objects written in C (or anything with a C ABI)
//! that a PipyJS script runs as a filter with `use('module.so')`, through
//! upstream Pipy's native module interface (its `pipy/nmi.h`; ours, written
//! for this project, is `include/pipy/nmi.h`).
//!
//! The interface's C functions are defined here (`api_values`: script
//! values; `api_pipy`: events, definitions and pipelines) and exported by the
//! `pipy` binary to the modules it loads (its build script names them in a
//! dynamic symbol list made from the header).

mod api_pipy;
mod api_values;
mod engine;
mod filter;
mod module;
mod pipeline;
mod values;

pub use filter::UseNativeTemplate;
pub use module::{load, NativeModule};

/// Whether `use(path)` names a native module rather than a script.
pub fn is_native_path(path: &str) -> bool {
    path.ends_with(".so") || path.ends_with(".dll")
}

/// Lets go of what native modules hold on this thread (values, pipelines)
/// before its engine goes; their own code is not called any more.
pub fn end_thread() {
    pipeline::clear();
    module::clear();
    values::clear();
}

/// The C functions of the interface with their addresses, so that the binary
/// that links this crate keeps every one of them for the modules it loads.
pub fn exported_functions() -> Vec<(&'static str, usize)> {
    let mut all = api_values::functions();
    all.extend(api_pipy::functions());
    all
}

#[cfg(test)]
mod tests {
    /// The header and the functions defined here name the same functions.
    #[test]
    fn every_function_of_the_header_is_defined() {
        let header = include_str!("../include/pipy/nmi.h");
        let declared: std::collections::BTreeSet<String> = header
            .lines()
            .filter_map(|l| l.trim().strip_prefix("NMI_EXPORT "))
            .filter_map(|l| {
                let name = l.split('(').next()?;
                Some(
                    name.split_whitespace()
                        .last()?
                        .trim_start_matches('*')
                        .to_string(),
                )
            })
            .collect();
        let defined: std::collections::BTreeSet<String> = super::exported_functions()
            .into_iter()
            .map(|(n, _)| n.to_string())
            .collect();
        assert_eq!(declared.len(), 73);
        assert_eq!(declared, defined);
    }
}
