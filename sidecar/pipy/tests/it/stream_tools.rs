//! Stream tools over raw TCP: `split`, `pack`, `insert`, `wait`, `loop`,
//! `replay`, `tee` and `read`. Expected outputs are what upstream Pipy 1.5.18
//! gives for the same script and input (compared side by side), except where a
//! test says otherwise.

use crate::harness::*;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

/// Sends `parts` with a pause between them, half-closes, and reads until the
/// server closes (at most 10 s).
fn exchange(port: u16, parts: &[&str]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(150));
        }
        s.write_all(p.as_bytes()).unwrap();
    }
    s.shutdown(Shutdown::Write).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got)
        .expect("the server closes the stream");
    String::from_utf8_lossy(&got).into_owned()
}

fn serve(script: &str) -> (Pipy, u16) {
    let port = free_port();
    let p = Pipy::script(&script.replace("PORT", &port.to_string()), &[port]);
    (p, port)
}

const BRACKETS: &str = ".replaceMessage(m => new Data('[' + m.body.toString() + ']'))";

#[test]
fn split_cuts_at_separators_across_chunks() {
    let (_p, port) = serve(&format!("pipy().listen(PORT).split(',')\n{BRACKETS}"));
    assert_eq!(exchange(port, &["ab,cd,,e", "f,g,"]), "[ab][cd][][ef][g][]");
    // A separator split over three chunks, with a near miss before it.
    let (_p, port) = serve(&format!("pipy().listen(PORT).split('abab')\n{BRACKETS}"));
    assert_eq!(
        exchange(port, &["xxabaXab", "ab", "abyyaba", "bzab"]),
        "[xxabaX][abyy][zab]"
    );
    // A function gives the separator; an over-long constant one is refused.
    let (_p, port) = serve(&format!(
        "pipy().listen(PORT).split(() => new Data('--'))\n{BRACKETS}"
    ));
    assert_eq!(exchange(port, &["a--b"]), "[a][b]");
    let (code, _, err) = run_to_end(&[
        "-e",
        &format!("pipy().listen(1).split('{}')", "x".repeat(1025)),
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("separator over 1KB"), "{err}");
}

#[test]
fn pack_combines_messages_with_prefix_separator_postfix_and_timeout() {
    // Upstream counts the first interval from the epoch: the first message
    // always goes out alone.
    let (_p, port) = serve(&format!(
        "pipy().listen(PORT).split(',').pack(2, {{prefix:'<', separator:'+', postfix:'>'}})\n{BRACKETS}"
    ));
    assert_eq!(exchange(port, &["a,b,c,d,e"]), "[<a>][<b+c>][<d+e>]");
    // A batch that never fills goes out once no message came for `timeout`,
    // while the stream stays open.
    let (_p, port) = serve(&format!(
        "pipy().listen(PORT).split(',').pack(100, {{timeout: 0.3}})\n{BRACKETS}"
    ));
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"a,b,c,").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    while !String::from_utf8_lossy(&got).contains("[bc]") {
        let n = s.read(&mut buf).expect("the timed-out batch comes out");
        assert!(n > 0, "closed early: {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(String::from_utf8_lossy(&got), "[a][bc]");
}

#[test]
fn insert_puts_events_first_and_waits_for_promises() {
    let (_p, port) = serve(
        "pipy().listen(PORT)
          .insert(() => [new Data('hello '), new Data('world ')])
          .insert([new Data('X ')])
          .insert(() => new Promise(r => r(new Data('P '))))",
    );
    assert_eq!(exchange(port, &["abc"]), "X hello world abcP ");
    let (code, _, err) = run_to_end(&["-e", "pipy().listen(1).insert(42)"]);
    assert_ne!(code, 0);
    assert!(err.contains("insert(): expects"), "{err}");
}

#[test]
fn wait_holds_events_until_its_condition_or_timeout() {
    let (_p, port) = serve(
        "pipy({_n:0}).listen(PORT).handleData(()=>_n++).wait(() => _n >= 2)
          .replaceData(d => new Data('[' + d.toString() + _n + ']'))",
    );
    assert_eq!(exchange(port, &["a", "b", "c"]), "[a2][b2][c3]");
    let (_p, port) = serve(
        "pipy().listen(PORT).wait(() => false, {timeout: 0.2})
          .replaceData(d => new Data('[' + d.toString() + ']'))",
    );
    assert_eq!(exchange(port, &["a", "b"]), "[a][b]");
    // A Promise lets the events through when it resolves.
    let (_p, port) = serve(
        "pipy({_r:null}).listen(PORT)
          .handleData(d => d.toString() == 'go' && _r())
          .wait(() => new Promise(r => _r = r))
          .replaceData(d => new Data('[' + d.toString() + ']'))",
    );
    assert_eq!(exchange(port, &["a", "go"]), "[a][go]");
}

#[test]
fn loop_feeds_output_back_until_the_sub_pipeline_stops() {
    // Upstream 1.5.18 stops after `x1x12` and never ends the stream (its
    // feedback task is armed once); every round goes on here.
    let (_p, port) = serve(
        "pipy({_i:0}).listen(PORT)
          .loop($=>$.replaceData(d => _i < 3 ? new Data(d.toString() + (++_i)) : null))",
    );
    // The rounds run before the client half-closes (its StreamEnd would
    // end the sub-pipeline, and the loop with it).
    assert_eq!(exchange(port, &["x", ""]), "x1x12x123");
}

#[test]
fn replay_runs_the_sub_pipeline_again_on_a_replay_stream_end() {
    let (_p, port) = serve(
        "pipy({_i:0}).listen(PORT).replay({delay: 0.05}).to($=>$
          .replaceStreamEnd(e => ++_i < 3 ? new StreamEnd('Replay') : e)
          .replaceData(d => new Data('[' + d.toString() + _i + ']')))",
    );
    assert_eq!(exchange(port, &["ab"]), "[ab0][ab1][ab2]");
}

#[test]
fn tee_writes_data_to_files_and_read_streams_one_back() {
    let dir = temp_dir();
    let own = dir.join("own.log");
    let appended = dir.join("appended.log");
    std::fs::write(&own, "old\n").unwrap();
    std::fs::write(&appended, "old ").unwrap();
    let (_p, port) = serve(&format!(
        "pipy().listen(PORT).tee('{}').tee(() => '{}', {{append: true}})",
        own.display(),
        appended.display()
    ));
    assert_eq!(exchange(port, &["ab", "cd"]), "abcd");
    assert_eq!(exchange(port, &["ef"]), "ef");
    let file_is = |path: &std::path::Path, want: &str| {
        let path = path.to_owned();
        let want = want.to_owned();
        eventually("the file written", Duration::from_secs(10), || {
            (std::fs::read_to_string(&path).unwrap_or_default() == want).then_some(())
        })
    };
    file_is(&appended, "old abcdef");
    file_is(&own, "ef");

    let data = dir.join("data.txt");
    std::fs::write(&data, "0123456789abcdef").unwrap();
    let (_p, port) = serve(&format!(
        "pipy().listen(PORT).read('{}', {{seek: 2, size: () => 5}})",
        data.display()
    ));
    assert_eq!(exchange(port, &["x"]), "23456");
    let (_p, port) = serve(&format!(
        "pipy().listen(PORT).read('{}')",
        dir.join("none").display()
    ));
    assert_eq!(exchange(port, &["x"]), "");
}

#[test]
fn tee_shared_files_rotate_by_size_and_keep_a_count() {
    let dir = temp_dir();
    let log = dir.join("access.log");
    // A file whose name merely ends the same is not a rotated one.
    std::fs::write(dir.join("old-access.log"), "keep me").unwrap();
    let (_p, port) = serve(&format!(
        "pipy().listen(PORT).tee('{}', {{shared: true, maxFileSize: 4, maxFileCount: 2}})",
        log.display()
    ));
    // Rotated names carry the file's start to the second: the files of
    // `aaa`, `bbb` and `ccc` start in three different seconds.
    for (part, pause) in [("aaa", 1100), ("bbb", 1100), ("ccc", 0), ("ddd", 0)] {
        assert_eq!(exchange(port, &[part]), part);
        std::thread::sleep(Duration::from_millis(pause));
    }
    eventually("the last file", Duration::from_secs(10), || {
        (std::fs::read_to_string(&log).unwrap_or_default() == "ddd").then_some(())
    });
    let mut rotated: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "access.log" && n != "old-access.log" && n.ends_with("access.log"))
        .collect();
    rotated.sort();
    assert_eq!(rotated.len(), 2, "{rotated:?}");
    let newest = std::fs::read_to_string(dir.join(&rotated[1])).unwrap();
    assert_eq!(newest, "ccc");
    assert_eq!(
        std::fs::read_to_string(dir.join("old-access.log")).unwrap(),
        "keep me"
    );
}

