//! The repo over HTTPS with client certificates (`--admin-tls-*`).

use pipy_e2e::*;

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
