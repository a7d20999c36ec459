//! Protocol codecs with real peers: `decodeRESP`/`encodeRESP` with
//! `redis-server` and `redis-cli`, `decodeBGP`/`encodeBGP` between two
//! `gobgpd` speakers, MQTT with mosquitto, Thrift with Apache Thrift. Answers are those upstream Pipy 1.5.18
//! gives for the same scripts (compared side by side).

use crate::harness::*;
use std::process::{Command, Stdio};
use std::time::Duration;

fn redis_cli(port: u16, args: &[&str]) -> String {
    let o = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli (Debian's redis-tools)");
    String::from_utf8_lossy(&o.stdout).trim_end().to_owned()
}

#[test]
fn a_redis_server_answering_from_resp_payloads() {
    let port = free_port();
    let _p = Pipy::script(
        &format!(
            "pipy().listen({port}).decodeRESP().replaceMessage(m => [new MessageStart, new MessageEnd(null,
              m.payload[0].toString().toUpperCase() == 'PING' ? 'PONG' :
              m.payload[0].toString().toUpperCase() == 'ECHO' ? m.payload[1] :
              m.payload[0].toString().toUpperCase() == 'INCR' ? 42 :
              m.payload[0].toString().toUpperCase() == 'LIST' ? [1, 'two', new Data('three'), null] :
              new Error('ERR unknown command ' + m.payload[0].toString()))]).encodeRESP()"
        ),
        &[port],
    );
    assert_eq!(redis_cli(port, &["PING"]), "PONG");
    assert_eq!(redis_cli(port, &["ECHO", "hi there"]), "hi there");
    assert_eq!(redis_cli(port, &["INCR", "x"]), "42");
    // The null element prints as an empty line, trimmed here.
    assert_eq!(redis_cli(port, &["LIST"]), "1\ntwo\nthree");
    assert_eq!(redis_cli(port, &["FOO"]), "ERR unknown command FOO");
}

