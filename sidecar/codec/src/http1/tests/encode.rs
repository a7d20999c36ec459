//! Encoding: framing choices, head writing, and what the bytes look like.

use super::*;
use pipy_core::{StreamError, Version};

fn text(pushes: &[Vec<u8>]) -> Vec<String> {
    pushes
        .iter()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect()
}

#[test]
fn small_response_goes_out_in_one_push_with_its_length() {
    let mut enc = Encoder::response();
    let a = Bytes::from_static(b"hello ");
    let b = Bytes::from_static(b"world");
    let mut pushed = Vec::new();
    let events = [
        start_res(res(
            200,
            "",
            &[
                ("Content-Length", "999"),
                ("Transfer-Encoding", "chunked"),
                ("X", "y"),
            ],
        )),
        Event::Data(a.clone().into()),
        Event::Data(b.clone().into()),
        end(),
    ];
    for e in events {
        enc.encode(e, &mut |d| pushed.push(d));
    }
    assert_eq!(pushed.len(), 1);
    assert_eq!(
        pushed[0].to_vec(),
        b"HTTP/1.1 200 OK\r\nX: y\r\ncontent-length: 11\r\nconnection: keep-alive\r\n\r\nhello world"
    );
    // The body chunks are the ones given, behind the head: not copied.
    let chunks: Vec<&Bytes> = pushed[0].chunks().collect();
    assert_eq!(chunks.len(), 3);
    assert_eq!(
        (chunks[1].as_ptr(), chunks[2].as_ptr()),
        (a.as_ptr(), b.as_ptr())
    );
    assert!(!enc.must_close());
}

#[test]
fn reason_phrases() {
    let cases = [
        (res(404, "", &[]), "HTTP/1.1 404 Not Found\r\n"),
        (res(200, "Fine", &[]), "HTTP/1.1 200 Fine\r\n"),
        (res(299, "", &[]), "HTTP/1.1 299 OK\r\n"),
        (res(599, "", &[]), "HTTP/1.1 599 Server Error\r\n"),
        (
            res(500, "Bad\r\nX: injected", &[]),
            "HTTP/1.1 500 Internal Server Error\r\n",
        ),
    ];
    for (head, line) in cases {
        let out = encode(&mut Encoder::response(), vec![start_res(head), end()]);
        assert!(text(&out)[0].starts_with(line), "{out:?}");
    }
}

#[test]
fn request_content_length_depends_on_method_when_the_body_is_empty() {
    for (method, expected) in [
        (
            "GET",
            "GET /x HTTP/1.1\r\nHost: h\r\nconnection: keep-alive\r\n\r\n",
        ),
        (
            "HEAD",
            "HEAD /x HTTP/1.1\r\nHost: h\r\nconnection: keep-alive\r\n\r\n",
        ),
        (
            "POST",
            "POST /x HTTP/1.1\r\nHost: h\r\ncontent-length: 0\r\nconnection: keep-alive\r\n\r\n",
        ),
        (
            "DELETE",
            "DELETE /x HTTP/1.1\r\nHost: h\r\ncontent-length: 0\r\nconnection: keep-alive\r\n\r\n",
        ),
    ] {
        let head = req(method, "/x", &[("Host", "h"), ("Content-Length", "0")]);
        let out = encode(&mut Encoder::request(), vec![start_req(head), end()]);
        assert_eq!(text(&out), [expected]);
    }
    let out = encode(
        &mut Encoder::request(),
        vec![start_req(req("GET", "/", &[])), data(b"q"), end()],
    );
    assert_eq!(
        text(&out),
        ["GET / HTTP/1.1\r\ncontent-length: 1\r\nconnection: keep-alive\r\n\r\nq"]
    );
}

#[test]
fn requests_are_always_http11() {
    let mut head = req("GET", "/", &[]);
    head.version = Version::Http10;
    let out = encode(&mut Encoder::request(), vec![start_req(head), end()]);
    assert_eq!(
        text(&out),
        ["GET / HTTP/1.1\r\nconnection: keep-alive\r\n\r\n"]
    );
}

#[test]
fn long_body_with_given_length_streams_with_that_length() {
    let mut enc = Encoder::response();
    enc.set_buffer_size(4);
    let out = encode(
        &mut enc,
        vec![
            start_res(res(200, "", &[("content-length", "10")])),
            data(b"abc"),
            data(b"defg"),
            data(b"hijklm"),
            end(),
        ],
    );
    assert_eq!(
        text(&out),
        [
            "HTTP/1.1 200 OK\r\ncontent-length: 10\r\nconnection: keep-alive\r\n\r\nabcdefg",
            "hij"
        ]
    );
    assert!(!enc.must_close());
    // Ending short of the announced length leaves the connection unusable.
    let out = encode(
        &mut enc,
        vec![
            start_res(res(200, "", &[("Content-Length", "10")])),
            data(b"12345"),
            end(),
        ],
    );
    assert_eq!(
        text(&out),
        ["HTTP/1.1 200 OK\r\ncontent-length: 10\r\nconnection: keep-alive\r\n\r\n12345"]
    );
    assert!(enc.must_close());
}