#[test]
fn pipy_read_streams_a_file_through_a_pipeline_and_then_exits() {
    // The shape of upstream's codec suite (`test/codec/gzip`): a module of
    // `pipy.read` alone, output on standard output through `tee('-')`.
    let dir = temp_dir();
    let input = dir.join("input");
    let text: String = (0..5000).map(|i| format!("line {i}\n")).collect();
    std::fs::write(&input, &text).unwrap();
    let main = dir.join("main.js");
    std::fs::write(
        &main,
        format!(
            "pipy.read('{}', $=>$\n  .compress('gzip')\n  .decompress('gzip')\n  .tee('-')\n)\n",
            input.display()
        ),
    )
    .unwrap();
    let (code, out, err) = run_to_end(&["--no-graph", &main.to_string_lossy()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, text);
    // A file that is not there: the Promise is rejected and the run ends.
    std::fs::write(
        &main,
        "pipy.read('/nonexistent/input', $=>$.tee('-')).catch(e => console.log('rejected:', e.message))",
    )
    .unwrap();
    let (code, _, err) = run_to_end(&[&main.to_string_lossy()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("rejected: cannot open file: /nonexistent/input"),
        "{err}"
    );
}

#[test]
fn exec_runs_a_child_process_as_a_filter() {
    // stdin to stdout, while the stream is open.
    let (_p, port) = serve("pipy().listen(PORT).exec('cat')");
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"hello").unwrap();
    let mut buf = [0u8; 16];
    let n = s.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello");
    drop(s);
    // The exit code and the standard error go to onExit, whose result is
    // output; with `stderr: true` standard error is output too.
    let (_p, port) = serve(
        "pipy().listen(PORT).exec(['sh', '-c', 'echo out; echo err >&2; exit 3'],
           {onExit: (code, err) => new Data('[exit ' + code + ' ' + err.toString().trim() + ']')})",
    );
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"x").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut got = Vec::new();
    while !String::from_utf8_lossy(&got).contains(']') {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(String::from_utf8_lossy(&got), "out\n[exit 3 err]");
    let (_p, port) = serve(
        r#"pipy().listen(PORT).exec('sh -c "echo $FOO; echo e >&2"', {stderr: true, env: {FOO: 'bar baz', PATH: '/usr/bin:/bin'}})"#,
    );
    // (The end of the input kills the process, as upstream: the client
    // waits for the output before it half-closes.)
    assert_eq!(exchange(port, &["x", ""]), "bar baz\ne\n");
}

