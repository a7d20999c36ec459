//! Shared sessions end: after the streams that used them are gone and their
//! idle time is over, `mux` and `muxHTTP` sessions close and their pipelines
//! leave the pipeline counts.

use crate::harness::*;
use std::time::Duration;

/// The value of `pipy_pipeline_count` for pipeline `name`, from the admin port.
fn pipeline_count(admin: u16, name: &str) -> Option<u64> {
    let text = get(admin, "/metrics").text();
    let needle = format!("name=\"{name}\"}} ");
    text.lines()
        .find(|l| l.starts_with("pipy_pipeline_count{") && l.contains(&needle))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn mux_sessions_end_when_their_streams_end_and_idle_out() {
    let (port, admin) = (free_port(), free_port());
    let script = format!(
        "pipy()\n\
         .listen({port}).demuxHTTP().to($=>$.mux('shared', {{ maxIdle: '300ms' }}))\n\
         .pipeline('shared').replaceMessage(msg => new Message('answer ' + msg.head.path))\n"
    );
    let admin_arg = format!("--admin-port=127.0.0.1:{admin}");
    let _pipy = Pipy::script_with(&script, &[], &[&admin_arg], &[port, admin]);
    let mut conns = Vec::new();
    for i in 0..20 {
        let mut c = Conn::open(port);
        c.send(format!("GET /{i} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes());
        assert_eq!(c.read(false).text(), format!("answer /{i}"));
        conns.push(c);
    }
    assert_eq!(
        pipeline_count(admin, "shared"),
        Some(20),
        "one session per connection"
    );
    drop(conns);
    wait_for("mux sessions to close", Duration::from_secs(5), || {
        pipeline_count(admin, "shared") == Some(0)
    });
}

#[test]
fn mux_http_sessions_close_after_max_idle() {
    let (port, backend, admin) = (free_port(), free_port(), free_port());
    let script = format!(
        "pipy()\n\
         .listen({backend}).serveHTTP(new Message('ok'))\n\
         .listen({port}).demuxHTTP().to($=>$.muxHTTP('up', {{ maxIdle: '300ms' }}))\n\
         .pipeline('up').connect('127.0.0.1:{backend}')\n"
    );
    let admin_arg = format!("--admin-port=127.0.0.1:{admin}");
    let _pipy = Pipy::script_with(&script, &[], &[&admin_arg], &[port, backend, admin]);
    for _ in 0..10 {
        assert_eq!(get(port, "/").text(), "ok");
    }
    wait_for("muxHTTP sessions to close", Duration::from_secs(5), || {
        pipeline_count(admin, "up") == Some(0)
    });
}

#[test]
fn mux_max_queue_opens_another_session_for_the_same_key() {
    let (port, admin) = (free_port(), free_port());
    let script = format!(
        "pipy()\n\
         .listen({port}).decodeHTTPRequest()\n\
           .mux('shared', () => 'one key', {{ maxQueue: 2 }})\n\
           .encodeHTTPResponse()\n\
         .pipeline('shared').replaceMessage(new Message('ok'))\n"
    );
    let admin_arg = format!("--admin-port=127.0.0.1:{admin}");
    let _pipy = Pipy::script_with(&script, &[], &[&admin_arg], &[port, admin]);
    // Five connections, each one stream through mux (they stay open), one
    // key, at most two streams per session: three sessions.
    let mut conns = Vec::new();
    for i in 0..5 {
        let mut c = Conn::open(port);
        c.send(format!("GET /{i} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes());
        assert_eq!(c.read(false).text(), "ok");
        conns.push(c);
    }
    assert_eq!(pipeline_count(admin, "shared"), Some(3));
}

/// Options may come from a function, asked per stream (upstream's form).
#[test]
fn mux_options_may_come_from_a_function() {
    let dir = temp_dir();
    let main = dir.join("main.js");
    std::fs::write(
        &main,
        "pipy()
          .task().onStart(() => [new Message('c'), new StreamEnd])
          .mux(() => 'k', () => ({ outputCount: 2 })).to($=>$.replaceMessage(m => [new Message('x'), new Message('y')]))
          .handleMessage(m => console.log('got', m.body.toString()))
          .handleStreamEnd(() => pipy.exit(0))",
    )
    .expect("write");
    let (code, _, err) = run_to_end(&[&main.to_string_lossy()]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("got x") && err.contains("got y"), "{err}");
}

#[test]
fn mux_http_options_may_come_from_a_function() {
    let (port, backend, admin) = (free_port(), free_port(), free_port());
    let script = format!(
        "pipy()\n\
         .listen({backend}).serveHTTP(new Message('ok'))\n\
         .listen({port}).demuxHTTP().to($=>$.muxHTTP('up', () => 'k', () => ({{ maxIdle: '300ms' }})))\n\
         .pipeline('up').connect('127.0.0.1:{backend}')\n"
    );
    let admin_arg = format!("--admin-port=127.0.0.1:{admin}");
    let _pipy = Pipy::script_with(&script, &[], &[&admin_arg], &[port, backend, admin]);
    for _ in 0..5 {
        assert_eq!(get(port, "/").text(), "ok");
    }
    // The default maxIdle is a minute: only the function's 300 ms closes it now.
    wait_for("the session to close", Duration::from_secs(5), || {
        pipeline_count(admin, "up") == Some(0)
    });
}

/// `outputCount` may be a function of each message's start (upstream asks it
/// per message): 2 answers for the first message, 1 for the second.
#[test]
fn mux_output_count_may_be_a_function_of_the_message() {
    let dir = temp_dir();
    let main = dir.join("main.js");
    std::fs::write(
        &main,
        "pipy()
          .task().onStart(() => [new Message({n: 2}, 'c'), new Message({n: 1}, 'd'), new StreamEnd])
          .mux({ outputCount: m => m.head.n }).to($=>$.replaceMessage(m => [new Message('x-' + m.body), new Message('y-' + m.body)]))
          .handleMessage(m => console.log('got', m.body.toString()))
          .handleStreamEnd(() => pipy.exit(0))",
    )
    .expect("write");
    let (code, _, err) = run_to_end(&[&main.to_string_lossy()]);
    assert_eq!(code, 0, "{err}");
    let got: Vec<&str> = err
        .lines()
        .filter_map(|l| l.split_once("[INF] got ").map(|(_, m)| m))
        .collect();
    assert_eq!(got, ["x-c", "y-c", "x-d"], "{err}");
}
