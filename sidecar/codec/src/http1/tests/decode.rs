//! Decoding valid messages: framing, splits, zero-copy bodies.

use super::*;
use crate::http1::{expects_continue, wants_close};
use pipy_core::{HeaderMap, Version};

#[test]
fn get_request_has_head_and_no_body() {
    let (evs, r) =
        decode_requests(b"GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nX-Id:  42 \r\n\r\n");
    r.unwrap();
    assert_eq!(
        evs,
        [
            Ev::Req(req(
                "GET",
                "/a?b=1",
                &[("Host", "example.com"), ("X-Id", "42")]
            )),
            Ev::End
        ]
    );
}

#[test]
fn pipelined_requests_in_one_buffer() {
    let input = b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\n\
        POST /2 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello\
        PUT /3 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n\
        DELETE /4 HTTP/1.1\r\n\r\n";
    let (evs, r) = decode_requests(input);
    r.unwrap();
    assert_eq!(
        evs,
        [
            Ev::Req(req("GET", "/1", &[("Host", "h")])),
            Ev::End,
            Ev::Req(req("POST", "/2", &[("Content-Length", "5")])),
            body(b"hello"),
            Ev::End,
            Ev::Req(req("PUT", "/3", &[("Transfer-Encoding", "chunked")])),
            body(b"abc"),
            Ev::End,
            Ev::Req(req("DELETE", "/4", &[])),
            Ev::End,
        ]
    );
}

#[test]
fn chunked_with_extensions_and_trailers() {
    let input = b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
        5;name=value;quoted=\"a b\"\r\nhello\r\n\
        1A \t; ext\r\nabcdefghijklmnopqrstuvwxyz\r\n\
        0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n\
        GET /next HTTP/1.1\r\n\r\n";
    let (evs, r) = decode_requests(input);
    r.unwrap();
    assert_eq!(
        evs,
        [
            Ev::Req(req("POST", "/c", &[("Transfer-Encoding", "chunked")])),
            body(b"helloabcdefghijklmnopqrstuvwxyz"),
            Ev::End,
            Ev::Req(req("GET", "/next", &[])),
            Ev::End,
        ]
    );
}

#[test]
fn transfer_encoding_is_case_insensitive_and_may_be_a_list_with_empty_items() {
    let (evs, r) = decode_requests(
        b"POST / HTTP/1.1\r\nTransfer-Encoding: , CHUNKED\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    );
    r.unwrap();
    assert_eq!(evs[1], body(b"ok"));
    assert_eq!(evs[2], Ev::End);
}

#[test]
fn empty_lines_before_a_request_are_ignored() {
    let (evs, r) = decode_requests(b"\r\n\r\nGET / HTTP/1.1\r\n\r\n\r\nGET /b HTTP/1.1\n\n");
    r.unwrap();
    assert_eq!(
        evs,
        [
            Ev::Req(req("GET", "/", &[])),
            Ev::End,
            Ev::Req(req("GET", "/b", &[])),
            Ev::End
        ]
    );
}

#[test]
fn head_fields_are_slices_of_the_input_chunk() {
    let input = Bytes::from_static(b"GET / HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n");
    let mut events = Vec::new();
    Decoder::request()
        .decode(input.clone().into(), &mut |e| events.push(e))
        .unwrap();
    let Event::MessageStart(Head::Request(h)) = &events[0] else {
        panic!("{events:?}")
    };
    let fields: Vec<_> = h.headers.iter().collect();
    assert_eq!(fields.len(), 2);
    for (n, v) in fields {
        assert!(is_slice_of(n, &input) && is_slice_of(v, &input));
    }
    assert_eq!(h.headers.get("accept").map(|v| &v[..]), Some(&b"*/*"[..]));
}

#[test]
fn large_content_length_body_is_passed_on_without_copies() {
    const LEN: usize = 4 << 20;
    let mut dec = Decoder::request();
    let mut events = Vec::new();
    let head = format!("POST /big HTTP/1.1\r\nContent-Length: {LEN}\r\n\r\n");
    let first = Bytes::from([head.as_bytes(), &[7u8; 1000]].concat());
    dec.decode(first.clone().into(), &mut |e| events.push(e))
        .unwrap();
    let mut inputs = vec![first.slice(head.len()..)];
    let mut sent = 1000;
    while sent < LEN {
        let n = (64 << 10).min(LEN - sent);
        let chunk = Bytes::from(vec![(sent % 251) as u8; n]);
        inputs.push(chunk.clone());
        dec.decode(chunk.into(), &mut |e| events.push(e)).unwrap();
        sent += n;
    }
    assert!(matches!(
        events.first(),
        Some(Event::MessageStart(Head::Request(_)))
    ));
    assert!(matches!(
        events.last(),
        Some(Event::MessageEnd(Head::Tail(_)))
    ));
    let bodies: Vec<&Data> = events
        .iter()
        .filter_map(|e| {
            if let Event::Data(d) = e {
                Some(d)
            } else {
                None
            }
        })
        .collect();
    // One Data per input buffer, each holding exactly that buffer's bytes.
    assert_eq!(bodies.len(), inputs.len());
    for (d, input) in bodies.iter().zip(&inputs) {
        let chunks: Vec<&Bytes> = d.chunks().collect();
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].as_ptr(), input.as_ptr());
        assert_eq!(chunks[0].len(), input.len());
    }
    assert_eq!(bodies.iter().map(|d| d.len()).sum::<usize>(), LEN);
    assert!(dec.is_idle());
}

