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
use kube::runtime::{reflector, watcher, WatchStreamExt};
use kube::{Api, Client, CustomResourceExt};
use pipy_operator::crd::Codebase;
use pipy_operator::inject::InjectorConfig;
use pipy_operator::{certs, controller, metrics, store, summary, webhook};
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
                    if let Some(v) = value {
                        map.insert(key.to_string(), Quantity(v.clone()));
                    }
                }
                Some(map)
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

    // Our own CRD first, so that an upgraded operator serves an upgraded schema.
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.patch(
        "codebases.pipy.dev",
        &PatchParams::apply(controller::MANAGER).force(),
        &Patch::Apply(Codebase::crd()),
    )
    .await
    .context("applying the Codebase CRD")?;

    let metrics = Arc::new(metrics::Metrics::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|v| *v).await;
    };

    // The repo: a read model of the Codebases; writes go through kubectl.
    let state = pipy_repo::RepoState::with_options(
        pipy_repo::Repo::new(pipy_repo::SqliteStore::in_memory()?),
        pipy_repo::RepoOptions {
            read_only: Some(store::READ_ONLY.to_string()),
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
    tokio::spawn(store::follow(client.clone(), state.clone(), move || {
        ready.set_ready()
    }));

    // Webhooks over HTTPS, with certificates we make (or cert-manager's).
    let tls = webhook_tls(&args, client.clone()).await?;
    let namespaces = reflector::store::Writer::<Namespace>::default();
    let ns_reader = namespaces.as_reader();
    tokio::spawn(
        reflector(
            namespaces,
            watcher(
                Api::<Namespace>::all(client.clone()),
                watcher::Config::default(),
            ),
        )
        .applied_objects()
        .for_each(|_| async {}),
    );
    let codebases = reflector::store::Writer::<Codebase>::default();
    let cb_reader = codebases.as_reader();
    tokio::spawn(
        reflector(
            codebases,
            watcher(
                Api::<Codebase>::all(client.clone()),
                watcher::Config::default(),
            ),
        )
        .applied_objects()
        .for_each(|_| async {}),
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

    // Instance summaries into Codebase status, by the leader.
    tokio::spawn(summary::run(
        client.clone(),
        state.clone(),
        summary::Settings {
            namespace: args.namespace.clone(),
            lease: args.leader_lease.clone(),
            identity: args.pod_name.clone(),
        },
    ));

    let metrics_listener = tokio::net::TcpListener::bind(args.metrics_addr)
        .await
        .with_context(|| format!("metrics on {}", args.metrics_addr))?;
    tokio::spawn(metrics::serve(
        metrics_listener,
        metrics.clone(),
        stopped(stop_rx),
    ));

    tracing::info!(
        "pipy-operator: repo on {}, webhooks on {}, metrics on {}",
        args.repo_addr,
        args.webhook_addr,
        args.metrics_addr
    );
    // Runs until SIGTERM / Ctrl-C (the controller listens for them).
    controller::run(client, metrics).await;
    let _ = stop_tx.send(true);
    Ok(())
}

use futures_util::StreamExt as _;

/// The webhook's TLS configuration, kept current: renewed from the Secret (or re-read
/// from cert-manager's mount) every hour.
async fn webhook_tls(
    args: &Args,
    client: Client,
) -> Result<watch::Receiver<Arc<rustls::ServerConfig>>> {
    let load = {
        let (dir, cert_manager) = (args.tls_dir.clone(), args.cert_manager);
        let (ns, secret, service) = (
            args.namespace.clone(),
            args.webhook_secret.clone(),
            args.webhook_service.clone(),
        );
        let (mutating, validating) = (
            args.mutating_webhook.clone(),
            args.validating_webhook.clone(),
        );
        move |client: Client| {
            let (dir, ns, secret, service, mutating, validating) = (
                dir.clone(),
                ns.clone(),
                secret.clone(),
                service.clone(),
                mutating.clone(),
                validating.clone(),
            );
            async move {
                if cert_manager {
                    let read = |f: &str| std::fs::read_to_string(dir.join(f));
                    let certs = certs::WebhookCerts {
                        ca_cert: String::new(),
                        ca_key: String::new(),
                        cert: read("tls.crt")?,
                        key: read("tls.key")?,
                        not_after: 0,
                    };
                    return Ok::<_, anyhow::Error>(certs.server_config()?);
                }
                let certs = certs::ensure_secret(client.clone(), &ns, &secret, &service).await?;
                certs::patch_ca_bundles(client, &mutating, &validating, &certs.ca_cert).await?;
                Ok(certs.server_config()?)
            }
        }
    };
    let first = load(client.clone()).await.context("webhook certificates")?;
    let (tx, rx) = watch::channel(first);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        tick.tick().await;
        loop {
            tick.tick().await;
            match load(client.clone()).await {
                Ok(config) => {
                    let _ = tx.send(config);
                }
                Err(e) => tracing::error!("renewing webhook certificates: {e:#}"),
            }
        }
    });
    Ok(rx)
}
