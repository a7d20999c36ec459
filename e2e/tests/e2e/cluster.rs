//! The cluster suite: runs only when `E2E_KUBECONFIG` names the kubeconfig of a
//! disposable cluster that can pull (or has loaded) the images the chart names. It
//! installs the chart, applies the examples, curls through an injected sidecar,
//! changes the codebase and sees the sidecar reload, then deletes everything.
//! `make e2e-kind` does the same on a kind cluster it creates.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use pipy_e2e::eventually;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("e2e/ has a parent")
        .to_path_buf()
}

/// A tool from `.tools/bin` (scripts/install-k8s-tools.sh) or PATH.
fn tool(name: &str) -> PathBuf {
    let local = root().join(".tools/bin").join(name);
    if local.is_file() {
        local
    } else {
        PathBuf::from(name)
    }
}

/// Runs `tool args` against the cluster; the output, or a failure naming the command.
fn run(kubeconfig: &str, name: &str, args: &[&str]) -> String {
    let out = Command::new(tool(name))
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(
        out.status.success(),
        "{name} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// GET `path` on 127.0.0.1:`port` (a port-forward), `None` on any failure.
fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    let req = format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).ok()?;
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let (_, body) = out.split_once("\r\n\r\n")?;
    Some(body.to_string())
}

#[test]
fn cluster_install_inject_reload_and_clean_up() {
    let Ok(kubeconfig) = std::env::var("E2E_KUBECONFIG") else {
        eprintln!(
            "SKIPPED cluster suite: set E2E_KUBECONFIG to the kubeconfig of a disposable \
             cluster (or run `make e2e-kind`)"
        );
        return;
    };
    let k = kubeconfig.as_str();
    run(
        k,
        "helm",
        &[
            "upgrade",
            "--install",
            "pipy",
            "charts/pipy",
            "--namespace",
            "pipy-system",
            "--create-namespace",
            "--wait",
            "--timeout",
            "5m",
        ],
    );
    // The webhook may need a moment after the chart is ready to have its caBundle.
    eventually("the examples to apply", Duration::from_secs(60), || {
        let out = Command::new(tool("kubectl"))
            .args([
                "apply",
                "-f",
                "examples/namespace.yaml",
                "-f",
                "examples/codebase.yaml",
            ])
            .env("KUBECONFIG", k)
            .current_dir(root())
            .output()
            .ok()?;
        out.status.success().then_some(())
    });
    run(
        k,
        "kubectl",
        &[
            "-n",
            "demo",
            "wait",
            "--for=condition=Published",
            "codebase/hello",
            "--timeout=120s",
        ],
    );
    run(k, "kubectl", &["apply", "-f", "examples/app.yaml"]);
    run(
        k,
        "kubectl",
        &[
            "-n",
            "demo",
            "rollout",
            "status",
            "deploy/hello",
            "--timeout=180s",
        ],
    );
    let names = run(
        k,
        "kubectl",
        &[
            "-n",
            "demo",
            "get",
            "pod",
            "-l",
            "app=hello",
            "-o",
            "jsonpath={.items[0].spec.containers[*].name} {.items[0].spec.initContainers[*].name}",
        ],
    );
    assert!(
        names.contains("pipy-sidecar"),
        "no sidecar injected: {names}"
    );

    let port = pipy_e2e::free_port();
    let mut forward = Command::new(tool("kubectl"))
        .args([
            "-n",
            "demo",
            "port-forward",
            "svc/hello",
            &format!("{port}:80"),
        ])
        .env("KUBECONFIG", k)
        .spawn()
        .expect("kubectl port-forward");
    eventually(
        "the app through its sidecar",
        Duration::from_secs(60),
        || http_get(port, "/").filter(|b| b.contains("hello from the app")),
    );
    eventually("the sidecar's own answer", Duration::from_secs(30), || {
        http_get(port, "/pipy").filter(|b| b.contains("hello from pipy"))
    });
    let changed = std::fs::read_to_string(root().join("examples/codebase.yaml"))
        .expect("examples/codebase.yaml")
        .replace("hello from pipy", "hello again from pipy");
    let file = std::env::temp_dir().join(format!("pipy-e2e-codebase-{port}.yaml"));
    std::fs::write(&file, changed).expect("write the changed codebase");
    run(k, "kubectl", &["apply", "-f", &file.to_string_lossy()]);
    eventually("the sidecar to reload", Duration::from_secs(60), || {
        http_get(port, "/pipy").filter(|b| b.contains("hello again from pipy"))
    });
    let _ = forward.kill();
    let _ = forward.wait();
    run(
        k,
        "kubectl",
        &[
            "delete",
            "--wait=true",
            "-f",
            "examples/app.yaml",
            "-f",
            "examples/codebase.yaml",
            "-f",
            "examples/namespace.yaml",
        ],
    );
    run(
        k,
        "helm",
        &["uninstall", "pipy", "--namespace", "pipy-system", "--wait"],
    );
}
