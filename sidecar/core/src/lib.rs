//! pipy-core: the engine's vocabulary, free of I/O and scripting.
//!
//! - [`Data`]: a rope of reference-counted byte chunks, so a proxy moves bytes
//!   without copying them.
//! - [`Event`]: what flows through a pipeline (`Data`, `MessageStart`, `MessageEnd`,
//!   `StreamEnd`), with native HTTP heads ([`RequestHead`], [`ResponseHead`]) and an
//!   opaque slot for heads owned by the script host.
//! - [`Filter`], [`FilterTemplate`] and [`Layout`]: a script builds layouts of filter
//!   templates once; every stream gets a [`Pipeline`] of filter instances.
//! - [`Pipeline`]: push-based and re-entrancy safe. An event pushed while the
//!   pipeline is already working is queued and handled by the running loop, so a
//!   filter may feed a sub-pipeline whose answer comes straight back to it.
//! - [`units`]: the one parser of durations and sizes scripts write as text.

mod context;
mod data;
mod event;
pub mod flow;
mod head;
pub mod io;
mod outbox;
mod pipeline;
mod read_buffer;
pub mod spare;
pub mod units;

pub use context::{Context, Inbound, ScriptState};
pub use data::Data;
pub use event::{Event, StreamError};
pub use head::MessageTail;
pub use head::{Head, HeaderMap, RequestHead, ResponseHead, ScriptHead, Version};
pub use outbox::{Batch, Limits, Outbox, Ready};
pub use pipeline::{
    Chain, EventTarget, Filter, FilterDump, FilterTemplate, Layout, Output, OutputFrom, Pipeline,
    SubKind,
};
pub use read_buffer::ReadBuffer;
