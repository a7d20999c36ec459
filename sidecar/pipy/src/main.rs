//! `pipy`: runs a PipyJS codebase.
//!
//! `pipy main.js` runs a script; `pipy -e "pipy().listen(8000)..."` runs an
//! expression. Options follow upstream Pipy's names where they apply.

use anyhow::{anyhow, Result};
use clap::Parser;

mod admin;
mod log_buffer;
mod log_file;
mod log_options;
mod program;
mod repo_client;
mod repo_mode;
mod report;
use pipy_js::codebase::{DirCodebase, SharedCodebase};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

// Workers allocate and free small objects at a high rate (heads, events,
// script objects); mimalloc's per-thread free lists beat the system allocator
// there. It is the default feature, built without transparent huge pages, which
// would round its arenas up to 2 MiB pages of resident memory.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Command line, with upstream Pipy's option names.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "pipy",
    version,
    about = "Programmable proxy driven by PipyJS scripts"
)]
struct Cli {
    /// Script file to run (its folder is the codebase root).
    target: Option<String>,
    /// Run this PipyJS expression instead of a file.
    #[arg(short = 'e', long = "eval", value_name = "EXPR")]
    eval: Option<String>,
    /// Worker threads: a number, or `max` for one per core.
    #[arg(long, default_value = "1", value_name = "N|max")]
    threads: String,
    /// Log level: error, warn, info, debug, or debug:TOPIC+TOPIC (thread,
    /// listener, codebase, ...: debug lines of those topics only).
    #[arg(long = "log-level", default_value = "info")]
    log_level: String,
    /// Write the log to this file instead of the terminal.
    #[arg(long = "log-file", value_name = "FILE")]
    log_file: Option<PathBuf>,
    /// Rotate the log file at this size (bytes, or with k, m, g).
    #[arg(long = "log-file-max-size", value_name = "SIZE")]
    log_file_max_size: Option<String>,
    /// Log files to keep, the current one included.
    #[arg(long = "log-file-max-count", value_name = "N", default_value_t = 10)]
    log_file_max_count: usize,
    /// Rotate the log file this often (such as 15m, 1h).
    #[arg(long = "log-file-rotate-interval", value_name = "TIME")]
    log_file_rotate_interval: Option<String>,
    /// Size of the log history kept for the repo (`pipy_log`), in bytes.
    #[arg(long = "log-history-limit", value_name = "SIZE")]
    log_history_limit: Option<String>,
    /// Where the local log goes: stdout, stderr or null.
    #[arg(long = "log-local", value_name = "OUTPUT", default_value = "stderr")]
    log_local: String,
    /// Keep the log local: do not offer it to the repo.
    #[arg(long = "log-local-only")]
    log_local_only: bool,
    /// Do not print pipeline graphs to the log (this build never does).
    #[arg(long = "no-graph")]
    no_graph: bool,
    /// Trace where objects are made (accepted for upstream's scripts; no effect).
    #[arg(long = "trace-objects")]
    trace_objects: bool,
    /// Start even when a port cannot be bound (the error is logged).
    #[arg(long = "force-start")]
    force_start: bool,
    /// Take the target as a file name, even if it looks like something else.
    #[arg(short = 'f', long = "file")]
    file: bool,
    /// Where the admin GUI's files are (there is no GUI in this build yet).
    #[arg(long = "admin-gui", value_name = "DIR")]
    admin_gui: Option<PathBuf>,
    /// An OpenSSL engine (accepted for upstream's scripts; TLS here is rustls).
    #[arg(long = "openssl-engine", value_name = "ID")]
    openssl_engine: Option<String>,
    /// Arguments for the script, after `--` (or `--args`).
    #[arg(last = true, value_name = "ARGS")]
    args: Vec<String>,
    /// Let other processes listen on the same ports (SO_REUSEPORT).
    #[arg(long = "reuse-port")]
    reuse_port: bool,
    /// Admin port: where the repo listens (default 6060; a bare port binds `::`).
    #[arg(long = "admin-port", value_name = "[IP:]PORT")]
    admin_port: Option<String>,
    /// Turn the admin port off.
    #[arg(long = "admin-port-off")]
    admin_port_off: bool,
    /// Repo mode: make a codebase of every sub-folder of DIR, published as "1".
    #[arg(long = "init-repo", value_name = "DIR")]
    init_repo: Option<PathBuf>,
    /// Repo mode: also run codebase CB inside the repo process (as a worker of it).
    #[arg(long = "init-code", value_name = "CB")]
    init_code: Option<String>,
    /// Repo mode: serve HTTPS with this certificate chain (PEM).
    #[arg(long = "admin-tls-cert", value_name = "FILE")]
    admin_tls_cert: Option<PathBuf>,
    /// Repo mode: the private key of --admin-tls-cert (PEM).
    #[arg(long = "admin-tls-key", value_name = "FILE")]
    admin_tls_key: Option<PathBuf>,
    /// Repo mode: require client certificates signed by these CAs (PEM).
    #[arg(long = "admin-tls-trusted", value_name = "FILE")]
    admin_tls_trusted: Option<PathBuf>,
    /// Repo mode: largest file (request body) the repo accepts, in bytes.
    #[arg(long = "max-file-size", value_name = "BYTES", default_value_t = pipy_repo::api::MAX_BODY)]
    max_file_size: usize,
    /// Worker mode: for an https:// repo, the CAs to trust (PEM).
    #[arg(long = "tls-trusted", value_name = "FILE")]
    tls_trusted: Option<PathBuf>,
    /// Worker mode: a client certificate to present to an https:// repo (PEM).
    #[arg(long = "tls-cert", value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// Worker mode: the private key of --tls-cert (PEM).
    #[arg(long = "tls-key", value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// Worker mode: a file holding a bearer token sent to the repo with every request
    /// (`authorization: Bearer …`), read each time (a projected ServiceAccount token
    /// that Kubernetes rotates; pipy-operator's repo asks for one).
    #[arg(long = "repo-token-file", value_name = "FILE")]
    repo_token_file: Option<PathBuf>,
    /// Worker mode: the instance's uuid in status reports (random by default).
    #[arg(long = "instance-uuid", value_name = "UUID")]
    instance_uuid: Option<String>,
    /// Worker mode: the instance's name in status reports.
    #[arg(long = "instance-name", value_name = "NAME")]
    instance_name: Option<String>,
    /// Worker mode: do not poll the repo for new versions.
    #[arg(long = "no-reload")]
    no_reload: bool,
    /// Worker mode: send no status reports.
    #[arg(long = "no-status")]
    no_status: bool,
    /// Worker mode: send no metrics with status reports.
    #[arg(long = "no-metrics")]
    no_metrics: bool,
    /// Repo mode: append a line per POST, PATCH and DELETE request to FILE.
    #[arg(long = "admin-log-file", value_name = "FILE")]
    admin_log_file: Option<PathBuf>,
}

