//! Metrics end to end: a real repo and a real worker; the worker's counters on
//! its own `/metrics`, in the repo's `/metrics` and in `/api/v1/metrics`.

use crate::harness::*;
use std::time::Duration;

#[test]
fn worker_metrics_reach_the_worker_port_and_the_repo() {
    let (_repo, port) = repo(&[]);
    let app = free_port();
    let admin = free_port();
    let proxy = free_port();
    let script = format!(
        "((hits = new stats.Counter('it_hits', ['path'])) => pipy().listen({app}, {{ peerStats: true }})\n\
         .serveHTTP(msg => (hits.withLabels(msg.head.path).increase(), new Message('ok')))\n\
         .listen({proxy}).connect('127.0.0.1:{app}'))()"
    );
    publish(port, "/mcb", &script, "1");
    let url = format!("http://127.0.0.1:{port}/repo/mcb/");
    let admin_arg = format!("--admin-port=127.0.0.1:{admin}");
    let _worker = Pipy::spawn(
        &[&url, &admin_arg, "--instance-uuid=metrics-1"],
        &[app, admin, proxy],
    );
    for _ in 0..3 {
        assert_eq!(get(app, "/x").text(), "ok");
    }
    assert_eq!(get(proxy, "/y").text(), "ok");

    // The worker's own admin port: OpenMetrics text, no instance label;
    // counter samples end in `_total`.
    let local = get(admin, "/metrics");
    assert_eq!(
        local.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    let local = local.text();
    assert!(local.ends_with("\n# EOF\n"), "{local}");
    assert!(
        local.contains("# TYPE pipy_inbound_in counter\n"),
        "{local}"
    );
    let inbound =
        format!("pipy_inbound_in_total{{listen=\"[0.0.0.0]:{app}/TCP\",peer=\"127.0.0.1\"}} ");
    assert!(local.contains(&inbound), "{local}");
    assert!(local.contains("# TYPE it_hits counter\n"), "{local}");
    assert!(local.contains("it_hits_total{path=\"/x\"} 3\n"), "{local}");
    assert!(local.contains("it_hits_total{path=\"/y\"} 1\n"), "{local}");
    let peer = format!("peer=\"[127.0.0.1]:{app}\"");
    assert!(
        local.contains(&format!("pipy_outbound_in_total{{{peer}}} ")),
        "{local}"
    );
    // The harness's probe of the proxy port connected too: count both.
    let count = format!("pipy_outbound_conn_time_count{{{peer}}} ");
    let n = local.lines().find_map(|l| l.strip_prefix(count.as_str()));
    assert!(n.is_some_and(|n| n != "0"), "{local}");
    let inf = format!(
        "pipy_outbound_conn_time_bucket{{le=\"+Inf\",{peer}}} {}\n",
        n.unwrap_or("")
    );
    assert!(local.contains(&inf), "{local}");
    assert!(
        local.contains("pipy_pipeline_count{module=\"/main.js\",name=\"Listen on"),
        "{local}"
    );

    // The repo: reports come every 5 s.
    let mut text = String::new();
    wait_for("metrics at the repo", Duration::from_secs(12), || {
        text = request(port, "GET", "/metrics", "").text();
        text.contains("it_hits_total{instance=\"1\",path=\"/x\"} 3\n")
    });
    let inbound = format!(
        "pipy_inbound_in_total{{instance=\"1\",listen=\"[0.0.0.0]:{app}/TCP\",peer=\"127.0.0.1\"}} "
    );
    assert!(text.contains(&inbound), "{text}");

    // History, sampled on the repo's 5 s tick.
    let path = "/api/v1/metrics/metrics-1/pipy_inbound_count";
    let mut doc = serde_json::Value::Null;
    wait_for("metric history", Duration::from_secs(12), || {
        let r = request(port, "GET", path, "");
        doc = serde_json::from_str(&r.text()).unwrap_or_default();
        doc["metrics"][0]["s"].is_array()
    });
    let m = &doc["metrics"][0];
    assert_eq!(
        (m["k"].as_str(), m["t"].as_str()),
        (Some("pipy_inbound_count"), Some("Gauge"))
    );
    assert_eq!(m["l"], "listen/peer");
    assert_eq!(m["s"][0]["k"], format!("[0.0.0.0]:{app}/TCP"));
    assert_eq!(m["s"][0]["s"][0]["k"], "127.0.0.1");
    assert!(doc["time"].is_u64());

    // The pipeline graph of /main.js: in the worker's reports, so under its
    // instance in the repo, and on the worker's own `/status`.
    let graph = serde_json::json!({"roots":[0,2],"nodes":[
        {"name":format!("[0.0.0.0]:{app}"),"t":"root","c":[1]},
        {"name":"serveHTTP","t":"filter","p":0},
        {"name":format!("[0.0.0.0]:{proxy}"),"t":"root","c":[3]},
        {"name":"connect","t":"filter","p":2},
    ]});
    let mut cb = serde_json::Value::Null;
    wait_for("the graph at the repo", Duration::from_secs(12), || {
        let r = request(port, "GET", "/api/v1/repo/mcb", "");
        cb = serde_json::from_str(&r.text()).unwrap_or_default();
        cb["instances"].as_object().is_some_and(|o| {
            o.values()
                .any(|i| i["status"]["modules"]["/main.js"]["graph"] == graph)
        })
    });
    let status: serde_json::Value =
        serde_json::from_str(&get(admin, "/status").text()).unwrap_or_default();
    assert_eq!(status["modules"]["/main.js"]["graph"], graph, "{status}");
}

/// `new stats.Gauge(name, labels, onCollect)`: the callback runs on every
/// worker thread before each read of the metrics, as upstream's does, so a
/// scrape sees what the callback sets then (compared side by side with
/// upstream 1.5.18: the same values on each scrape).
#[test]
fn gauge_callbacks_run_before_each_scrape() {
    let app = free_port();
    let admin = free_port();
    let script = format!(
        "((n = 0, g = new stats.Gauge('it_collected', ['k'], g => (n++, g.withLabels('a').set(n * 10), g.withLabels('b').set(7)))) =>\n\
         pipy().listen({app}).serveHTTP(() => new Message('n=' + n)))()"
    );
    let admin_arg = format!("--admin-port=127.0.0.1:{admin}");
    let _worker = Pipy::script_with(&script, &[], &[&admin_arg, "--threads=2"], &[app, admin]);
    let value = |text: &str, k: &str| -> Option<u64> {
        let prefix = format!("it_collected{{k=\"{k}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(prefix.as_str())?.parse().ok())
    };
    // Two threads, one callback each: once both have loaded (the port opens
    // with the first), each scrape adds 10 per thread, and `b` is 7 on each.
    let second = eventually("both threads' callbacks", Duration::from_secs(15), || {
        let first = get(admin, "/metrics").text();
        let second = get(admin, "/metrics").text();
        let (a1, a2) = (value(&first, "a")?, value(&second, "a")?);
        (a2 == a1 + 20 && value(&second, "b") == Some(14)).then_some(second)
    });
    assert!(second.contains("# TYPE it_collected gauge\n"), "{second}");
    // `g => ...` throws nothing and the worker serves as before.
    assert!(get(app, "/").text().starts_with("n="));
}
