//! Worker threads: each loads the codebase into its own engine and serves the
//! listening ports it defines.

use crate::config::{self, ConfigState, Listen};
use crate::listener;
use anyhow::{anyhow, Context as _, Result};
use pipy_core::io::Protocol;
use pipy_core::{Context, EventTarget, Pipeline};
use pipy_js::HostHooks;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{mpsc as std_mpsc, Arc};
use std::time::Duration;
use tokio::sync::watch;

/// Control of a running codebase from outside its workers: reload requests
/// (from `pipy.restart()` or a repo client) and which of them loaded.
pub struct Control {
    restart: watch::Sender<u64>,
    loaded: std::sync::atomic::AtomicU64,
    settled: std::sync::atomic::AtomicU64,
    started: std::sync::atomic::AtomicBool,
}

impl Control {
    /// A new control, generation 0.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            restart: watch::channel(0).0,
            loaded: std::sync::atomic::AtomicU64::new(0),
            settled: std::sync::atomic::AtomicU64::new(0),
            started: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Asks every worker to reload the codebase; returns the request's number.
    pub fn request_reload(&self) -> u64 {
        let mut generation = 0;
        self.restart.send_modify(|g| {
            *g += 1;
            generation = *g;
        });
        generation
    }

    /// The last request that worker 0 loaded successfully (0: the first load).
    pub fn loaded(&self) -> u64 {
        self.loaded.load(Ordering::SeqCst)
    }

    /// The last request that worker 0 finished trying, loaded or not: a request is
    /// refused when it is settled but not [`loaded`](Self::loaded).
    pub fn settled(&self) -> u64 {
        self.settled.load(Ordering::SeqCst)
    }

    /// Whether every worker loaded the first version and serves.
    pub fn started(&self) -> bool {
        self.started.load(Ordering::SeqCst)
    }
}

/// What to run.
#[derive(Clone)]
pub struct RunOptions {
    /// Entry script path in the codebase, or a name for `eval`.
    pub entry: String,
    /// Script source given on the command line (`-e`), instead of the file.
    pub eval: Option<String>,
    /// The codebase's files.
    pub codebase: Arc<dyn pipy_js::codebase::Codebase>,
    /// Reload requests and their outcome.
    pub control: Arc<Control>,
    /// Number of worker threads.
    pub threads: usize,
    /// Share listening ports across processes too.
    pub reuse_port: bool,
    /// How long in-flight connections may take to finish at shutdown.
    pub drain_timeout: Duration,
    /// A port that cannot be bound is logged and skipped (`--force-start`).
    pub force_start: bool,
}

/// Loads the codebase on this thread's engine and returns what it defines.
/// `None`: an `-e` expression that is not a Configuration, whose value was printed.
fn load(
    opts: &RunOptions,
    hooks: HostHooks,
    print_value: bool,
) -> Result<Option<Rc<RefCell<ConfigState>>>> {
    pipy_js::init_thread(hooks).map_err(|e| anyhow!("{e}"))?;
    install_runtime_api()?;
    evaluate(opts, print_value)
}