fn threads(s: &str) -> Result<usize> {
    if s == "max" {
        return Ok(std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1));
    }
    match s.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(anyhow!(
            "--threads expects a positive number or 'max', got '{s}'"
        )),
    }
}

/// Milliseconds since the epoch (status reports, log lines).
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The exit status of a failed start-up (a broken script, a bad option value, an
/// unknown codebase), as upstream Pipy's -1.
const START_UP_FAILURE: u8 = 255;

/// Upstream also takes single-dash long names (`-version`, `-eval`...) and
/// `--args` / `-args` for the end of the options. As upstream's, the first
/// plain word after the end of the options is the script when none came
/// before (a `#!/usr/bin/env -S pipy --args` line runs `pipy --args
/// main.js a b`), and `--pipy-options` goes back to options.
fn upstream_argv() -> Vec<std::ffi::OsString> {
    let mut args = std::env::args_os().map(|a| match a.to_str() {
        Some("-v" | "-version") => "--version".into(),
        Some("-help") => "--help".into(),
        Some("-eval") => "--eval".into(),
        Some("-file") => "--file".into(),
        Some("-args" | "--args") => "--".into(),
        _ => a,
    });
    let mut options: Vec<std::ffi::OsString> = args.next().into_iter().collect();
    let mut script_args = Vec::new();
    let mut in_options = true;
    let is_word = |a: &std::ffi::OsString| !a.to_string_lossy().starts_with('-');
    // Options that take no value: a word after any other option (written
    // without `=`) is that option's value, not the script.
    const FLAGS: &[&str] = &[
        "--version",
        "--help",
        "--file",
        "-f",
        "--log-local-only",
        "--no-graph",
        "--trace-objects",
        "--force-start",
        "--reuse-port",
        "--admin-port-off",
        "--no-reload",
        "--no-status",
        "--no-metrics",
        "-h",
        "-V",
    ];
    let takes_value = |a: &std::ffi::OsString| {
        let a = a.to_string_lossy();
        a.starts_with('-') && !a.contains('=') && !FLAGS.contains(&a.as_ref())
    };
    let mut has_target = false;
    for a in args {
        if in_options {
            if a == "--" {
                in_options = false;
            } else {
                let is_value = options.last().is_some_and(takes_value);
                has_target |= is_word(&a) && !is_value;
                options.push(a);
            }
        } else if a == "--pipy-options" {
            in_options = true;
        } else if !has_target && is_word(&a) {
            has_target = true;
            options.push(a);
        } else {
            script_args.push(a);
        }
    }
    if !script_args.is_empty() {
        options.push("--".into());
        options.extend(script_args);
    }
    options
}

/// Sets up logging from the log options; an error names the bad option.
fn init_logging(cli: &Cli) -> Result<()> {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let directive = log_options::directive(&cli.log_level).map_err(|e| anyhow!(e))?;
    let size = |v: &Option<String>, name: &str| -> Result<Option<u64>> {
        v.as_deref()
            .map(|s| pipy_runtime::options::parse_size(s).map_err(|e| anyhow!("{name}: {e}")))
            .transpose()
    };
    let rotation = log_file::Rotation {
        max_size: size(&cli.log_file_max_size, "--log-file-max-size")?.unwrap_or(0),
        max_count: cli.log_file_max_count,
        interval: cli
            .log_file_rotate_interval
            .as_deref()
            .map(|s| {
                pipy_runtime::options::parse_duration(s)
                    .map_err(|e| anyhow!("--log-file-rotate-interval: {e}"))
            })
            .transpose()?,
    };
    if let Some(n) = size(&cli.log_history_limit, "--log-history-limit")? {
        if n > 256 << 20 {
            return Err(anyhow!(
                "maximum value supported by --log-history-limit is 256MB"
            ));
        }
        log_buffer::PIPY_LOG.set_limit(n as usize);
    }
    let writer = log_file::writer(cli.log_file.as_deref(), &cli.log_local, rotation)
        .map_err(|e| anyhow!(e))?;
    let history = (!cli.log_local_only).then_some(log_buffer::BufferLayer(&log_buffer::PIPY_LOG));
    // One level filter for both: stderr shows what `pipy_log` keeps.
    tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new(directive))
        .with(log_buffer::LocalLayer(writer))
        .with(history)
        .init();
    if cli.admin_gui.is_some() {
        tracing::warn!("--admin-gui: this build has no admin GUI yet");
    }
    if cli.openssl_engine.is_some() {
        tracing::warn!("--openssl-engine: TLS here is rustls, not OpenSSL; ignored");
    }
    Ok(())
}