#[test]
fn large_chunked_body_is_sliced_without_copies() {
    // Three 1 MiB chunks, delivered in one buffer, then pieces of 100 000 bytes.
    let mut wire = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    let mut expected = Vec::new();
    for i in 0..3u8 {
        let chunk = vec![b'a' + i; 1 << 20];
        wire.extend_from_slice(b"100000\r\n");
        wire.extend_from_slice(&chunk);
        wire.extend_from_slice(b"\r\n");
        expected.extend_from_slice(&chunk);
    }
    wire.extend_from_slice(b"0\r\n\r\n");
    for piece in [wire.len(), 100_000] {
        let mut dec = Decoder::request();
        let mut events = Vec::new();
        let inputs: Vec<Bytes> = wire.chunks(piece).map(Bytes::copy_from_slice).collect();
        for input in &inputs {
            dec.decode(input.clone().into(), &mut |e| events.push(e))
                .unwrap();
        }
        let mut got = Vec::new();
        for e in &events {
            if let Event::Data(d) = e {
                for c in d.chunks() {
                    assert!(
                        inputs.iter().any(|i| is_slice_of(c, i)),
                        "body bytes were copied"
                    );
                    got.extend_from_slice(c);
                }
            }
        }
        assert_eq!(got.len(), expected.len());
        assert!(got == expected);
        assert!(matches!(events.last(), Some(Event::MessageEnd(_))));
    }
}

