//! Encode then decode gives the same messages back; mangled input never panics.

use super::*;
use pipy_core::Version;

/// Encodes the messages, decodes the bytes in pieces of `piece` bytes, and returns
/// what came out.
fn round_trip(enc: &mut Encoder, dec: &mut Decoder, events: Vec<Event>, piece: usize) -> Vec<Ev> {
    let wire: Vec<u8> = encode(enc, events).concat();
    let (evs, r) = feed(dec, &wire, piece, true);
    r.unwrap();
    normalized(evs)
}

/// Heads compared by meaning: names in lower case (the encoder writes its own
/// framing fields in lower case, as upstream), without the `connection` field it
/// adds to every message.
fn normalized(evs: Vec<Ev>) -> Vec<Ev> {
    let fix = |h: &pipy_core::HeaderMap| {
        let mut out = pipy_core::HeaderMap::new();
        for (n, v) in h.iter() {
            if !n.eq_ignore_ascii_case(b"connection") {
                out.append(Bytes::from(n.to_ascii_lowercase()), v.clone());
            }
        }
        out
    };
    evs.into_iter()
        .map(|e| match e {
            Ev::Req(mut h) => {
                h.headers = fix(&h.headers);
                Ev::Req(h)
            }
            Ev::Res(mut h) => {
                h.headers = fix(&h.headers);
                Ev::Res(h)
            }
            e => e,
        })
        .collect()
}

/// The messages as the decoder should give them back: framing fields dropped, then
/// the given extra fields appended.
fn without_framing(h: &pipy_core::HeaderMap, extra: &[(&str, String)]) -> pipy_core::HeaderMap {
    let mut out = h.clone();
    out.remove("content-length");
    out.remove("transfer-encoding");
    for (n, v) in extra {
        out.append(n.to_string(), v.clone());
    }
    out
}

#[test]
fn requests_round_trip_with_length_or_chunked() {
    let big = vec![b'q'; 50_000];
    let messages: Vec<(RequestHead, Vec<u8>, &str, String)> = vec![
        (
            req("GET", "/a?x=1", &[("Host", "h"), ("Accept", "*/*")]),
            vec![],
            "",
            String::new(),
        ),
        (
            req("POST", "/b", &[("Content-Type", "text/plain")]),
            b"hello".to_vec(),
            "Content-Length",
            "5".into(),
        ),
        (
            req("PUT", "/c", &[("Transfer-Encoding", "chunked")]),
            big.clone(),
            "Transfer-Encoding",
            "chunked".into(),
        ),
        (
            req("OPTIONS", "*", &[]),
            vec![],
            "Content-Length",
            "0".into(),
        ),
    ];
    let mut events = Vec::new();
    let mut expected = Vec::new();
    for (head, body_bytes, framing_name, framing_value) in &messages {
        events.push(start_req(head.clone()));
        for piece in body_bytes.chunks(7000) {
            events.push(data(piece));
        }
        events.push(end());
        let mut h = head.clone();
        let extra: Vec<(&str, String)> = if framing_name.is_empty() {
            vec![]
        } else {
            vec![(*framing_name, framing_value.clone())]
        };
        h.headers = without_framing(&head.headers, &extra);
        expected.push(Ev::Req(h));
        if !body_bytes.is_empty() {
            expected.push(body(body_bytes));
        }
        expected.push(Ev::End);
    }
    for piece in [1, 13, 4096, 1 << 20] {
        let evs = round_trip(
            &mut Encoder::request(),
            &mut Decoder::request(),
            events.clone(),
            piece,
        );
        assert_eq!(evs, normalized(expected.clone()), "pieces of {piece}");
    }
}

#[test]
fn responses_round_trip_including_head_and_until_close() {
    let mut enc = Encoder::response();
    let mut dec = Decoder::response();
    for is_head in [false, true, false] {
        enc.expect_head_response(is_head);
        dec.expect_response(is_head);
    }
    let mut http10 = res(200, "", &[("Server", "s")]);
    http10.version = Version::Http10;
    enc.set_buffer_size(8);
    let events = vec![
        start_res(res(201, "Made", &[("Location", "/x")])),
        data(b"tiny"),
        end(),
        start_res(res(200, "", &[("Content-Length", "1234")])),
        end(),
        start_res(http10.clone()),
        data(b"0123456789"),
        data(b"abcdef"),
        end(),
    ];
    let evs = round_trip(&mut enc, &mut dec, events, 3);
    assert!(enc.must_close());
    let mut ok = res(200, "OK", &[("Server", "s"), ("connection", "close")]);
    ok.version = Version::Http10;
    assert_eq!(
        evs,
        normalized(vec![
            Ev::Res(res(
                201,
                "Made",
                &[("Location", "/x"), ("Content-Length", "4")]
            )),
            body(b"tiny"),
            Ev::End,
            Ev::Res(res(200, "OK", &[("Content-Length", "1234")])),
            Ev::End,
            Ev::Res(ok),
            body(b"0123456789abcdef"),
            Ev::End,
        ])
    );
}

#[test]
fn decoded_events_re_encode_to_the_same_bytes() {
    let wire = b"POST /p HTTP/1.1\r\nHost: h\r\ncontent-length: 3\r\nconnection: keep-alive\r\n\r\nabcGET /g HTTP/1.1\r\nHost: h\r\nconnection: keep-alive\r\n\r\n";
    let mut events = Vec::new();
    Decoder::request()
        .decode(Data::from(wire.to_vec()), &mut |e| events.push(e))
        .unwrap();
    assert_eq!(encode(&mut Encoder::request(), events).concat(), wire);
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Feeds `input` split at random places and returns the body bytes emitted.
fn body_bytes(mut dec: Decoder, input: &[u8], rng: &mut Rng) -> usize {
    let mut total = 0;
    let mut rest = input;
    while !rest.is_empty() {
        let n = 1 + rng.below(rest.len());
        let (piece, tail) = rest.split_at(n);
        rest = tail;
        let r = dec.decode(Data::from(piece.to_vec()), &mut |e| {
            if let Event::Data(d) = e {
                total += d.len();
            }
        });
        if r.is_err() {
            return total;
        }
    }
    let _ = dec.eof(&mut |_| {});
    total
}

#[test]
fn mangled_messages_never_panic_nor_invent_bytes() {
    let seeds: [&[u8]; 4] = [
        b"POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: 4\r\n\r\nbodyGET /2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No\r\n\r\n",
        b"HTTP/1.1 101 Switching\r\nUpgrade: x\r\n\r\nHTTP/1.0 200 OK\r\n\r\nrest",
    ];
    let alphabet =
        b"\r\n :;,0123456789abcdefABCDEF\t\x00\x7f\xffGETPOSTHTTP/1.chunkedContent-Length";
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..3000 {
        let mut input = seeds[rng.below(seeds.len())].to_vec();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(input.len() + 1);
            match rng.below(3) {
                0 if at < input.len() => input[at] = alphabet[rng.below(alphabet.len())],
                1 if at < input.len() => {
                    input.remove(at);
                }
                _ => input.insert(at, alphabet[rng.below(alphabet.len())]),
            }
        }
        let mut dec = Decoder::response();
        dec.set_max_head_size(64);
        for dec in [Decoder::request(), Decoder::response(), dec] {
            assert!(body_bytes(dec, &input, &mut rng) <= input.len());
        }
    }
}