fn main() -> ExitCode {
    // Keeps every C function of the native module interface in the binary
    // for the modules scripts load (the linker exports them: build.rs).
    std::hint::black_box(pipy_nmi::exported_functions());
    let cli = Cli::parse_from(upstream_argv());
    if let Err(e) = init_logging(&cli) {
        eprintln!("pipy: {e:#}");
        return ExitCode::from(START_UP_FAILURE);
    }
    let result = run(cli);
    // A script may have left the terminal raw (`pipy.tty.raw`).
    pipy_js::api::tty::restore();
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("pipy: {e:#}");
            // Upstream's `main` returns -1 on any start-up failure.
            ExitCode::from(START_UP_FAILURE)
        }
    }
}

fn run(cli: Cli) -> Result<i32> {
    pipy_js::api::pipy::set_argv(&cli.args);
    pipy_js::api::pipy::set_instance(pipy_js::api::pipy::Instance {
        name: cli.instance_name.clone().unwrap_or_default(),
        uuid: cli.instance_uuid.clone().unwrap_or_default(),
        source: cli.target.clone().unwrap_or_default(),
    });
    let threads = threads(&cli.threads)?;
    let is_repo = cli.eval.is_none() && cli.target.as_deref().is_none_or(|t| Path::new(t).is_dir());
    if cli.init_repo.is_some() && !is_repo {
        return Err(anyhow!("invalid option --init-repo for non-repo mode"));
    }
    if cli.init_code.is_some() && !is_repo {
        return Err(anyhow!("invalid option --init-code for non-repo mode"));
    }
    let (tx, rx) = tokio::sync::watch::channel(false);
    let tx = Arc::new(tx);
    let control = pipy_runtime::Control::new();
    spawn_signal_watcher(tx.clone(), (!is_repo).then(|| control.clone()))?;
    if is_repo {
        return repo_mode::run(&cli, rx).map(|()| 0);
    }
    if let (Some(spec), false) = (&cli.admin_port, cli.admin_port_off) {
        let addr = repo_mode::admin_addr(Some(spec))?;
        let since = now_ms();
        let (uuid, name) = (
            cli.instance_uuid.clone().unwrap_or_default(),
            cli.instance_name.clone().unwrap_or_default(),
        );
        let c = control.clone();
        let started = control.clone();
        admin::spawn(
            addr,
            Arc::new(move || {
                serde_json::json!({
                    "since": since,
                    "uuid": uuid,
                    "name": name,
                    "reloads": c.loaded(),
                    "modules": pipy_runtime::graph::module_graphs(),
                })
            }),
            Arc::new(move || started.started()),
            rx.clone(),
        )?;
    }
    let (entry, codebase, eval): (String, Arc<dyn pipy_js::codebase::Codebase>, _) =
        match (&cli.eval, &cli.target) {
            (Some(expr), _) => (
                "eval".to_string(),
                Arc::new(DirCodebase::new(std::env::current_dir()?)),
                Some(expr.clone()),
            ),
            (None, Some(t)) if t.starts_with("http://") || t.starts_with("https://") => {
                let (entry, shared) = worker_mode(&cli, t, &control, rx.clone())?;
                (entry, shared, None)
            }
            (None, Some(t)) => {
                let path = Path::new(t);
                if !path.is_file() {
                    return Err(anyhow!("{t}: no such script file or directory"));
                }
                let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
                let base = if base.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    base
                };
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                (name, Arc::new(DirCodebase::new(base)), None)
            }
            (None, None) => unreachable!("no target is repo mode"),
        };
    pipy_runtime::run(
        pipy_runtime::RunOptions {
            entry,
            eval,
            codebase,
            control,
            threads,
            reuse_port: cli.reuse_port,
            drain_timeout: Duration::from_secs(10),
            force_start: cli.force_start,
        },
        rx,
        tx,
    )
}

