//! Malformed and ambiguous input (RFC 9112 §6.3, request smuggling): each case
//! must fail with the right error and status, in any split of the input.

use super::*;

/// Decodes a request in every split and checks the error and status.
fn rejects(input: &[u8], expected: DecodeError, status: u16) {
    let what = String::from_utf8_lossy(input);
    let (evs, r) = decode_requests(input);
    assert_eq!(r, Err(expected), "{what:?}");
    assert_eq!(expected.status(), status, "{what:?}");
    // Nothing of the faulty message was passed on as a complete message.
    assert!(!evs.contains(&Ev::End), "{what:?}: {evs:?}");
}

fn rejects_400(input: &str, expected: DecodeError) {
    rejects(input.as_bytes(), expected, 400);
}

#[test]
fn content_length_with_transfer_encoding_is_rejected() {
    use DecodeError::LengthAndTransferEncoding as E;
    rejects_400(
        "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        E,
    );
    rejects_400(
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n",
        E,
    );
    let mut d = Decoder::response();
    let (_, r) = feed(
        &mut d,
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        5,
        false,
    );
    assert_eq!(r, Err(E));
}

#[test]
fn content_length_must_be_one_plain_decimal() {
    use DecodeError::BadContentLength as E;
    for v in [
        "+5",
        "-1",
        "5 abc",
        "0x10",
        "",
        "1_000",
        "5;",
        "18446744073709551616",
        "3, 4",
        "3,",
    ] {
        rejects_400(
            &format!("POST / HTTP/1.1\r\nContent-Length: {v}\r\n\r\nabcd"),
            E,
        );
    }
    rejects_400(
        "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        E,
    );
    let mut d = Decoder::response();
    let (_, r) = feed(
        &mut d,
        b"HTTP/1.1 200 OK\r\nContent-Length: 1e3\r\n\r\n",
        100,
        false,
    );
    assert_eq!(r, Err(E));
}

#[test]
fn repeated_identical_content_lengths_are_accepted() {
    let input = b"POST / HTTP/1.1\r\nContent-Length: 3, 3\r\nContent-Length:3\r\n\r\nabcGET / HTTP/1.1\r\n\r\n";
    let (evs, r) = decode_requests(input);
    r.unwrap();
    assert_eq!(evs[1], body(b"abc"));
    assert_eq!(evs.len(), 5);
}

#[test]
fn transfer_encoding_must_end_in_chunked() {
    use DecodeError::{BadTransferEncoding as Bad, UnsupportedTransferEncoding as Unsupported};
    rejects_400("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", Bad);
    rejects_400(
        "POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n",
        Bad,
    );
    rejects_400(
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        Bad,
    );
    rejects_400(
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        Bad,
    );
    rejects_400(
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
        Bad,
    );
    rejects_400("POST / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n", Bad);
    rejects_400(
        "POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n",
        Bad,
    );
    rejects_400("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", Bad);
    rejects(
        b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        Unsupported,
        501,
    );
    rejects(
        b"POST / HTTP/1.1\r\nTransfer-Encoding: foo\r\nTransfer-Encoding: chunked\r\n\r\n",
        Unsupported,
        501,
    );
}

#[test]
fn bad_chunk_framing_is_rejected() {
    use DecodeError::BadChunk as E;
    let head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    for chunked in [
        "zz\r\n",
        "\r\n",
        ";ext\r\n",
        "0x5\r\nhello\r\n0\r\n\r\n",
        "-5\r\n",
        "5\nhello\r\n0\r\n\r\n",
        "5\r\nhello!\r\n0\r\n\r\n",
        "5\r\nhello\n0\r\n\r\n",
        "5;a\x01b\r\nhello\r\n",
        "5;a\nb\r\nhello\r\n",
        "5 6\r\nhello\r\n",
        "10000000000000000\r\n",
        "0\r\n bad: fold\r\n\r\n",
        "0\r\nX: a\rb\r\n\r\n",
        "0\r\n\n",
    ] {
        rejects_400(&format!("{head}{chunked}"), E);
    }
    // Sixteen hex digits are fine: the size just never arrives.
    let (_, r) = decode_requests(format!("{head}fffffffffffffff0\r\nabc").as_bytes());
    assert_eq!(r, Ok(()));
}