#[test]
fn a_logging_redis_proxy_in_front_of_redis_server() {
    let backend = free_port();
    let _redis = Peer(
        Command::new("redis-server")
            .args([
                "--port",
                &backend.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (Debian's redis-server)"),
    );
    eventually("redis-server listens", Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", backend)).ok()
    });
    let port = free_port();
    let p = Pipy::script(
        &format!(
            "pipy().listen({port})
              .decodeRESP()
              .handleMessageEnd(e => console.log('command:', e.payload.map(x => x.toString()).join(' ')))
              .encodeRESP()
              .connect('127.0.0.1:{backend}')"
        ),
        &[port],
    );
    assert_eq!(redis_cli(port, &["SET", "greeting", "hello world"]), "OK");
    assert_eq!(redis_cli(port, &["GET", "greeting"]), "hello world");
    assert_eq!(redis_cli(port, &["RPUSH", "l", "a", "b", "c"]), "3");
    assert_eq!(redis_cli(port, &["LRANGE", "l", "0", "-1"]), "a\nb\nc");
    let big = "z".repeat(100_000);
    assert_eq!(redis_cli(port, &["SET", "big", &big]), "OK");
    assert_eq!(redis_cli(port, &["STRLEN", "big"]), "100000");
    let log = p.stderr_text();
    assert!(log.contains("command: SET greeting hello world"), "{log}");
    assert!(log.contains("command: LRANGE l 0 -1"), "{log}");
    // Bytes that are not RESP end that connection only.
    let mut c = Conn::open(port);
    c.send(b"?garbage\r\n");
    assert!(c.is_closed());
    assert_eq!(redis_cli(port, &["GET", "greeting"]), "hello world");
}

#[test]
fn decode_multipart_splits_a_curl_form_upload_into_parts() {
    let port = free_port();
    let p = Pipy::script(
        &format!(
            "pipy().listen({port}).demuxHTTP().to($=>$
              .fork().to($=>$.decodeMultipart().handleMessage(m => console.log('part', JSON.stringify(m.head.headers), m.body.size, m.body.toString().substring(0, 5))))
              .replaceMessage(new Message('ok')))"
        ),
        &[port],
    );
    let dir = temp_dir();
    let file = dir.join("up.bin");
    std::fs::write(&file, "x".repeat(5000)).unwrap();
    let (ok, out) = curl(&[
        "-F",
        "field=value",
        "-F",
        &format!("file=@{};type=application/x-test", file.display()),
        &format!("http://127.0.0.1:{port}/"),
    ]);
    assert!(ok && out == "ok", "{out}");
    // As upstream: a part's body keeps the line break before the delimiter.
    let want = [
        r#"part {"content-disposition":"form-data; name=\"field\""} 7 value"#,
        r#"part {"content-disposition":"form-data; name=\"file\"; filename=\"up.bin\"","content-type":"application/x-test"} 5002 xxxxx"#,
    ];
    eventually("both parts logged", Duration::from_secs(10), || {
        let log = p.stderr_text();
        want.iter().all(|w| log.contains(w)).then_some(())
    });
}

fn mosquitto(port: u16) -> Peer {
    let dir = temp_dir();
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"),
    )
    .unwrap();
    let bin = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("mosquitto (Debian's mosquitto)");
    let peer = Peer(
        Command::new(bin)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto"),
    );
    eventually("mosquitto listens", Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
    peer
}

#[test]
fn mqtt_311_and_5_sessions_decode_and_re_encode_through_a_proxy_to_mosquitto() {
    let broker = free_port();
    let _broker = mosquitto(broker);
    let port = free_port();
    // Both directions decoded and encoded again; the broker's direction learns
    // the level from the client's CONNECT through `protocolLevel`.
    let p = Pipy::script(
        &format!(
            "pipy({{_level: 5}}).listen({port})
              .decodeMQTT().handleMessageStart(m => (m.head.type == 'CONNECT' && (_level = m.head.protocolLevel), console.log('c>', m.head.type, m.head.protocolLevel))).encodeMQTT()
              .connect('127.0.0.1:{broker}')
              .decodeMQTT({{protocolLevel: () => _level}}).handleMessageStart(m => console.log('s>', m.head.type)).encodeMQTT({{protocolLevel: () => _level}})"
        ),
        &[port],
    );
    for version in ["mqttv311", "5"] {
        let sub = Command::new("timeout")
            .args([
                "10",
                "mosquitto_sub",
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .args(["-V", version, "-t", "a/#", "-C", "1", "-q", "1"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("mosquitto_sub (Debian's mosquitto-clients)");
        // The subscription is in place once the broker's SUBACK went by.
        let subacks = p.stderr_text().matches("s> SUBACK").count();
        eventually("the subscription", Duration::from_secs(10), || {
            (p.stderr_text().matches("s> SUBACK").count() > subacks).then_some(())
        });
        let message = format!("hello {version}");
        let ok = Command::new("timeout")
            .args([
                "10",
                "mosquitto_pub",
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .args([
                "-V", version, "-t", "a/b", "-m", &message, "-q", "1", "-u", "user", "-P", "pass",
            ])
            .status()
            .expect("mosquitto_pub")
            .success();
        assert!(ok, "mosquitto_pub {version}");
        let out = sub.wait_with_output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), message);
    }
    // The last lines may reach the log just after the clients exit.
    for line in [
        "c> CONNECT 4",
        "c> PUBLISH 4",
        "s> PUBACK",
        "c> CONNECT 5",
        "c> PUBLISH 5",
        "c> DISCONNECT 5",
    ] {
        eventually(line, Duration::from_secs(10), || {
            p.stderr_text().contains(line).then_some(())
        });
    }
}

#[test]
fn thrift_messages_from_apache_thrift_decode_and_re_encode_byte_for_byte() {
    // Apache Thrift's Python library writes a call in the binary and the
    // compact protocols (with collections, doubles, I64 and multi-byte
    // varints), sends both through decodeThrift/encodeThrift, and reads the
    // echo back with the same library.
    let port = free_port();
    let p = Pipy::script(
        &format!(
            "pipy().listen({port}).decodeThrift()
               .handleMessageEnd(e => console.log('thrift', e.payload.protocol, e.payload.name, e.payload.seqID, JSON.stringify(e.payload.fields[0])))
               .encodeThrift()"
        ),
        &[port],
    );
    let code = format!(
        r#"
import socket
from thrift.transport import TTransport
from thrift.protocol import TBinaryProtocol, TCompactProtocol
from thrift.Thrift import TType, TMessageType

def write(proto_cls):
    buf = TTransport.TMemoryBuffer()
    p = proto_cls(buf)
    p.writeMessageBegin('compute', TMessageType.CALL, 300)
    p.writeStructBegin('args')
    p.writeFieldBegin('n', TType.I32, 1); p.writeI32(-70000); p.writeFieldEnd()
    p.writeFieldBegin('big', TType.I64, 2); p.writeI64(-(1 << 40)); p.writeFieldEnd()
    p.writeFieldBegin('ratio', TType.DOUBLE, 3); p.writeDouble(2.5); p.writeFieldEnd()
    p.writeFieldBegin('tags', TType.LIST, 20); p.writeListBegin(TType.STRING, 20)
    for i in range(20): p.writeString('tag%d' % i)
    p.writeListEnd(); p.writeFieldEnd()
    p.writeFieldBegin('map', TType.MAP, 21); p.writeMapBegin(TType.STRING, TType.BOOL, 2)
    p.writeString('a'); p.writeBool(True); p.writeString('b'); p.writeBool(False)
    p.writeMapEnd(); p.writeFieldEnd()
    p.writeFieldBegin('flag', TType.BOOL, 22); p.writeBool(True); p.writeFieldEnd()
    p.writeFieldBegin('empty', TType.STRING, 23); p.writeString(''); p.writeFieldEnd()
    p.writeFieldStop(); p.writeStructEnd(); p.writeMessageEnd()
    return buf.getvalue()

sent = write(TBinaryProtocol.TBinaryProtocol) + write(TCompactProtocol.TCompactProtocol)
s = socket.create_connection(('127.0.0.1', {port}))
s.sendall(sent)
got = b''
s.settimeout(10)
while len(got) < len(sent):
    d = s.recv(65536)
    if not d: break
    got += d
print('same' if got == sent else 'differ %r' % got)
"#
    );
    let o = Command::new("python3")
        .args(["-c", &code])
        .output()
        .expect("python3");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "same");
    let log = p.stderr_text();
    assert!(
        log.contains(r#"thrift binary compute 300 {"id":1,"type":"I32","value":-70000}"#),
        "{log}"
    );
    assert!(
        log.contains(r#"thrift compact compute 300 {"id":1,"type":"I32","value":-70000}"#),
        "{log}"
    );
}

/// `gobgp` (Debian's gobgpd) against the daemon whose API is on `api`.
pub(crate) fn gobgp(api: u16, args: &[&str]) -> String {
    let o = Command::new("gobgp")
        .args(["-u", "127.0.0.1", "-p", &api.to_string()])
        .args(args)
        .output()
        .expect("gobgp (Debian's gobgpd)");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A `gobgpd` with `config` (TOML), its API on `api`.
pub(crate) fn gobgpd(dir: &std::path::Path, name: &str, config: &str, api: u16) -> Peer {
    let path = dir.join(name);
    std::fs::write(&path, config).unwrap();
    Peer(
        Command::new("gobgpd")
            .args(["-f", path.to_str().unwrap(), "-p", "--pprof-disable"])
            .arg(format!("--api-hosts=127.0.0.1:{api}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gobgpd (Debian's gobgpd)"),
    )
}

/// Two BGP speakers peer through a proxy that decodes every message and
/// encodes it again from its payload: the session comes up (OPEN with its
/// capabilities, KEEPALIVEs), a route announced on one side with MED and a
/// community reaches the other with its attributes, and its withdrawal too.
#[test]
fn bgp_speakers_peer_through_a_decoding_and_re_encoding_proxy() {
    let dir = temp_dir();
    let (proxy, bgp_a, bgp_b, api_a, api_b) = (
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    );
    let p = Pipy::script(
        &format!(
            "pipy().listen({proxy})
              .decodeBGP({{ enableAS4: true }})
              .handleMessageEnd(e => console.log('a->b', e.payload.type,
                 JSON.stringify(e.payload.body?.destinations ?? e.payload.body?.withdrawnRoutes ?? null)))
              .encodeBGP({{ enableAS4: () => true }})
              .connect('127.0.0.3:{bgp_b}')
              .decodeBGP({{ enableAS4: true }})
              .handleMessageEnd(e => console.log('b->a', e.payload.type))
              .encodeBGP({{ enableAS4: true }})"
        ),
        &[proxy],
    );
    let _b = gobgpd(
        &dir,
        "b.toml",
        &format!(
            r#"[global.config]
as = 65002
router-id = "10.0.0.2"
port = {bgp_b}
local-address-list = ["127.0.0.3"]
[[neighbors]]
[neighbors.config]
neighbor-address = "127.0.0.1"
peer-as = 65001
[neighbors.transport.config]
passive-mode = true
local-address = "127.0.0.3"
"#
        ),
        api_b,
    );
    let _a = gobgpd(
        &dir,
        "a.toml",
        &format!(
            r#"[global.config]
as = 65001
router-id = "10.0.0.1"
port = {bgp_a}
local-address-list = ["127.0.0.4"]
[[neighbors]]
[neighbors.config]
neighbor-address = "127.0.0.1"
peer-as = 65002
[neighbors.transport.config]
remote-port = {proxy}
local-address = "127.0.0.4"
[neighbors.timers.config]
connect-retry = 1
"#
        ),
        api_a,
    );
    eventually("the session is up", Duration::from_secs(30), || {
        gobgp(api_a, &["neighbor"]).contains("Establ").then_some(())
    });
    gobgp(
        api_a,
        &[
            "global",
            "rib",
            "add",
            "10.8.0.0/16",
            "nexthop",
            "192.0.2.1",
            "med",
            "50",
            "community",
            "65001:100",
            "-a",
            "ipv4",
        ],
    );
    let rib = eventually("b learns the route", Duration::from_secs(20), || {
        let rib = gobgp(api_b, &["global", "rib", "-a", "ipv4"]);
        rib.contains("10.8.0.0/16").then_some(rib)
    });
    assert!(rib.contains("192.0.2.1"), "{rib}");
    assert!(rib.contains("65001"), "{rib}");
    assert!(rib.contains("Med: 50"), "{rib}");
    assert!(rib.contains("65001:100"), "{rib}");
    gobgp(
        api_a,
        &["global", "rib", "del", "10.8.0.0/16", "-a", "ipv4"],
    );
    eventually("b forgets the route", Duration::from_secs(20), || {
        (!gobgp(api_b, &["global", "rib", "-a", "ipv4"]).contains("10.8.0.0/16")).then_some(())
    });
    let log = p.stderr_text();
    for line in [
        "a->b OPEN",
        "b->a OPEN",
        "b->a KEEPALIVE",
        r#"a->b UPDATE ["10.8.0.0/16"]"#,
    ] {
        assert!(log.contains(line), "{line} in {log}");
    }
}

/// The shape of upstream's `test/codec/protobuf`: a file read whole as one
/// message (its end is the stream's end), decoded without a schema, read
/// through getters, extended with setters and encoded again.
#[test]
fn protobuf_messages_decode_read_and_encode_without_a_schema() {
    let dir = temp_dir();
    // AddressBook { person { name: "Pipy", id: 150, phone { number: "555", type: 2 } } }
    let person = [
        &[0x0a, 4][..],
        b"Pipy",
        &[0x10, 0x96, 0x01],
        &[0x22, 7, 0x0a, 3],
        b"555",
        &[0x10, 2],
    ]
    .concat();
    let book = [&[0x0a, person.len() as u8][..], &person].concat();
    std::fs::write(dir.join("book.bin"), &book).unwrap();
    let script = dir.join("main.js");
    let book_path = dir.join("book.bin");
    std::fs::write(
        &script,
        format!("pipy.read('{}', $=>$
          .replaceStreamStart(evt => [new MessageStart, evt])
          .replaceMessageBody(data => {{
            const book = protobuf.decode(data);
            const p = book.getMessageArray(1)[0];
            console.log('person', p.getString(1), p.getInt32(2), p.getMessageArray(4)[0].getString(1), book.getWireType(1));
            console.log('same', protobuf.encode(book).toString('hex') === data.toString('hex'));
            console.log('bad', protobuf.decode(new Data([0x0a, 9, 1])));
            p.setSint32(5, -2).setStringArray(6, ['a', 'b']);
            console.log('new', protobuf.encode(p).toString('hex'));
            return data;
          }})
          .handleStreamEnd(() => console.log('ended'))
        )", book_path.display()),
    )
    .unwrap();
    let (code, _, err) = run_to_end(&[script.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    for line in [
        "person Pipy 150 555 LEN",
        "same true",
        "bad null",
        // Fields in ascending order: the new 5 (zigzag 3) and two 6s after 4.
        "new 0a045069707910960122070a0335353510022803320161320162",
        "ended",
    ] {
        assert!(err.contains(line), "{line} in {err}");
    }
}

/// A Dubbo client with its own Hessian 2 (Python's `dubbo-ssl-python`)
/// calls a provider written in PipyJS through a proxy that decodes every
/// frame, re-encodes each body value by value and encodes the frame again.
#[test]
fn a_dubbo_client_calls_a_pipy_provider_through_a_re_encoding_proxy() {
    let (proxy, provider) = (free_port(), free_port());
    let p = Pipy::script(
        &format!(
            "pipy()
            .listen({provider})
            .decodeDubbo()
            .replaceMessage(msg => ((args = Hessian.decode(msg.body)) => new Message(
              {{ requestID: msg.head.requestID, isRequest: false, serializationType: 2, status: 20 }},
              Hessian.encode([
                new Int('i32', 1),
                args[3] === 'add' ? new Int('i32', args[5] + args[6]) :
                args[3] === 'echo' ? {{ kind: 'object', type: 'demo.Reply', elements: {{
                  text: 'hello ' + args[5], count: new Int('i64', 7), score: 1.5,
                  tags: {{ kind: 'list', type: 'java.util.ArrayList', elements: ['a', 'b'] }} }} }} :
                'unknown ' + args[3],
              ])
            ))())
            .encodeDubbo()

            .listen({proxy})
            .decodeDubbo()
            .handleMessage(msg => console.log('call', Hessian.decode(msg.body)[3], msg.head.requestID.type))
            .replaceMessageBody(body => Hessian.encode(Hessian.decode(body)))
            .encodeDubbo()
            .connect('127.0.0.1:{provider}')
            .decodeDubbo()
            .replaceMessageBody(body => Hessian.encode(Hessian.decode(body)))
            .encodeDubbo()"
        ),
        &[proxy, provider],
    );
    let o = Command::new("python3")
        .arg("-c")
        .arg(format!(
            "from dubbo_ssl.client import DubboClient
c = DubboClient('demo.Calc', group=None, host='127.0.0.1:{proxy}')
print(repr(c.call('add', [3, 4])))
print(repr(c.call('echo', 'world')))
print(repr(c.call('nope', [])))"
        ))
        .output()
        .expect("python3 with dubbo-ssl-python");
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "7",
            "{'text': 'hello world', 'count': 7, 'score': 1.5, 'tags': ['a', 'b']}",
            "'unknown nope'",
        ],
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let log = p.stderr_text();
    for line in ["call add u64", "call echo u64", "call nope u64"] {
        assert!(log.contains(line), "{line} in {log}");
    }
}

/// `DNS.decode`/`DNS.encode` between real DNS software (Python's dnslib,
/// a server and a client), through a UDP proxy that drops blocked names
/// from answers, as upstream's samples/dns does.
#[test]
fn dns_answers_filtered_between_a_real_client_and_server() {
    let (front, back) = (free_port(), free_port());
    let server = format!(
        r#"
import time
from dnslib import RR, QTYPE, A
from dnslib.server import DNSServer, BaseResolver
class R(BaseResolver):
    def resolve(self, request, handler):
        reply = request.reply()
        for name, ip in [("ok.example", "1.2.3.4"), ("blocked.example", "6.6.6.6")]:
            reply.add_answer(RR(name, QTYPE.A, rdata=A(ip), ttl=60))
        return reply
s = DNSServer(R(), port={back}, address="127.0.0.1")
s.start_thread()
time.sleep(60)
"#
    );
    let mut peer = Command::new("python3")
        .args(["-c", &server])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 with dnslib");
    let script = format!(
        "#!/usr/bin/env pipy\n\
         var block = ['blocked.example']\n\
         pipy.listen({front}, 'udp', $=>$\n\
           .connect('127.0.0.1:{back}', {{ protocol: 'udp' }})\n\
           .replaceData(function (dgram) {{\n\
             var msg = DNS.decode(dgram)\n\
             msg.answer = msg.answer.filter(rec => !block.includes(rec.name))\n\
             return DNS.encode(msg)\n\
           }})\n\
         )\n"
    );
    let _p = Pipy::script(&script, &[]);
    let client = format!(
        r#"
import socket, time
from dnslib import DNSRecord
q = DNSRecord.question("any.example", "A")
for _ in range(50):
    try:
        a = DNSRecord.parse(q.send("127.0.0.1", {front}, timeout=0.5))
        print(" ".join(f"{{rr.rname}}={{rr.rdata}}" for rr in a.rr), a.header.id == q.header.id)
        break
    except (socket.timeout, ConnectionRefusedError):
        time.sleep(0.1)
"#
    );
    let out = Command::new("python3")
        .args(["-c", &client])
        .output()
        .unwrap();
    let _ = peer.kill();
    let _ = peer.wait();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "ok.example.=1.2.3.4 True",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `encodeNetlink`/`decodeNetlink`: headers in the host's byte order, each
/// message padded to 4 bytes (netlink(7); upstream pads nothing and encodes
/// only a stream's first message), and back to the same heads and bodies.
#[test]
fn netlink_messages_encode_and_decode() {
    let dir = temp_dir();
    let main = dir.join("main.js");
    std::fs::write(
        &main,
        "pipeline($=>$\n\
           .onStart([new Message({ type: 16, flags: 0x301, seq: 7, pid: 0 }, 'hello'), new Message({ type: 3, seq: 8 }, null)])\n\
           .encodeNetlink()\n\
           .handleData(d => println('bytes', d.size, d.toArray().slice(0, 8).join(',')))\n\
           .decodeNetlink()\n\
           .handleMessage(m => println('msg', JSON.stringify(m.head), m.body.toString()))\n\
         ).spawn()\n",
    )
    .unwrap();
    let (code, out, err) = run_to_end(&[main.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "bytes 24 21,0,0,0,16,0,1,3\n\
         msg {\"type\":16,\"flags\":769,\"seq\":7,\"pid\":0} hello\n\
         bytes 16 16,0,0,0,3,0,0,0\n\
         msg {\"type\":3,\"flags\":0,\"seq\":8,\"pid\":0} \n"
    );
}
