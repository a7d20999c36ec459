//! `use('module.so' [, pipelineName])`: the filter that runs a native
//! module's pipeline, one instance per stream, started at the stream's first
//! event. (A script module's `use` is in `pipy-filters`' `chain.rs`.)

use crate::module::{NativeModule, PipelineDef};
use crate::pipeline;
use pipy_core::{Event, Filter, FilterDump, FilterTemplate, Output};
use std::rc::Rc;

/// Template of a native `use`.
pub struct UseNativeTemplate {
    module: Rc<NativeModule>,
    def: PipelineDef,
}

impl UseNativeTemplate {
    /// The pipeline `name` of `module` (its entry pipeline for `""`), or why
    /// there is none.
    pub fn new(module: Rc<NativeModule>, name: &str) -> Result<Self, String> {
        let def = module.pipeline(name)?;
        Ok(Self { module, def })
    }
}

impl FilterTemplate for UseNativeTemplate {
    fn name(&self) -> &'static str {
        "use"
    }
    fn dump(&self) -> Option<FilterDump> {
        // Upstream's graph names the module's file after the filter.
        Some(FilterDump::plain(format!("use {}", self.module.path())))
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(UseNative {
            module: self.module.clone(),
            def: self.def,
            pipeline: None,
        })
    }
}

struct UseNative {
    module: Rc<NativeModule>,
    def: PipelineDef,
    pipeline: Option<i32>,
}

impl Filter for UseNative {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        let id = match self.pipeline {
            Some(id) => id,
            None => {
                // What the native pipeline outputs comes back here (on_reply)
                // and goes on down the pipeline.
                let id = pipeline::create(
                    self.module.clone(),
                    self.def,
                    out.context().clone(),
                    out.reply_target(0),
                );
                self.pipeline = Some(id);
                id
            }
        };
        pipeline::input(id, evt);
    }
}

impl Drop for UseNative {
    fn drop(&mut self) {
        if let Some(id) = self.pipeline.take() {
            pipeline::filter_done(id);
        }
    }
}
