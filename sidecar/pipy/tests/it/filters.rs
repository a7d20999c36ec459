//! Filters and context variables, each in a small script served on a free port.

use crate::harness::*;

fn serve(script: impl Fn(u16) -> String) -> (Pipy, u16) {
    let port = free_port();
    (Pipy::script(&script(port), &[port]), port)
}

/// A GET of `path` with `Host: x` and `X-Tag: tag`, written as is (names in
/// the case given): the answer's head and body.
fn tagged_get(port: u16, path: &str, tag: &str) -> (String, String) {
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    std::io::Write::write_all(
        &mut c,
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nX-Tag: {tag}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .unwrap();
    let mut out = String::new();
    std::io::Read::read_to_string(&mut c, &mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or_default();
    (head.to_string(), body.to_string())
}

#[test]
fn handle_message_start_edits_reach_the_upstream() {
    let up = free_port();
    let port = free_port();
    let _u = Pipy::script(&format!("pipy().listen({up}).serveHTTP(msg => new Message(msg.head.headers['x-added'] + ' ' + msg.head.path))"), &[up]);
    let _p = Pipy::script(
        &format!("pipy().listen({port}).demuxHTTP().to($=>$.handleMessageStart(msg => (msg.head.headers['x-added'] = 'yes', msg.head.path = '/rewritten')).muxHTTP().to($=>$.connect('127.0.0.1:{up}')))"),
        &[port],
    );
    assert_eq!(get(port, "/orig").text(), "yes /rewritten");
}

/// Headers a script only read go upstream as they came (case kept); a value
/// changed in place goes upstream changed, the names still in their case.
#[test]
fn header_values_changed_in_place_reach_the_upstream() {
    let up = free_port();
    let port = free_port();
    let _u = Pipy::script(
        &format!("pipy().listen({up}).serveHTTP(msg => new Message(msg.head.headers['x-tag'] + ' ' + Object.keys(msg.head.headerNames).join(',')))"),
        &[up],
    );
    let _p = Pipy::script(
        &format!("pipy().listen({port}).demuxHTTP().to($=>$.handleMessageStart(msg => msg.head.headers['x-tag'] === 'change' && (msg.head.headers['x-tag'] = 'changed')).muxHTTP().to($=>$.connect('127.0.0.1:{up}')))"),
        &[port],
    );
    let ask = |tag: &str| tagged_get(port, "/", tag).1;
    // Read only: the names keep the client's case (headerNames lists them).
    assert_eq!(ask("keep"), "keep host,x-tag");
    // Changed in place: the new value goes upstream, and the names keep the
    // client's case, as upstream's (side by side with 1.5.18).
    assert_eq!(ask("change"), "changed host,x-tag");
}

/// A callback's `MessageStart` makes its head a script object only when read
/// (see `MessageStartObject`): a head no script reads goes on as it came, one
/// kept and read later is still there, and edits by a later callback (on
/// the request and on the response) still reach the wire.
#[test]
fn heads_read_late_or_never_still_reach_the_wire() {
    let up = free_port();
    let port = free_port();
    let _u = Pipy::script(
        &format!("pipy().listen({up}).serveHTTP(msg => new Message(msg.head.path + ' ' + Object.keys(msg.head.headerNames).join(',')))"),
        &[up],
    );
    let _p = Pipy::script(
        &format!(
            "pipy({{ _m: null, _path: '' }}).listen({port}).demuxHTTP().to($=>$
              .handleMessageStart(msg => {{ _m = msg }})
              .handleMessageStart(() => undefined)
              .handleMessageStart(msg => msg.head.headers['x-tag'] === 'edit' && (msg.head.path = '/edited'))
              .handleMessageEnd(() => {{ _path = _m.head.path }})
              .muxHTTP().to($=>$.connect('127.0.0.1:{up}'))
              .handleMessageStart(msg => {{ msg.head.headers['x-path'] = _path }}))"
        ),
        &[port],
    );
    let ask = |tag: &str| {
        let (head, body) = tagged_get(port, "/p", tag);
        let path = head
            .lines()
            .find_map(|l| l.strip_prefix("x-path: "))
            .unwrap_or_default()
            .to_string();
        (path, body)
    };
    // Never read on the way up: the path and the names' case as they came.
    assert_eq!(ask("keep"), ("/p".into(), "/p host,x-tag".into()));
    // Edited by a later callback: the edit goes upstream, and the head kept
    // unread from the first callback is the same object (upstream 1.5.18,
    // side by side, gives these same answers).
    assert_eq!(ask("edit"), ("/edited".into(), "/edited host,x-tag".into()));
}

#[test]
fn replace_filters_transform_messages() {
    let (_p, port) = serve(|port| {
        format!(
        "pipy().listen({port}).demuxHTTP().to($=>$
          .replaceMessage(msg => new Message({{ status: 201, headers: {{ 'x-len': String(msg.body.size) }} }}, msg.body.toString().toUpperCase()))
          .replaceMessageBody(body => new Data(body.toString() + '!'))
          .replaceData(d => new Data(d.toString().replace('A', 'a'))))"
    )
    });
    let r = post(port, "/", b"abc");
    assert_eq!(r.status, 201);
    assert_eq!(r.header("x-len"), Some("3"));
    assert_eq!(r.text(), "aBC!");
}

