//! One leader among the operator's replicas, through a `coordination.k8s.io` Lease:
//! the leader is the one replica that runs the Codebase controller and writes
//! summaries into Codebase status, so that two replicas never race on a write nor
//! publish the same Event twice.
//!
//! [`decide`] is the pure rule; [`Elector::try_lead`] applies it with conditional
//! writes (the Lease's `resourceVersion`), so two replicas that decide at once cannot
//! both win. [`run`] keeps competing and publishes whether this replica leads; a
//! leader that cannot renew steps down [`RENEW_DEADLINE`] after its last renewal, well
//! before the Lease expires for the others, and gives the Lease up when it stops.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::PostParams;
use kube::{Api, Client};

/// How long a lease holds without renewal.
pub const LEASE_SECONDS: i32 = 15;
/// How often [`run`] renews (or tries to take) the Lease.
pub const RETRY_PERIOD: std::time::Duration = std::time::Duration::from_secs(3);
/// A leader that has not renewed for this long stops leading (before another replica
/// may take the Lease over, [`LEASE_SECONDS`] after the last renewal).
pub const RENEW_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

/// What a replica does with the Lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// No Lease yet: create it, holding it.
    Create,
    /// We hold it: renew it.
    Renew,
    /// Its holder let it expire: take it over.
    TakeOver,
    /// Someone else holds it.
    Follow,
}

/// The rule: renew our own lease, take over an expired one, follow a live one.
pub fn decide(lease: Option<&Lease>, identity: &str, now: Timestamp) -> Decision {
    let Some(spec) = lease.and_then(|l| l.spec.as_ref()) else {
        return if lease.is_some() {
            Decision::TakeOver
        } else {
            Decision::Create
        };
    };
    if spec.holder_identity.as_deref() == Some(identity) {
        return Decision::Renew;
    }
    let seconds = i64::from(spec.lease_duration_seconds.unwrap_or(LEASE_SECONDS));
    let expired = match (&spec.holder_identity, &spec.renew_time) {
        (Some(holder), Some(renewed)) if !holder.is_empty() => {
            renewed.0.as_second() + seconds < now.as_second()
        }
        _ => true,
    };
    if expired {
        Decision::TakeOver
    } else {
        Decision::Follow
    }
}

/// Competes for one Lease as `identity` (the pod's name).
pub struct Elector {
    api: Api<Lease>,
    name: String,
    identity: String,
}

impl Elector {
    /// An elector for Lease `name` in `namespace`.
    pub fn new(client: Client, namespace: &str, name: &str, identity: &str) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            name: name.to_string(),
            identity: identity.to_string(),
        }
    }

    fn spec(&self, now: Timestamp, acquired: Option<MicroTime>, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(LEASE_SECONDS),
            acquire_time: Some(acquired.unwrap_or(MicroTime(now))),
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    /// One round: whether this replica leads now. Call it well within
    /// [`LEASE_SECONDS`] (every 5 s, say).
    pub async fn try_lead(&self) -> Result<bool, kube::Error> {
        let now = Timestamp::now();
        let current = self.api.get_opt(&self.name).await?;
        let decision = decide(current.as_ref(), &self.identity, now);
        let spec = match (&decision, &current) {
            (Decision::Follow, _) => return Ok(false),
            (Decision::Create, _) | (_, None) => {
                let mut lease = Lease::default();
                lease.metadata.name = Some(self.name.clone());
                lease.spec = Some(self.spec(now, None, 0));
                return match self.api.create(&PostParams::default(), &lease).await {
                    Ok(_) => Ok(true),
                    Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
                    Err(e) => Err(e),
                };
            }
            (Decision::Renew, Some(l)) => {
                let old = l.spec.clone().unwrap_or_default();
                self.spec(now, old.acquire_time, old.lease_transitions.unwrap_or(0))
            }
            (Decision::TakeOver, Some(l)) => {
                let old = l.spec.clone().unwrap_or_default();
                self.spec(now, None, old.lease_transitions.unwrap_or(0) + 1)
            }
        };
        let Some(mut lease) = current else {
            return Ok(false);
        };
        lease.spec = Some(spec);
        // Conditional on the resourceVersion we read: a concurrent winner makes this 409.
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }
}

