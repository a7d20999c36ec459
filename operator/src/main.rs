//! `pipy-operator`: wiring. It applies its own CRD (server-side apply, so `helm upgrade`
//! upgrades it), then runs side by side: the Codebase controller, the repo REST API
//! (a read model of the Codebases, `--repo-addr`), the admission webhooks over HTTPS
//! (`--webhook-addr`, certificates from [`certs`] or cert-manager), the instance
//! summary of the leader, and `/metrics`, `/healthz`, `/readyz` (`--metrics-addr`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::Parser;
use k8s_openapi::api::core::v1::{Namespace, ResourceRequirements};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{Patch, PatchParams};
use kube::runtime::watcher;
use kube::{Api, Client, CustomResourceExt};
use pipy_operator::crd::Codebase;
use pipy_operator::inject::InjectorConfig;
use pipy_operator::{auth, certs, controller, leader, metrics, store, summary, webhook};
use tokio::sync::watch;

/// The operator's command line (the Helm chart passes these).
#[derive(Parser, Debug)]
#[command(
    name = "pipy-operator",
    version,
    about = "Kubernetes operator for Pipy"
)]
struct Args {
    /// The operator's namespace (its Secret, Lease, Services live there).
    #[arg(long, env = "POD_NAMESPACE", default_value = "pipy-system")]
    namespace: String,
    /// This replica's name, its identity in the leader election.
    #[arg(long, env = "POD_NAME", default_value = "pipy-operator")]
    pod_name: String,
    /// Where the repo REST API listens (sidecars pull codebases from it).
    #[arg(long, default_value = "0.0.0.0:6060")]
    repo_addr: SocketAddr,
    /// Where the admission webhooks listen (HTTPS).
    #[arg(long, default_value = "0.0.0.0:9443")]
    webhook_addr: SocketAddr,
    /// Where /metrics, /healthz and /readyz listen.
    #[arg(long, default_value = "0.0.0.0:8080")]
    metrics_addr: SocketAddr,
    /// The webhook Service's name (the serving certificate's DNS names).
    #[arg(long, default_value = "pipy-webhook")]
    webhook_service: String,
    /// The URL the API server calls the webhooks at when it is not the Service (an
    /// operator run outside the cluster, chart value `webhook.url`): its host is added
    /// to the serving certificate's names.
    #[arg(long)]
    webhook_url: Option<String>,
    /// After SIGTERM, how many seconds the webhooks and the repo keep serving (while
    /// `/readyz` fails, so that endpoints drop this replica) before the process exits.
    #[arg(long, default_value_t = 5)]
    shutdown_delay: u64,
    /// This replica's Pod UID (its ConfigMap of instances is owned by the Pod).
    #[arg(long, env = "POD_UID")]
    pod_uid: Option<String>,
    /// The Secret that keeps the webhook CA and serving certificate.
    #[arg(long, default_value = "pipy-webhook-tls")]
    webhook_secret: String,
    /// The MutatingWebhookConfiguration whose caBundle the operator writes.
    #[arg(long, default_value = "pipy-sidecar-injector")]
    mutating_webhook: String,
    /// The ValidatingWebhookConfiguration whose caBundle the operator writes.
    #[arg(long, default_value = "pipy-codebase-validator")]
    validating_webhook: String,
    /// cert-manager provides the certificate (mounted at --tls-dir) and the caBundle.
    #[arg(long)]
    cert_manager: bool,
    /// Where cert-manager's Secret is mounted (`tls.crt`, `tls.key`).
    #[arg(long, default_value = "/etc/pipy/webhook-tls")]
    tls_dir: PathBuf,
    /// The repo URL sidecars are pointed at.
    #[arg(long, default_value = "http://pipy-repo.pipy-system.svc:6060")]
    repo_url: String,
    /// The sidecar image.
    #[arg(long, default_value = "ghcr.io/pipy-rs/pipy:latest")]
    sidecar_image: String,
    /// The sidecar's imagePullPolicy.
    #[arg(long)]
    sidecar_image_pull_policy: Option<String>,
    /// The sidecar's --log-level.
    #[arg(long, default_value = "info")]
    sidecar_log_level: String,
    /// The sidecar's CPU request.
    #[arg(long)]
    sidecar_cpu_request: Option<String>,
    /// The sidecar's memory request.
    #[arg(long)]
    sidecar_memory_request: Option<String>,
    /// The sidecar's CPU limit.
    #[arg(long)]
    sidecar_cpu_limit: Option<String>,
    /// The sidecar's memory limit.
    #[arg(long)]
    sidecar_memory_limit: Option<String>,
    /// Inject native sidecars (init containers with restartPolicy Always).
    #[arg(long)]
    native_sidecar: bool,
    /// The Lease of the leader election.
    #[arg(long, default_value = "pipy-operator-leader")]
    leader_lease: String,
}