#[test]
fn http10_requests_close_unless_keep_alive() {
    let (evs, r) =
        decode_requests(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\n");
    r.unwrap();
    let Ev::Req(a) = &evs[0] else { panic!() };
    let Ev::Req(b) = &evs[2] else { panic!() };
    assert_eq!((a.version, b.version), (Version::Http10, Version::Http10));
    assert!(!wants_close(a.version, &a.headers));
    assert!(wants_close(b.version, &b.headers));
}

#[test]
fn wants_close_reads_connection_token_lists() {
    let map = |vals: &[&'static str]| {
        let mut m = HeaderMap::new();
        for v in vals {
            m.append("connection", *v);
        }
        m
    };
    assert!(!wants_close(Version::Http11, &map(&[])));
    assert!(!wants_close(
        Version::Http11,
        &map(&["keep-alive, Upgrade"])
    ));
    assert!(wants_close(Version::Http11, &map(&["Upgrade , CLOSE"])));
    assert!(wants_close(Version::Http11, &map(&["upgrade", "close"])));
    assert!(!wants_close(Version::Http11, &map(&["closed"])));
    assert!(wants_close(Version::Http10, &map(&[])));
    assert!(!wants_close(Version::Http10, &map(&["te,keep-alive"])));
    assert!(wants_close(Version::Http10, &map(&["keep-alive", "close"])));
}

#[test]
fn expects_continue_needs_http11_and_the_token() {
    let mut h = req("PUT", "/", &[("Expect", "100-Continue")]);
    assert!(expects_continue(&h));
    h.version = Version::Http10;
    assert!(!expects_continue(&h));
    assert!(!expects_continue(&req("PUT", "/", &[])));
    assert!(!expects_continue(&req("PUT", "/", &[("Expect", "200-ok")])));
}

#[test]
fn responses_to_head_and_204_304_have_no_body() {
    let input = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n\
        HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n\
        HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n\
        HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let new = || {
        let mut d = Decoder::response();
        for is_head in [true, false, false, false] {
            d.expect_response(is_head);
        }
        d
    };
    let (evs, r) = decode_any_split(new, input, false);
    r.unwrap();
    assert_eq!(
        evs,
        [
            Ev::Res(res(200, "OK", &[("Content-Length", "10")])),
            Ev::End,
            Ev::Res(res(204, "No Content", &[("Content-Length", "3")])),
            Ev::End,
            Ev::Res(res(
                304,
                "Not Modified",
                &[("Transfer-Encoding", "chunked")]
            )),
            Ev::End,
            Ev::Res(res(200, "OK", &[("Content-Length", "2")])),
            body(b"ok"),
            Ev::End,
        ]
    );
}

#[test]
fn interim_responses_are_dropped_and_101_starts_a_tunnel() {
    let input = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n\
        HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx\
        HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x00raw";
    let (evs, r) = decode_any_split(Decoder::response, input, true);
    r.unwrap();
    assert_eq!(
        evs,
        [
            Ev::Res(res(200, "OK", &[("Content-Length", "1")])),
            body(b"x"),
            Ev::End,
            Ev::Res(res(101, "Switching Protocols", &[("Upgrade", "websocket")])),
            Ev::End,
            body(b"\x81\x00raw"),
        ]
    );
    let mut d = Decoder::response();
    d.decode(Data::from(input.to_vec()), &mut |_| {}).unwrap();
    assert!(d.is_tunnel());
}

#[test]
fn response_without_length_reads_until_close() {
    let input = b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\nall of this\r\n\r\nis body";
    let (evs, r) = decode_any_split(Decoder::response, input, true);
    r.unwrap();
    let mut head = res(200, "OK", &[("Server", "x")]);
    head.version = Version::Http10;
    assert_eq!(
        evs,
        [Ev::Res(head), body(b"all of this\r\n\r\nis body"), Ev::End]
    );
}

#[test]
fn response_transfer_codings_without_final_chunked_read_until_close() {
    for te in ["gzip", "chunked"] {
        let input =
            format!("HTTP/1.0 200 OK\r\nTransfer-Encoding: {te}\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
        let (evs, r) = decode_any_split(Decoder::response, input.as_bytes(), true);
        r.unwrap();
        assert_eq!(evs[1], body(b"3\r\nabc\r\n0\r\n\r\n"), "HTTP/1.0 {te}");
    }
    let (evs, r) = decode_any_split(
        Decoder::response,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzzz",
        true,
    );
    r.unwrap();
    assert_eq!(&evs[1..], [body(b"zzz"), Ev::End]);
}

#[test]
fn eof_inside_a_message_is_an_error_and_between_messages_is_not() {
    let cases: [(&[u8], Result<(), DecodeError>); 5] = [
        (b"GET / HTTP/1.1\r\n\r\n", Ok(())),
        (b"GET / HTTP/1.1\r\nHost:", Err(DecodeError::Incomplete)),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\nabc",
            Err(DecodeError::Incomplete),
        ),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
            Err(DecodeError::Incomplete),
        ),
        (b"\r\n", Ok(())),
    ];
    for (input, expected) in cases {
        let (_, r) = decode_any_split(Decoder::request, input, true);
        assert_eq!(r, expected, "{:?}", String::from_utf8_lossy(input));
    }
    let mut d = Decoder::request();
    d.eof(&mut |_| {}).unwrap();
    assert_eq!(
        d.decode(Data::from("GET"), &mut |_| {}),
        Err(DecodeError::AfterEof)
    );
}

