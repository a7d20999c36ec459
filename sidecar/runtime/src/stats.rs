//! Process-wide counters of inbound traffic, shared by every worker and read
//! by the admin port's `/metrics` (Prometheus text format).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::net::SocketAddr;
use std::sync::OnceLock;

/// The label of per-listener metrics: the listening address.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ListenLabel {
    /// `ip:port`.
    pub listen: String,
}

/// The metric families of the process.
pub struct Stats {
    registry: Registry,
    count: Family<ListenLabel, Gauge>,
    accepted: Family<ListenLabel, Counter>,
    bytes_in: Family<ListenLabel, Counter>,
    bytes_out: Family<ListenLabel, Counter>,
}

/// One listener's metrics; cheap to clone, updated with relaxed atomics.
#[derive(Clone)]
pub struct ListenerStats {
    /// Connections open now.
    pub count: Gauge,
    /// Connections accepted so far.
    pub accepted: Counter,
    /// Bytes received from clients.
    pub bytes_in: Counter,
    /// Bytes sent to clients.
    pub bytes_out: Counter,
}

impl Stats {
    /// The process's metrics.
    pub fn global() -> &'static Stats {
        static STATS: OnceLock<Stats> = OnceLock::new();
        STATS.get_or_init(|| {
            let mut registry = Registry::default();
            let s = Stats {
                registry: Registry::default(),
                count: Family::default(),
                accepted: Family::default(),
                bytes_in: Family::default(),
                bytes_out: Family::default(),
            };
            registry.register(
                "pipy_inbound_count",
                "Inbound connections open",
                s.count.clone(),
            );
            registry.register(
                "pipy_inbound_accepted",
                "Inbound connections accepted",
                s.accepted.clone(),
            );
            registry.register(
                "pipy_inbound_in",
                "Bytes received from clients",
                s.bytes_in.clone(),
            );
            registry.register(
                "pipy_inbound_out",
                "Bytes sent to clients",
                s.bytes_out.clone(),
            );
            Stats { registry, ..s }
        })
    }

    /// The metrics of the listener on `addr`.
    pub fn listener(&self, addr: SocketAddr) -> ListenerStats {
        let label = ListenLabel {
            listen: addr.to_string(),
        };
        ListenerStats {
            count: self.count.get_or_create(&label).clone(),
            accepted: self.accepted.get_or_create(&label).clone(),
            bytes_in: self.bytes_in.get_or_create(&label).clone(),
            bytes_out: self.bytes_out.get_or_create(&label).clone(),
        }
    }

    /// Everything in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