#[test]
fn endless_chunk_lines_and_trailers_are_bounded() {
    let head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    let mut d = Decoder::request();
    let long_ext = format!("{head}5;{}", "x".repeat(5000));
    assert_eq!(
        feed(&mut d, long_ext.as_bytes(), 1000, false).1,
        Err(DecodeError::BadChunk)
    );
    let mut d = Decoder::request();
    d.set_max_head_size(200);
    let long_trailer = format!("{head}0\r\nX: {}", "y".repeat(300));
    assert_eq!(
        feed(&mut d, long_trailer.as_bytes(), 1000, false).1,
        Err(DecodeError::BadChunk)
    );
}

#[test]
fn malformed_heads_are_rejected() {
    for (input, why) in [
        ("GET / HTTP/1.1\r\nHost : h\r\n\r\n", "invalid header name"),
        (
            "GET / HTTP/1.1\r\nHo\x01st: h\r\n\r\n",
            "invalid header name",
        ),
        ("GET / HTTP/1.1\r\n: h\r\n\r\n", "invalid header name"),
        (
            "GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n",
            "invalid header value",
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
            "invalid header value",
        ),
        (
            "GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
            "invalid header name",
        ),
        (
            "GET / HTTP/1.1\r\n folded: x\r\n\r\n",
            "invalid header name",
        ),
        ("GET  / HTTP/1.1\r\n\r\n", "invalid token"),
        ("GET /a b HTTP/1.1\r\n\r\n", "invalid HTTP version"),
        ("G@T / HTTP/1.1\r\n\r\n", "invalid token"),
        ("GET / HTTP/2.0\r\n\r\n", "invalid HTTP version"),
        ("GET / FOO/1.1\r\n\r\n", "invalid HTTP version"),
        ("GET /\r\n\r\n", "invalid token"),
    ] {
        let (_, r) = decode_requests(input.as_bytes());
        assert_eq!(r, Err(DecodeError::MalformedHead(why)), "{input:?}");
        assert_eq!(r.unwrap_err().status(), 400);
        assert_eq!(r.unwrap_err().reason(), why);
    }
}

#[test]
fn missing_host_is_accepted() {
    let (evs, r) = decode_requests(b"GET / HTTP/1.1\r\n\r\n");
    r.unwrap();
    assert_eq!(evs, [Ev::Req(req("GET", "/", &[])), Ev::End]);
}

#[test]
fn malformed_status_lines_are_rejected() {
    for input in [
        "HTTP/1.1 abc OK\r\n\r\n",
        "HTTP/1.1 099 Low\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/3 200 OK\r\n\r\n",
    ] {
        let (_, r) = decode_any_split(Decoder::response, input.as_bytes(), false);
        assert!(
            matches!(r, Err(DecodeError::MalformedHead(_))),
            "{input:?}: {r:?}"
        );
    }
    let (_, r) = decode_any_split(
        Decoder::response,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        false,
    );
    assert_eq!(r, Err(DecodeError::UnsupportedTransferEncoding));
}

#[test]
fn a_failed_decoder_stays_failed() {
    let mut d = Decoder::request();
    let mut events = Vec::new();
    let bad = "GET / HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: x\r\n\r\n";
    assert_eq!(
        d.decode(Data::from(bad), &mut |e| events.push(e)),
        Err(DecodeError::BadContentLength)
    );
    // The good request before the bad one was delivered.
    assert_eq!(to_evs(events), [Ev::Req(req("GET", "/", &[])), Ev::End]);
    for _ in 0..2 {
        let mut more = Vec::new();
        let r = d.decode(Data::from("GET / HTTP/1.1\r\n\r\n"), &mut |e| more.push(e));
        assert_eq!(r, Err(DecodeError::BadContentLength));
        assert!(more.is_empty());
    }
    assert_eq!(d.eof(&mut |_| {}), Err(DecodeError::BadContentLength));
}

#[test]
fn too_many_fields_for_the_size_limit_is_too_large_in_any_split() {
    let mut input = b"GET / HTTP/1.1\r\n".to_vec();
    for _ in 0..100 {
        input.extend_from_slice(b"A: b\r\n");
    }
    input.extend_from_slice(b"\r\n");
    for size in [1, 50, 300, input.len()] {
        let mut d = Decoder::request();
        d.set_max_head_size(300);
        assert_eq!(
            feed(&mut d, &input, size, false).1,
            Err(DecodeError::HeadTooLarge),
            "pieces of {size}"
        );
    }
}