#[test]
fn replace_message_start_and_end() {
    let (_p, port) = serve(|port| {
        format!(
            "pipy().listen({port}).demuxHTTP().to($=>$
          .replaceMessage(new Message('body'))
          .replaceMessageStart(() => new MessageStart({{ status: 202 }}))
          .replaceMessageEnd(() => [new Data(' tail'), new MessageEnd()]))"
        )
    });
    let r = get(port, "/");
    assert_eq!((r.status, r.text().as_str()), (202, "body tail"));
}

#[test]
fn branch_link_and_named_pipelines() {
    let (_p, port) = serve(|port| {
        format!(
            "pipy({{ _kind: '' }})
          .listen({port}).demuxHTTP().to('request')
          .pipeline('request')
            .handleMessageStart(msg => _kind = msg.head.path.substring(1))
            .branch(
              () => _kind == 'a', $=>$.replaceMessage(new Message('branch a')),
              () => _kind == 'b', 'b-pipeline',
              $=>$.link('fallback')
            )
          .pipeline('b-pipeline').replaceMessage(new Message('named b'))
          .pipeline('fallback').replaceMessage(() => new Message('fallback ' + _kind))"
        )
    });
    assert_eq!(get(port, "/a").text(), "branch a");
    assert_eq!(get(port, "/b").text(), "named b");
    assert_eq!(get(port, "/zzz").text(), "fallback zzz");
}

#[test]
fn branch_message_start_and_branch_message_pass_the_message() {
    let (_p, port) = serve(|port| {
        format!(
            "pipy().listen({port}).demuxHTTP().to($=>$
          .branchMessageStart(
            msg => msg.head.path == '/start', $=>$.replaceMessage(new Message('by start')),
            $=>$.branchMessage(
              msg => msg.body.toString() == 'ping', $=>$.replaceMessage(new Message('pong')),
              $=>$.replaceMessage(new Message('other'))
            )
          ))"
        )
    });
    assert_eq!(get(port, "/start").text(), "by start");
    assert_eq!(post(port, "/", b"ping").text(), "pong");
    assert_eq!(post(port, "/", b"pang").text(), "other");
}

#[test]
fn static_branch_is_decided_at_load_time() {
    let (_p, port) = serve(|port| {
        format!(
        "pipy().listen({port}).branch(false, $=>$.dummy(), true, $=>$.serveHTTP(new Message('static')))"
    )
    });
    assert_eq!(get(port, "/").text(), "static");
}

#[test]
fn context_variables_are_per_stream_and_objects_are_shared() {
    let script = |port: u16, demux: bool| {
        let handler = "(_n++, _shared.count++, _fresh.count++, new Message(`${_n} ${_shared.count} ${_fresh.count}`))";
        let serve = if demux {
            format!("demuxHTTP().to($=>$.replaceMessage(() => {handler}))")
        } else {
            format!("serveHTTP(() => {handler})")
        };
        format!("pipy({{ _n: 0, _shared: {{ count: 0 }}, _fresh: () => ({{ count: 0 }}) }}).listen({port}).{serve}")
    };
    // serveHTTP runs its handler in the connection's context: values live as
    // long as the connection; _fresh is made once per context; _shared is one
    // object for all.
    let (_p, port) = serve(|port| script(port, false));
    assert_eq!(get(port, "/").text(), "1 1 1");
    assert_eq!(get(port, "/").text(), "1 2 1");
    let mut c = Conn::open(port);
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.read(false).text(), "1 3 1");
    assert_eq!(c.read(false).text(), "2 4 2");
    // demuxHTTP gives every request a copy of the connection's context.
    let (_q, port) = serve(|port| script(port, true));
    let mut c = Conn::open(port);
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.read(false).text(), "1 1 1");
    assert_eq!(c.read(false).text(), "1 2 1");
}