impl Args {
    fn injector(&self) -> InjectorConfig {
        let defaults = InjectorConfig::default();
        let pick =
            |pairs: [(&str, &Option<String>); 2],
             fallback: &Option<std::collections::BTreeMap<String, Quantity>>| {
                let mut map = fallback.clone().unwrap_or_default();
                for (key, value) in pairs {
                    match value.as_deref() {
                        // `--sidecar-cpu-limit=` (the chart's `""`): no such limit.
                        Some("") => {
                            map.remove(key);
                        }
                        Some(v) => {
                            map.insert(key.to_string(), Quantity(v.to_string()));
                        }
                        None => {}
                    }
                }
                (!map.is_empty()).then_some(map)
            };
        InjectorConfig {
            image: self.sidecar_image.clone(),
            image_pull_policy: self
                .sidecar_image_pull_policy
                .clone()
                .or(defaults.image_pull_policy.clone()),
            repo_url: self.repo_url.clone(),
            resources: ResourceRequirements {
                requests: pick(
                    [
                        ("cpu", &self.sidecar_cpu_request),
                        ("memory", &self.sidecar_memory_request),
                    ],
                    &defaults.resources.requests,
                ),
                limits: pick(
                    [
                        ("cpu", &self.sidecar_cpu_limit),
                        ("memory", &self.sidecar_memory_limit),
                    ],
                    &defaults.resources.limits,
                ),
                ..ResourceRequirements::default()
            },
            log_level: self.sidecar_log_level.clone(),
            native_sidecar: self.native_sidecar,
            operator_namespace: self.namespace.clone(),
            ..defaults
        }
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let client = Client::try_default()
        .await
        .context("no Kubernetes client configuration (in-cluster or kubeconfig)")?;

    // Our own CRD first, so that an upgraded operator serves an upgraded schema; the
    // watches start once the API server serves it.
    apply_crd(&client).await?;

    let metrics = Arc::new(metrics::Metrics::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|v| *v).await;
    };

    // Every Codebase, for the webhooks and the repo's access checks.
    let codebases_changed = Arc::new(tokio::sync::Notify::new());
    let cb_reader = store::spawn_reflector(
        Api::<Codebase>::all(client.clone()),
        watcher::Config::default(),
        Some(codebases_changed.clone()),
    );
    // The repo: a read model of the Codebases; writes go through kubectl.
    let known = Arc::new(store::KnownVersions::default());
    let state = pipy_repo::RepoState::with_options(
        pipy_repo::Repo::new(pipy_repo::SqliteStore::in_memory()?),
        pipy_repo::RepoOptions {
            read_only: Some(store::READ_ONLY.to_string()),
            guard: Some(Arc::new(auth::TokenGuard::new(
                client.clone(),
                Some(cb_reader.clone()),
            ))),
            hold_back: Some(known.clone()),
            // The console, read-only here: Codebase resources are the truth.
            // Its Check and Graph load drafts with the webhook's dry run.
            console: Some(pipy_repo::embedded_console),
            script_check: Some(Arc::new(pipy_repo::EngineCheck {
                graph: pipy_runtime::graph_of_script,
                check: pipy_runtime::dry_run_files,
            })),
            ..pipy_repo::RepoOptions::default()
        },
    );
    let repo_listener = tokio::net::TcpListener::bind(args.repo_addr)
        .await
        .with_context(|| format!("repo API on {}", args.repo_addr))?;
    tokio::spawn(pipy_repo::serve(
        repo_listener,
        state.clone(),
        stopped(stop_rx.clone()),
    ));
    let ready = metrics.clone();
    tokio::spawn(store::follow(
        client.clone(),
        state.clone(),
        known,
        (cb_reader.clone(), codebases_changed),
        move || ready.set_ready(),
    ));

