//! What of upstream Pipy's API reference this build has, as tables for the
//! README. The filters come from the Configuration method table itself and the
//! API members from probing a real engine, so the tables cannot drift: a test
//! fails when the README's copy differs (`UPDATE_README=1` rewrites it).

use crate::config;
use anyhow::{anyhow, Result};

/// The Configuration methods of upstream's reference (`docs/reference/api/Configuration/`).
const UPSTREAM_METHODS: &[&str] = &[
    "acceptHTTPTunnel",
    "acceptProxyProtocol",
    "acceptSOCKS",
    "acceptTLS",
    "admin",
    "branch",
    "branchMessage",
    "branchMessageStart",
    "chain",
    "compress",
    "compressHTTP",
    "connect",
    "connectHTTPTunnel",
    "connectProxyProtocol",
    "connectSOCKS",
    "connectTLS",
    "decodeBGP",
    "decodeDubbo",
    "decodeHTTPRequest",
    "decodeHTTPResponse",
    "decodeMQTT",
    "decodeMultipart",
    "decodeRESP",
    "decodeThrift",
    "decodeWebSocket",
    "decompress",
    "decompressHTTP",
    "deframe",
    "demux",
    "demuxHTTP",
    "detectProtocol",
    "dummy",
    "dump",
    "encodeBGP",
    "encodeDubbo",
    "encodeHTTPRequest",
    "encodeHTTPResponse",
    "encodeMQTT",
    "encodeRESP",
    "encodeThrift",
    "encodeWebSocket",
    "exec",
    "exit",
    "export",
    "fork",
    "handleData",
    "handleMessage",
    "handleMessageBody",
    "handleMessageEnd",
    "handleMessageStart",
    "handleStreamEnd",
    "handleStreamStart",
    "handleTLSClientHello",
    "import",
    "insert",
    "link",
    "listen",
    "loop",
    "mux",
    "muxHTTP",
    "onEnd",
    "onStart",
    "pack",
    "pipeline",
    "print",
    "read",
    "repeat",
    "replaceData",
    "replaceMessage",
    "replaceMessageBody",
    "replaceMessageEnd",
    "replaceMessageStart",
    "replaceStreamEnd",
    "replaceStreamStart",
    "replay",
    "serveHTTP",
    "split",
    "task",
    "tee",
    "throttleConcurrency",
    "throttleDataRate",
    "throttleMessageRate",
    "to",
    "use",
    "wait",
    "watch",
];

/// Filters of upstream 1.5's pipeline API that its reference does not
/// document (statement-style modules use them; its source is the reference).
const PIPELINE_API_METHODS: &[&str] = &[
    "decodeNetlink",
    "demuxFastCGI",
    "demuxQueue",
    "depositMessage",
    "encodeNetlink",
    "forkJoin",
    "forkRace",
    "handle",
    "linkAsync",
    "muxFastCGI",
    "muxQueue",
    "pipe",
    "pipeNext",
    "produce",
    "replace",
    "swap",
];

/// Globals and members of upstream 1.5 beyond its reference (its samples and
/// `docs/dts` use them), probed like [`UPSTREAM_API`].
const PIPELINE_API: &str = "pipeline pipeline/Hub pipy/argv pipy/exec pipy/fork pipy/import \
pipy/inbound pipy/list pipy/listen pipy/mount pipy/now pipy/outbound pipy/patch pipy/performance \
pipy/pid pipy/read pipy/since pipy/source pipy/thread pipy/tty pipy/unmount pipy/uuid \
pipy/version pipy/watch DNS/decode DNS/encode YAML/decode YAML/encode YAML/parse \
YAML/stringify Timeout Timeout/cancel Timeout/new Timeout/restart Timeout/wait os/kill os/mkdir \
os/read os/rename os/rmdir os/write os/path/join os/path/resolve print println sqlite \
stats/sum";

/// Methods that define pipelines rather than append filters; they live in the
/// Configuration builder.
const BUILDER_METHODS: &[&str] = &[
    "listen", "pipeline", "task", "exit", "to", "export", "import", "repeat", "watch", "admin",
];