/// Downloads the codebase (retrying every 5 s), then keeps a thread polling the
/// repo for new versions and reporting status.
pub(crate) fn worker_mode(
    cli: &Cli,
    url: &str,
    control: &Arc<pipy_runtime::Control>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<(String, Arc<dyn pipy_js::codebase::Codebase>)> {
    let tls = match (&cli.tls_trusted, &cli.tls_cert, &cli.tls_key) {
        (None, None, None) => None,
        (Some(trusted), None, None) => Some(pipy_repo::tls::client_config(trusted, None)?),
        (Some(trusted), Some(cert), Some(key)) => Some(pipy_repo::tls::client_config(
            trusted,
            Some((cert.as_path(), key.as_path())),
        )?),
        _ => {
            return Err(anyhow!(
                "--tls-cert and --tls-key go together, and need --tls-trusted"
            ))
        }
    };
    let url = repo_client::RepoUrl::parse(url, tls)?.with_token_file(cli.repo_token_file.clone());
    let opts = repo_client::ClientOptions {
        uuid: cli
            .instance_uuid
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        name: cli.instance_name.clone().unwrap_or_default(),
        no_reload: cli.no_reload,
        no_status: cli.no_status,
        no_metrics: cli.no_metrics,
    };
    pipy_js::api::pipy::set_instance(pipy_js::api::pipy::Instance {
        name: opts.name.clone(),
        uuid: opts.uuid.clone(),
        source: cli.target.clone().unwrap_or_default(),
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut sd = shutdown.clone();
    let first = rt
        .block_on(repo_client::first_download(&url, &mut sd))
        .ok_or_else(|| anyhow!("stopped before the codebase could be downloaded"))?;
    let entry = first.entry.clone();
    let shared = Arc::new(SharedCodebase::new(
        Arc::new(first.codebase),
        Some(first.entry),
    ));
    let (s, c, etag) = (shared.clone(), control.clone(), first.etag);
    std::thread::Builder::new()
        .name("pipy-repo-client".into())
        .spawn(move || {
            rt.block_on(repo_client::poll(url, opts, s, c, etag, shutdown));
        })?;
    Ok((entry, shared))
}

/// Ctrl-C and SIGTERM start a graceful drain; SIGHUP reloads the codebase
/// (as upstream's: a script's new files are taken without a restart), where
/// there is one to reload (`reload`; a repo ignores it).
fn spawn_signal_watcher(
    tx: Arc<tokio::sync::watch::Sender<bool>>,
    reload: Option<Arc<pipy_runtime::Control>>,
) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("pipy-signals".into())
        .spawn(move || {
            rt.block_on(async move {
                use tokio::signal::unix::{signal, SignalKind};
                let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
                    signal(SignalKind::terminate()),
                    signal(SignalKind::interrupt()),
                    signal(SignalKind::hangup()),
                ) else {
                    return;
                };
                loop {
                    tokio::select! {
                        _ = term.recv() => break,
                        _ = int.recv() => break,
                        _ = hup.recv() => {
                            if let Some(control) = &reload {
                                tracing::info!("[codebase] SIGHUP: reloading the codebase");
                                control.request_reload();
                            }
                        }
                    }
                }
                tracing::info!(target: "shutdown", "[shutdown] Shutting down...");
                let _ = tx.send(true);
            })
        })?;
    Ok(())
}