    // Webhooks over HTTPS, with certificates we make (or cert-manager's).
    let tls = webhook_tls(&args, client.clone()).await?;
    let ns_reader = store::spawn_reflector(
        Api::<Namespace>::all(client.clone()),
        watcher::Config::default(),
        None,
    );
    let hook = Arc::new(webhook::Webhook {
        injector: args.injector(),
        namespaces: Arc::new(ns_reader),
        resolver: Some(Arc::new(webhook::ClusterResolver {
            codebases: cb_reader,
            client: client.clone(),
            runtime: tokio::runtime::Handle::current(),
        })),
    });
    let webhook_listener = tokio::net::TcpListener::bind(args.webhook_addr)
        .await
        .with_context(|| format!("webhooks on {}", args.webhook_addr))?;
    tokio::spawn(webhook::serve(
        webhook_listener,
        tls,
        hook,
        stopped(stop_rx.clone()),
    ));

    // One leader among the replicas runs the controller and the instance summary.
    let (leading_tx, leading_rx) = watch::channel(false);
    let elector = leader::Elector::new(
        client.clone(),
        &args.namespace,
        &args.leader_lease,
        &args.pod_name,
    );
    // The election stops last: the Lease is given up only once this replica's
    // controller and summary have stopped writing.
    let (release_tx, release_rx) = watch::channel(false);
    let election = tokio::spawn(leader::run(elector, leading_tx, stopped(release_rx)));
    let summary = tokio::spawn(summary::run(
        client.clone(),
        state.clone(),
        summary::Settings {
            namespace: args.namespace.clone(),
            lease: args.leader_lease.clone(),
            identity: args.pod_name.clone(),
            pod_uid: args.pod_uid.clone().filter(|u| !u.is_empty()),
        },
        leading_rx.clone(),
        stopped(stop_rx.clone()),
    ));
    let controller = tokio::spawn(controller::run(
        client.clone(),
        metrics.clone(),
        leading_rx,
        stop_rx.clone(),
    ));

    let metrics_listener = tokio::net::TcpListener::bind(args.metrics_addr)
        .await
        .with_context(|| format!("metrics on {}", args.metrics_addr))?;
    tokio::spawn(metrics::serve(
        metrics_listener,
        metrics.clone(),
        stopped(stop_rx.clone()),
    ));

    tracing::info!(
        "pipy-operator: repo on {}, webhooks on {}, metrics on {}",
        args.repo_addr,
        args.webhook_addr,
        args.metrics_addr
    );
    shutdown_signal().await;
    // Endpoints drop a replica some seconds after its readiness fails: until then the
    // API server may still call this webhook, and sidecars this repo.
    tracing::info!(
        "stopping: still serving for {} s while endpoints update",
        args.shutdown_delay
    );
    metrics.set_draining();
    tokio::time::sleep(Duration::from_secs(args.shutdown_delay)).await;
    let _ = stop_tx.send(true);
    let settle = async {
        let _ = controller.await;
        let _ = summary.await;
        let _ = release_tx.send(true);
        let _ = election.await;
    };
    if tokio::time::timeout(Duration::from_secs(10), settle)
        .await
        .is_err()
    {
        tracing::warn!("stopping: gave up waiting for the controller and the Lease");
    }
    Ok(())
}

