//! What a decoded message's `MessageEnd` carries: the size of its head and of its
//! body on the wire, as upstream Pipy's `MessageTail` has them.

use super::*;
use pipy_core::MessageTail;

/// The tails of the messages decoded from `input` (whole, then byte by byte).
fn tails(new: fn() -> Decoder, input: &[u8], eof: bool) -> Vec<MessageTail> {
    let mut all = Vec::new();
    for size in [input.len(), 1] {
        let mut d = new();
        let mut found = Vec::new();
        for piece in input.chunks(size) {
            d.decode(Data::from(piece.to_vec()), &mut |e| {
                if let Event::MessageEnd(Head::Tail(t)) = e {
                    found.push(t);
                }
            })
            .unwrap();
        }
        if eof {
            d.eof(&mut |e| {
                if let Event::MessageEnd(Head::Tail(t)) = e {
                    found.push(t);
                }
            })
            .unwrap();
        }
        all.push(found);
    }
    assert_eq!(all[0], all[1], "whole and byte by byte");
    all.swap_remove(0)
}

fn tail(head_size: u64, body_size: u64) -> MessageTail {
    MessageTail {
        head_size,
        body_size,
    }
}

#[test]
fn message_end_carries_head_and_body_sizes() {
    let get = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    let post = b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
    let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    let mut all = get.to_vec();
    all.extend_from_slice(post);
    all.extend_from_slice(chunked);
    // Chunked bodies count their framing too, as upstream does (3 + 5 + 2 + 3 + 2).
    assert_eq!(
        tails(Decoder::request, &all, false),
        [tail(get.len() as u64, 0), tail(38, 5), tail(47, 15),]
    );
}

#[test]
fn response_tails_include_bodies_read_until_close() {
    let input = b"HTTP/1.1 200 OK\r\n\r\nabcdef";
    assert_eq!(tails(Decoder::response, input, true), [tail(19, 6)]);
    let input = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n";
    assert_eq!(
        tails(Decoder::response, input, false),
        [tail(input.len() as u64, 0)]
    );
}

#[test]
fn default_head_limit_is_16_kib() {
    assert_eq!(crate::http1::DEFAULT_MAX_HEAD_SIZE, 16 * 1024);
    let mut input = b"GET / HTTP/1.1\r\nX: ".to_vec();
    input.resize(16 * 1024 - 4, b'a');
    input.extend_from_slice(b"\r\n\r\n");
    let (_, r) = feed(&mut Decoder::request(), &input, input.len(), false);
    r.unwrap();
    input.insert(20, b'a');
    let (_, r) = feed(&mut Decoder::request(), &input, input.len(), false);
    assert_eq!(r, Err(DecodeError::HeadTooLarge));
    assert_eq!(DecodeError::HeadTooLarge.status(), 431);
}

/// Seeded random bytes built from HTTP-ish pieces: whatever they hold, tails
/// never report more bytes than were given, and messages stay well nested, also
/// when bytes after `Upgrade` requests are held and then resumed.
#[test]
fn tails_never_report_more_than_the_input() {
    const PIECES: &[&[u8]] = &[
        b"GET / HTTP/1.1\r\n",
        b"HTTP/1.1 200 OK\r\n",
        b"Content-Length: 3\r\n",
        b"Transfer-Encoding: chunked\r\n",
        b"Upgrade: x\r\n",
        b"\r\n",
        b"3\r\nabc\r\n",
        b"0\r\n\r\n",
        b"abc",
        b"\n",
    ];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n as u64) as usize
    };
    for _ in 0..2000 {
        let mut input = Vec::new();
        for _ in 0..next(12) {
            input.extend_from_slice(PIECES[next(PIECES.len())]);
        }
        let split = next(input.len() + 1);
        for new in [Decoder::request, Decoder::response] {
            let mut d = new();
            d.hold_after_upgrade(true);
            let (mut wire, mut open) = (0u64, false);
            let mut check = |e: Event| match e {
                Event::MessageStart(_) => {
                    assert!(!open);
                    open = true;
                }
                Event::MessageEnd(Head::Tail(t)) => {
                    assert!(open);
                    open = false;
                    wire += t.head_size + t.body_size;
                }
                Event::MessageEnd(_) => panic!("a decoded message ends with its tail"),
                _ => {}
            };
            let _ = d
                .decode(Data::from(input[..split].to_vec()), &mut check)
                .and_then(|()| d.resume(&mut check))
                .and_then(|()| d.decode(Data::from(input[split..].to_vec()), &mut check))
                .and_then(|()| d.resume(&mut check))
                .and_then(|()| d.eof(&mut check));
            assert!(
                wire <= input.len() as u64,
                "{:?}",
                String::from_utf8_lossy(&input)
            );
        }
    }
}