/// The members of upstream's reference, one page each (`Class/member`; `new` is
/// the constructor; a page named after a class is the class itself).
const UPSTREAM_API: &str = "Data/from Data/new Data/push Data/shift Data/shiftTo Data/shiftWhile \
Data/size Data/toArray Data/toString Hessian/decode Hessian/encode JSON/decode JSON/encode \
JSON/parse JSON/stringify Message/body Message/head Message/new Message/tail MessageEnd/new \
MessageEnd/payload MessageEnd/tail MessageStart/head MessageStart/new Netmask/base \
Netmask/bitmask Netmask/broadcast Netmask/contains Netmask/decompose Netmask/first \
Netmask/hostmask Netmask/ip Netmask/last Netmask/mask Netmask/new Netmask/next Netmask/size \
Netmask/version StreamEnd/error StreamEnd/new URL/auth URL/hash URL/host URL/hostname URL/href \
URL/new URL/origin URL/password URL/path URL/pathname URL/port URL/protocol URL/query \
URL/search URL/searchParams URL/username URLSearchParams/get URLSearchParams/getAll \
URLSearchParams/new URLSearchParams/set URLSearchParams/toObject URLSearchParams/toString \
XML/Node XML/Node/attributes XML/Node/children XML/Node/name XML/Node/new XML/decode \
XML/encode XML/parse XML/stringify algo/Cache algo/Cache/clear algo/Cache/get algo/Cache/new \
algo/Cache/remove algo/Cache/set algo/HashingLoadBalancer algo/HashingLoadBalancer/add \
algo/HashingLoadBalancer/new algo/HashingLoadBalancer/next algo/LeastWorkLoadBalancer \
algo/LeastWorkLoadBalancer/new algo/LeastWorkLoadBalancer/next algo/LeastWorkLoadBalancer/set \
algo/LoadBalancer algo/LoadBalancer/allocate algo/LoadBalancer/new algo/LoadBalancer/provision \
algo/LoadBalancer/schedule algo/LoadBalancerResource algo/LoadBalancerResource/free \
algo/LoadBalancerResource/target algo/Quota algo/Quota/consume algo/Quota/current \
algo/Quota/initial algo/Quota/new algo/Quota/produce algo/Quota/reset \
algo/RoundRobinLoadBalancer algo/RoundRobinLoadBalancer/new algo/RoundRobinLoadBalancer/next \
algo/RoundRobinLoadBalancer/set algo/URLRouter algo/URLRouter/add algo/URLRouter/find \
algo/URLRouter/new algo/hash algo/uuid console/debug console/error console/info console/log \
console/warn crypto/Certificate crypto/Certificate/issuer crypto/Certificate/new \
crypto/Certificate/subject crypto/Certificate/subjectAltNames crypto/CertificateChain \
crypto/CertificateChain/new crypto/Cipher crypto/Cipher/final crypto/Cipher/new \
crypto/Cipher/update crypto/Decipher crypto/Decipher/final crypto/Decipher/new \
crypto/Decipher/update crypto/Hash crypto/Hash/digest crypto/Hash/new crypto/Hash/update \
crypto/Hmac crypto/Hmac/digest crypto/Hmac/new crypto/Hmac/update crypto/JWK crypto/JWK/isValid \
crypto/JWK/new crypto/JWT crypto/JWT/header crypto/JWT/isValid crypto/JWT/new \
crypto/JWT/payload crypto/JWT/verify crypto/PrivateKey crypto/PrivateKey/new crypto/PublicKey \
crypto/PublicKey/new crypto/Sign crypto/Sign/new crypto/Sign/sign crypto/Sign/update \
crypto/Verify crypto/Verify/new crypto/Verify/update crypto/Verify/verify http/Agent/new \
http/Agent/request http/Directory http/Directory/new http/Directory/serve logging/BinaryLogger \
logging/BinaryLogger/log logging/BinaryLogger/new logging/BinaryLogger/toFile \
logging/BinaryLogger/toHTTP logging/BinaryLogger/toStderr logging/BinaryLogger/toStdout \
logging/BinaryLogger/toSyslog logging/JSONLogger logging/JSONLogger/log logging/JSONLogger/new \
logging/JSONLogger/toFile logging/JSONLogger/toHTTP logging/JSONLogger/toStderr \
logging/JSONLogger/toStdout logging/JSONLogger/toSyslog logging/TextLogger \
logging/TextLogger/log logging/TextLogger/new logging/TextLogger/toFile \
logging/TextLogger/toHTTP logging/TextLogger/toStderr logging/TextLogger/toStdout \
logging/TextLogger/toSyslog os/env os/readDir os/readFile os/stat os/unlink os/writeFile \
pipy/exit pipy/load pipy/restart pipy/solve stats/Counter stats/Counter/decrease \
stats/Counter/increase stats/Counter/new stats/Counter/withLabels stats/Counter/zero \
stats/Gauge stats/Gauge/decrease stats/Gauge/increase stats/Gauge/new stats/Gauge/set \
stats/Gauge/withLabels stats/Gauge/zero stats/Histogram stats/Histogram/new \
stats/Histogram/observe stats/Histogram/withLabels stats/Histogram/zero";

