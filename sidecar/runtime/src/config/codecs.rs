//! Configuration methods of the protocol codecs other than HTTP's:
//! `decodeWebSocket` and `encodeWebSocket`.

use super::{append, Method};
use pipy_filters::websocket;
use std::rc::Rc;

/// Every method of this file, by name.
pub(super) fn methods() -> Vec<(&'static str, Method)> {
    vec![
        ("decodeWebSocket", |this, _, _| {
            append(this, Rc::new(websocket::DecodeTemplate))
        }),
        ("encodeWebSocket", |this, _, _| {
            append(this, Rc::new(websocket::EncodeTemplate))
        }),
    ]
}