impl Elector {
    /// Gives the Lease up if this replica holds it (at shutdown), so that another
    /// replica takes over at once rather than after [`LEASE_SECONDS`].
    pub async fn release(&self) -> Result<(), kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            return Ok(());
        };
        let Some(spec) = lease.spec.as_mut() else {
            return Ok(());
        };
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.renew_time = None;
        spec.acquire_time = None;
        self.api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
            .map(|_| ())
    }
}

/// The longest one round with the API server may take.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(4);

/// Competes for the Lease every [`RETRY_PERIOD`] and keeps `leading` current, until
/// `stop` completes; then gives the Lease up if held and reports `false`.
///
/// A leader steps down [`RENEW_DEADLINE`] after the start of its last successful
/// renewal (the Lease's `renewTime` is no later than that), whatever the API server
/// does meanwhile: a round that hangs is cut at the deadline, well before another
/// replica may take over ([`LEASE_SECONDS`] after `renewTime`).
pub async fn run(
    elector: Elector,
    leading: tokio::sync::watch::Sender<bool>,
    stop: impl std::future::Future<Output = ()>,
) {
    use tokio::time::{sleep, sleep_until, timeout, Instant};
    tokio::pin!(stop);
    let mut last_renewal: Option<Instant> = None;
    let far = || Instant::now() + std::time::Duration::from_secs(3600);
    loop {
        let deadline = last_renewal.map(|t| t + RENEW_DEADLINE);
        let started = Instant::now();
        let outcome = tokio::select! {
            r = timeout(REQUEST_TIMEOUT, elector.try_lead()) => Some(r),
            _ = sleep_until(deadline.unwrap_or_else(far)), if deadline.is_some() => None,
        };
        let now_leading = match outcome {
            Some(Ok(Ok(true))) => {
                last_renewal = Some(started);
                true
            }
            Some(Ok(Ok(false))) => {
                last_renewal = None;
                false
            }
            other => {
                match other {
                    Some(Ok(Err(e))) => tracing::warn!("leader election: {e}"),
                    Some(Err(_)) => tracing::warn!("leader election: no answer in time"),
                    _ => {}
                }
                if last_renewal.is_some_and(|t| t.elapsed() >= RENEW_DEADLINE) {
                    last_renewal = None;
                }
                last_renewal.is_some()
            }
        };
        if *leading.borrow() != now_leading {
            tracing::info!(
                identity = %elector.identity,
                "{}",
                if now_leading { "leading" } else { "following" }
            );
            let _ = leading.send(now_leading);
        }
        let deadline = last_renewal.map(|t| t + RENEW_DEADLINE);
        tokio::select! {
            _ = &mut stop => break,
            _ = sleep(RETRY_PERIOD) => {}
            // Step down on time even between rounds.
            _ = sleep_until(deadline.unwrap_or_else(far)), if deadline.is_some() => {}
        }
    }
    let _ = leading.send(false);
    if let Err(e) = elector.release().await {
        tracing::warn!("releasing the leader Lease: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(holder: &str, renewed: Timestamp) -> Lease {
        Lease {
            spec: Some(LeaseSpec {
                holder_identity: Some(holder.into()),
                lease_duration_seconds: Some(LEASE_SECONDS),
                renew_time: Some(MicroTime(renewed)),
                ..LeaseSpec::default()
            }),
            ..Lease::default()
        }
    }

    #[test]
    fn leases_are_created_renewed_followed_and_taken_over() {
        let now = Timestamp::now();
        let ago = |s: i64| Timestamp::from_second(now.as_second() - s).unwrap();
        assert_eq!(decide(None, "a", now), Decision::Create);
        assert_eq!(
            decide(Some(&lease("a", ago(100))), "a", now),
            Decision::Renew
        );
        assert_eq!(
            decide(Some(&lease("b", ago(3))), "a", now),
            Decision::Follow
        );
        assert_eq!(
            decide(Some(&lease("b", ago(60))), "a", now),
            Decision::TakeOver
        );
        assert_eq!(
            decide(Some(&lease("", ago(1))), "a", now),
            Decision::TakeOver
        );
        assert_eq!(
            decide(Some(&Lease::default()), "a", now),
            Decision::TakeOver
        );
    }
}
