//! API objects, checked through `pipy -e`, which prints a non-Configuration value.

use crate::harness::*;

fn eval(expr: &str) -> String {
    let (code, out, err) = run_to_end(&["-e", expr]);
    assert_eq!(code, 0, "pipy -e {expr:?} failed: {err}");
    out.trim_end().to_string()
}

#[test]
fn data_constructors_and_encodings() {
    assert_eq!(eval("new Data('hello').size"), "5");
    assert_eq!(
        eval("new Data('68656c6c6f', 'hex').toString()"),
        r#""hello""#
    );
    assert_eq!(
        eval("new Data('aGVsbG8=', 'base64').toString()"),
        r#""hello""#
    );
    assert_eq!(eval("new Data('hi').toString('base64')"), r#""aGk=""#);
    assert_eq!(eval("new Data([104, 105]).toString()"), r#""hi""#);
    assert_eq!(eval("new Data('abc').toArray()"), "[97,98,99]");
    assert_eq!(eval("Data.from('hi').toString('hex')"), r#""6869""#);
    assert_eq!(eval("Data.from('zz', 'hex')"), "null");
    assert_eq!(
        eval(
            "((e = '') => { try { new Data('zz', 'hex') } catch (x) { e = 'threw' } return e })()"
        ),
        r#""threw""#
    );
    assert_eq!(eval("new Data(new Data('copy')).toString()"), r#""copy""#);
}

#[test]
fn data_push_and_shift_family() {
    assert_eq!(
        eval("((d = new Data('ab')) => (d.push('cd').push(new Data('ef')), d.toString()))()"),
        r#""abcdef""#
    );
    assert_eq!(
        eval("((d = new Data('hello world')) => [d.shift(5).toString(), d.toString()])()"),
        r#"["hello"," world"]"#
    );
    assert_eq!(
        eval(
            "((d = new Data('k=v;rest')) => [d.shiftTo(b => b == 59).toString(), d.toString()])()"
        ),
        r#"["k=v;","rest"]"#
    );
    assert_eq!(
        eval("((d = new Data('aaab')) => [d.shiftWhile(b => b == 97).toString(), d.size])()"),
        r#"["aaa",1]"#
    );
}

#[test]
fn messages_and_events() {
    assert_eq!(eval("new Message('body').body.toString()"), r#""body""#);
    assert_eq!(eval("new Message({status: 404}, 'x').head.status"), "404");
    assert_eq!(
        eval("new StreamEnd('ConnectionReset').error"),
        r#""ConnectionReset""#
    );
    assert_eq!(eval("new MessageStart({path: '/a'}).head.path"), r#""/a""#);
    assert_eq!(eval("new MessageEnd({x: 1}).tail.x"), "1");
}

#[test]
fn url_and_search_params() {
    assert_eq!(
        eval("((u = new URL('http://user:pw@Example.com:8080/a/b?x=1&y=2#h')) => [u.protocol, u.hostname, u.port, u.host, u.pathname, u.search, u.query, u.hash, u.auth, u.path])()"),
        // As upstream: the host keeps its case.
        r##"["http:","Example.com","8080","Example.com:8080","/a/b","?x=1&y=2","x=1&y=2","#h","user:pw","/a/b?x=1&y=2"]"##
    );
    // As upstream: a port written in the URL stays in `host` and `href`, and
    // `port` tells the scheme's default when none is written.
    assert_eq!(
        eval("((u = new URL('https://a.com:443/')) => [u.href, u.port, new URL('https://a.com/').port])()"),
        r#"["https://a.com:443/","443","443"]"#
    );
    assert_eq!(
        eval("new URL('c/d', 'http://a.com/x/y').href"),
        r#""http://a.com/x/c/d""#
    );
    assert_eq!(
        eval("new URL('http://a.com/?q=1').searchParams.get('q')"),
        r#""1""#
    );
    assert_eq!(
        eval("new URLSearchParams('a=1&a=2&b=x%20y').toObject()"),
        r#"{"a":["1","2"],"b":"x y"}"#
    );
    assert_eq!(
        eval("new URLSearchParams('a=1&a=2').getAll('a')"),
        r#"["1","2"]"#
    );
}

#[test]
fn url_router_matches_like_upstream() {
    let r = "new algo.URLRouter({'/hi/*': 'hi', '/echo': 'echo', 'example.com/x/*': 'host'})";
    assert_eq!(
        eval(&format!("((r = {r}) => [r.find('localhost:8000', '/hi'), r.find('localhost', '/hi/there?q'), r.find('h', '/hix'), r.find('h', '/echo'), r.find('h', '/echo/x'), r.find('example.com:80', '/x/1'), r.find('other', '/x/1')])()")),
        r#"["hi","hi",null,"echo",null,"host",null]"#
    );
}

#[test]
fn load_balancers() {
    assert_eq!(
        eval("new Array(7).fill(new algo.RoundRobinLoadBalancer(['A','B','C'])).map(b => b.next().id)"),
        r#"["A","B","C","A","B","C","A"]"#
    );
    assert_eq!(
        eval("new Array(6).fill(new algo.RoundRobinLoadBalancer({A: 2, B: 1})).map(b => b.next().id)"),
        r#"["A","B","A","A","B","A"]"#
    );
    // Unhealthy targets are skipped.
    assert_eq!(
        eval("((c = new algo.Cache(), b = new algo.RoundRobinLoadBalancer(['A','B'], c)) => (c.set('A', true), [b.next().id, b.next().id]))()"),
        r#"["B","B"]"#
    );
    // A borrower keeps its target.
    assert_eq!(
        eval("((b = new algo.RoundRobinLoadBalancer(['A','B']), k = {}) => [b.next(k).id, b.next(k).id, b.next({}).id])()"),
        r#"["A","A","B"]"#
    );
    // Least work: a freed resource makes its target preferred again.
    assert_eq!(
        eval("((b = new algo.LeastWorkLoadBalancer(['A','B']), r = b.next({})) => (b.next({}), r.free(), b.next({}).id))()"),
        r#""A""#
    );
    // Hashing: the same tag gets the same target.
    assert_eq!(
        eval("((b = new algo.HashingLoadBalancer(['A','B','C'])) => b.next({}, 'k').id == b.next({}, 'k').id)()"),
        "true"
    );
}

#[test]
fn cache_allocates_evicts_and_frees() {
    assert_eq!(
        eval("((freed = [], c = new algo.Cache(k => k + '!', (k, v) => freed.push(k), {size: 2})) => [c.get('a'), c.get('b'), c.get('c'), c.remove('c'), c.remove('zz'), freed])()"),
        r#"["a!","b!","c!",true,false,["a","c"]]"#
    );
}

#[test]
fn hashes_uuids_and_json() {
    assert_eq!(
        eval("new crypto.Hash('sha256').digest('hex')"),
        r#""e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855""#
    );
    assert_eq!(
        eval("((h = new crypto.Hash('md5')) => (h.update('a'), h.update(new Data('bc')), h.digest('hex')))()"),
        r#""900150983cd24fb0d6963f7d28e17f72""#
    );
    assert_eq!(eval("new crypto.Hash('sha1').digest().size"), "20");
    assert_eq!(
        eval("algo.hash('x') === algo.hash('x') && algo.hash('x') !== algo.hash('y')"),
        "true"
    );
    assert_eq!(eval("/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(algo.uuid())"), "true");
    assert_eq!(eval("JSON.decode(JSON.encode({a: [1, 2]})).a[1]"), "2");
    assert_eq!(eval("JSON.encode({a: 1}).toString()"), r#""{\"a\":1}""#);
}

#[test]
fn pipy_load_solve_and_os_env() {
    let dir = temp_dir();
    std::fs::write(dir.join("cfg.json"), r#"{"port": 1234}"#).unwrap();
    std::fs::write(dir.join("main.js"), "[pipy.solve('cfg.json').port, pipy.load('cfg.json').size, pipy.load('missing') === null, os.env.PIPY_TEST_VAR]").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pipy"))
        .current_dir(&dir)
        .env("PIPY_TEST_VAR", "yes")
        .args(["-e", &std::fs::read_to_string(dir.join("main.js")).unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        r#"[1234,14,true,"yes"]"#
    );
}

/// `console.*` prints upstream's lines on stderr: `YYYY-MM-DD HH:MM:SS.mmm [INF] ...`,
/// values as upstream's console shows them, no colour codes, debug off by default.
#[test]
fn console_prints_upstream_lines_on_stderr() {
    let (code, out, err) = run_to_end(&[
        "-e",
        "(console.log('top', { a: 1, s: 'x' }, [1, 'b'], null, undefined), console.info('i'), \
          console.warn('w', [[]]), console.error('e', () => 0), console.debug('hidden'), 7)",
    ]);
    assert_eq!((code, out.trim()), (0, "7"), "{err}");
    assert!(
        !err.contains('\u{1b}'),
        "no ANSI codes when stderr is a pipe: {err:?}"
    );
    assert!(!err.contains("hidden"), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    let find = |tail: &str| {
        lines
            .iter()
            .find(|l| l.ends_with(tail))
            .unwrap_or_else(|| panic!("no line ending with {tail:?} in {err}"))
            .to_string()
    };
    let l = find(r#" [INF] top { a: 1, s: "x" } [ 1, "b" ] null undefined"#);
    // `2026-12-04 17:59:59.123`
    let stamp = &l[..23];
    assert!(
        stamp.as_bytes()[4] == b'-' && stamp.as_bytes()[10] == b' ' && stamp.as_bytes()[19] == b'.',
        "{l}"
    );
    find(" [INF] i");
    find(" [WRN] w [ [  ] ]");
    find(" [ERR] e Function{  }");
}

#[test]
fn algo_load_balancer_allocates_pooled_resources_as_upstream() {
    // Weighted round robin: 'a' weighs 2. Results as upstream 1.5.18 gives
    // them for the same script.
    assert_eq!(
        eval("(lb => { var r1 = lb.allocate(), r2 = lb.allocate(), r3 = lb.allocate(), r4 = lb.allocate(); var s = lb.schedule(6); r1.free(); var r5 = lb.allocate(null, t => t != 'c'); var r6 = lb.allocate('c'); return [r1.target, r2.target, r3.target, r4.target, s, r5.target, r6.target] })(new algo.LoadBalancer(['a', 'b', 'c'], {weight: t => t == 'a' ? 2 : 1}))"),
        r#"["a","b","c","a",["a","b","c","a","a","b"],"a","c"]"#
    );
    // Least load: freed resources give their target back its turn;
    // provision keeps the targets that stay.
    assert_eq!(
        eval("(lb => { var r = []; for (var i = 0; i < 6; i++) r.push(lb.allocate()); r[0].free(); r[1].free(); var x = lb.allocate(); lb.provision(['b', 'c', 'd']); var y = []; for (var i = 0; i < 4; i++) y.push(lb.allocate().target); return [r.map(x => x.target), x.target, y] })(new algo.LoadBalancer(['a', 'b', 'c'], {algorithm: 'least-load'}))"),
        r#"[["a","b","c","a","b","c"],"a",["d","b","d","c"]]"#
    );
    // Capacity: shared beyond it; a freed resource is the same object again.
    assert_eq!(
        eval("(lb => { var a = lb.allocate('a'), b = lb.allocate('a'), c = lb.allocate('a'); var d = lb.allocate('b'); d.free(); var e = lb.allocate('b'); return [a === b, a === c, b === c, d === e, lb.allocate('zz', t => false), lb.schedule(3, t => t == 'b')] })(new algo.LoadBalancer(['a', 'b'], {capacity: t => t == 'a' ? 2 : 0}))"),
        r#"[false,true,false,true,null,["b","b","b"]]"#
    );
}

/// JWTs made by PyJWT with keys made by `cryptography`: HS256, RS256 (PEM,
/// JWK and `crypto.PublicKey`), ES256 and ES384; a tampered token and a
/// wrong key do not verify; header and payload read back.
#[test]
fn jwts_made_by_pyjwt_verify() {
    let py = r#"
import json, jwt
from cryptography.hazmat.primitives.asymmetric import rsa, ec
from cryptography.hazmat.primitives import serialization as s
def pem(k):
    return k.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo).decode()
r = rsa.generate_private_key(public_exponent=65537, key_size=2048)
e256 = ec.generate_private_key(ec.SECP256R1())
e384 = ec.generate_private_key(ec.SECP384R1())
claims = {"sub": "pipy", "n": 42}
out = {
  "hs": jwt.encode(claims, "s3cret", algorithm="HS256"),
  "hs512": jwt.encode(claims, "s3cret", algorithm="HS512"),
  "rs": jwt.encode(claims, r, algorithm="RS256", headers={"kid": "k1"}),
  "rs512": jwt.encode(claims, r, algorithm="RS512"),
  "es256": jwt.encode(claims, e256, algorithm="ES256"),
  "es384": jwt.encode(claims, e384, algorithm="ES384"),
  "rsPem": pem(r), "es256Pem": pem(e256), "es384Pem": pem(e384),
  "rsJwk": json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(r.public_key())),
  "esJwk": json.loads(jwt.algorithms.ECAlgorithm.to_jwk(e256.public_key())),
}
print(json.dumps(out))
"#;
    let o = std::process::Command::new("python3")
        .arg("-c")
        .arg(py)
        .output()
        .expect("python3 with PyJWT and cryptography");
    let tokens = String::from_utf8(o.stdout).unwrap();
    assert!(
        tokens.starts_with('{'),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let dir = temp_dir();
    std::fs::write(dir.join("tokens.json"), tokens.trim()).unwrap();
    let script = dir.join("main.js");
    std::fs::write(
        &script,
        format!(
            "((t = JSON.parse(os.readFile('{}').toString()), J = s => new crypto.JWT(s)) => (
              console.log('hs', J(t.hs).isValid, J(t.hs).verify('s3cret'), J(t.hs).verify('wrong'), J(t.hs512).verify(new Data('s3cret'))),
              console.log('rs', J(t.rs).verify(t.rsPem), J(t.rs).verify(new crypto.JWK(t.rsJwk)), J(t.rs).verify(new crypto.PublicKey(t.rsPem)), J(t.rs512).verify(t.rsPem), J(t.rs).verify(t.es256Pem)),
              console.log('es', J(t.es256).verify(t.es256Pem), J(t.es256).verify(new crypto.JWK(t.esJwk)), J(t.es384).verify(t.es384Pem), J(t.es384).verify(t.es256Pem)),
              console.log('claims', J(t.rs).header.kid, J(t.rs).payload.sub, J(t.rs).payload.n),
              console.log('tampered', J(t.hs.replace(/\\.[^.]*\\./, '.' + 'eyJzdWIiOiJldmUifQ' + '.')).verify('s3cret'), J('a.b').isValid, J('x.y.z').isValid),
              console.log('bad jwk', (() => {{ try {{ new crypto.JWK({{ kty: 'RSA' }}) }} catch (e) {{ return e.message }} }})()),
              pipy()
            ))()",
            dir.join("tokens.json").display()
        ),
    )
    .unwrap();
    let (code, _, err) = run_to_end(&[script.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    for line in [
        "hs true true false true",
        "rs true true true true false",
        "es true true true false",
        "claims k1 pipy 42",
        "tampered false false false",
        "bad jwk missing \"n\"",
    ] {
        assert!(err.contains(line), "{line} in {err}");
    }
}

/// `crypto.Sign`/`crypto.Verify` against Python's `cryptography`: its
/// RSA (PKCS#1 v1.5), ECDSA (P-256, P-384) and Ed25519 signatures verify
/// here, and ours verify there.
#[test]
fn signatures_cross_check_with_python_cryptography() {
    let dir = temp_dir();
    let keys = dir.join("keys.json");
    let made = dir.join("ours.json");
    let py_make = format!(
        r#"
import json
from cryptography.hazmat.primitives.asymmetric import rsa, ec, ed25519, padding
from cryptography.hazmat.primitives import hashes, serialization as s
msg = b"hello pipy"
def priv(k): return k.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()).decode()
def pub(k): return k.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo).decode()
r = rsa.generate_private_key(public_exponent=65537, key_size=2048)
p256 = ec.generate_private_key(ec.SECP256R1())
p384 = ec.generate_private_key(ec.SECP384R1())
ed = ed25519.Ed25519PrivateKey.generate()
out = {{
  "rsa": [priv(r), pub(r), "sha256", r.sign(msg, padding.PKCS1v15(), hashes.SHA256()).hex()],
  "rsa512": [priv(r), pub(r), "sha512", r.sign(msg, padding.PKCS1v15(), hashes.SHA512()).hex()],
  "p256": [priv(p256), pub(p256), "sha256", p256.sign(msg, ec.ECDSA(hashes.SHA256())).hex()],
  "p384": [priv(p384), pub(p384), "sha384", p384.sign(msg, ec.ECDSA(hashes.SHA384())).hex()],
  "ed25519": [priv(ed), pub(ed), "sha256", ed.sign(msg).hex()],
}}
open("{}", "w").write(json.dumps(out))
"#,
        keys.display()
    );
    let o = std::process::Command::new("python3")
        .arg("-c")
        .arg(&py_make)
        .output()
        .expect("python3 with cryptography");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let script = dir.join("main.js");
    std::fs::write(
        &script,
        format!(
            "((k = JSON.parse(os.readFile('{keys}').toString()), ours = {{}}) => (
              Object.keys(k).forEach(name => {{
                const [priv, pub, alg, sig] = k[name];
                const v = new crypto.Verify(alg); v.update('hello pipy');
                const w = new crypto.Verify(alg); w.update('hello there');
                console.log('theirs', name, v.verify(new crypto.PublicKey(pub), sig, 'hex'), w.verify(new crypto.PublicKey(pub), new Data(sig, 'hex')));
                const s = new crypto.Sign(alg); s.update('hello '); s.update(new Data('pipy'));
                ours[name] = s.sign(new crypto.PrivateKey(priv), 'hex');
              }}),
              os.writeFile('{made}', JSON.stringify(ours)),
              pipy()
            ))()",
            keys = keys.display(),
            made = made.display()
        ),
    )
    .unwrap();
    let (code, _, err) = run_to_end(&[script.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    for name in ["rsa", "rsa512", "p256", "p384", "ed25519"] {
        let line = format!("theirs {name} true false");
        assert!(err.contains(&line), "{line} in {err}");
    }
    let py_check = format!(
        r#"
import json
from cryptography.hazmat.primitives.asymmetric import ec, padding, ed25519
from cryptography.hazmat.primitives import hashes, serialization as s
keys = json.load(open("{}"))
ours = json.load(open("{}"))
H = {{"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}}
for name, (priv, pub, alg, _) in keys.items():
    k = s.load_pem_public_key(pub.encode())
    sig = bytes.fromhex(ours[name])
    if name.startswith("rsa"): k.verify(sig, b"hello pipy", padding.PKCS1v15(), H[alg])
    elif name == "ed25519": k.verify(sig, b"hello pipy")
    else: k.verify(sig, b"hello pipy", ec.ECDSA(H[alg]))
    print("ok", name)
"#,
        keys.display(),
        made.display()
    );
    let o = std::process::Command::new("python3")
        .arg("-c")
        .arg(&py_check)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["ok rsa", "ok rsa512", "ok p256", "ok p384", "ok ed25519"],
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `Timeout` (a global beyond upstream's reference that its samples use):
/// `wait()` resolves with the Timeout when it fires, rejects when canceled,
/// and a wait after it fired resolves at once; `restart(s)` starts it again.
/// Compared side by side with upstream 1.5.18 (whose `restart(s)` throws;
/// see `timeout.rs`).
#[test]
fn timeouts_fire_cancel_and_restart() {
    let script = "((t0 = Date.now(), el = () => Math.round((Date.now() - t0) / 100) / 10) => (\n\
  new Timeout(0.3).wait().then(t => console.log('fired', el(), t instanceof Timeout)),\n\
  ((t) => (t.wait().then(() => console.log('not'), (e) => console.log('canceled', el(), e === t)), t.cancel()))(new Timeout(0.2)),\n\
  ((t) => (new Timeout(0.1).wait().then(() => t.restart(0.5)), t.wait().then(() => console.log('restarted', el()))))(new Timeout(0.4)),\n\
  ((t) => new Timeout(0.5).wait().then(() => t.wait().then(() => console.log('late wait', el()))))(new Timeout(0.1)),\n\
  new Timeout(1).wait().then(() => pipy.exit(0)),\n\
  pipy()\n\
))()";
    let dir = temp_dir();
    std::fs::write(dir.join("main.js"), script).unwrap();
    let (code, _, err) = run_to_end(&[dir.join("main.js").to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = err
        .lines()
        .filter_map(|l| l.split_once(" [INF] ").map(|(_, m)| m))
        .filter(|m| !m.starts_with('['))
        .collect();
    assert_eq!(
        lines,
        [
            "canceled 0 true",
            "fired 0.3 true",
            "late wait 0.5",
            "restarted 0.6"
        ],
        "{err}"
    );
}

/// A canceled Timeout no longer keeps a worker with no port, and restarts
/// move one timer rather than adding timers.
#[test]
fn canceled_timeouts_let_a_portless_worker_end() {
    let dir = temp_dir();
    std::fs::write(
        dir.join("main.js"),
        "((t = new Timeout(0.2)) => (new Timeout(3600).cancel(), t.restart(), t.restart(0.3),\n\
           t.wait().then(() => console.log('once')), pipy()))()",
    )
    .unwrap();
    let started = std::time::Instant::now();
    let (code, _, err) = run_to_end(&[dir.join("main.js").to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{err}"
    );
    assert_eq!(err.matches("[INF] once").count(), 1, "{err}");
}

/// `os` beyond the reference: files and directories made, read, listed,
/// renamed and removed (as upstream 1.5.18 does side by side), and
/// `os.path` with Node's results.
#[test]
fn os_files_directories_and_paths() {
    let dir = temp_dir();
    let d = dir.join("osd").to_string_lossy().into_owned();
    let script = format!(
        "(os.mkdir('{d}/a/b', {{ recursive: true }}), os.write('{d}/a/b/f.txt', 'hello'),\n\
          [os.read('{d}/a/b/f.txt').toString(), JSON.stringify(os.list('{d}/a')),\n\
           (os.rename('{d}/a/b/f.txt', '{d}/a/g.txt'), JSON.stringify(os.list('{d}/a'))),\n\
           os.rm('{d}/a/g.txt'), os.rmdir('{d}', {{ recursive: true }}), os.rm('{d}/none', {{ force: true }}),\n\
           (() => {{ try {{ os.read('{d}/none'); return 'no' }} catch (e) {{ return 'threw' }} }})(),\n\
           os.path.join('a', '', 'b/../c'), os.path.basename('/x/y.js', '.js'), os.path.dirname('/x/y'),\n\
           os.path.resolve('/a', 'b', '/c', 'd'), os.platform].join(' '))"
    );
    let (code, out, err) = run_to_end(&["-e", &script]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.trim(),
        "\"hello [\\\"b/\\\"] [\\\"b/\\\",\\\"g.txt\\\"] true true false threw a/c y /x /c/d linux\""
    );
    assert!(!dir.join("osd").exists());
}
