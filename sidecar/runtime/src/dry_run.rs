//! The dry run: load a codebase the way a worker does, and do nothing else.
//!
//! Every module is parsed and evaluated by the real PipyJS host and every pipeline
//! layout is built, so a codebase that passes loads on a worker too. Nothing is bound,
//! connected or started: no listener, no task, no tokio runtime. `pipy.exit()` and
//! `pipy.restart()` do nothing.
//!
//! Each run gets a fresh, short-lived thread: the engine, the module table and the
//! context variables are thread-local, so nothing of one run leaks into the next.

use crate::config;
use crate::worker::{evaluate, Control, RunOptions};
use anyhow::{anyhow, Context as _, Result};
use pipy_js::codebase::Codebase;
use pipy_js::HostHooks;
use std::rc::Rc;
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// How long a dry run may take before it is given up (a module that loops forever).
pub const DRY_RUN_TIMEOUT: Duration = Duration::from_secs(10);

/// How many iterations one loop of a module may run while it loads. A module that
/// needs more is almost certainly stuck; the limit makes its thread end by itself
/// after [`DRY_RUN_TIMEOUT`] gave up on it.
const LOOP_LIMIT: u64 = 50_000_000;

/// Loads `codebase` from `entry` (`/main.js`) on a fresh thread, as a worker would,
/// without opening any port or starting any task.
///
/// The error is the engine's, `file:line:column: message` when the engine knows the
/// position.
pub fn dry_run(codebase: Arc<dyn Codebase>, entry: &str) -> Result<()> {
    dry_run_within(codebase, entry, DRY_RUN_TIMEOUT)
}

/// [`dry_run`] that gives up after `limit` (an admission webhook must answer before
/// the API server's own timeout).
pub fn dry_run_within(codebase: Arc<dyn Codebase>, entry: &str, limit: Duration) -> Result<()> {
    load_within(codebase, entry, limit).map(|_| ())
}

/// The pipeline graph of a one-file script (`/main.js`), as a worker would draw it
/// (upstream's `POST /api/v1/graph`): `{"roots":[…],"nodes":[…]}`. Loaded by the
/// dry run, so nothing is bound or started.
pub fn graph_of_script(source: &str) -> Result<serde_json::Value> {
    let mut cb = pipy_js::codebase::MemoryCodebase::new("graph");
    cb.insert("/main.js", source.as_bytes());
    let graphs = load_within(Arc::new(cb), "/main.js", DRY_RUN_TIMEOUT)?;
    let mut graph = graphs
        .get("/main.js")
        .and_then(|m| m.get("graph"))
        .cloned()
        .unwrap_or_else(|| serde_json::json!({ "roots": [], "nodes": [] }));
    name_roots_as_the_graph_api(&mut graph);
    Ok(graph)
}

/// Upstream's graph API names two kinds of root otherwise than its status
/// reports do: `Listen 0.0.0.0:8080` for `[0.0.0.0]:8080` and `Module
/// Entrance` for `Module Entrance: /main.js`.
fn name_roots_as_the_graph_api(graph: &mut serde_json::Value) {
    let Some(nodes) = graph.get_mut("nodes").and_then(|n| n.as_array_mut()) else {
        return;
    };
    for node in nodes {
        if node.get("t").and_then(|t| t.as_str()) != Some("root") {
            continue;
        }
        let Some(name) = node.get("name").and_then(|n| n.as_str()) else {
            continue;
        };
        let renamed = if let Some(rest) = name.strip_prefix('[') {
            rest.split_once("]:")
                .map(|(ip, port)| format!("Listen {ip}:{port}"))
        } else if name.starts_with("Module Entrance: ") {
            Some("Module Entrance".to_string())
        } else {
            None
        };
        if let Some(n) = renamed {
            node["name"] = n.into();
        }
    }
}

/// The dry run of a codebase's files (`(path, content)`), from `entry`: the
/// pipeline graph of each module loaded, by path, roots named as the graph API
/// names them.
pub fn dry_run_files(
    files: &[(String, Vec<u8>)],
    entry: &str,
) -> Result<serde_json::Map<String, serde_json::Value>> {
    let mut cb = pipy_js::codebase::MemoryCodebase::new("draft");
    for (path, content) in files {
        cb.insert(path, content.clone());
    }
    let mut graphs = load_within(Arc::new(cb), entry, DRY_RUN_TIMEOUT)?;
    for module in graphs.values_mut() {
        if let Some(graph) = module.get_mut("graph") {
            name_roots_as_the_graph_api(graph);
        }
    }
    Ok(graphs)
}