/// SIGTERM (what the kubelet sends) or Ctrl-C.
async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => {
            tracing::warn!("no SIGTERM handler: {e}");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// Applies the Codebase CRD and waits (at most a minute) until the API server says it
/// is Established, so that the watches do not start on a resource not served yet.
async fn apply_crd(client: &Client) -> Result<()> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let name = "codebases.pipy.dev";
    crds.patch(
        name,
        &PatchParams::apply(controller::MANAGER).force(),
        &Patch::Apply(Codebase::crd()),
    )
    .await
    .context("applying the Codebase CRD")?;
    let established = kube::runtime::wait::conditions::is_crd_established();
    tokio::time::timeout(
        Duration::from_secs(60),
        kube::runtime::wait::await_condition(crds, name, established),
    )
    .await
    .context("the Codebase CRD was not Established within a minute")?
    .context("waiting for the Codebase CRD")?;
    Ok(())
}

/// The webhook's TLS configuration, kept current: renewed from the Secret (or re-read
/// from cert-manager's mount) every hour. Without cert-manager the CA is also kept in
/// the webhook configurations' `caBundle`: re-written at once whenever they change (a
/// `helm upgrade` that re-applies them, an edit by hand).
async fn webhook_tls(
    args: &Args,
    client: Client,
) -> Result<watch::Receiver<Arc<rustls::ServerConfig>>> {
    let mut names = certs::service_names(&args.webhook_service, &args.namespace);
    if let Some(host) = args.webhook_url.as_deref().and_then(certs::url_host) {
        if !names.contains(&host) {
            names.push(host);
        }
    }
    let (dir, cert_manager) = (args.tls_dir.clone(), args.cert_manager);
    let (ns, secret) = (args.namespace.clone(), args.webhook_secret.clone());
    let load = move |client: Client| {
        let (dir, ns, secret, names) = (dir.clone(), ns.clone(), secret.clone(), names.clone());
        async move {
            if cert_manager {
                let read = |f: &str| std::fs::read_to_string(dir.join(f));
                let certs = certs::WebhookCerts {
                    ca_cert: String::new(),
                    ca_key: String::new(),
                    cert: read("tls.crt")?,
                    key: read("tls.key")?,
                    not_after: 0,
                    names: Vec::new(),
                };
                return Ok::<_, anyhow::Error>((certs.server_config()?, None));
            }
            let certs = certs::ensure_secret(client, &ns, &secret, &names).await?;
            Ok((certs.server_config()?, Some(certs.ca_cert)))
        }
    };
    let (first, ca) = load(client.clone()).await.context("webhook certificates")?;
    let (tx, rx) = watch::channel(first);
    if cert_manager {
        // cert-manager renews the mounted files and writes the caBundle itself.
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(3600));
            tick.tick().await;
            loop {
                tick.tick().await;
                match load(client.clone()).await {
                    Ok((config, _)) => {
                        let _ = tx.send(config);
                    }
                    Err(e) => tracing::error!("reloading webhook certificates: {e:#}"),
                }
            }
        });
        return Ok(rx);
    }
    // Re-reads the Secret (renewing when due) and serves what it holds.
    let tx = Arc::new(tx);
    let current_ca: certs::CurrentCa = {
        let (tx, client, load) = (tx.clone(), client.clone(), Arc::new(load));
        Arc::new(move || {
            let (tx, client, load) = (tx.clone(), client.clone(), load.clone());
            Box::pin(async move {
                match load(client).await {
                    Ok((config, ca)) => {
                        let _ = tx.send(config);
                        ca
                    }
                    Err(e) => {
                        tracing::error!("webhook certificates: {e:#}");
                        None
                    }
                }
            })
        })
    };
    tokio::spawn(certs::keep_ca_bundles(
        client.clone(),
        args.mutating_webhook.clone(),
        args.validating_webhook.clone(),
        current_ca.clone(),
    ));
    let (mutating, validating) = (
        args.mutating_webhook.clone(),
        args.validating_webhook.clone(),
    );
    tokio::spawn(async move {
        let mut last = ca;
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        tick.tick().await;
        loop {
            tick.tick().await;
            let ca = current_ca().await;
            if ca.is_some() && ca != last {
                if let Some(ca) = &ca {
                    if let Err(e) =
                        certs::patch_ca_bundles(client.clone(), &mutating, &validating, ca).await
                    {
                        tracing::warn!("writing the caBundle: {e}");
                    }
                }
                last = ca;
            }
        }
    });
    Ok(rx)
}