#[test]
fn connection_context_counts_requests_of_one_connection() {
    let (_p, port) = serve(|port| {
        format!(
            "pipy({{ _conn: 0 }})
          .listen({port})
          .handleData(() => _conn++)
          .demuxHTTP().to($=>$.replaceMessage(() => new Message('seen ' + _conn)))"
        )
    });
    let mut c = Conn::open(port);
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.read(false).text(), "seen 1");
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.read(false).text(), "seen 2");
}

#[test]
fn explicit_codec_filters_make_a_server() {
    let (_p, port) = serve(|port| {
        format!(
        "pipy().listen({port})
          .decodeHTTPRequest()
          .replaceMessage(msg => new Message({{ status: 200, headers: {{ 'x-m': msg.head.method }} }}, 'coded ' + msg.head.path))
          .encodeHTTPResponse()"
    )
    });
    let r = get(port, "/codec");
    assert_eq!(
        (r.header("x-m"), r.text().as_str()),
        (Some("GET"), "coded /codec")
    );
}

#[test]
fn stream_hooks_fork_print_and_dump() {
    let port = free_port();
    let p = Pipy::script(
        &format!(
            "pipy({{ _events: [] }})
              .listen({port})
              .onStart(() => new Data(''))
              .handleStreamStart(() => console.log('stream-start'))
              .handleStreamEnd(e => console.log('stream-end', e.error || 'none'))
              .fork().to($=>$.print())
              .demuxHTTP().to($=>$
                .dump('req')
                .handleMessageEnd(() => console.log('message-end'))
                .handleMessageBody(b => console.log('body', b.toString()))
                .handleMessage(m => console.log('message', m.head.method, m.body.size))
                .replaceMessage(new Message('ok')))"
        ),
        &[port],
    );
    assert_eq!(post(port, "/", b"xyz").text(), "ok");
    // Output is asynchronous to the response: wait (bounded) for the log lines.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let err = p.stderr_text();
        let out = p.stdout_text();
        let done = [
            "stream-start",
            "message-end",
            "body xyz",
            "message POST 3",
            "stream-end none",
            "] [req] MessageStart, head = { ",
            "[req] Data [3] [ 78 79 7A ]",
        ]
        .iter()
        .all(|s| err.contains(s))
            // print() writes to the log output, as upstream's does.
            && err.contains("POST / HTTP/1.1")
            && out.is_empty();
        if done {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "missing output:\nstderr: {err}\nstdout: {out}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn repeat_builds_several_listeners() {
    let (a, b) = (free_port(), free_port());
    let _p = Pipy::script(
        &format!("pipy().repeat([{a}, {b}], ($, port) => $.listen(port).serveHTTP(new Message('port ' + port)))"),
        &[a, b],
    );
    assert_eq!(get(a, "/").text(), format!("port {a}"));
    assert_eq!(get(b, "/").text(), format!("port {b}"));
}

#[test]
fn use_links_named_pipelines_of_modules() {
    let port = free_port();
    let _p = Pipy::script_with(
        &format!("pipy().listen({port}).demuxHTTP().to($=>$.use(['a.js', 'b.js'], 'req'))"),
        &[
            ("a.js", "pipy().pipeline('req').handleMessageStart(msg => msg.head.headers['x-a'] = '1').chain()"),
            ("b.js", "pipy().pipeline('req').replaceMessage(msg => new Message('a=' + msg.head.headers['x-a']))"),
        ],
        &[],
        &[port],
    );
    assert_eq!(get(port, "/").text(), "a=1");
}

#[test]
fn mux_merges_messages_into_one_shared_pipeline() {
    let (_p, port) = serve(|port| {
        format!(
            "((g = {{ n: 0 }}) => pipy().listen({port}).demuxHTTP().to($=>$
          .mux(() => 'all').to($=>$.handleMessageStart(() => g.n++))
          .replaceMessage(() => new Message('merged ' + g.n))))()"
        )
    });
    assert_eq!(get(port, "/").text(), "merged 1");
    assert_eq!(get(port, "/").text(), "merged 2");
}

