//! The built-in metrics of a worker process, registered in upstream's order in
//! the process-wide [`Registry`] (which the PipyJS `stats` API shares):
//!
//! - `pipy_pipeline_count{module,name}`: pipelines alive per layout, read from
//!   the layouts' counters when a snapshot is taken;
//! - `pipy_inbound_count{listen,peer}`, `pipy_inbound_in`, `pipy_inbound_out`:
//!   open connections and bytes received and sent, per listening port
//!   (`[0.0.0.0]:8080/TCP`) and client IP;
//! - `pipy_outbound_count{peer}`, `pipy_outbound_in`, `pipy_outbound_out` and
//!   `pipy_outbound_conn_time`: connections opened by `connect`, per peer.
//!
//! [`snapshot`] is what both the admin port's `/metrics` and the status report
//! to a repo show.

use pipy_metrics::live::{Handle, Kind, Registry};
use pipy_metrics::MetricData;
use std::cell::RefCell;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// The root handles of the inbound metrics.
struct Inbound {
    count: Handle,
    bytes_in: Handle,
    bytes_out: Handle,
}

/// A layout whose pipelines `pipy_pipeline_count` counts.
struct LayoutCount {
    thread: usize,
    module: String,
    name: String,
    active: Arc<AtomicUsize>,
    /// Part of the version the thread runs now; older layouts are shown only
    /// while some of their pipelines still drain.
    current: bool,
}

static LAYOUTS: Mutex<Vec<LayoutCount>> = Mutex::new(Vec::new());

fn inbound() -> &'static Inbound {
    static INBOUND: OnceLock<Inbound> = OnceLock::new();
    INBOUND.get_or_init(|| {
        let reg = Registry::global();
        reg.metric("pipy_pipeline_count", Kind::Gauge, &["module", "name"]);
        reg.set_collector("pipy_pipeline_count", Arc::new(collect_pipelines));
        let labels = ["listen", "peer"];
        let inbound = Inbound {
            count: reg.metric("pipy_inbound_count", Kind::Gauge, &labels),
            bytes_in: reg.metric("pipy_inbound_in", Kind::Counter, &labels),
            bytes_out: reg.metric("pipy_inbound_out", Kind::Counter, &labels),
        };
        OutboundStats::roots();
        inbound
    })
}

/// Registers the built-in metrics (once), so that they come first and in
/// upstream's order.
pub fn init() {
    inbound();
}

fn collect_pipelines(emit: &mut dyn FnMut(&[&str], f64)) {
    let mut layouts = LAYOUTS.lock().unwrap_or_else(|e| e.into_inner());
    layouts.retain(|l| l.current || l.active.load(Ordering::Relaxed) > 0);
    for l in layouts.iter() {
        emit(
            &[&l.module, &l.name],
            l.active.load(Ordering::Relaxed) as f64,
        );
    }
}

/// Makes `layouts` (module path, layout name, live count) the ones worker
/// `thread` runs now.
pub(crate) fn publish_layouts(thread: usize, layouts: Vec<(String, String, Arc<AtomicUsize>)>) {
    let mut all = LAYOUTS.lock().unwrap_or_else(|e| e.into_inner());
    for l in all.iter_mut().filter(|l| l.thread == thread) {
        l.current = false;
    }
    // Replaced layouts stay only while pipelines of theirs drain (and the list stays
    // short however many reloads a process sees).
    all.retain(|l| l.thread != thread || l.active.load(Ordering::Relaxed) > 0);
    for (module, name, active) in layouts {
        match all.iter_mut().find(|l| Arc::ptr_eq(&l.active, &active)) {
            Some(l) => l.current = true,
            None => all.push(LayoutCount {
                thread,
                module,
                name,
                active,
                current: true,
            }),
        }
    }
}

/// Every metric of the process now, summed over worker threads (after the
/// scripts' gauge callbacks ran, see [`collect_script_gauges`]).
pub fn snapshot() -> MetricData {
    init();
    collect_script_gauges(COLLECT_WAIT);
    Registry::global().snapshot()
}