#[test]
fn long_body_without_length_is_chunked() {
    let mut enc = Encoder::request();
    enc.set_buffer_size(4);
    let big = vec![b'z'; 300];
    let out = encode(
        &mut enc,
        vec![
            start_req(req("PUT", "/u", &[("Content-Length", "oops")])),
            data(b"abc"),
            data(b"de"),
            data(&big),
            end(),
        ],
    );
    assert_eq!(
        text(&out),
        [
            "PUT /u HTTP/1.1\r\ntransfer-encoding: chunked\r\nconnection: keep-alive\r\n\r\n5\r\nabcde\r\n".to_string(),
            format!("12c\r\n{}\r\n", "z".repeat(300)),
            "0\r\n\r\n".to_string(),
        ]
    );
    assert!(!enc.must_close());
}

#[test]
fn long_http10_response_is_delimited_by_close() {
    let mut enc = Encoder::response();
    enc.set_buffer_size(2);
    let mut head = res(200, "", &[("Connection", "keep-alive")]);
    head.version = Version::Http10;
    let out = encode(
        &mut enc,
        vec![start_res(head), data(b"abc"), data(b"def"), end()],
    );
    assert_eq!(
        text(&out),
        [
            // The close ends the body, whatever the head asked.
            "HTTP/1.0 200 OK\r\nconnection: close\r\n\r\nabc",
            "def"
        ]
    );
    assert!(enc.must_close());
    // Within the buffer, an HTTP/1.0 response gets a length and may stay open.
    let mut enc = Encoder::response();
    let mut head = res(200, "", &[]);
    head.version = Version::Http10;
    let out = encode(&mut enc, vec![start_res(head), data(b"abc"), end()]);
    assert_eq!(
        text(&out),
        ["HTTP/1.0 200 OK\r\ncontent-length: 3\r\nconnection: keep-alive\r\n\r\nabc"]
    );
    assert!(!enc.must_close());
}

#[test]
fn bodiless_responses() {
    let mut enc = Encoder::response();
    enc.expect_head_response(true);
    enc.expect_head_response(false);
    enc.expect_head_response(false);
    let framing = [("Content-Length", "42"), ("Transfer-Encoding", "chunked")];
    let out = encode(
        &mut enc,
        vec![
            start_res(res(100, "", &[])),
            end(),
            start_res(res(200, "", &framing)),
            data(b"dropped"),
            end(),
            start_res(res(204, "", &framing)),
            data(b"dropped"),
            end(),
            start_res(res(304, "", &framing)),
            end(),
        ],
    );
    assert_eq!(
        text(&out),
        [
            "HTTP/1.1 100 Continue\r\nconnection: keep-alive\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 42\r\nconnection: keep-alive\r\n\r\n",
            "HTTP/1.1 204 No Content\r\nconnection: keep-alive\r\n\r\n",
            "HTTP/1.1 304 Not Modified\r\nconnection: keep-alive\r\n\r\n",
        ]
    );
}

#[test]
fn head_responses_without_a_length_get_the_measured_one() {
    let mut enc = Encoder::response();
    enc.expect_head_response(true);
    enc.expect_head_response(false);
    let out = encode(
        &mut enc,
        vec![
            start_res(res(200, "", &[])),
            data(b"twelve bytes"),
            end(),
            start_res(res(200, "", &[])),
            data(b"after"),
            end(),
        ],
    );
    assert_eq!(
        text(&out),
        [
            "HTTP/1.1 200 OK\r\ncontent-length: 12\r\nconnection: keep-alive\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: keep-alive\r\n\r\nafter",
        ]
    );
}

#[test]
fn unsafe_head_content_cannot_inject_bytes() {
    let head = req(
        "GET",
        "/a b\r\nX: 1/é",
        &[
            ("Good", "1"),
            ("Bad Name", "x"),
            ("Evil", "a\r\nInjected: 1"),
            ("", "v"),
            ("Nul", "a\0b"),
            ("Tab", "a\tb"),
        ],
    );
    let out = encode(&mut Encoder::request(), vec![start_req(head), end()]);
    assert_eq!(
        text(&out),
        ["GET /a%20b%0D%0AX:%201/%C3%A9 HTTP/1.1\r\nGood: 1\r\nTab: a\tb\r\nconnection: keep-alive\r\n\r\n"]
    );
    let out = encode(
        &mut Encoder::request(),
        vec![start_req(req("GE T", "", &[])), end()],
    );
    assert_eq!(
        text(&out),
        ["GET / HTTP/1.1\r\nconnection: keep-alive\r\n\r\n"]
    );
}

