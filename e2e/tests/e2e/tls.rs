//! The repo over HTTPS with client certificates (`--admin-tls-*`).

use pipy_e2e::*;
use std::time::Duration;

#[test]
fn repo_serves_https_to_certified_clients_only() {
    let certs = TestCerts::new();
    let port = free_port();
    let args = [
        format!("--admin-port=127.0.0.1:{port}"),
        format!("--admin-tls-cert={}", certs.arg("server.pem")),
        format!("--admin-tls-key={}", certs.arg("server-key.pem")),
        format!("--admin-tls-trusted={}", certs.arg("ca.pem")),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let _repo = Pipy::spawn(&args, &[port]);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let ca = certs.path("ca.pem");
    let with_cert = client_config(
        &ca,
        Some((&certs.path("client.pem"), &certs.path("client-key.pem"))),
    );
    let answer = https_get(addr, with_cert, "/api/v1/status").expect("an HTTPS answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("server: pipy-repo"), "{answer}");
    assert_eq!(
        https_get(addr, client_config(&ca, None), "/api/v1/status"),
        None
    );

    // Half a configuration is a start-up error that names the options.
    let (code, _, err) = run_to_end(&[
        &format!("--admin-port=127.0.0.1:{}", free_port()),
        &format!("--admin-tls-cert={}", certs.arg("server.pem")),
    ]);
    assert_eq!(code, 255);
    assert!(err.contains("--admin-tls-key"), "{err}");
}

#[test]
fn workers_download_and_report_over_https() {
    let _g = fixed_ports();
    let certs = TestCerts::new();
    let port = free_port();
    let args = [
        format!("--admin-port=127.0.0.1:{port}"),
        format!("--init-repo={}", examples().display()),
        format!("--admin-tls-cert={}", certs.arg("server.pem")),
        format!("--admin-tls-key={}", certs.arg("server-key.pem")),
        format!("--admin-tls-trusted={}", certs.arg("ca.pem")),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let _repo = Pipy::spawn(&args, &[port]);
    let url = format!("https://127.0.0.1:{port}/repo/01-hello/");

    // Without a client certificate the repo refuses the worker, which says why.
    let refused = Pipy::spawn(
        &[&url, &format!("--tls-trusted={}", certs.arg("ca.pem"))],
        &[],
    );
    wait_for("the refused worker's log", Duration::from_secs(10), || {
        refused.stderr_text().contains("download failed")
    });
    assert!(
        text_on(8080).is_empty(),
        "the refused worker serves nothing"
    );
    drop(refused);

    let _worker = Pipy::spawn(
        &[
            &url,
            &format!("--tls-trusted={}", certs.arg("ca.pem")),
            &format!("--tls-cert={}", certs.arg("client.pem")),
            &format!("--tls-key={}", certs.arg("client-key.pem")),
            "--instance-name=tls-worker",
        ],
        &[8080],
    );
    assert_eq!(get(8080, "/").text(), "Hi, there!\n");
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let config = client_config(
        &certs.path("ca.pem"),
        Some((&certs.path("client.pem"), &certs.path("client-key.pem"))),
    );
    wait_for(
        "the worker's status report",
        Duration::from_secs(12),
        || {
            https_get(addr, config.clone(), "/api/v1/repo/01-hello")
                .is_some_and(|info| info.contains(r#""name":"tls-worker""#))
        },
    );
}