/// How long a snapshot waits for the workers' gauge callbacks at most.
const COLLECT_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

/// Requests for gauge callbacks to run: each worker waits on a receiver.
fn collect_requests() -> &'static tokio::sync::watch::Sender<u64> {
    static REQUESTS: OnceLock<tokio::sync::watch::Sender<u64>> = OnceLock::new();
    REQUESTS.get_or_init(|| tokio::sync::watch::channel(0).0)
}

/// (request answered, workers that answered it), and its signal.
static ANSWERS: Mutex<(u64, usize)> = Mutex::new((0, 0));
static ANSWERED: std::sync::Condvar = std::sync::Condvar::new();

/// Has every worker run its scripts' `stats.Gauge` collection callbacks (as
/// upstream does before its metrics are read), waiting at most `limit` for
/// them: a busy worker's gauges then show their last values.
fn collect_script_gauges(limit: std::time::Duration) {
    if !pipy_js::api::stats::has_collect_callbacks() {
        return;
    }
    let tx = collect_requests();
    let workers = tx.receiver_count();
    if workers == 0 {
        return;
    }
    let mut request = 0;
    tx.send_modify(|n| {
        *n += 1;
        request = *n;
    });
    let deadline = std::time::Instant::now() + limit;
    let mut answers = ANSWERS.lock().unwrap_or_else(|e| e.into_inner());
    // A newer request answered by every worker answers this one too.
    while !(answers.0 > request || (answers.0 == request && answers.1 >= workers)) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            break;
        }
        answers = ANSWERED
            .wait_timeout(answers, left)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}

/// A worker's side of [`collect_script_gauges`]: runs on the worker's loop
/// until the loop ends.
pub(crate) fn serve_collect_requests() {
    let mut rx = collect_requests().subscribe();
    pipy_core::io::spawn(Box::pin(async move {
        while rx.changed().await.is_ok() {
            let request = *rx.borrow_and_update();
            pipy_js::api::stats::collect();
            let mut answers = ANSWERS.lock().unwrap_or_else(|e| e.into_inner());
            // A newer request restarts the count; an answer to an older
            // one (this worker saw only the newest) counts for nothing.
            if request > answers.0 {
                *answers = (request, 0);
            }
            if request == answers.0 {
                answers.1 += 1;
            }
            ANSWERED.notify_all();
        }
    }));
}

/// [`snapshot`] as Prometheus (OpenMetrics) text, served as
/// [`pipy_metrics::prometheus::CONTENT_TYPE`].
pub fn render_prometheus() -> String {
    let data = snapshot();
    pipy_metrics::prometheus::render(&[pipy_metrics::prometheus::Source {
        data: &data,
        labels: Vec::new(),
    }])
}

/// One client's series of one listener, on this thread.
pub(crate) struct PeerStats {
    /// Connections open now.
    pub(crate) count: Handle,
    /// Bytes received.
    pub(crate) bytes_in: Handle,
    /// Bytes sent.
    pub(crate) bytes_out: Handle,
}

/// Most clients remembered per listener before the cache starts over.
const PEER_CACHE_LIMIT: usize = 4096;

/// The inbound metrics of one listener on one worker thread.
pub(crate) struct ListenerStats {
    count: Handle,
    bytes_in: Handle,
    bytes_out: Handle,
    /// Handles per client IP, so that an accept costs a hash lookup, not the
    /// registry's locks.
    peers: RefCell<HashMap<IpAddr, Rc<PeerStats>>>,
    all: std::cell::OnceCell<Rc<PeerStats>>,
}

impl ListenerStats {
    /// The metrics of the listener on `addr`.
    pub(crate) fn new(addr: SocketAddr) -> Self {
        let i = inbound();
        let listen = format!("[{}]:{}/TCP", addr.ip(), addr.port());
        let sub = |h: &Handle| h.with_labels(&[&listen]).unwrap_or_else(|| h.clone());
        ListenerStats {
            count: sub(&i.count),
            bytes_in: sub(&i.bytes_in),
            bytes_out: sub(&i.bytes_out),
            peers: RefCell::new(HashMap::new()),
            all: std::cell::OnceCell::new(),
        }
    }

