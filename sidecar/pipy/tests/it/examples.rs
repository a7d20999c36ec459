//! Every example runs as its first comment says (fixed ports 8000, 8080-8082).

use crate::harness::*;

fn example(name: &str) -> String {
    examples()
        .join(name)
        .join("main.js")
        .to_string_lossy()
        .into_owned()
}

fn upstreams() -> Pipy {
    Pipy::spawn(&[&example("02-echo")], &[8080, 8081, 8082])
}

#[test]
fn hello_answers_fixed_message() {
    let _g = fixed_ports();
    let _p = Pipy::spawn(&[&example("01-hello")], &[8080]);
    let r = get(8080, "/");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "Hi, there!\n");
}

#[test]
fn echo_ports() {
    let _g = fixed_ports();
    let _p = upstreams();
    assert_eq!(post(8081, "/", b"hello").text(), "hello");
    assert_eq!(
        get(8082, "/hello").text(),
        "You are requesting /hello from 127.0.0.1\n"
    );
}

#[test]
fn proxy_forwards_and_reports_refused_upstream() {
    let _g = fixed_ports();
    let _p = Pipy::spawn(&[&example("03-proxy")], &[8000]);
    let r = get(8000, "/");
    assert_eq!(r.status, 502);
    assert_eq!(r.reason, "Connection Refused");
    let _u = upstreams();
    let r = get(8000, "/");
    assert_eq!((r.status, r.text().as_str()), (200, "Hi, there!\n"));
}

/// Shared by the routing, load-balancing and configuration examples.
fn check_routes(not_found: &str) {
    assert_eq!(get(8000, "/hi").text(), "Hi, there!\n");
    assert_eq!(
        get(8000, "/ip").text(),
        "You are requesting /ip from 127.0.0.1\n"
    );
    assert_eq!(post(8000, "/echo", b"xyz").text(), "xyz");
    let r = get(8000, "/bad");
    assert_eq!((r.status, r.text().as_str()), (404, not_found));
}

#[test]
fn routing_by_path_on_one_connection() {
    let _g = fixed_ports();
    let _u = upstreams();
    let _p = Pipy::spawn(&[&example("04-routing")], &[8000]);
    check_routes("No route");
    let mut c = Conn::open(8000);
    c.send(b"GET /hi HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(c.read(false).text(), "Hi, there!\n");
    c.send(b"GET /ip HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(
        c.read(false).text(),
        "You are requesting /ip from 127.0.0.1\n"
    );
}

/// Round robin across connections, sticky within one.
fn check_balancing() {
    let a = get(8000, "/hi").text();
    let b = get(8000, "/hi").text();
    assert_ne!(a, b, "two connections should reach different targets");
    let mut c = Conn::open(8000);
    let mut seen = Vec::new();
    for _ in 0..3 {
        c.send(b"GET /hi HTTP/1.1\r\nHost: localhost\r\n\r\n");
        seen.push(c.read(false).text());
    }
    assert!(
        seen.iter().all(|s| *s == seen[0]),
        "one connection sticks: {seen:?}"
    );
}

#[test]
fn load_balancing_round_robin_and_sticky() {
    let _g = fixed_ports();
    let _u = upstreams();
    let _p = Pipy::spawn(&[&example("05-load-balancing")], &[8000]);
    check_balancing();
    assert_eq!(get(8000, "/bad").status, 404);
}

#[test]
fn configuration_from_json() {
    let _g = fixed_ports();
    let _u = upstreams();
    let _p = Pipy::spawn(&[&example("06-configuration")], &[8000]);
    check_balancing();
    assert_eq!(post(8000, "/echo", b"cfg").text(), "cfg");
    assert_eq!(get(8000, "/bad").text(), "No route");
}

#[test]
fn plugins_chain_with_import_export() {
    let _g = fixed_ports();
    let _u = upstreams();
    let _p = Pipy::spawn(&[&example("07-plugins")], &[8000]);
    check_balancing();
    let r = get(8000, "/bad");
    assert_eq!((r.status, r.text().as_str()), (404, "No handler"));
    assert_eq!(
        get(8000, "/ip").text(),
        "You are requesting /ip from 127.0.0.1\n"
    );
}

#[test]
fn gateway_routes_balances_and_answers_health() {
    let _g = fixed_ports();
    let _p = Pipy::spawn(&[&example("gateway")], &[8000, 8080, 8081]);
    assert_eq!(get(8000, "/hello").text(), "Hello from backend 8080\n");
    let a = get(8000, "/api/users").text();
    let b = get(8000, "/api/users").text();
    let mut both = [a, b];
    both.sort();
    assert_eq!(
        both,
        [
            "backend 8080 got /api/users\n",
            "backend 8081 got /api/users\n"
        ]
    );
    let h = get(8000, "/health");
    assert_eq!(h.header("content-type"), Some("application/json"));
    assert_eq!(h.text(), r#"{"status":"ok"}"#);
    assert_eq!(get(8000, "/nothing").status, 404);
}

#[test]
fn statements_route_with_pipeline_values() {
    let _g = fixed_ports();
    let _u = upstreams();
    let _p = Pipy::spawn(&[&example("08-statements")], &[8000]);
    check_routes("No route");
}

#[test]
fn access_log_writes_a_json_line_per_request() {
    let _g = fixed_ports();
    let p = Pipy::spawn(&[&example("09-access-log")], &[8080]);
    assert_eq!(get(8080, "/x").text(), "Hi, there!\n");
    assert_eq!(get(8080, "/y/z").text(), "Hi, there!\n");
    let out = eventually("two log lines", std::time::Duration::from_secs(10), || {
        let t = p.stdout_text();
        (t.lines().count() >= 2).then_some(t)
    });
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert_eq!(lines[0]["path"], "/x");
    assert_eq!(lines[1]["path"], "/y/z");
    assert!(
        lines
            .iter()
            .all(|l| l["method"] == "GET" && l["status"] == 200 && l["ms"].is_number()),
        "{out}"
    );
}
