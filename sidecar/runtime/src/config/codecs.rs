//! Configuration methods of the protocol codecs other than HTTP's:
//! WebSocket, RESP, MQTT, Thrift, BGP, Dubbo, Netlink and multipart.

use super::{append, arg, Method};
use crate::options::Options;
use boa_engine::{Context, JsResult, JsValue};
use pipy_filters::{bgp, dubbo, mqtt, multipart, netlink, resp, thrift, websocket, Callback};
use std::rc::Rc;

/// Every method of this file, by name.
pub(super) fn methods() -> Vec<(&'static str, Method)> {
    vec![
        ("decodeBGP", |this, args, ctx| {
            let as4 = bgp_as4("decodeBGP", args, ctx)?;
            append(this, Rc::new(bgp::DecodeTemplate(as4)))
        }),
        ("encodeBGP", |this, args, ctx| {
            let as4 = bgp_as4("encodeBGP", args, ctx)?;
            append(this, Rc::new(bgp::EncodeTemplate(as4)))
        }),
        ("decodeDubbo", |this, _, _| {
            append(this, Rc::new(dubbo::DecodeTemplate))
        }),
        ("encodeDubbo", |this, _, _| {
            append(this, Rc::new(dubbo::EncodeTemplate))
        }),
        ("decodeNetlink", |this, _, _| {
            append(this, Rc::new(netlink::DecodeTemplate))
        }),
        ("encodeNetlink", |this, _, _| {
            append(this, Rc::new(netlink::EncodeTemplate))
        }),
        ("decodeThrift", |this, _, _| {
            append(this, Rc::new(thrift::DecodeTemplate))
        }),
        ("encodeThrift", |this, _, _| {
            append(this, Rc::new(thrift::EncodeTemplate))
        }),
        ("decodeMQTT", |this, args, ctx| {
            let level = mqtt_level("decodeMQTT", args, ctx)?;
            append(this, Rc::new(mqtt::DecodeTemplate(level)))
        }),
        ("encodeMQTT", |this, args, ctx| {
            let level = mqtt_level("encodeMQTT", args, ctx)?;
            append(this, Rc::new(mqtt::EncodeTemplate(level)))
        }),
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

/// The `protocolLevel` option of the MQTT codecs: a number or a function.
fn mqtt_level(
    method: &'static str,
    args: &[JsValue],
    ctx: &mut Context,
) -> JsResult<Option<Callback>> {
    let mut opts = Options::new(method, &arg(args, 0), ctx)?;
    let level = opts.get("protocolLevel", ctx)?;
    opts.finish(ctx)?;
    Ok((!level.is_null_or_undefined()).then(|| Callback::new(level, method)))
}

/// The `enableAS4` option of the BGP codecs: a boolean, `'true'`/`'false'`
/// or a function.
fn bgp_as4(
    method: &'static str,
    args: &[JsValue],
    ctx: &mut Context,
) -> JsResult<Option<Callback>> {
    let mut opts = Options::new(method, &arg(args, 0), ctx)?;
    let v = opts.get("enableAS4", ctx)?;
    opts.finish(ctx)?;
    if v.is_null_or_undefined() {
        return Ok(None);
    }
    if !(v.is_boolean() || v.is_string() || v.is_callable()) {
        return Err(boa_engine::JsNativeError::typ()
            .with_message(format!(
                "{method}: options.enableAS4 expects a boolean or a function"
            ))
            .into());
    }
    Ok(Some(Callback::new(v, method)))
}
