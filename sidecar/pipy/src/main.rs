//! `pipy`: runs a PipyJS codebase.
//!
//! `pipy main.js` runs a script; `pipy -e "pipy().listen(8000)..."` runs an
//! expression. Options follow upstream Pipy's names where they apply.

use anyhow::{anyhow, Result};
use clap::Parser;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

// Workers allocate small objects at a high rate (heads, events, script
// objects); mimalloc's per-thread free lists beat the system allocator there,
// but hold more memory, so it is a build option.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Command line, with upstream Pipy's option names.
#[derive(Parser, Debug)]
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
    /// Log level: error, warn, info, debug, trace.
    #[arg(long = "log-level", default_value = "info")]
    log_level: String,
    /// Let other processes listen on the same ports (SO_REUSEPORT).
    #[arg(long = "reuse-port")]
    reuse_port: bool,
    /// Admin port (served from the repo work on; accepted now).
    #[arg(long = "admin-port", value_name = "[IP:]PORT")]
    admin_port: Option<String>,
    /// Turn the admin port off.
    #[arg(long = "admin-port-off")]
    admin_port_off: bool,
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&cli.log_level)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("pipy: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<i32> {
    let threads = threads(&cli.threads)?;
    let _ = (&cli.admin_port, cli.admin_port_off);
    let (entry, base_dir, eval) = match (&cli.eval, &cli.target) {
        (Some(expr), _) => (
            "eval".to_string(),
            std::env::current_dir()?,
            Some(expr.clone()),
        ),
        (None, Some(t)) => {
            let path = Path::new(t);
            if !path.is_file() {
                return Err(anyhow!(
                    "{t}: no such script file (the repo mode comes with a later release)"
                ));
            }
            let base = path
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("."));
            let base = if base.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                base
            };
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, base, None)
        }
        (None, None) => {
            return Err(anyhow!(
            "no script given: pipy <file.js> or pipy -e <expr> (repo mode is not available yet)"
        ))
        }
    };
    let (tx, rx) = tokio::sync::watch::channel(false);
    let tx = Arc::new(tx);
    spawn_signal_watcher(tx.clone())?;
    pipy_runtime::run(
        pipy_runtime::RunOptions {
            entry,
            eval,
            codebase: Arc::new(pipy_js::codebase::DirCodebase::new(base_dir)),
            threads,
            reuse_port: cli.reuse_port,
            drain_timeout: Duration::from_secs(10),
        },
        rx,
        tx,
    )
}

/// Ctrl-C and SIGTERM start a graceful drain.
fn spawn_signal_watcher(tx: Arc<tokio::sync::watch::Sender<bool>>) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("pipy-signals".into())
        .spawn(move || {
            rt.block_on(async move {
                use tokio::signal::unix::{signal, SignalKind};
                let (Ok(mut term), Ok(mut int)) = (
                    signal(SignalKind::terminate()),
                    signal(SignalKind::interrupt()),
                ) else {
                    return;
                };
                tokio::select! {
                    _ = term.recv() => {},
                    _ = int.recv() => {},
                }
                tracing::info!("shutting down: draining connections");
                let _ = tx.send(true);
            })
        })?;
    Ok(())
}
