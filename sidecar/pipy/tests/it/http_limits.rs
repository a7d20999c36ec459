//! What decoded HTTP messages tell scripts at their end (`MessageEnd.tail` with
//! `headSize` and `bodySize`, as upstream), and the `maxHeaderSize` option.

use crate::harness::*;
use crate::protocol::expect_status_and_close;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

/// Sends `raw`, shuts the write side and returns everything until the close.
fn exchange(port: u16, raw: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(raw).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all);
    all
}

/// Splits a response into its head's size and its body.
fn head_and_body(raw: &[u8]) -> (usize, String) {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head")
        + 4;
    (end, String::from_utf8_lossy(&raw[end..]).into_owned())
}

#[test]
fn message_tails_carry_head_and_body_sizes() {
    let (serve, proxy) = (free_port(), free_port());
    let p = Pipy::script(
        &format!(
            "pipy()
              .listen({serve}).serveHTTP(msg => new Message(msg.tail.headSize + ' ' + msg.tail.bodySize))
              .listen({proxy}).demuxHTTP().to($=>$
                .handleMessageEnd(e => console.log('request-end', e.tail.headSize, e.tail.bodySize, e.payload))
                .muxHTTP().to($=>$.connect('127.0.0.1:{serve}'))
                .replaceMessage(msg => new Message(msg.tail.headSize + ' ' + msg.tail.bodySize + ' ' + msg.body.toString())))"
        ),
        &[serve, proxy],
    );
    let req = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
    let req_head = req.len() - 5;
    let direct = exchange(serve, req);
    assert_eq!(head_and_body(&direct).1, format!("{req_head} 5"));
    // Chunked bodies count their framing, as upstream's bodySize does.
    let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    assert_eq!(head_and_body(&exchange(serve, chunked)).1, "47 15");
    // Through the proxy the response's tail is the one muxHTTP decoded.
    let (res_head, res_body) = head_and_body(&direct);
    let via = exchange(proxy, req);
    // muxHTTP re-encodes the request in upstream's spelling, so the backend
    // measures that head.
    let muxed_head =
        "POST / HTTP/1.1\r\nHost: x\r\ncontent-length: 5\r\nconnection: keep-alive\r\n\r\n".len();
    assert_eq!(
        head_and_body(&via).1,
        format!("{res_head} {} {muxed_head} 5", res_body.len())
    );
    let out = p.stdout_text() + &p.stderr_text();
    assert!(
        out.contains(&format!("request-end {req_head} 5 undefined")),
        "{out}"
    );
}

#[test]
fn message_end_keeps_a_payload() {
    let (code, out, err) = run_to_end(&["-e", "new MessageEnd({x: 1}, 42).payload"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim_end(), "42");
}

fn big_head(size: usize) -> Vec<u8> {
    let mut raw = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
    raw.resize(size - 4, b'a');
    raw.extend_from_slice(b"\r\n\r\n");
    raw
}

#[test]
fn max_header_size_limits_request_heads_with_431() {
    let (dflt, small, decode) = (free_port(), free_port(), free_port());
    let _p = Pipy::script(
        &format!(
            "pipy()
              .listen({dflt}).demuxHTTP().to($=>$.replaceMessage(new Message('ok')))
              .listen({small}).demuxHTTP({{ maxHeaderSize: 1024 }}).to($=>$.replaceMessage(new Message('ok')))
              .listen({decode}).decodeHTTPRequest({{ maxHeaderSize: '1k' }}).replaceMessage(new Message('ok')).encodeHTTPResponse()"
        ),
        &[dflt, small, decode],
    );
    // 16 KiB by default.
    let mut c = Conn::open(dflt);
    c.send(&big_head(16 * 1024));
    assert_eq!(c.read(false).text(), "ok");
    expect_status_and_close(dflt, &big_head(16 * 1024 + 1), 431);
    // As the option says.
    let mut c = Conn::open(small);
    c.send(&big_head(1024));
    assert_eq!(c.read(false).text(), "ok");
    expect_status_and_close(small, &big_head(1025), 431);
    // decodeHTTPRequest ends the stream on a head too large.
    assert!(String::from_utf8_lossy(&exchange(decode, &big_head(1024))).ends_with("ok"));
    assert!(exchange(decode, &big_head(1025)).is_empty());
}

#[test]
fn max_header_size_limits_response_heads_in_mux_http() {
    let (up, proxy) = (free_port(), free_port());
    let _p = Pipy::script(
        &format!(
            "pipy()
              .listen({up}).serveHTTP(new Message({{ headers: {{ 'x-big': 'a'.repeat(2000) }} }}, 'big'))
              .listen({proxy}).demuxHTTP().to($=>$.muxHTTP({{ maxHeaderSize: 1024 }}).to($=>$.connect('127.0.0.1:{up}')))"
        ),
        &[up, proxy],
    );
    assert_eq!(get(up, "/").text(), "big");
    assert_eq!(get(proxy, "/").status, 502);
}