#[test]
fn heads_of_the_wrong_kind_become_defaults() {
    let out = encode(
        &mut Encoder::request(),
        vec![Event::MessageStart(Head::None), data(b"x"), end()],
    );
    assert_eq!(
        text(&out),
        ["GET / HTTP/1.1\r\ncontent-length: 1\r\nconnection: keep-alive\r\n\r\nx"]
    );
    let out = encode(
        &mut Encoder::response(),
        vec![start_req(req("PUT", "/", &[])), end()],
    );
    assert_eq!(
        text(&out),
        ["HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: keep-alive\r\n\r\n"]
    );
}

#[test]
fn data_outside_messages_passes_through_and_stream_end_flushes_what_was_held() {
    let mut enc = Encoder::response();
    let out = encode(
        &mut enc,
        vec![
            start_res(res(101, "", &[("Upgrade", "websocket")])),
            end(),
            data(b"\x81\x05hello"),
            Event::StreamEnd(StreamError::NoError),
        ],
    );
    assert_eq!(
        out,
        [
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nconnection: keep-alive\r\n\r\n".to_vec(),
            b"\x81\x05hello".to_vec()
        ]
    );
    let mut enc = Encoder::request();
    enc.set_buffer_size(1);
    let out = encode(
        &mut enc,
        vec![
            start_req(req("POST", "/", &[])),
            data(b"ab"),
            Event::StreamEnd(StreamError::ReadError),
        ],
    );
    assert_eq!(
        text(&out),
        ["POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\nconnection: keep-alive\r\n\r\n2\r\nab\r\n"]
    );
    // A body cut short while held back: the head goes out with the framing a
    // long body would get, then what came, and the message stays unfinished.
    let mut enc = Encoder::request();
    let out = encode(
        &mut enc,
        vec![
            start_req(req("POST", "/", &[])),
            data(b"ab"),
            Event::StreamEnd(StreamError::ReadError),
        ],
    );
    assert_eq!(
        text(&out),
        ["POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\nconnection: keep-alive\r\n\r\n2\r\nab\r\n"]
    );
    assert!(enc.must_close());
    let mut enc = Encoder::response();
    let out = encode(
        &mut enc,
        vec![
            start_res(res(200, "", &[("Content-Length", "10")])),
            data(b"abc"),
            Event::StreamEnd(StreamError::ConnectionReset),
        ],
    );
    assert_eq!(
        text(&out),
        ["HTTP/1.1 200 OK\r\ncontent-length: 10\r\nconnection: keep-alive\r\n\r\nabc"]
    );
    assert!(enc.must_close());
    // Nothing held, nothing written.
    let mut enc = Encoder::response();
    assert!(encode(&mut enc, vec![Event::StreamEnd(StreamError::NoError)]).is_empty());
}

#[test]
fn a_new_message_ends_an_unfinished_one() {
    let out = encode(
        &mut Encoder::request(),
        vec![
            start_req(req("POST", "/1", &[])),
            data(b"a"),
            start_req(req("GET", "/2", &[])),
            end(),
        ],
    );
    assert_eq!(
        text(&out),
        [
            "POST /1 HTTP/1.1\r\ncontent-length: 1\r\nconnection: keep-alive\r\n\r\na",
            "GET /2 HTTP/1.1\r\nconnection: keep-alive\r\n\r\n"
        ]
    );
}

#[test]
fn an_announced_length_keeps_long_bodies_unchunked() {
    let mut enc = Encoder::response();
    enc.set_buffer_size(4);
    enc.announce_length(Some(10));
    let out = encode(
        &mut enc,
        vec![
            start_res(res(200, "", &[])),
            data(b"0123456"),
            data(b"789"),
            end(),
        ],
    );
    assert_eq!(
        text(&out).concat(),
        "HTTP/1.1 200 OK\r\ncontent-length: 10\r\nconnection: keep-alive\r\n\r\n0123456789"
    );
    // The announcement is for one message only.
    let out = encode(
        &mut enc,
        vec![start_res(res(200, "", &[])), data(b"0123456"), end()],
    );
    assert!(text(&out)[0].contains("transfer-encoding: chunked"));
}

#[test]
fn http10_peers_get_long_bodies_delimited_by_close() {
    let mut enc = Encoder::response();
    enc.set_buffer_size(4);
    enc.set_http10_peer(true);
    let out = encode(
        &mut enc,
        vec![
            start_res(res(200, "", &[("connection", "keep-alive")])),
            data(b"0123456"),
            end(),
        ],
    );
    assert_eq!(
        text(&out).concat(),
        "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n0123456"
    );
    assert!(enc.must_close());
}