    /// The listener's own series, shared by all its clients (no `peer` label).
    pub(crate) fn listen_level(&self) -> Rc<PeerStats> {
        self.all
            .get_or_init(|| {
                Rc::new(PeerStats {
                    count: self.count.clone(),
                    bytes_in: self.bytes_in.clone(),
                    bytes_out: self.bytes_out.clone(),
                })
            })
            .clone()
    }

    /// The series of client `ip` (`peerStats: true`).
    pub(crate) fn peer(&self, ip: IpAddr) -> Rc<PeerStats> {
        let mut peers = self.peers.borrow_mut();
        if let Some(p) = peers.get(&ip) {
            return p.clone();
        }
        if peers.len() >= PEER_CACHE_LIMIT {
            peers.clear();
        }
        let key = ip.to_string();
        let sub = |h: &Handle| h.with_labels(&[&key]).unwrap_or_else(|| h.clone());
        let p = Rc::new(PeerStats {
            count: sub(&self.count),
            bytes_in: sub(&self.bytes_in),
            bytes_out: sub(&self.bytes_out),
        });
        peers.insert(ip, p.clone());
        p
    }
}

/// The `pipy_outbound_*` metrics of one peer, on this thread.
pub(crate) struct OutboundStats {
    pub(crate) count: Handle,
    pub(crate) bytes_in: Handle,
    pub(crate) bytes_out: Handle,
    pub(crate) conn_time: Handle,
}

impl OutboundStats {
    fn roots() -> &'static OutboundStats {
        static ROOTS: OnceLock<OutboundStats> = OnceLock::new();
        ROOTS.get_or_init(|| {
            let reg = Registry::global();
            // Upstream's buckets (ms): 1, 2, 3, 5, 7, 11, … growing by half,
            // twenty of them, then infinity.
            let mut buckets = Vec::with_capacity(21);
            let mut limit: f64 = 1.5;
            for _ in 0..20 {
                buckets.push(limit.floor());
                limit *= 1.5;
            }
            buckets.push(f64::INFINITY);
            OutboundStats {
                count: reg.metric("pipy_outbound_count", Kind::Gauge, &["peer"]),
                bytes_in: reg.metric("pipy_outbound_in", Kind::Counter, &["peer"]),
                bytes_out: reg.metric("pipy_outbound_out", Kind::Counter, &["peer"]),
                conn_time: reg.metric(
                    "pipy_outbound_conn_time",
                    Kind::Histogram(buckets),
                    &["peer"],
                ),
            }
        })
    }

    /// The series of `target` (`host:port`, labelled `[host]:port` as upstream).
    pub(crate) fn of(target: &str) -> Rc<OutboundStats> {
        thread_local! {
            static PEERS: RefCell<HashMap<String, Rc<OutboundStats>>> = RefCell::new(HashMap::new());
        }
        init();
        PEERS.with(|peers| {
            let mut peers = peers.borrow_mut();
            if let Some(p) = peers.get(target) {
                return p.clone();
            }
            if peers.len() >= PEER_CACHE_LIMIT {
                peers.clear();
            }
            let label = match target.rsplit_once(':') {
                Some((host, port)) if !host.starts_with('[') => format!("[{host}]:{port}"),
                _ => target.to_owned(),
            };
            let r = Self::roots();
            let sub = |h: &Handle| h.with_labels(&[&label]).unwrap_or_else(|| h.clone());
            let p = Rc::new(OutboundStats {
                count: sub(&r.count),
                bytes_in: sub(&r.bytes_in),
                bytes_out: sub(&r.bytes_out),
                conn_time: sub(&r.conn_time),
            });
            peers.insert(target.to_owned(), p.clone());
            p
        })
    }
}