/// Decides in the engine whether each `Class/member` exists: on the holder
/// itself, on its prototype, or on a sample instance.
const PROBE: &str = r#"((paths) => {
  const samples = {
    'Message': () => new Message(),
    'MessageStart': () => new MessageStart(),
    'MessageEnd': () => new MessageEnd(),
    'StreamEnd': () => new StreamEnd(),
    'Data': () => new Data(),
    'URL': () => new URL('http://a/'),
    'URLSearchParams': () => new URLSearchParams(''),
    'Netmask': () => new Netmask('10.0.0.0/8'),
    'algo/LoadBalancerResource': () => new algo.LoadBalancer(['a']).allocate(),
  };
  return JSON.stringify(paths.map(path => {
    const parts = path.split('/');
    const last = parts.pop();
    let holder = globalThis;
    for (const p of parts) {
      if (holder === undefined || holder === null) return false;
      holder = holder[p];
    }
    if (holder === undefined || holder === null) return false;
    if (last === 'new') return typeof holder === 'function';
    if (last in Object(holder)) return true;
    if (typeof holder === 'function' && holder.prototype && last in holder.prototype) return true;
    const sample = samples[parts.join('/')];
    if (sample) {
      try { return last in Object(sample()); } catch (e) { return false; }
    }
    return false;
  }));
})"#;

/// Which of `UPSTREAM_API` exist, probed on a fresh engine thread.
fn probe_api(paths: Vec<String>) -> Result<Vec<bool>> {
    std::thread::spawn(move || -> Result<Vec<bool>> {
        let hooks = pipy_js::HostHooks {
            codebase: std::sync::Arc::new(pipy_js::codebase::DirCodebase::new(".")),
            make_configuration: config::make_configuration,
            exit: std::rc::Rc::new(|_| {}),
            restart: std::rc::Rc::new(|| {}),
        };
        pipy_js::init_thread(hooks).map_err(|e| anyhow!("{e}"))?;
        crate::worker::install_runtime_api()?;
        let list = serde_json::to_string(&paths)?;
        let json = pipy_js::with_js(|ctx| -> Result<String> {
            let src = format!("{PROBE}({list})");
            let v = ctx
                .eval(boa_engine::Source::from_bytes(&src))
                .map_err(|e| anyhow!("{e}"))?;
            Ok(v.to_string(ctx)
                .map_err(|e| anyhow!("{e}"))?
                .to_std_string_escaped())
        })?;
        Ok(serde_json::from_str(&json)?)
    })
    .join()
    .map_err(|_| anyhow!("the probe thread panicked"))?
}

