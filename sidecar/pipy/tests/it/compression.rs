//! `compress`, `decompress`, `compressHTTP` and `decompressHTTP` with real
//! peers: curl `--compressed`, and gzip/zlib streams made by flate2 (zlib's
//! formats; upstream Pipy 1.5.18 gives the same bytes for these scripts, the
//! gzip OS byte included, compared side by side).

use crate::harness::*;
use flate2::write::{GzEncoder, ZlibEncoder};
use flate2::Compression;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

fn serve(script: &str) -> (Pipy, u16) {
    let port = free_port();
    let p = Pipy::script(&script.replace("PORT", &port.to_string()), &[port]);
    (p, port)
}

/// Sends `input`, half-closes, reads to the end (at most 10 s).
fn exchange(port: u16, input: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(input).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    got
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn zlib(b: &[u8]) -> Vec<u8> {
    let mut e = ZlibEncoder::new(Vec::new(), Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn text(n: usize) -> Vec<u8> {
    (0..n).map(|i| b"pipy compresses "[i % 16]).collect()
}

#[test]
fn compress_and_decompress_streams_round_trip() {
    let plain = text(200_000);
    let (_p, port) = serve("pipy().listen(PORT).compress('gzip')");
    let packed = exchange(port, &plain);
    assert!(packed.len() < plain.len() / 10, "{}", packed.len());
    assert_eq!(&packed[..2], [0x1f, 0x8b]);
    assert_eq!(packed[9], 3, "gzip OS byte: Unix, as upstream");
    let mut unpacked = Vec::new();
    flate2::read::GzDecoder::new(&packed[..])
        .read_to_end(&mut unpacked)
        .unwrap();
    assert_eq!(unpacked, plain);

    let (_p, port) = serve("pipy().listen(PORT).compress(() => 'deflate')");
    let packed = exchange(port, b"hello hello hello hello");
    // Byte for byte what upstream gives for this input.
    assert_eq!(
        packed,
        b"x\x9c\xcbH\xcd\xc9\xc9W\xc8@'\x01h\x03\x08\xb1".to_vec()
    );

    for (alg, packed) in [("gzip", gzip(&plain)), ("inflate", zlib(&plain))] {
        let (_p, port) = serve(&format!("pipy().listen(PORT).decompress('{alg}')"));
        assert_eq!(exchange(port, &packed), plain, "{alg}");
    }
    // "hello, hello, hello" as Node's zlib.brotliCompressSync gives it.
    let br = hex("1b1200f88d946ede44095286966c2c6f114f24d07100");
    let (_p, port) = serve("pipy().listen(PORT).decompress('brotli')");
    assert_eq!(exchange(port, &br), b"hello, hello, hello");
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn bad_algorithms_corrupt_input_and_bombs_end_only_their_stream() {
    let (code, _, err) = run_to_end(&["-e", "pipy().listen(1).compress('zip')"]);
    assert_ne!(code, 0);
    assert!(err.contains("unknown compression algorithm: zip"), "{err}");
    let (_p, port) = serve(
        "pipy().listen(PORT).decompress('gzip')
           .handleStreamEnd(e => console.log('ended:', e.error))",
    );
    assert_eq!(exchange(port, b"this is not gzip"), b"");
    // 64 MiB of zeros packed into 64 KiB: one chunk may not
    // expand past 16 MiB, so the stream ends instead of the memory growing.
    let mut e = ZlibEncoder::new(Vec::new(), Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        e.write_all(&zeros).unwrap();
    }
    let bomb = e.finish().unwrap();
    let (p, port) = serve("pipy().listen(PORT).decompress('inflate').handleStreamEnd(e => console.log('ended:', e.error))");
    let got = exchange(port, &bomb);
    assert!(got.len() < 64 << 20, "{}", got.len());
    eventually("the bomb refused", Duration::from_secs(10), || {
        p.stderr_text()
            .contains("ended: BufferOverflow")
            .then_some(())
    });
    // The worker still serves.
    assert_eq!(exchange(port, &zlib(b"fine")), b"fine");
}

#[test]
fn compress_http_answers_curl_compressed_and_drops_a_stale_length() {
    let (_p, port) = serve(&format!(
        "pipy().listen(PORT).demuxHTTP().to($=>$
           .replaceMessage(new Message({{status:200, headers:{{'content-length': '{n}'}}}}, '{body}'))
           .compressHTTP(msg => msg.head.status == 200 ? 'gzip' : null))",
        n = 40,
        body = "z".repeat(40)
    ));
    let url = format!("http://127.0.0.1:{port}/");
    let (ok, out) = curl(&["-i", "--compressed", &url]);
    assert!(ok, "{out}");
    assert!(out.contains("content-encoding: gzip"), "{out}");
    assert!(out.ends_with(&"z".repeat(40)), "{out}");
    // On the wire: gzip, framed by its own length, byte for byte what
    // upstream sends.
    let r = get(port, "/");
    assert_eq!(r.header("content-length"), Some("24"));
    assert_eq!(
        r.body,
        [
            0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xab, 0xaa, 0x22, 0x0e, 0, 0, 0x65, 0, 0x4a, 0xa1,
            0x28, 0, 0, 0
        ]
    );

    // A message that already has an encoding is left alone.
    let (_p, port) = serve(
        "pipy().listen(PORT).demuxHTTP().to($=>$
           .replaceMessage(new Message({status:200, headers:{'content-encoding': 'identity'}}, 'plain'))
           .compressHTTP('gzip'))",
    );
    let (_, out) = curl(&["-i", &format!("http://127.0.0.1:{port}/")]);
    assert!(
        out.contains("content-encoding: identity") && out.ends_with("plain"),
        "{out}"
    );
}

#[test]
fn decompress_http_inflates_requests_and_proxied_responses() {
    // A request body curl sends gzipped reaches the handler plain.
    let (_p, port) = serve(
        "pipy().listen(PORT).demuxHTTP().to($=>$.decompressHTTP()
           .replaceMessage(m => new Message((m.head.headers['content-encoding'] || 'none') + ' ' + m.body.toString())))",
    );
    let dir = temp_dir();
    let body = dir.join("body.gz");
    std::fs::write(&body, gzip(b"sent gzipped")).unwrap();
    let (ok, out) = curl(&[
        "-H",
        "content-encoding: gzip",
        "--data-binary",
        &format!("@{}", body.display()),
        &format!("http://127.0.0.1:{port}/"),
    ]);
    assert!(ok, "{out}");
    assert_eq!(out, "none sent gzipped");

    // A proxied gzip response comes out plain, its headers fixed.
    let up = free_port();
    let gz: Vec<String> = gzip(b"hello world").iter().map(|b| b.to_string()).collect();
    let (_u, _) = (
        Pipy::script(
            &format!(
                "pipy().listen({up}).serveHTTP(new Message({{status:200, headers:{{'content-encoding':'gzip'}}}}, new Data([{}])))",
                gz.join(",")
            ),
            &[up],
        ),
        (),
    );
    let (_p, port) = serve(&format!(
        "pipy().listen(PORT).demuxHTTP().to($=>$.muxHTTP().to($=>$.connect('127.0.0.1:{up}')).decompressHTTP())"
    ));
    let (ok, out) = curl(&["-i", &format!("http://127.0.0.1:{port}/")]);
    assert!(ok, "{out}");
    assert!(
        !out.to_ascii_lowercase().contains("content-encoding"),
        "{out}"
    );
    assert!(out.contains("content-length: 11"), "{out}");
    assert!(out.ends_with("hello world"), "{out}");
}
