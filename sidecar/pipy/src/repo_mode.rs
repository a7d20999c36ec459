//! Repo mode: `pipy` serves a codebase repository from an in-memory store,
//! `pipy DIR` from a SQLite database inside DIR (spec/repo-api.md §1).

use crate::Cli;
use anyhow::{anyhow, Context as _, Result};
use pipy_repo::{Repo, SqliteStore};
use std::net::{Ipv6Addr, SocketAddr};
use std::path::Path;
use tokio::sync::watch;

/// Name of the database file inside a repo directory.
const DB_FILE: &str = "pipy-repo.db";

/// The admin address: a bare port listens on `::` (dual stack), default 6060.
pub(crate) fn admin_addr(spec: Option<&str>) -> Result<SocketAddr> {
    let spec = spec.unwrap_or("6060");
    if let Ok(port) = spec.parse::<u16>() {
        return Ok(SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)));
    }
    let spec = spec.replace("localhost", "127.0.0.1");
    spec.parse()
        .map_err(|_| anyhow!("--admin-port: invalid address '{spec}'"))
}

fn bind(addr: SocketAddr) -> Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    if addr.is_ipv6() {
        // Dual stack: IPv4 peers appear as ::ffff:a.b.c.d, as upstream.
        let _ = sock.set_only_v6(false);
    }
    sock.set_reuse_address(true)?;
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())
        .with_context(|| format!("cannot listen on {addr}"))?;
    sock.listen(1024)?;
    Ok(sock.into())
}

/// `--init-repo=DIR`: every sub-folder becomes a codebase published as "1",
/// unless a codebase of that name exists already.
fn seed(repo: &mut Repo<SqliteStore>, dir: &Path) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|_| {
        anyhow!(
            "Cannot read codebase initialization directory: {}",
            dir.display()
        )
    })?;
    let mut names: Vec<_> = entries
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        let cb = format!("/{name}");
        if repo.exists(&cb)? {
            continue;
        }
        repo.create(&cb, None, None)?;
        let mut files = Vec::new();
        collect_files(&dir.join(&name), "", &mut files)?;
        for (path, content) in files {
            repo.write_file(&cb, &path, &content)?;
        }
        repo.publish(&cb, "1")?;
        tracing::info!(
            "codebase {cb} initialised from {}",
            dir.join(&name).display()
        );
    }
    Ok(())
}

fn collect_files(dir: &Path, prefix: &str, out: &mut Vec<(String, Vec<u8>)>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = format!("{prefix}/{name}");
        if e.path().is_dir() {
            collect_files(&e.path(), &path, out)?;
        } else {
            out.push((path, std::fs::read(e.path())?));
        }
    }
    Ok(())
}

/// Runs the repo until shutdown.
pub(crate) fn run(cli: &Cli, mut shutdown: watch::Receiver<bool>) -> Result<()> {
    let store = match &cli.target {
        Some(dir) => SqliteStore::open(Path::new(dir).join(DB_FILE))
            .with_context(|| format!("opening the repo in {dir}"))?,
        None => SqliteStore::in_memory()?,
    };
    let mut repo = Repo::new(store);
    if let Some(dir) = &cli.init_repo {
        seed(&mut repo, dir)?;
    }
    if cli.admin_port_off {
        return Err(anyhow!(
            "a repo needs its admin port: drop --admin-port-off"
        ));
    }
    if let Some(cb) = &cli.init_code {
        if !repo.exists(cb)? {
            return Err(anyhow!("Codebase not found: {cb}"));
        }
    }
    let tls = match (&cli.admin_tls_cert, &cli.admin_tls_key) {
        (Some(cert), Some(key)) => Some(pipy_repo::tls::server_config(
            cert,
            key,
            cli.admin_tls_trusted.as_deref(),
        )?),
        (None, None) if cli.admin_tls_trusted.is_none() => None,
        _ => {
            let message = "--admin-tls-cert and --admin-tls-key go together \
                           (and --admin-tls-trusted needs them)";
            return Err(anyhow!(message));
        }
    };
    let program = std::sync::Arc::new(crate::program::InProcess::new(
        crate::threads(&cli.threads)?,
        cli.reuse_port,
    ));
    let options = pipy_repo::RepoOptions {
        max_file_size: cli.max_file_size,
        tls,
        program: Some(program.clone()),
        admin_log_file: cli.admin_log_file.clone(),
        own_log: Some(std::sync::Arc::new(crate::log_buffer::ProcessLogs)),
        read_only: None,
        guard: None,
        hold_back: None,
        script_check: Some(std::sync::Arc::new(crate::program::ENGINE_CHECK)),
        console: Some(pipy_repo::embedded_console),
    };
    let addr = admin_addr(cli.admin_port.as_deref())?;
    let listener = bind(addr)?;
    tracing::info!(target: "listener", "[listener] Listening on TCP port {} at {}", addr.port(), addr.ip());
    let state = pipy_repo::api::RepoState::with_options(repo, options);
    if let Some(cb) = &cli.init_code {
        // As `POST /api/v1/program` (spec §1, §6.4).
        state
            .start_program(cb)
            .map_err(|e| anyhow!("--init-code {cb}: {e}"))?;
    }
    // One thread, like upstream's repo: requests are short and share one lock
    // on the store, so more threads would mostly contend.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        pipy_repo::api::serve(listener, state, async move {
            let _ = shutdown.wait_for(|v| *v).await;
        })
        .await
        .context("repo service")
    })?;
    pipy_repo::ProgramHost::stop(&*program);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_addresses() {
        assert_eq!(admin_addr(None).unwrap(), "[::]:6060".parse().unwrap());
        assert_eq!(
            admin_addr(Some("16060")).unwrap(),
            "[::]:16060".parse().unwrap()
        );
        assert_eq!(
            admin_addr(Some("127.0.0.1:1")).unwrap(),
            "127.0.0.1:1".parse().unwrap()
        );
        assert!(admin_addr(Some("nope")).is_err());
    }
}