/// The file that implements filter `m`, from the workspace's root.
fn source_file(m: &str) -> Option<String> {
    if BUILDER_METHODS.contains(&m) {
        return Some("sidecar/runtime/src/config/layouts.rs".to_string());
    }
    pipy_filters::SOURCE_FILES
        .iter()
        .find(|(n, _)| *n == m)
        .map(|(_, f)| format!("sidecar/filters/src/{f}"))
}

/// The README section: filters, then API members, supported or not yet.
pub fn render() -> Result<String> {
    let ours = config::method_names();
    let mut out = String::from("| filter | supported | source |\n|---|---|---|\n");
    for m in UPSTREAM_METHODS {
        let file = source_file(m);
        let here = ours.contains(m);
        let source = match (&file, here) {
            (Some(f), true) => format!("[{f}]({f})"),
            _ => String::new(),
        };
        out.push_str(&format!(
            "| `{m}` | {} | {source} |\n",
            if here { "yes" } else { "not yet" }
        ));
    }
    api_table(&mut out, UPSTREAM_API)?;
    out.push_str(
        "\nUpstream 1.5's pipeline API beyond its reference (statement-style modules):\n\n\
         | filter | supported | source |\n|---|---|---|\n",
    );
    for m in PIPELINE_API_METHODS {
        let here = ours.contains(m);
        let source = match pipy_filters::SOURCE_FILES.iter().find(|(n, _)| n == m) {
            Some((_, f)) if here => format!("[sidecar/filters/src/{f}](sidecar/filters/src/{f})"),
            _ => String::new(),
        };
        out.push_str(&format!(
            "| `{m}` | {} | {source} |\n",
            if here { "yes" } else { "not yet" }
        ));
    }
    api_table(&mut out, PIPELINE_API)?;
    Ok(out)
}

/// What the console's reference says of the two forms a module takes (the
/// README's "Running scripts" says the same).
pub const MODULE_FORMS: &str = "A module of a codebase is written in one of two forms, \
and both run here. The first is one expression whose value is a Configuration: \
`pipy().listen(8080).serveHTTP(...)`, with context variables declared by `pipy({...})` \
and shared between files by `export(namespace, {...})` and `import({...})`: the form \
upstream's reference documents. The second is written in statements, as upstream 1.5 \
also runs it: a `#!` line, top-level `var`, `function`, `if`, ... and ES `import`/`export` \
between the files of the codebase (or `pipy.import(path)`); every `var $name` (top-level \
or in a function) holds one value per stream; `pipeline($=>$...)` makes pipeline values \
(`spawn`, `process`) and `pipy.listen(port, $=>$...)` listens, also once the worker runs. \
A module in statements that listens on nothing runs while it has timers, connections, \
child processes or reads.";

/// The console's built-in reference: every filter and API class of the two
/// tables the README shows, with the first paragraph of its source file's
/// documentation (our own words) for filters. Reads the source tree: for
/// the generating test only.
pub fn reference_json() -> Result<serde_json::Value> {
    let ours = config::method_names();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let summary = |file: &str| -> String {
        let text = std::fs::read_to_string(root.join(file)).unwrap_or_default();
        let mut para = Vec::new();
        for line in text.lines() {
            let Some(doc) = line.strip_prefix("//!") else {
                break;
            };
            let doc = doc.trim();
            if doc.is_empty() {
                if para.is_empty() {
                    continue;
                }
                break;
            }
            para.push(doc.to_string());
        }
        para.join(" ")
    };
    let mut entries = vec![serde_json::json!({
        "kind": "guide", "name": "Modules", "group": "both forms",
        "supported": true, "summary": MODULE_FORMS,
    })];
    let groups = [
        ("reference", UPSTREAM_METHODS),
        ("pipeline API", PIPELINE_API_METHODS),
    ];
    for (group, methods) in groups {
        for m in methods {
            let file = source_file(m);
            let text = file.as_deref().map(summary).unwrap_or_default();
            entries.push(serde_json::json!({
                "kind": "filter", "name": m, "group": group,
                "supported": ours.contains(m),
                "source": file,
                "signature": signature(&text, m),
                "summary": text,
            }));
        }
    }
    for (group, list) in [("reference", UPSTREAM_API), ("pipeline API", PIPELINE_API)] {
        let paths: Vec<String> = list.split_whitespace().map(String::from).collect();
        let found = probe_api(paths.clone())?;
        for (class, yes, no) in by_class(&paths, found) {
            entries.push(serde_json::json!({
                "kind": "class", "name": class, "group": group,
                "supported": !yes.is_empty(), "members": yes, "missing": no,
            }));
        }
    }
    Ok(serde_json::Value::Array(entries))
}

