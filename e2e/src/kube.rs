//! A real Kubernetes control plane for tests, with no container runtime (the way
//! controller-runtime's envtest does it): etcd and kube-apiserver, and
//! kube-controller-manager for namespace deletion, garbage collection and default
//! ServiceAccounts, all from `kube-testenv` (built from the Kubernetes Go modules in
//! `e2e/kube/`, `make kube-testenv`), on free loopback ports, with certificates made
//! here. There is no kubelet and no scheduler: pods stay Pending.
//!
//! [`ControlPlane::start`] writes an admin kubeconfig (a client certificate in
//! `system:masters`); [`ControlPlane::kubeconfig_with_token`] writes one for a
//! ServiceAccount token, so that a process runs with exactly that account's RBAC.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    SanType,
};

/// The `kube-testenv` binary: `KUBE_TESTENV`, else `target/kube/kube-testenv` of the
/// workspace (what `make kube-testenv` builds).
pub fn kube_testenv_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("KUBE_TESTENV") {
        return PathBuf::from(bin);
    }
    workspace().join("target/kube/kube-testenv")
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("e2e/ has a parent")
        .to_path_buf()
}

/// A tool from the workspace's `.tools/bin` (scripts/install-k8s-tools.sh), else PATH.
pub fn k8s_tool(name: &str) -> PathBuf {
    let local = workspace().join(".tools/bin").join(name);
    if local.is_file() {
        local
    } else {
        PathBuf::from(name)
    }
}