#[test]
fn many_header_fields_fall_back_to_a_heap_buffer() {
    let mut input = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..300 {
        input.extend_from_slice(format!("X-{i}: {i}\r\n").as_bytes());
    }
    input.extend_from_slice(b"\r\n");
    let (evs, r) = decode_requests(&input);
    r.unwrap();
    let Ev::Req(h) = &evs[0] else { panic!() };
    assert_eq!(h.headers.len(), 300);
    assert_eq!(h.headers.get_str("x-299"), Some("299"));
}

#[test]
fn head_size_limit_is_exact() {
    let input = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n";
    for (limit, expected) in [
        (input.len(), Ok(())),
        (input.len() - 1, Err(DecodeError::HeadTooLarge)),
    ] {
        for size in 1..=input.len() {
            let mut d = Decoder::request();
            d.set_max_head_size(limit);
            let (_, r) = feed(&mut d, input, size, false);
            assert_eq!(r, expected, "limit {limit}, pieces of {size}");
        }
    }
    // A head larger than the limit fails before its end arrives.
    let mut d = Decoder::request();
    d.set_max_head_size(100);
    let (_, r) = feed(&mut d, &[b'a'; 101], 7, false);
    assert_eq!(r, Err(DecodeError::HeadTooLarge));
    assert_eq!(DecodeError::HeadTooLarge.status(), 431);
}

#[test]
fn start_tunnel_after_connect_passes_bytes_through() {
    let mut d = Decoder::request();
    let mut events = Vec::new();
    let r = d.decode(
        Data::from("CONNECT example.com:443 HTTP/1.1\r\n\r\n\x16\x03"),
        &mut |e| events.push(e),
    );
    assert_eq!(r.map_err(|e| e.status()), Err(400));
    assert_eq!(
        to_evs(events),
        [Ev::Req(req("CONNECT", "example.com:443", &[])), Ev::End]
    );
    // Bytes after CONNECT are only tunnel data once the caller says so.
    let mut d = Decoder::request();
    let mut events = Vec::new();
    d.decode(
        Data::from("CONNECT example.com:443 HTTP/1.1\r\n\r\n"),
        &mut |e| events.push(e),
    )
    .unwrap();
    d.start_tunnel(&mut |e| events.push(e));
    d.decode(Data::from("\x16\x03\x01 anything\r\n\r\n"), &mut |e| {
        events.push(e)
    })
    .unwrap();
    d.eof(&mut |e| events.push(e)).unwrap();
    assert_eq!(
        to_evs(events),
        [
            Ev::Req(req("CONNECT", "example.com:443", &[])),
            Ev::End,
            body(b"\x16\x03\x01 anything\r\n\r\n")
        ]
    );
}

#[test]
fn reset_makes_a_failed_decoder_usable_again() {
    let mut d = Decoder::request();
    assert!(d
        .decode(Data::from("BAD LINE\r\n\r\n"), &mut |_| {})
        .is_err());
    d.reset();
    let (evs, r) = feed(&mut d, b"GET / HTTP/1.1\r\n\r\n", 100, true);
    r.unwrap();
    assert_eq!(evs, [Ev::Req(req("GET", "/", &[])), Ev::End]);
}