#[test]
fn demux_gives_each_message_its_own_pipeline() {
    let port = free_port();
    let p = Pipy::script(
        &format!(
            "pipy().listen({port}).demuxHTTP().to($=>$
              .fork().to($=>$.demux().to($=>$.handleMessage(m => console.log('demuxed', m.head.path))))
              .replaceMessage(new Message('ok')))"
        ),
        &[port],
    );
    assert_eq!(get(port, "/one").text(), "ok");
    assert_eq!(get(port, "/two").text(), "ok");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !(p.stderr_text().contains("demuxed /one") && p.stderr_text().contains("demuxed /two")) {
        assert!(std::time::Instant::now() < deadline, "{}", p.stderr_text());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn periodic_task_and_exit_pipeline() {
    let port = free_port();
    let mut p = Pipy::script(
        &format!(
            "((g = {{ ticks: 0 }}) => pipy()
              .task('50ms').onStart(() => (g.ticks++, new StreamEnd))
              .exit().onStart(() => (console.log('exit pipeline ran'), new StreamEnd))
              .listen({port}).serveHTTP(() => new Message(String(g.ticks))))()"
        ),
        &[port],
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while get(port, "/").text().parse::<u32>().unwrap() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the task does not repeat"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(p.terminate(), Some(0));
    assert!(
        p.stderr_text().contains("exit pipeline ran"),
        "{}",
        p.stderr_text()
    );
}

#[test]
fn explicit_client_codec_filters_talk_to_an_upstream() {
    let up = free_port();
    let port = free_port();
    let _u = Pipy::script(
        &format!(
            "pipy().listen({up}).serveHTTP(msg => new Message('upstream saw ' + msg.head.path))"
        ),
        &[up],
    );
    let _p = Pipy::script(
        &format!(
            "pipy().listen({port}).demuxHTTP().to($=>$
              .replaceMessage(msg => new Message({{ method: 'GET', path: '/via' + msg.head.path, headers: {{ host: 'up' }} }}))
              .encodeHTTPRequest()
              .connect('127.0.0.1:{up}')
              .decodeHTTPResponse()
              .replaceMessage(msg => new Message({{ status: msg.head.status }}, msg.body.toString().toUpperCase())))"
        ),
        &[port],
    );
    assert_eq!(get(port, "/x").text(), "UPSTREAM SAW /VIA/X");
}