/// What a command printed and whether it succeeded.
#[derive(Debug)]
pub struct Output {
    /// Exit status 0.
    pub ok: bool,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// A running control plane; its processes are stopped when it is dropped.
pub struct ControlPlane {
    /// Where its files are (certificates, etcd's data, logs, kubeconfigs).
    pub dir: PathBuf,
    /// The API server's HTTPS port on 127.0.0.1.
    pub port: u16,
    /// The admin kubeconfig.
    pub kubeconfig: PathBuf,
    processes: Vec<Child>,
}

/// How long the API server gets to become ready.
const START_LIMIT: Duration = Duration::from_secs(120);

impl ControlPlane {
    /// Starts etcd, kube-apiserver and kube-controller-manager and waits until the API
    /// server is ready and the `default` ServiceAccount exists.
    pub fn start() -> ControlPlane {
        let binary = kube_testenv_binary();
        assert!(
            binary.is_file(),
            "{} is missing: build it with `make kube-testenv` (Go and its module proxy)",
            binary.display()
        );
        let dir = crate::temp_dir().join("kube");
        std::fs::create_dir_all(&dir).unwrap();
        let pki = Pki::write(&dir);
        let (port, etcd_port, etcd_peer_port) =
            (crate::free_port(), crate::free_port(), crate::free_port());
        let kubeconfig = dir.join("admin.kubeconfig");
        std::fs::write(
            &kubeconfig,
            kubeconfig_yaml(
                port,
                &pki.ca_pem,
                "admin",
                &format!(
                    "    client-certificate: {}\n    client-key: {}\n",
                    dir.join("admin.pem").display(),
                    dir.join("admin-key.pem").display()
                ),
            ),
        )
        .unwrap();
        let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
        let issuer = "https://kubernetes.default.svc.cluster.local";
        // Requests about Namespaces are audited (a test counts a client's retries).
        std::fs::write(
            dir.join("audit-policy.yaml"),
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n\
             - level: Metadata\n  resources: [{group: \"\", resources: [namespaces]}]\n\
             - level: None\n",
        )
        .unwrap();
        let apiserver_args = vec![
            "apiserver".to_string(),
            format!("--etcd-dir={}", path("etcd")),
            format!("--etcd-port={etcd_port}"),
            format!("--etcd-peer-port={etcd_peer_port}"),
            "--".into(),
            format!("--etcd-servers=http://127.0.0.1:{etcd_port}"),
            "--bind-address=127.0.0.1".into(),
            "--advertise-address=127.0.0.1".into(),
            // The `kubernetes` Service's endpoints may not be a loopback address.
            "--endpoint-reconciler-type=none".into(),
            format!("--secure-port={port}"),
            format!("--cert-dir={}", path("apiserver-certs")),
            format!("--tls-cert-file={}", path("apiserver.pem")),
            format!("--tls-private-key-file={}", path("apiserver-key.pem")),
            format!("--client-ca-file={}", path("ca.pem")),
            format!("--service-account-issuer={issuer}"),
            format!("--api-audiences={issuer}"),
            format!("--service-account-key-file={}", path("sa.pub")),
            format!("--service-account-signing-key-file={}", path("sa-key.pem")),
            "--service-cluster-ip-range=10.0.0.0/24".into(),
            "--authorization-mode=RBAC".into(),
            "--allow-privileged=true".into(),
            "--enable-priority-and-fairness=false".into(),
            "--profiling=false".into(),
            format!("--audit-policy-file={}", path("audit-policy.yaml")),
            format!("--audit-log-path={}", path("audit.log")),
        ];
        let mut plane = ControlPlane {
            dir: dir.clone(),
            port,
            kubeconfig: kubeconfig.clone(),
            processes: Vec::new(),
        };
        plane.spawn(&binary, &apiserver_args, "apiserver.log");
        plane.wait("the API server to be ready", START_LIMIT, |p| {
            p.kubectl(&["get", "--raw", "/readyz"]).ok
        });
        let kubeconfig_arg = kubeconfig.to_string_lossy().into_owned();
        let controller_args = vec![
            "controller-manager".to_string(),
            format!("--kubeconfig={kubeconfig_arg}"),
            format!("--authentication-kubeconfig={kubeconfig_arg}"),
            format!("--authorization-kubeconfig={kubeconfig_arg}"),
            "--leader-elect=false".into(),
            "--bind-address=127.0.0.1".into(),
            format!("--secure-port={}", crate::free_port()),
            format!("--cert-dir={}", path("controller-manager-certs")),
            "--controllers=namespace-controller,garbage-collector-controller,serviceaccount-controller".into(),
            "--concurrent-gc-syncs=5".into(),
            "--profiling=false".into(),
        ];
        plane.spawn(&binary, &controller_args, "controller-manager.log");
        plane.wait("the default ServiceAccount", START_LIMIT, |p| {
            p.kubectl(&["get", "serviceaccount", "default", "-n", "default"])
                .ok
        });
        plane
    }

    fn spawn(&mut self, binary: &Path, args: &[String], log: &str) {
        let log = std::fs::File::create(self.dir.join(log)).unwrap();
        let child = Command::new(binary)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", binary.display()));
        self.processes.push(child);
    }

    /// Polls `ok` every 200 ms until it holds, for at most `limit`; on time out it
    /// panics with the tails of the control plane's logs.
    pub fn wait(&mut self, what: &str, limit: Duration, mut ok: impl FnMut(&Self) -> bool) {
        let deadline = Instant::now() + limit;
        while !ok(self) {
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}\n{}", self.log_tails());
            }
            if let Some(status) = self.processes.iter_mut().find_map(|p| p.try_wait().ok()?) {
                panic!(
                    "the control plane stopped ({status}) while waiting for {what}\n{}",
                    self.log_tails()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The last lines of the API server's and controller manager's logs.
    pub fn log_tails(&self) -> String {
        let mut out = String::new();
        for log in ["apiserver.log", "controller-manager.log"] {
            let text = std::fs::read_to_string(self.dir.join(log)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(30)..];
            out.push_str(&format!("--- {log}\n{}\n", tail.join("\n")));
        }
        out
    }

    /// Runs `kubectl` as the admin.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.run_as(&self.kubeconfig, "kubectl", args, None)
    }

    /// Runs `kubectl` as the admin with `stdin` as its input (`apply -f -`).
    pub fn kubectl_stdin(&self, args: &[&str], stdin: &str) -> Output {
        self.run_as(&self.kubeconfig, "kubectl", args, Some(stdin))
    }

    /// Runs `helm` as the admin, in the workspace.
    pub fn helm(&self, args: &[&str]) -> Output {
        self.run_as(&self.kubeconfig, "helm", args, None)
    }

    /// Runs `tool args` with `kubeconfig`, in the workspace; at most two minutes.
    pub fn run_as(
        &self,
        kubeconfig: &Path,
        tool: &str,
        args: &[&str],
        stdin: Option<&str>,
    ) -> Output {
        use std::io::Write;
        let mut command = Command::new("timeout");
        command
            .arg("120")
            .arg(k8s_tool(tool))
            .args(args)
            .env("KUBECONFIG", kubeconfig)
            .env("HELM_CACHE_HOME", self.dir.join("helm/cache"))
            .env("HELM_CONFIG_HOME", self.dir.join("helm/config"))
            .env("HELM_DATA_HOME", self.dir.join("helm/data"))
            .current_dir(workspace())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("{tool}: {e} (run scripts/install-k8s-tools.sh)"));
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            let _ = pipe.write_all(input.as_bytes());
        }
        let out = child.wait_with_output().unwrap();
        Output {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// A kubeconfig at `dir/<name>.kubeconfig` that authenticates with `token` (a
    /// ServiceAccount token from `kubectl create token`), in namespace `namespace`.
    pub fn kubeconfig_with_token(&self, name: &str, token: &str, namespace: &str) -> PathBuf {
        let ca = std::fs::read_to_string(self.dir.join("ca.pem")).unwrap();
        let path = self.dir.join(format!("{name}.kubeconfig"));
        let yaml = kubeconfig_yaml(self.port, &ca, name, &format!("    token: {token}\n")).replace(
            "    user: ",
            &format!("    namespace: {namespace}\n    user: "),
        );
        std::fs::write(&path, yaml).unwrap();
        path
    }

    /// The API server's audit log (JSON lines) of requests about Namespaces.
    pub fn audit_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("audit.log")).unwrap_or_default()
    }

    /// The PEM of the cluster's CA (the API server's serving certificate's issuer).
    pub fn ca_pem(&self) -> String {
        std::fs::read_to_string(self.dir.join("ca.pem")).unwrap()
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        // The controller manager first, then the API server (and its etcd).
        for child in self.processes.iter_mut().rev() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn kubeconfig_yaml(port: u16, ca_pem: &str, user: &str, credentials: &str) -> String {
    use base64::Engine as _;
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: testenv
  cluster:
    server: https://127.0.0.1:{port}
    certificate-authority-data: {ca}
users:
- name: {user}
  user:
{credentials}contexts:
- name: testenv
  context:
    cluster: testenv
    user: {user}
current-context: testenv
"
    )
}

/// The control plane's certificates and keys, written as PEM files into a folder.
struct Pki {
    ca_pem: String,
}

impl Pki {
    fn write(dir: &Path) -> Pki {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "kube-testenv CA");
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let write = |name: &str, cert: &rcgen::Certificate, key: &KeyPair| {
            std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
            std::fs::write(dir.join(format!("{name}-key.pem")), key.serialize_pem()).unwrap();
        };
        std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();

        let key = KeyPair::generate().unwrap();
        let mut serving = CertificateParams::new(vec![
            "localhost".to_string(),
            "kubernetes".to_string(),
            "kubernetes.default".to_string(),
            "kubernetes.default.svc".to_string(),
        ])
        .unwrap();
        serving
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        serving
            .subject_alt_names
            .push(SanType::IpAddress([10, 0, 0, 1].into()));
        serving
            .distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        serving.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        write(
            "apiserver",
            &serving.signed_by(&key, &issuer).unwrap(),
            &key,
        );

        // The admin: a client certificate in the group that bypasses RBAC.
        let key = KeyPair::generate().unwrap();
        let mut admin = CertificateParams::new(Vec::<String>::new()).unwrap();
        admin.distinguished_name.push(DnType::CommonName, "admin");
        admin
            .distinguished_name
            .push(DnType::OrganizationName, "system:masters");
        admin.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        write("admin", &admin.signed_by(&key, &issuer).unwrap(), &key);

        // ServiceAccount tokens are signed with this key.
        let key = KeyPair::generate().unwrap();
        std::fs::write(dir.join("sa-key.pem"), key.serialize_pem()).unwrap();
        std::fs::write(dir.join("sa.pub"), key.public_key_pem()).unwrap();
        Pki {
            ca_pem: ca_cert.pem(),
        }
    }
}
