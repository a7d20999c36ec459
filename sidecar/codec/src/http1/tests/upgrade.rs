//! Requests that ask to `Upgrade`: what follows them is held until the caller
//! knows the answer, then passed on as tunnel data (101) or decoded as HTTP.

use super::*;

const UPGRADE: &[u8] = b"GET /ws HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n";

fn holding() -> Decoder {
    let mut d = Decoder::request();
    d.hold_after_upgrade(true);
    d
}

fn decode_with(d: &mut Decoder, input: &[u8], events: &mut Vec<Event>) {
    d.decode(Data::from(input.to_vec()), &mut |e| events.push(e))
        .unwrap();
}

#[test]
fn bytes_after_an_upgrade_request_wait_and_become_tunnel_data() {
    let mut d = holding();
    let mut events = Vec::new();
    let mut input = UPGRADE.to_vec();
    input.extend_from_slice(b"\x81\x02hi");
    decode_with(&mut d, &input, &mut events);
    assert!(d.awaits_upgrade());
    decode_with(&mut d, b"GET / HTTP/1.1\r\n\r\n", &mut events);
    assert_eq!(events.len(), 2, "held bytes are not decoded: {events:?}");
    d.start_tunnel(&mut |e| events.push(e));
    decode_with(&mut d, b"more", &mut events);
    d.eof(&mut |e| events.push(e)).unwrap();
    let Ev::Req(h) = &to_evs(events)[0] else {
        panic!()
    };
    assert_eq!(h.path, "/ws");
}

#[test]
fn a_refused_upgrade_decodes_the_held_bytes_as_http() {
    let mut d = holding();
    let mut events = Vec::new();
    let mut input = UPGRADE.to_vec();
    input.extend_from_slice(b"GET /next HTTP/1.1\r\n");
    decode_with(&mut d, &input, &mut events);
    d.resume(&mut |e| events.push(e)).unwrap();
    assert!(!d.awaits_upgrade());
    decode_with(&mut d, b"\r\n", &mut events);
    let evs = to_evs(events);
    assert_eq!(evs.len(), 4, "{evs:?}");
    assert_eq!(evs[2], Ev::Req(req("GET", "/next", &[])));
    // Resuming when nothing is held is harmless.
    d.resume(&mut |_| panic!("no events")).unwrap();
}

#[test]
fn without_holding_an_upgrade_request_is_a_plain_request() {
    let mut input = UPGRADE.to_vec();
    input.extend_from_slice(b"GET /next HTTP/1.1\r\n\r\n");
    let (evs, r) = decode_requests(&input);
    r.unwrap();
    assert_eq!(evs.len(), 4, "{evs:?}");
}

#[test]
fn held_bytes_are_bounded_by_the_head_limit() {
    let mut d = holding();
    d.set_max_head_size(UPGRADE.len() + 10);
    let mut input = UPGRADE.to_vec();
    input.resize(2 * UPGRADE.len() + 11, b'x');
    let r = d.decode(Data::from(input), &mut |_| {});
    assert_eq!(r, Err(DecodeError::HeadTooLarge));
}