/// Adds what the runtime gives scripts to this thread's engine:
/// `pipy.read`, `http.Agent`, the loggers, `pipeline` and `pipy.listen`.
pub(crate) fn install_runtime_api() -> Result<()> {
    pipy_js::with_js(crate::file_reader::install).map_err(|e| anyhow!("{e}"))?;
    pipy_js::with_js(crate::http_agent::install).map_err(|e| anyhow!("{e}"))?;
    pipy_js::with_js(crate::logging::install).map_err(|e| anyhow!("{e}"))?;
    pipy_js::with_js(config::pipeline_api::install).map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

/// Upstream's line for each module of a version that loaded (it prints the
/// module's pipeline graph instead unless `--no-graph`; we never print graphs).
fn log_modules(modules: &[usize]) {
    for id in modules {
        tracing::info!(target: "config", "[config] Module loaded: {}", crate::graph::module_path(*id));
    }
}

/// Evaluates the entry module on this thread's engine.
pub(crate) fn evaluate(
    opts: &RunOptions,
    print_value: bool,
) -> Result<Option<Rc<RefCell<ConfigState>>>> {
    let entry = opts.codebase.entry().unwrap_or_else(|| opts.entry.clone());
    // `pipy.listen` and `pipeline()` count only while a version loads.
    config::pipeline_api::set_loading(true);
    let value = pipy_js::with_js(|ctx| {
        pipy_js::module::load_with_source(&entry, opts.eval.as_deref(), ctx)
    });
    config::pipeline_api::set_loading(false);
    let value = value.map_err(|e| anyhow!("{e}"))?;
    // A Configuration the module's value is, or the one its `pipy.listen`
    // and `pipeline()` calls made.
    let state = config::state_of(&value.1)
        .or_else(|| config::pipeline_api::implicit_state(value.0))
        .or_else(config::pipeline_api::any_implicit_state);
    if let Some(state) = &state {
        config::pipeline_api::merge_into(state);
    }
    let Some(state) = state else {
        // A module of `pipy.read(...)` calls alone, or a script in
        // statements that listens on nothing (it may have timers or spawned
        // pipelines): the worker runs until they are done, as upstream's.
        let script_only = pipy_js::module::is_statements(value.0) && opts.eval.is_none();
        if pipy_js::busy::count() > 0 || script_only {
            return Ok(Some(Rc::new(RefCell::new(ConfigState::default()))));
        }
        if opts.eval.is_some() {
            if print_value {
                let text = pipy_js::with_js(|ctx| pipy_js::convert::to_json_text(&value.1, ctx));
                println!("{}", text.unwrap_or_else(|| value.1.display().to_string()));
            }
            return Ok(None);
        }
        return Err(anyhow!(
            "{}: the script did not result in a Configuration (pipy() ...) nor listen (pipy.listen)",
            opts.entry
        ));
    };
    config::check_pipeline_names().map_err(|e| anyhow!("{e}"))?;
    Ok(Some(state))
}

/// Runs the codebase on `opts.threads` workers until shutdown; returns the exit
/// code (`pipy.exit(code)` or 0).
pub fn run(
    opts: RunOptions,
    shutdown: watch::Receiver<bool>,
    trigger: Arc<watch::Sender<bool>>,
) -> Result<i32> {
    let exit_code = Arc::new(AtomicI32::new(0));
    crate::stats::init();
    let (ready_tx, ready_rx) = std_mpsc::channel::<Result<usize>>();
    let mut handles = Vec::new();
    for index in 0..opts.threads.max(1) {
        let signals = Signals {
            shutdown: shutdown.clone(),
            trigger: trigger.clone(),
            restart_rx: opts.control.restart.subscribe(),
            exit_code: exit_code.clone(),
        };
        let opts = opts.clone();
        let ready = ready_tx.clone();
        let h = std::thread::Builder::new()
            .name(format!("pipy-worker-{index}"))
            .spawn(move || worker(index, opts, ready, signals))
            .context("spawning a worker thread")?;
        handles.push(h);
    }
    drop(ready_tx);
    let mut first_error = None;
    for _ in 0..handles.len() {
        match ready_rx.recv() {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(_) => break,
        }
    }
    if let Some(e) = first_error {
        let _ = trigger.send(true);
        for h in handles {
            let _ = h.join();
        }
        // What the workers that loaded wrote still reaches its files.
        pipy_filters::tee::drain(Duration::from_secs(5));
        crate::logging::drain(Duration::from_secs(5));
        return Err(e);
    }
    opts.control.started.store(true, Ordering::SeqCst);
    for h in handles {
        let _ = h.join();
    }
    // What `tee` queued last reaches its file before the process ends.
    pipy_filters::tee::drain(Duration::from_secs(5));
    crate::logging::drain(Duration::from_secs(5));
    Ok(exit_code.load(Ordering::SeqCst))
}

/// How long a stopping worker gives its loggers to post what they hold.
const LOG_FLUSH_LIMIT: Duration = Duration::from_secs(5);

/// How often a worker looks for replaced versions it can release.
const SWEEP_PERIOD: Duration = Duration::from_secs(5);

/// What connects a worker to the process and to the other workers.
struct Signals {
    shutdown: watch::Receiver<bool>,
    trigger: Arc<watch::Sender<bool>>,
    restart_rx: watch::Receiver<u64>,
    exit_code: Arc<AtomicI32>,
}

/// A port being served: its spec (a reload swaps it) and its stop switch.
type Listening = (Rc<RefCell<Listen>>, watch::Sender<bool>);

/// A socket bound for a `listen`.
enum Bound {
    Tcp(std::net::TcpListener),
    Udp(std::net::UdpSocket),
}

/// The running version of the codebase on one worker: its listeners (which a
/// reload keeps, re-points or closes) and the stop switch of its tasks.
struct Running {
    index: usize,
    reuse_port: bool,
    force_start: bool,
    state: Rc<RefCell<ConfigState>>,
    listeners: HashMap<(SocketAddr, Protocol), Listening>,
    tasks_stop: watch::Sender<bool>,
    /// Runs of the version's one-shot tasks (`task()`), kept until a reload
    /// replaces them or the worker ends.
    once_runs: Vec<(Pipeline, Rc<Cell<bool>>)>,
    active: Rc<Cell<usize>>,
    shutdown: watch::Receiver<bool>,
    /// The modules of the running version.
    modules: Vec<usize>,
    /// Replaced versions: their modules, the live-pipeline counters of their layouts,
    /// and whether the last sweep already found them idle.
    retired: Vec<Retired>,
    /// Worker 0: the running version, as its admin pipelines see it.
    admin_state: Option<Rc<RefCell<Rc<RefCell<ConfigState>>>>>,
}

/// A replaced version, kept until no pipeline of it is left.
struct Retired {
    modules: Vec<usize>,
    counters: Vec<Arc<std::sync::atomic::AtomicUsize>>,
    idle_once: bool,
}

/// The live-pipeline counters of every layout of these modules.
fn layout_counters(modules: &[usize]) -> Vec<Arc<std::sync::atomic::AtomicUsize>> {
    let mut out = Vec::new();
    for id in modules {
        let Some(state) = pipy_js::module::value(*id).and_then(|v| config::state_of(&v)) else {
            continue;
        };
        out.extend(
            state
                .borrow()
                .layouts()
                .into_iter()
                .map(|l| l.active_counter()),
        );
    }
    out
}

impl Running {
    /// Releases the modules of replaced versions once no pipeline of theirs has been
    /// seen on two sweeps in a row (the second sweep leaves time for sub-pipelines,
    /// such as pooled upstream sessions, that outlive their parents).
    fn sweep(&mut self) {
        self.retired.retain_mut(|r| {
            let idle = r.counters.iter().all(|c| c.load(Ordering::Relaxed) == 0);
            if idle && r.idle_once {
                pipy_js::module::release(&r.modules);
                // The engine's collector runs by allocation volume and lets its threshold
                // grow; without a collection here the released versions (Configurations
                // holding layouts and callbacks) pile up between runs.
                boa_gc::force_collect();
                pipy_js::gc::bury();
                return false;
            }
            r.idle_once = idle;
            true
        });
    }

    /// Makes `state` the running version: binds new ports, points kept ports at
    /// the new pipelines (connections already open stay on the old ones), closes
    /// ports that are gone, and restarts the tasks.
    fn apply(&mut self, state: Rc<RefCell<ConfigState>>) -> Result<()> {
        // Watched files' contents are taken before the ports are bound: a
        // change made once they answer is a change.
        let watched: Vec<Option<u64>> = (state.borrow().tasks.iter())
            .map(|t| match &t.when {
                config::TaskWhen::Watch(path) => Some(file_digest(path)),
                _ => None,
            })
            .collect();
        let listens = state.borrow().listens.clone();
        self.apply_listens(&listens, self.force_start)?;
        self.publish_layouts();
        let _ = self.tasks_stop.send(true);
        let (tasks_stop, tasks_rx) = watch::channel(false);
        self.tasks_stop = tasks_stop;
        self.once_runs.clear();
        let tasks = state.borrow().tasks.clone();
        for (t, watched) in tasks.into_iter().zip(watched) {
            if !matches!(t.when, config::TaskWhen::Once) {
                let run = run_task(t, watched, self.shutdown.clone(), tasks_rx.clone());
                tokio::task::spawn_local(run);
            }
        }
        if let Some(a) = &self.admin_state {
            *a.borrow_mut() = state.clone();
            crate::admin_pipelines::publish(&state.borrow(), None);
        }
        self.state = state;
        Ok(())
    }

    /// Starts the running version's one-shot tasks (`task()`), after its
    /// modules are logged and before the worker looks for work in flight: a
    /// one-shot task holds a worker with no port only through the work it
    /// starts, as upstream's.
    fn start_once_tasks(&mut self) {
        self.once_runs = (self.state.borrow().tasks.iter())
            .filter(|t| matches!(t.when, config::TaskWhen::Once))
            .map(|t| run_once(&t.layout))
            .collect();
    }

    /// What `pipy.listen` changed once the worker ran: this thread's
    /// listeners now, kept in the running version's list (a reload replaces
    /// them with the new version's, as upstream's does).
    fn apply_listen_changes(&mut self) {
        let changes = config::pipeline_api::take_listen_changes();
        if changes.is_empty() {
            return;
        }
        let mut listens = self.state.borrow().listens.clone();
        for change in changes {
            match change {
                config::pipeline_api::ListenChange::Set(l) => {
                    listens.retain(|o| (o.addr, o.protocol) != (l.addr, l.protocol));
                    listens.push(l);
                }
                config::pipeline_api::ListenChange::Remove(addr, protocol) => {
                    listens.retain(|o| (o.addr, o.protocol) != (addr, protocol));
                }
            }
        }
        // A port that cannot be bound is logged, not fatal, once running.
        let _ = self.apply_listens(&listens, true);
        // Only what bound (a failed bind was logged).
        listens.retain(|l| self.listeners.contains_key(&(l.addr, l.protocol)));
        self.state.borrow_mut().listens = listens;
        self.publish_layouts();
    }

    /// Binds new ports, points kept ports at their new pipelines
    /// (connections already open stay on the old ones) and closes ports that
    /// are gone. With `force`, a port that cannot be bound is logged and
    /// skipped instead of failing the whole.
    fn apply_listens(&mut self, listens: &[Listen], force: bool) -> Result<()> {
        let key = |l: &Listen| (l.addr, l.protocol);
        let mut fresh = Vec::new();
        for l in listens {
            if !self.listeners.contains_key(&key(l)) {
                let bound = match l.protocol {
                    Protocol::Tcp => {
                        listener::bind(l.addr, self.reuse_port, l.transparent).map(Bound::Tcp)
                    }
                    Protocol::Udp => crate::udp::bind(l.addr, self.reuse_port).map(Bound::Udp),
                };
                match bound {
                    Ok(sock) => fresh.push((l.clone(), sock)),
                    Err(e) if force => tracing::error!(
                        target: "listener",
                        "[listener] Cannot start listening on {} port {} at {}: {e}",
                        l.protocol.label(),
                        l.addr.port(),
                        l.addr.ip()
                    ),
                    Err(e) => return Err(anyhow!("cannot listen on {}: {e}", l.addr)),
                }
            }
        }
        for (l, sock) in fresh {
            if self.index == 0 {
                tracing::info!(
                    target: "listener",
                    "[listener] Listening on {} port {} at {}",
                    l.protocol.label(),
                    l.addr.port(),
                    l.addr.ip()
                );
            }
            let spec = Rc::new(RefCell::new(l.clone()));
            let (stop_tx, stop_rx) = watch::channel(false);
            match sock {
                Bound::Tcp(sock) => tokio::task::spawn_local(listener::serve(
                    sock,
                    spec.clone(),
                    self.active.clone(),
                    self.shutdown.clone(),
                    stop_rx,
                )),
                Bound::Udp(sock) => tokio::task::spawn_local(crate::udp::serve(
                    sock,
                    spec.clone(),
                    self.shutdown.clone(),
                    stop_rx,
                )),
            };
            self.listeners.insert(key(&l), (spec, stop_tx));
        }
        for l in listens {
            if let Some((spec, _)) = self.listeners.get(&key(l)) {
                *spec.borrow_mut() = l.clone();
            }
        }
        let index = self.index;
        self.listeners.retain(|k, (_, stop)| {
            let keep = listens.iter().any(|l| key(l) == *k);
            if !keep {
                let _ = stop.send(true);
                if index == 0 {
                    tracing::info!(
                        target: "listener",
                        "[listener] Stopped listening on {} port {} at {}",
                        k.1.label(),
                        k.0.port(),
                        k.0.ip()
                    );
                }
            }
            keep
        });
        Ok(())
    }

    /// Tells the metrics and the graphs which pipelines run.
    fn publish_layouts(&self) {
        crate::stats::publish_layouts(
            self.index,
            config::live_layouts()
                .into_iter()
                .map(|(module, l)| (module, l.name().to_owned(), l.active_counter()))
                .collect(),
        );
        // Every worker runs the same version: the first one draws its graphs.
        if self.index == 0 {
            crate::graph::publish_current();
        }
    }

    /// Loads the codebase again; a version that fails keeps the old one running.
    fn reload(&mut self, opts: &RunOptions, generation: u64) {
        tracing::info!(target: "codebase", "[restart] Reloading codebase on thread {}...", self.index);
        self.sweep();
        pipy_js::module::begin_reload();
        match evaluate(opts, false).and_then(|s| s.ok_or_else(|| anyhow!("not a Configuration"))) {
            Ok(state) => match self.apply(state) {
                Ok(()) => {
                    let replaced = std::mem::replace(&mut self.modules, pipy_js::module::current());
                    self.retired.push(Retired {
                        counters: layout_counters(&replaced),
                        modules: replaced,
                        idle_once: false,
                    });
                    if self.index == 0 {
                        log_modules(&self.modules);
                    }
                    self.start_once_tasks();
                    tracing::info!(target: "codebase", "[restart] Codebase reloaded on thread {}", self.index);
                    // Connections open now run the old version: those that
                    // can (HTTP/2) tell their clients to move on.
                    pipy_core::io::reloaded();
                    if self.index == 0 {
                        opts.control.loaded.store(generation, Ordering::SeqCst);
                        release_program_pages();
                    }
                }
                Err(e) => tracing::error!(
                    target: "codebase",
                    "[restart] Failed reloading codebase on thread {}, keeping the running version: {e:#}",
                    self.index
                ),
            },
            Err(e) => tracing::error!(
                target: "codebase",
                "[restart] Failed reloading codebase on thread {}, keeping the running version: {e:#}",
                self.index
            ),
        }
        // What a failed load left behind never ran a pipeline.
        let failed: Vec<usize> = pipy_js::module::current()
            .into_iter()
            .filter(|id| !self.modules.contains(id))
            .collect();
        if !failed.is_empty() {
            pipy_js::module::begin_reload();
            pipy_js::module::release(&failed);
        }
        if self.index == 0 {
            opts.control.settled.store(generation, Ordering::SeqCst);
        }
    }
}

/// How long after a load the program's pages go back: the code the worker
/// runs just after loading (its first timers and requests) must not have to
/// come back from disk then, and a short script is over by then.
const RELEASE_PAGES_AFTER: Duration = Duration::from_secs(5);

/// A while after a load, the program's pages that only loading ran go back to
/// the kernel: what stays resident is what the worker runs (`pipy_sys`). A
/// housekeeping task: it keeps no worker running.
fn release_program_pages() {
    tokio::task::spawn_local(async {
        tokio::time::sleep(RELEASE_PAGES_AFTER).await;
        let bytes = pipy_sys::release_program_pages();
        tracing::debug!(target: "thread", "[thread] {} KiB of the program's pages given back after loading", bytes / 1024);
    });
}

fn worker(
    index: usize,
    opts: RunOptions,
    ready: std_mpsc::Sender<Result<usize>>,
    signals: Signals,
) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(anyhow!("worker {index}: {e}")));
            return;
        }
    };
    let local = tokio::task::LocalSet::new();
    pipy_js::api::pipy::set_thread(index, opts.threads.max(1));
    local.block_on(&rt, async move {
        crate::outbound::install();
        let Signals {
            shutdown,
            trigger,
            mut restart_rx,
            exit_code,
        } = signals;
        let code = exit_code.clone();
        let hooks = HostHooks {
            codebase: opts.codebase.clone(),
            make_configuration: config::make_configuration,
            exit: Rc::new(move |c| {
                code.store(c, Ordering::SeqCst);
                let _ = trigger.send(true);
            }),
            // `pipy.restart()` on any worker reloads the codebase on all of them.
            restart: {
                let control = opts.control.clone();
                Rc::new(move || {
                    control.request_reload();
                })
            },
        };
        let state = match load(&opts, hooks, index == 0) {
            Ok(Some(s)) => s,
            Ok(None) => {
                let _ = ready.send(Ok(index));
                return;
            }
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        let mut running = Running {
            index,
            reuse_port: opts.reuse_port || opts.threads > 1,
            force_start: opts.force_start,
            state: state.clone(),
            listeners: HashMap::new(),
            tasks_stop: watch::channel(false).0,
            once_runs: Vec::new(),
            active: Rc::new(Cell::new(0usize)),
            shutdown: shutdown.clone(),
            modules: pipy_js::module::current(),
            retired: Vec::new(),
            admin_state: (index == 0).then(|| Rc::new(RefCell::new(state.clone()))),
        };
        if let Some(a) = &running.admin_state {
            crate::admin_pipelines::serve(a.clone());
        }
        crate::stats::serve_collect_requests();
        if let Err(e) = running.apply(state.clone()) {
            let _ = ready.send(Err(e));
            return;
        }
        if index == 0 {
            log_modules(&running.modules);
        }
        let _ = ready.send(Ok(index));
        tracing::debug!(target: "thread", "[thread] Thread {index} started");
        if index == 0 {
            release_program_pages();
        }
        running.start_once_tasks();
        let mut reads_only = state.borrow().listens.is_empty()
            && state
                .borrow()
                .tasks
                .iter()
                .all(|t| matches!(t.when, config::TaskWhen::Once))
            && state.borrow().admins.is_empty();
        // As upstream, a worker with no port runs until its reads, timers
        // and spawned pipelines are done.
        let idle = || pipy_js::busy::count() == 0;
        if reads_only && idle() {
            // Its `pipy.exit(fn)` callbacks run, and what its loggers still
            // hold goes to their collectors.
            let exit_callbacks = pipy_js::api::pipy::run_exit_callbacks();
            crate::logging::flush_http();
            let deadline = tokio::time::Instant::now() + LOG_FLUSH_LIMIT;
            while (crate::logging::unsent() > 0 || exit_callbacks.get() > 0)
                && tokio::time::Instant::now() < deadline
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            return;
        }
        let all_done = || async move {
            pipy_js::busy::idle().await;
        };
        let mut shutdown = shutdown;
        let mut sweep = tokio::time::interval(SWEEP_PERIOD);
        loop {
            // Biased: a listener asked for in the same turn as the last work
            // ended opens before the worker would end.
            tokio::select! {
                biased;
                _ = shutdown.wait_for(|v| *v) => break,
                _ = config::pipeline_api::listen_changed() => {
                    running.apply_listen_changes();
                    // A worker that listens runs until it is stopped.
                    reads_only &= running.listeners.is_empty();
                }
                _ = all_done(), if reads_only => break,
                _ = sweep.tick() => {
                    running.sweep();
                    // What ordinary collections swept since the last tick.
                    pipy_js::gc::bury();
                }
                r = restart_rx.changed() => {
                    if r.is_err() {
                        break;
                    }
                    let generation = *restart_rx.borrow_and_update();
                    running.reload(&opts, generation);
                }
            }
        }
        // Drain: listeners stopped accepting; give open connections time to
        // finish, and loggers time to post what they hold.
        let deadline = tokio::time::Instant::now() + opts.drain_timeout;
        let exits: Vec<_> = running.state.borrow().exits.iter().map(run_once).collect();
        // `pipy.exit(fn)` callbacks, and the Promises they gave.
        let exit_callbacks = pipy_js::api::pipy::run_exit_callbacks();
        crate::logging::flush_http();
        let log_deadline = tokio::time::Instant::now() + LOG_FLUSH_LIMIT;
        while (running.active.get() > 0
            || exits.iter().any(|(_, done)| !done.get())
            || exit_callbacks.get() > 0
            || (crate::logging::unsent() > 0 && tokio::time::Instant::now() < log_deadline))
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    // The engine (and script objects that may still ask for timers) goes
    // with the thread, after its loop: they get no loop from now on.
    pipy_core::io::uninstall();
    pipy_nmi::end_thread();
    pipy_js::end_thread();
}

/// Starts one run of a task or exit pipeline: as upstream, it gets no input but
/// what its `onStart` returns; it is done when it outputs `StreamEnd`.
fn run_once(layout: &pipy_core::Layout) -> (Pipeline, Rc<Cell<bool>>) {
    let done = Rc::new(Cell::new(false));
    let d = done.clone();
    let p = Pipeline::new(
        layout,
        Context::new(None),
        EventTarget::Func(Rc::new(move |e| {
            if e.is_stream_end() {
                d.set(true);
            }
        })),
    );
    p.start();
    (p, done)
}

async fn run_task(
    task: config::Task,
    watched: Option<u64>,
    shutdown: watch::Receiver<bool>,
    stop: watch::Receiver<bool>,
) {
    // A reload replaces the tasks: end on shutdown or when stopped.
    let mut shutdown = shutdown;
    let mut stop = stop;
    tokio::select! {
        _ = run_task_body(task, watched, shutdown.clone()) => {}
        _ = shutdown.wait_for(|v| *v) => {}
        _ = stop.wait_for(|v| *v) => {}
    }
}

/// What a watched file holds now, as a digest.
fn file_digest(path: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    pipy_js::module::read_file(path).hash(&mut h);
    h.finish()
}

/// Runs a task; `watched` is a watched file's digest when the task began.
async fn run_task_body(
    task: config::Task,
    watched: Option<u64>,
    mut shutdown: watch::Receiver<bool>,
) {
    use config::TaskWhen;
    match task.when {
        // Started by `Running::apply` itself.
        TaskWhen::Once => {}
        TaskWhen::Every(period) => {
            let mut current = run_once(&task.layout);
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(period) => {}
                    _ = shutdown.wait_for(|v| *v) => return,
                }
                // The next run waits until the previous one has ended.
                if current.1.get() {
                    current = run_once(&task.layout);
                }
            }
        }
        TaskWhen::Signal(name) => {
            use tokio::signal::unix::{signal, SignalKind};
            // SIGKILL and SIGSTOP cannot be caught: the task never runs.
            let Some(number) = config::signal_number(&name) else {
                return;
            };
            let kind = SignalKind::from_raw(number);
            let Ok(mut sig) = signal(kind) else {
                tracing::error!("task('{name}'): cannot watch this signal");
                return;
            };
            let mut runs = Vec::new();
            loop {
                tokio::select! {
                    _ = sig.recv() => runs.push(run_once(&task.layout)),
                    _ = shutdown.wait_for(|v| *v) => return,
                }
                runs.retain(|(_, done)| !done.get());
            }
        }
        TaskWhen::Watch(path) => {
            let mut last = watched.unwrap_or_else(|| file_digest(&path));
            let mut current: Option<(Pipeline, Rc<Cell<bool>>)> = None;
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(WATCH_PERIOD) => {}
                    _ = shutdown.wait_for(|v| *v) => return,
                }
                let now = file_digest(&path);
                if now != last {
                    last = now;
                    if current.as_ref().is_none_or(|(_, done)| done.get()) {
                        current = Some(run_once(&task.layout));
                    }
                }
            }
        }
    }
}

