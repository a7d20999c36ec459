//! `decodeWebSocket()` and `encodeWebSocket()`: WebSocket frames to Messages
//! and back.
//!
//! As upstream: a decoded Message's head is `{ opcode, masked }` (of its first
//! frame), its body the payload of its frames unmasked, streamed, ending
//! with the frame that has FIN. The encoder frames each Message with the
//! head's `opcode` (1, text, by default) and `masked` (masking with a fresh
//! key per frame), cutting bodies into 16 KiB fragments; it passes the
//! MessageStart and MessageEnd on around the frame bytes, as upstream does.

use crate::util::js;
use boa_engine::{js_string, JsValue};
use bytes::{Bytes, BytesMut};
use pipy_codec::websocket::{apply_mask, encode_head, Decoder, Step};
use pipy_core::{Data, Event, Filter, FilterTemplate, Head, Output};
use pipy_js::convert;
use std::cell::Cell;

/// Payload bytes per frame when encoding.
pub const FRAGMENT_SIZE: usize = 16 << 10;

/// Template of `decodeWebSocket`.
pub struct DecodeTemplate;

impl FilterTemplate for DecodeTemplate {
    fn name(&self) -> &'static str {
        "decodeWebSocket"
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Decode {
            decoder: Decoder::new(),
            steps: Vec::new(),
            started: false,
            fin: false,
        })
    }
}

struct Decode {
    decoder: Decoder,
    steps: Vec<Step>,
    started: bool,
    fin: bool,
}

fn head(opcode: u8, masked: bool) -> Head {
    let v: JsValue = js(|ctx| {
        boa_engine::object::ObjectInitializer::new(ctx)
            .property(
                js_string!("opcode"),
                i32::from(opcode),
                boa_engine::property::Attribute::all(),
            )
            .property(
                js_string!("masked"),
                masked,
                boa_engine::property::Attribute::all(),
            )
            .build()
            .into()
    });
    convert::script_head(v)
}

impl Filter for Decode {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match evt {
            Event::Data(d) => {
                let mut steps = std::mem::take(&mut self.steps);
                for chunk in d.chunks() {
                    self.decoder.feed(chunk.clone(), &mut steps);
                }
                for step in steps.drain(..) {
                    match step {
                        Step::Head(h) => {
                            self.fin = h.fin;
                            if !self.started {
                                self.started = true;
                                out.push(Event::MessageStart(head(h.opcode, h.mask.is_some())));
                            }
                        }
                        Step::Payload(b) => out.push(Event::Data(Data::from(b))),
                        Step::End => {
                            if self.fin {
                                self.started = false;
                                out.push(Event::MessageEnd(Head::None));
                            }
                        }
                    }
                }
                self.steps = steps;
            }
            Event::StreamEnd(e) => {
                self.decoder = Decoder::new();
                self.started = false;
                out.push(Event::StreamEnd(e));
            }
            _ => {}
        }
    }
}

/// Template of `encodeWebSocket`.
pub struct EncodeTemplate;

impl FilterTemplate for EncodeTemplate {
    fn name(&self) -> &'static str {
        "encodeWebSocket"
    }
    fn create(&self) -> Box<dyn Filter> {
        Box::new(Encode {
            in_message: false,
            opcode: 1,
            masked: false,
            continuation: false,
            buffer: Data::new(),
        })
    }
}

struct Encode {
    in_message: bool,
    opcode: u8,
    masked: bool,
    continuation: bool,
    buffer: Data,
}

thread_local! {
    static RNG: Cell<u64> = Cell::new({
        use std::hash::{BuildHasher, Hasher};
        std::collections::hash_map::RandomState::new().build_hasher().finish() | 1
    });
}

/// A fresh masking key (xorshift64*, seeded at random per thread).
fn mask_key() -> [u8; 4] {
    RNG.with(|r| {
        let mut x = r.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        r.set(x);
        let v = x.wrapping_mul(0x2545_f491_4f6c_dd1d);
        ((v >> 32) as u32).to_be_bytes()
    })
}

/// `opcode` and `masked` of a head a script gave (defaults 1 and false).
fn head_fields(h: &Head) -> (u8, bool) {
    let Head::Script(s) = h else {
        return (1, false);
    };
    let v = convert::script_value(s);
    let Some(o) = v.as_object() else {
        return (1, false);
    };
    js(|ctx| {
        let op = o.get(js_string!("opcode"), ctx).ok();
        let op = op
            .filter(|v| !v.is_null_or_undefined())
            .and_then(|v| v.to_number(ctx).ok())
            .map(|n| n as i64 as u8)
            .unwrap_or(1);
        let masked = o
            .get(js_string!("masked"), ctx)
            .map(|v| v.to_boolean())
            .unwrap_or(false);
        (op, masked)
    })
}

impl Encode {
    fn frame(&mut self, payload: Data, fin: bool, out: &mut Output<'_>) {
        let opcode = if self.continuation { 0 } else { self.opcode };
        self.continuation = true;
        let mask = self.masked.then(mask_key);
        let mut frame = Data::from(Bytes::from(encode_head(
            fin,
            opcode,
            mask,
            payload.len() as u64,
        )));
        match mask {
            Some(k) => {
                let mut b = BytesMut::from(&payload.to_bytes()[..]);
                apply_mask(&mut b, k, 0);
                frame.push_bytes(b.freeze());
            }
            None => frame.push(payload),
        }
        out.push(Event::Data(frame));
    }
}

impl Filter for Encode {
    fn process(&mut self, evt: Event, out: &mut Output<'_>) {
        match evt {
            Event::MessageStart(h) => {
                if !self.in_message {
                    (self.opcode, self.masked) = head_fields(&h);
                    self.in_message = true;
                    self.continuation = false;
                    self.buffer = Data::new();
                    out.push(Event::MessageStart(h));
                }
            }
            Event::Data(d) => {
                self.buffer.push(d);
                while self.buffer.len() >= FRAGMENT_SIZE {
                    let piece = self.buffer.shift(FRAGMENT_SIZE);
                    self.frame(piece, false, out);
                }
            }
            Event::MessageEnd(t) => {
                if self.in_message {
                    let rest = std::mem::take(&mut self.buffer);
                    self.frame(rest, true, out);
                    self.in_message = false;
                    out.push(Event::MessageEnd(t));
                }
            }
            Event::StreamEnd(e) => out.push(Event::StreamEnd(e)),
        }
    }
}