#[test]
fn replace_stream_start_and_end_and_on_end() {
    let port = free_port();
    let p = Pipy::script(
        &format!(
            "pipy().listen({port})
              .onEnd(() => console.log('pipeline ended'))
              .replaceStreamStart(evt => [new Data('GET /from-start HTTP/1.1\\r\\nhost: x\\r\\n\\r\\n'), evt])
              .replaceStreamEnd(() => new StreamEnd)
              .demuxHTTP().to($=>$.replaceMessage(msg => new Message(msg.head.path)))"
        ),
        &[port],
    );
    let mut c = Conn::open(port);
    c.send(b"GET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    // The request made up at stream start is answered first.
    assert_eq!(c.read(false).text(), "/from-start");
    assert_eq!(c.read(false).text(), "/second");
    assert!(c.is_closed());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !p.stderr_text().contains("pipeline ended") {
        assert!(std::time::Instant::now() < deadline, "{}", p.stderr_text());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn heads_read_edit_and_serialize_like_plain_objects() {
    let (_p, port) = serve(|port| {
        format!(
        "pipy().listen({port}).demuxHTTP().to($=>$
          .handleMessageStart(msg => (msg.head.headers['x-new'] = 'n', msg.head.path = msg.head.path + '/edited'))
          .replaceMessage(msg => new Message({{ status: 200, headers: {{ 'set-cookie': ['a=1', 'b=2'] }} }}, JSON.stringify(msg.head))))"
    )
    });
    let r = get(port, "/j");
    let v = r.text();
    assert!(
        v.contains(r#""method":"GET""#) && v.contains(r#""path":"/j/edited""#),
        "{v}"
    );
    assert!(
        v.contains(r#""x-new":"n""#) && v.contains(r#""protocol":"HTTP/1.1""#),
        "{v}"
    );
    let cookies: Vec<_> = r
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
}

#[test]
fn fork_startup_values_reach_on_start() {
    let port = free_port();
    let p = Pipy::script(
        &format!(
            "pipy().listen({port}).demuxHTTP().to($=>$
              .fork(() => ['a', 'b']).to($=>$.onStart(v => (console.log('forked', v), new StreamEnd)))
              .replaceMessage(new Message('ok')))"
        ),
        &[port],
    );
    assert_eq!(get(port, "/").text(), "ok");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !(p.stderr_text().contains("forked a") && p.stderr_text().contains("forked b")) {
        assert!(std::time::Instant::now() < deadline, "{}", p.stderr_text());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// `demux` passes on each sub-pipeline's first `outputCount` messages, in the
/// order of the input messages (upstream 1.5's behaviour); the module's load
/// is logged as upstream logs it.
#[test]
fn demux_outputs_its_sub_pipelines_answers_in_order() {
    let dir = temp_dir();
    let main = dir.join("main.js");
    std::fs::write(
        &main,
        "pipy()
          .task().onStart(() => [new Message('a'), new Message('b'), new StreamEnd])
          .demux().to($=>$.replaceMessage(m => new Message('sub-' + m.body.toString())))
          .handleMessage(m => console.log('out', m.body.toString()))
          .task().onStart(() => [new Message('c'), new StreamEnd])
          .demux({ outputCount: 2 }).to($=>$.replaceMessage(m => [new Message('x-' + m.body), new Message('y-' + m.body)]))
          .handleMessage(m => console.log('out2', m.body.toString()))
          .handleStreamEnd(() => pipy.exit(0))",
    )
    .expect("write");
    let (code, _, err) = run_to_end(&[&main.to_string_lossy()]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = err
        .lines()
        .filter_map(|l| l.split_once(" [INF] ").map(|(_, m)| m))
        .filter(|m| !m.starts_with("[shutdown]"))
        .collect();
    assert_eq!(
        lines,
        [
            "[config] Module loaded: /main.js",
            "out sub-a",
            "out sub-b",
            "out2 x-c",
            "out2 y-c"
        ],
        "{err}"
    );
}

/// `decodeHTTPRequest(handler)` is told of each decoded head, as upstream's.
#[test]
fn decode_http_request_tells_its_handler_of_each_head() {
    let (_p, port) = serve(|port| {
        format!(
            "pipy().listen({port})\n\
             .decodeHTTPRequest(head => console.log('decoded', head.method, head.path))\n\
             .replaceMessage(msg => new Message(msg.head.path))\n\
             .encodeHTTPResponse()"
        )
    });
    assert_eq!(get(port, "/a").text(), "/a");
    wait_for(
        "the handler's line",
        std::time::Duration::from_secs(5),
        || _p.stderr_text().contains("decoded GET /a"),
    );
}

/// `link(() => name)` picks a named pipeline per stream (upstream 1.5); an
/// unknown name ends that stream.
#[test]
fn link_with_a_function_picks_the_pipeline_by_name() {
    let (_p, port) = serve(|port| {
        format!(
            "pipy()\n\
             .pipeline('a').serveHTTP(new Message('from a'))\n\
             .pipeline('b').serveHTTP(new Message('from b'))\n\
             .listen({port}).link(() => 'b')"
        )
    });
    assert_eq!(get(port, "/").text(), "from b");
    let (_q, port) = serve(|port| {
        format!(
            "pipy().pipeline('a').replaceMessage(new Message('a'))\n\
             .listen({port}).demuxHTTP().to($=>$.link(() => 'nope'))"
        )
    });
    assert_eq!(get(port, "/").status, 500);
}

/// `mux` answers each stream's messages with what the shared pipeline outputs
/// for them, `outputCount` messages each (upstream 1.5's behaviour).
#[test]
fn mux_answers_each_message_from_the_shared_pipeline() {
    let dir = temp_dir();
    let main = dir.join("main.js");
    std::fs::write(
        &main,
        "pipy()
          .task().onStart(() => [new Message('a'), new Message('b'), new StreamEnd])
          .mux().to($=>$.replaceMessage(m => new Message('sub-' + m.body.toString())))
          .handleMessage(m => console.log('out', m.body.toString()))
          .task().onStart(() => [new Message('c'), new StreamEnd])
          .mux({ outputCount: 2 }).to($=>$.replaceMessage(m => [new Message('x-' + m.body), new Message('y-' + m.body)]))
          .handleMessage(m => console.log('out2', m.body.toString()))
          .handleStreamEnd(() => pipy.exit(0))",
    )
    .expect("write");
    let (code, _, err) = run_to_end(&[&main.to_string_lossy()]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = err
        .lines()
        .filter_map(|l| l.split_once(" [INF] ").map(|(_, m)| m))
        .filter(|m| !m.starts_with('['))
        .collect();
    assert_eq!(
        lines,
        ["out sub-a", "out sub-b", "out2 x-c", "out2 y-c"],
        "{err}"
    );
}

/// `dump` lines read as upstream's: worker, context, the call site, the tag
/// (a value or a function's answer), then the event.
#[test]
fn dump_lines_follow_upstream() {
    let dir = temp_dir();
    let main = dir.join("main.js");
    std::fs::write(
        &main,
        "pipy()\n.task().onStart(() => [new Message({ path: '/x' }, 'hello world, again'), new StreamEnd('ConnectionReset')])\n.dump(() => 'fn-tag')\n.handleStreamEnd(() => pipy.exit(0))",
    )
    .expect("write");
    let (code, _, err) = run_to_end(&[&main.to_string_lossy()]);
    assert_eq!(code, 0, "{err}");
    for want in [
        "[INF] [dump] [worker=0] [context=",
        "] [/main.js 3:6] [fn-tag] MessageStart, head = { path: \"/x\" }",
        "] [/main.js 3:6] [fn-tag] Data [18] [ 68 65 6C 6C 6F 20 77 6F 72 6C 64 2C 20 61 67 61 ... ]",
        "] [/main.js 3:6] [fn-tag] MessageEnd",
        "] [/main.js 3:6] [fn-tag] StreamEnd, code = ConnectionReset",
    ] {
        assert!(err.contains(want), "no {want:?} in:\n{err}");
    }
}

/// Argument forms of upstream's reference that scripts use: `listen(null)`
/// switches a layout off, `connect` takes its options from a function, and
/// `demux`'s `outputCount` may be a function of each message.
#[test]
fn listen_null_connect_options_function_and_demux_output_count_function() {
    let (port, back, two) = (free_port(), free_port(), free_port());
    let _p = Pipy::script(
        &format!(
            "pipy()
            .listen(null).serveHTTP(new Message('never'))
            .listen({back}).serveHTTP(msg => new Message('back ' + msg.head.path))
            .listen({port}).demuxHTTP().to($=>$
              .muxHTTP().to($=>$.connect('127.0.0.1:{back}', () => ({{ connectTimeout: '2s' }}))))
            .listen({two}).decodeHTTPRequest()
              .demux({{ outputCount: msg => msg.head.path === '/two' ? 2 : 1 }}).to($=>$
                .replaceMessage(() => [new Message('a'), new Message('b')]))
              .encodeHTTPResponse()"
        ),
        &[port, back, two],
    );
    assert_eq!(get(port, "/x").text(), "back /x");
    let mut c = Conn::open(two);
    c.send(b"GET /two HTTP/1.1\r\n\r\nGET /one HTTP/1.1\r\n\r\n");
    assert_eq!(c.read(false).text(), "a");
    assert_eq!(c.read(false).text(), "b");
    assert_eq!(c.read(false).text(), "a");
}

/// `encodeHTTPRequest({ bufferSize })`: a body over it goes out chunked.
#[test]
fn encode_http_request_takes_its_buffer_size() {
    let port = free_port();
    let _p = Pipy::script(
        &format!(
            "pipy().listen({port})
              .replaceStreamStart(() => [new Message({{ method: 'POST', path: '/up' }}, 'hello world'), new StreamEnd])
              .encodeHTTPRequest({{ bufferSize: 4 }})"
        ),
        &[port],
    );
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    std::io::Write::write_all(&mut s, b"go").unwrap();
    let mut got = String::new();
    std::io::Read::read_to_string(&mut s, &mut got).unwrap();
    assert!(got.starts_with("POST /up HTTP/1.1\r\n"), "{got}");
    assert!(got.contains("transfer-encoding: chunked"), "{got}");
    assert!(!got.contains("content-length"), "{got}");
}

/// `decodeHTTPResponse(handler)`: what the handler returns is the request
/// the response answers, so an answer to `HEAD` has no body however long
/// its `content-length` says (as upstream).
#[test]
fn decode_http_response_learns_the_request_from_its_handler() {
    let dir = temp_dir();
    std::fs::write(
        dir.join("wire"),
        "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nhi",
    )
    .unwrap();
    let script = dir.join("main.js");
    std::fs::write(
        &script,
        format!(
            "((n = 0) => pipy.read('{}', $=>$
              .decodeHTTPResponse(head => (console.log('handler', head.status), n++ === 0 ? {{ method: 'HEAD' }} : {{ method: 'GET' }}))
              .handleMessage(m => console.log('response', m.head.status, m.body.size))
            ))()",
            dir.join("wire").display()
        ),
    )
    .unwrap();
    let (code, _, err) = run_to_end(&[script.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    for line in [
        "handler 200",
        "response 200 0",
        "handler 201",
        "response 201 2",
    ] {
        assert!(err.contains(line), "{line} in {err}");
    }
}
