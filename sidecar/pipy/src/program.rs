//! The repo's in-process program (`/api/v1/program`, `--init-code`): a codebase's
//! draft view run by workers inside the repo process.

use pipy_js::codebase::{MemoryCodebase, SharedCodebase};
use pipy_repo::{ProgramFiles, ProgramHost};
use pipy_runtime::Control;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How long a start or a reload may take before it counts as failed.
const LOAD_LIMIT: Duration = Duration::from_secs(10);

/// How long a stopped program may drain its connections.
const DRAIN: Duration = Duration::from_secs(2);

/// One running program.
struct Running {
    stop: Arc<watch::Sender<bool>>,
    thread: std::thread::JoinHandle<anyhow::Result<i32>>,
    shared: Arc<SharedCodebase>,
    control: Arc<Control>,
}

/// Runs programs on `threads` worker threads.
pub(crate) struct InProcess {
    threads: usize,
    reuse_port: bool,
    running: Mutex<Option<Running>>,
}

impl std::fmt::Debug for InProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcess")
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

impl InProcess {
    pub(crate) fn new(threads: usize, reuse_port: bool) -> Self {
        Self {
            threads,
            reuse_port,
            running: Mutex::new(None),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Running>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn codebase_of(program: &ProgramFiles) -> Arc<MemoryCodebase> {
    let mut codebase = MemoryCodebase::new(format!("repo:{}", program.codebase));
    for (path, content) in &program.files {
        codebase.insert(path, content.clone());
    }
    Arc::new(codebase)
}

fn stop_running(running: Running) {
    let _ = running.stop.send(true);
    let _ = running.thread.join();
}

impl ProgramHost for InProcess {
    fn start(&self, program: &ProgramFiles) -> Result<(), String> {
        let mut slot = self.lock();
        if let Some(old) = slot.take() {
            stop_running(old);
        }
        let shared = Arc::new(SharedCodebase::new(
            codebase_of(program),
            Some(program.main.clone()),
        ));
        let control = Control::new();
        let (stop, stop_rx) = watch::channel(false);
        let stop = Arc::new(stop);
        let options = pipy_runtime::RunOptions {
            entry: program.main.clone(),
            eval: None,
            codebase: shared.clone(),
            control: control.clone(),
            threads: self.threads,
            reuse_port: self.reuse_port,
            drain_timeout: DRAIN,
            force_start: false,
        };
        let trigger = stop.clone();
        let thread = std::thread::Builder::new()
            .name("pipy-program".into())
            .spawn(move || pipy_runtime::run(options, stop_rx, trigger))
            .map_err(|e| e.to_string())?;
        // Started means every worker loaded the first version; a failure ends the
        // thread with the error.
        let deadline = Instant::now() + LOAD_LIMIT;
        while !control.started() {
            if thread.is_finished() {
                return Err(match thread.join() {
                    Ok(Err(e)) => format!("{e:#}"),
                    _ => "the program ended at once".to_string(),
                });
            }
            if Instant::now() > deadline {
                let _ = stop.send(true);
                return Err("no start within 10 s".to_string());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        *slot = Some(Running {
            stop,
            thread,
            shared,
            control,
        });
        Ok(())
    }

    fn reload(&self, program: &ProgramFiles) -> Result<(), String> {
        let slot = self.lock();
        let Some(running) = slot.as_ref() else {
            drop(slot);
            return self.start(program);
        };
        running
            .shared
            .replace(codebase_of(program), Some(program.main.clone()));
        let generation = running.control.request_reload();
        let deadline = Instant::now() + LOAD_LIMIT;
        while running.control.settled() < generation {
            if Instant::now() > deadline {
                return Err("no reload within 10 s".to_string());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if running.control.loaded() < generation {
            return Err("the new version failed to load; the old one keeps running".into());
        }
        Ok(())
    }

    fn stop(&self) {
        if let Some(running) = self.lock().take() {
            stop_running(running);
        }
    }
}

/// The repo's script checks (`/api/v1/graph`, `/api/v1/check/CB`): the
/// runtime's dry run, on a thread of its own per request.
pub(crate) const ENGINE_CHECK: pipy_repo::EngineCheck = pipy_repo::EngineCheck {
    graph: pipy_runtime::graph_of_script,
    check: pipy_runtime::dry_run_files,
};