/// The call form of `name` its summary spells in backticks (`` `name(a, b)` ``),
/// or `name()` when it gives none.
fn signature(summary: &str, name: &str) -> String {
    summary
        .split('`')
        .skip(1)
        .step_by(2)
        .find(|code| {
            code.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('(') && rest.ends_with(')'))
        })
        .map_or_else(|| format!("{name}()"), str::to_string)
}

/// Probed paths grouped by class: (class, members there, members not yet).
fn by_class(paths: &[String], found: Vec<bool>) -> Vec<(String, Vec<String>, Vec<String>)> {
    let mut groups: Vec<(String, Vec<String>, Vec<String>)> = Vec::new();
    for (path, ok) in paths.iter().zip(found) {
        let (class, member) = match path.rsplit_once('/') {
            Some((c, m)) if !m.starts_with(|c: char| c.is_ascii_uppercase()) => {
                (c.replace('/', "."), m.to_string())
            }
            _ => (path.replace('/', "."), "(class)".to_string()),
        };
        if groups.last().is_none_or(|g| g.0 != class) {
            groups.push((class.clone(), Vec::new(), Vec::new()));
        }
        if let Some(g) = groups.last_mut() {
            if ok { &mut g.1 } else { &mut g.2 }.push(member);
        }
    }
    groups
}

/// A table of the API members `list` names, by class, probed in an engine.
fn api_table(out: &mut String, list: &str) -> Result<()> {
    let paths: Vec<String> = list.split_whitespace().map(String::from).collect();
    let found = probe_api(paths.clone())?;
    out.push_str("\n| API | supported | not yet |\n|---|---|---|\n");
    for (class, yes, no) in by_class(&paths, found) {
        out.push_str(&format!(
            "| `{class}` | {} | {} |\n",
            yes.join(", "),
            no.join(", ")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    const BEGIN: &str =
        "<!-- support:begin (generated: UPDATE_README=1 cargo test -p pipy-runtime support) -->\n";
    const END: &str = "<!-- support:end -->";

    #[test]
    fn support_tables_in_the_readme_match_the_build() {
        let table = super::render().expect("render");
        let readme = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
        let text = std::fs::read_to_string(&readme).expect("README");
        let (Some(b), Some(e)) = (text.find(BEGIN), text.find(END)) else {
            panic!("README has no support section");
        };
        let current = &text[b + BEGIN.len()..e];
        if std::env::var_os("UPDATE_README").is_some() {
            let new = format!("{}{BEGIN}{table}{}", &text[..b], &text[e..]);
            std::fs::write(&readme, new).expect("write README");
            return;
        }
        assert_eq!(
            current, table,
            "README support tables are stale: UPDATE_README=1"
        );
    }

    /// The console's reference (`gui/src/reference.json`) is made from the same
    /// tables; `UPDATE_README=1` rewrites it too.
    #[test]
    fn the_consoles_reference_matches_the_build() {
        let json = super::reference_json().expect("reference");
        let text = format!("{}\n", serde_json::to_string_pretty(&json).expect("json"));
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../gui/src/reference.json");
        if std::env::var_os("UPDATE_README").is_some() {
            std::fs::write(&path, text).expect("write gui/src/reference.json");
            return;
        }
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            current == text,
            "gui/src/reference.json is stale: UPDATE_README=1 cargo test -p pipy-runtime support"
        );
    }
}
