//! Configuration methods of the protocol codecs other than HTTP's:
//! WebSocket, RESP and multipart.

use super::{append, Method};
use pipy_filters::{multipart, resp, websocket};
use std::rc::Rc;

/// Every method of this file, by name.
pub(super) fn methods() -> Vec<(&'static str, Method)> {
    vec![
        ("decodeMultipart", |this, _, _| {
            append(this, Rc::new(multipart::DecodeTemplate))
        }),
        ("decodeRESP", |this, _, _| {
            append(this, Rc::new(resp::DecodeTemplate))
        }),
        ("encodeRESP", |this, _, _| {
            append(this, Rc::new(resp::EncodeTemplate))
        }),
        ("decodeWebSocket", |this, _, _| {
            append(this, Rc::new(websocket::DecodeTemplate))
        }),
        ("encodeWebSocket", |this, _, _| {
            append(this, Rc::new(websocket::EncodeTemplate))
        }),
    ]
}