/// Loads on a fresh thread; the graphs of the modules loaded, by path.
fn load_within(
    codebase: Arc<dyn Codebase>,
    entry: &str,
    limit: Duration,
) -> Result<serde_json::Map<String, serde_json::Value>> {
    let entry = entry.to_owned();
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("pipy-dry-run".into())
        .spawn(move || {
            // A panic drops `tx` unsent, which the receiver reports.
            let _ = tx.send(load_only(codebase, entry));
        })
        .context("spawning the dry-run thread")?;
    match rx.recv_timeout(limit) {
        Ok(result) => result,
        Err(mpsc::RecvTimeoutError::Timeout) => Err(anyhow!(
            "loading took longer than {limit:?} (a loop that never ends?)"
        )),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(anyhow!("the engine panicked")),
    }
}

/// Runs on the dry-run thread: a fresh host, then the worker's own `evaluate`.
fn load_only(
    codebase: Arc<dyn Codebase>,
    entry: String,
) -> Result<serde_json::Map<String, serde_json::Value>> {
    let hooks = HostHooks {
        codebase: codebase.clone(),
        make_configuration: config::make_configuration,
        exit: Rc::new(|_| {}),
        restart: Rc::new(|| {}),
    };
    pipy_js::init_thread(hooks).map_err(|e| anyhow!("{e}"))?;
    // The globals a worker adds, so that a script using them loads here too.
    pipy_js::with_js(crate::http_agent::install).map_err(|e| anyhow!("{e}"))?;
    pipy_js::with_js(crate::logging::install).map_err(|e| anyhow!("{e}"))?;
    pipy_js::with_js(crate::config::pipeline_api::install).map_err(|e| anyhow!("{e}"))?;
    pipy_js::with_js(|ctx| {
        ctx.runtime_limits_mut()
            .set_loop_iteration_limit(LOOP_LIMIT)
    });
    let opts = RunOptions {
        entry,
        eval: None,
        codebase,
        control: Control::new(),
        threads: 1,
        reuse_port: false,
        drain_timeout: Duration::ZERO,
        force_start: false,
    };
    evaluate(&opts, false)?;
    check_names_of_every_module()?;
    Ok(crate::graph::current_graphs())
}

/// Every module (`use`, `chain`) is checked, so that a wrong name anywhere fails
/// the dry run.
fn check_names_of_every_module() -> Result<()> {
    crate::config::check_pipeline_names().map_err(|e| anyhow!("{e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipy_js::codebase::MemoryCodebase;

    fn codebase(files: &[(&str, &str)]) -> Arc<dyn Codebase> {
        let mut cb = MemoryCodebase::new("test");
        for (path, content) in files {
            cb.insert(path, content.as_bytes());
        }
        Arc::new(cb)
    }

    #[test]
    fn loads_without_binding_or_exiting() {
        let held = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = held.local_addr().expect("bound").port();
        let main = format!(
            "pipy.exit(3),\npipy()\n.listen('127.0.0.1:{port}')\n.demuxHTTP().to('x')\n\
             .pipeline('x')\n.serveHTTP(new Message('hi'))\n.task('1s')\n.dummy()"
        );
        dry_run(codebase(&[("/main.js", &main)]), "/main.js").expect("loads");
    }

    #[test]
    fn reports_the_engine_error() {
        let err = dry_run(
            codebase(&[("/main.js", "pipy()\n.listen(8080)\n.dump(")]),
            "/main.js",
        )
        .expect_err("does not parse");
        assert!(err.to_string().starts_with("main.js:3:"), "{err}");
        let err = dry_run(codebase(&[]), "/main.js").expect_err("no file");
        assert!(err.to_string().contains("main.js"), "{err}");
    }

    #[test]
    fn draws_the_graph_of_a_script() {
        let g = graph_of_script("pipy()\n.listen(8080)\n.serveHTTP(new Message('hi'))")
            .expect("a graph");
        let nodes = g["nodes"].as_array().expect("nodes");
        assert_eq!(g["roots"], serde_json::json!([0]));
        assert!(
            nodes[0]["name"].as_str().unwrap_or("").contains("8080"),
            "{g}"
        );
        assert!(nodes.iter().any(|n| n["name"] == "serveHTTP"), "{g}");
        let err = graph_of_script("pipy()\n.listen(8080)\n.dump(").expect_err("broken");
        assert!(err.to_string().starts_with("main.js:3:"), "{err}");
    }
}
