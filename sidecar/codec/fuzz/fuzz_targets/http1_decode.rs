//! Arbitrary bytes into the HTTP/1 request and response decoders.
//!
//! The first input byte chooses where the rest is split in two `decode` calls (and
//! whether the response decoder expects an answer to `HEAD`). Whatever the bytes,
//! decoding must not panic, events must come in order, and the body bytes emitted
//! can never exceed the bytes given, nor can the sizes the tails report. A
//! request decoder that holds bytes after `Upgrade` and `CONNECT` requests resumes
//! HTTP at the end; a response decoder told of a `CONNECT` may become a tunnel.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pipy_codec::http1::Decoder;
use pipy_core::{Data, Event, Head};

fuzz_target!(|input: &[u8]| {
    let Some((&ctl, bytes)) = input.split_first() else {
        return;
    };
    let at = usize::from(ctl) * bytes.len() / 255;
    let (a, b) = bytes.split_at(at);

    let mut response = Decoder::response();
    response.expect_response(ctl & 1 == 1);
    response.expect_response(false);
    // The answer to a CONNECT: a 2xx makes the rest tunnel data.
    let mut connect = Decoder::response();
    connect.expect_response_to("CONNECT");
    let mut small = Decoder::request();
    small.set_max_head_size(usize::from(ctl) + 16);
    let mut holding = Decoder::request();
    holding.hold_after_upgrade(true);

    for mut decoder in [Decoder::request(), response, small, holding, connect] {
        let mut check = Check::default();
        let mut result = decoder.decode(Data::from(a.to_vec()), &mut |e| check.event(e));
        if result.is_ok() {
            result = decoder.resume(&mut |e| check.event(e));
        }
        if result.is_ok() {
            result = decoder.decode(Data::from(b.to_vec()), &mut |e| check.event(e));
        }
        if result.is_ok() {
            result = decoder.resume(&mut |e| check.event(e));
        }
        if result.is_ok() {
            result = decoder.eof(&mut |e| check.event(e));
        }
        if let Err(e) = result {
            assert!(matches!(e.status(), 400 | 431 | 501));
            // A failed decoder stays failed.
            assert_eq!(decoder.decode(Data::from("GET / HTTP/1.1\r\n\r\n"), &mut |_| {}), Err(e));
        }
        assert!(check.body <= bytes.len(), "{} body bytes from {} input bytes", check.body, bytes.len());
        assert!(check.wire <= bytes.len() as u64, "tails report {} bytes of {}", check.wire, bytes.len());
    }
});

#[derive(Default)]
struct Check {
    body: usize,
    /// Head and body sizes the tails report, summed.
    wire: u64,
    in_message: bool,
}

impl Check {
    fn event(&mut self, e: Event) {
        match e {
            Event::MessageStart(_) => {
                assert!(!self.in_message, "MessageStart inside a message");
                self.in_message = true;
            }
            Event::MessageEnd(tail) => {
                assert!(self.in_message, "MessageEnd outside a message");
                self.in_message = false;
                let Head::Tail(t) = tail else { panic!("a decoded message ends with its tail") };
                self.wire += t.head_size + t.body_size;
            }
            Event::Data(d) => {
                assert!(!d.is_empty(), "empty Data event");
                self.body += d.len();
            }
            Event::StreamEnd(_) => panic!("decoders emit no StreamEnd"),
        }
    }
}
