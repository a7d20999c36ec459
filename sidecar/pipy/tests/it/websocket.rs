//! `decodeWebSocket` and `encodeWebSocket`, and WebSocket proxying through
//! `demuxHTTP`/`muxHTTP`, with Python's `websockets` as the real client and
//! server. The echo server's answers are those upstream Pipy 1.5.18 gives
//! (compared side by side); upstream's own proxy answers this client's
//! upgrade with a 426 from the backend, where ours proxies it.

use crate::harness::*;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Runs a Python `websockets` client against `port`: it sends each message
/// and prints what comes back, one line each.
fn client(port: u16) -> String {
    let code = format!(
        r#"
import asyncio, websockets
async def main():
    async with websockets.connect('ws://127.0.0.1:{port}/', max_size=None, compression=None, open_timeout=10) as ws:
        for m in ['hello', b'\x01\x02', 'x' * 70000, ['frag', 'mented']]:
            await ws.send(m)
            r = await asyncio.wait_for(ws.recv(), 10)
            print(type(r).__name__, len(r), (r[:24] if isinstance(r, str) else r[:24].hex()))
asyncio.run(main())
"#
    );
    let o = Command::new("python3")
        .args(["-c", &code])
        .output()
        .expect("python3");
    assert!(
        o.status.success(),
        "client failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn a_websocket_echo_server_built_from_the_codec_filters() {
    let port = free_port();
    let _p = Pipy::script(
        &format!(
            "pipy().listen({port}).demuxHTTP().to($=>$
              .acceptHTTPTunnel(req => new Message({{status: 101, headers: {{connection: 'upgrade', upgrade: 'websocket',
                'sec-websocket-accept': (h => (h.update(req.head.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'), h.digest('base64')))(new crypto.Hash('sha1'))}}}})).to($=>$
                .decodeWebSocket()
                .replaceMessage(m => m.head.opcode == 8 ? [new Message({{opcode: 8}}, m.body), new StreamEnd()] :
                  new Message({{opcode: m.head.opcode}}, 'echo(' + m.head.opcode + ',' + m.head.masked + '): ' + m.body.toString()))
                .encodeWebSocket()))"
        ),
        &[port],
    );
    assert_eq!(
        client(port),
        "str 19 echo(1,true): hello\n\
         bytes 16 6563686f28322c74727565293a200102\n\
         str 70014 echo(1,true): xxxxxxxxxx\n\
         str 24 echo(1,true): fragmented\n"
    );
}

#[test]
fn websocket_connections_proxy_end_to_end_through_mux_http() {
    let backend = free_port();
    let server = format!(
        r#"
import asyncio, websockets
async def echo(ws):
    async for m in ws:
        await ws.send(m)
async def main():
    async with websockets.serve(echo, '127.0.0.1', {backend}, max_size=None, compression=None):
        await asyncio.Future()
asyncio.run(main())
"#
    );
    let _server = Peer(
        Command::new("python3")
            .args(["-c", &server])
            .stdout(Stdio::null())
            .spawn()
            .expect("python3"),
    );
    eventually("the backend listens", Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", backend)).ok()
    });
    let port = free_port();
    let _p = Pipy::script(
        &format!(
            "pipy().listen({port}).demuxHTTP().to($=>$.muxHTTP().to($=>$.connect('127.0.0.1:{backend}')))"
        ),
        &[port],
    );
    assert_eq!(
        client(port),
        "str 5 hello\n\
         bytes 2 0102\n\
         str 70000 xxxxxxxxxxxxxxxxxxxxxxxx\n\
         str 10 fragmented\n"
    );
}