/// How often `watch` looks at its file.
const WATCH_PERIOD: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// A script that reloads itself every few milliseconds: the versions it replaces
    /// must go, or a long-lived worker grows with every publish.
    #[test]
    fn reloads_release_the_versions_they_replace() {
        let control = Control::new();
        let (tx, rx) = watch::channel(false);
        let tx = Arc::new(tx);
        let opts = RunOptions {
            entry: "reload.js".into(),
            eval: Some(
                "pipy({ _n: 0 }).task('0.01s').onStart(() => (_n++, pipy.restart(), new StreamEnd))"
                    .into(),
            ),
            codebase: Arc::new(pipy_js::codebase::MemoryCodebase::new("test")),
            control: control.clone(),
            threads: 1,
            reuse_port: false,
            drain_timeout: Duration::from_millis(100),
            force_start: false,
        };
        let trigger = tx.clone();
        let worker = std::thread::spawn(move || run(opts, rx, trigger));
        let deadline = Instant::now() + Duration::from_secs(30);
        while control.loaded() < 60 {
            assert!(
                Instant::now() < deadline,
                "only {} reloads",
                control.loaded()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let live = config::live_configurations();
        let _ = tx.send(true);
        assert!(worker.join().is_ok());
        // The running version and the few kept while they drain (dry runs and
        // probes of other tests, on their own threads, are not counted).
        assert!(live <= 12, "{live} Configurations alive after 60 reloads");
        assert!(live >= 1, "the running version is counted");
    }
}