#[test]
fn exec_kills_and_reaps_its_process_when_the_stream_ends() {
    let (p, port) = serve(
        "pipy().listen(PORT).exec('sleep 60', {onStart: pid => console.log('child=' + pid + '.')})",
    );
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"x").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let pid: u32 = eventually("the child started", Duration::from_secs(10), || {
        let log = p.stderr_text();
        // The last one: the harness's probe of the port was a stream too
        // (its end started a process and killed it at once, as upstream).
        let at = log.rfind("child=")?;
        log[at + 6..].split('.').next()?.parse().ok()
    });
    assert!(
        std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "{pid}: {}",
        p.stderr_text()
    );
    drop(s);
    // Killed, and reaped: no zombie left behind.
    eventually("the child is gone", Duration::from_secs(10), || {
        (!std::path::Path::new(&format!("/proc/{pid}")).exists()).then_some(())
    });
    let (code, _, err) = run_to_end(&["-e", "pipy().listen(1).exec('x', {pty: true})"]);
    assert_ne!(code, 0);
    assert!(err.contains("pty is not supported"), "{err}");
}

#[test]
fn deframe_runs_a_state_machine_written_in_the_script() {
    let (_p, port) = serve(
        "pipy().listen(PORT).deframe({
           LEN: c => ['BODY', c, new Data],
           BODY: d => [new MessageStart, d, new MessageEnd, 'LEN'],
         }).replaceMessage(m => new Data('[' + m.body.toString() + ']'))",
    );
    assert_eq!(
        exchange(port, &["\u{3}ab", "c\u{2}de\u{1}f"]),
        "[abc][de][f]"
    );
    // A read with no buffer passes the bytes through.
    let (_p, port) =
        serve("pipy().listen(PORT).deframe({ A: c => c == 0x2c ? ['B', 3] : 'A', B: c => ['A'] })");
    assert_eq!(exchange(port, &["xx,123yy,4", "56"]), "123456");
    // An unknown state ends the stream.
    let (_p, port) = serve("pipy().listen(PORT).deframe({ A: c => 'NOPE' }).dump()");
    assert_eq!(exchange(port, &["abc"]), "");
}

#[test]
fn watch_runs_its_pipeline_when_the_file_changes() {
    // Upstream 1.5.18 runs nothing for a file of a local codebase (and exits
    // when there is nothing but a watch); here the file is looked at every
    // second and each change starts the pipeline once.
    let port = free_port();
    let dir = temp_dir();
    std::fs::write(dir.join("conf.txt"), "v1").unwrap();
    std::fs::write(
        dir.join("main.js"),
        format!(
            "pipy().listen({port}).serveHTTP(new Message('up'))
               .watch('conf.txt').onStart(() => (console.log('changed:', pipy.load('conf.txt').toString().trim()), new StreamEnd))"
        ),
    )
    .unwrap();
    let p = Pipy::spawn(&[&dir.join("main.js").to_string_lossy()], &[port]);
    for v in ["v2", "v3"] {
        std::fs::write(dir.join("conf.txt"), v).unwrap();
        eventually("the watch ran", Duration::from_secs(10), || {
            p.stderr_text()
                .contains(&format!("changed: {v}"))
                .then_some(())
        });
    }
    assert!(!p.stderr_text().contains("changed: v1"));
}
