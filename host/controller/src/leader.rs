//! Leader election on a `coordination.k8s.io/v1` Lease, with client-go's semantics, so
//! that of several controller replicas exactly one reconciles.
//!
//! The Lease records `holderIdentity`, `leaseDurationSeconds`, `acquireTime`, `renewTime`
//! and `leaseTransitions` as client-go's `LeaseLock` does, so `kubectl get lease` and
//! Flux's tooling read it the same way. Every write is a create or a replace carrying the
//! `resourceVersion` that was read, so when two candidates race only one write succeeds
//! (the other gets `409 Conflict`) and two candidates can never both hold the Lease.
//!
//! # Caveats
//! - A Lease counts as free when its holder is empty or `renewTime + leaseDurationSeconds`
//!   lies in the past by this replica's clock. client-go instead times expiry from when it
//!   *observed* the record change, which tolerates clock skew between nodes; here the
//!   nodes' clocks are assumed to agree within `lease_duration - renew_deadline`.
//! - Once leadership is lost the elector stops (as client-go's `Run` returns); the process
//!   is expected to stop its controllers and exit or start a new elector.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Api;
use kube::api::PostParams;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

/// Where the Lease lives, who we are, and the timings (client-go's names and defaults).
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Name of the Lease.
    pub name: String,
    /// This replica's identity (usually the pod name), written to `holderIdentity`.
    pub identity: String,
    /// How long a Lease stays valid after its last renewal (default 35 s). Written to
    /// `leaseDurationSeconds`, rounded up to whole seconds.
    pub lease_duration: Duration,
    /// How long the leader keeps retrying a failed renewal before it gives up leadership
    /// (default 30 s). Must be shorter than `lease_duration`, so that the leader steps
    /// down before anyone else may take the Lease.
    pub renew_deadline: Duration,
    /// How often candidates try to acquire and the leader renews (default 5 s).
    pub retry_period: Duration,
}

impl LeaseConfig {
    /// A config with client-go's default timings (35 s / 30 s / 5 s).
    pub fn new(
        namespace: impl Into<String>,
        name: impl Into<String>,
        identity: impl Into<String>,
    ) -> Self {
        LeaseConfig {
            namespace: namespace.into(),
            name: name.into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(35),
            renew_deadline: Duration::from_secs(30),
            retry_period: Duration::from_secs(5),
        }
    }
}

/// A [`LeaseConfig`] whose timings cannot guarantee a single leader.
#[derive(Debug, thiserror::Error)]
pub enum InvalidConfig {
    /// The leader would keep acting after others may take the Lease.
    #[error(
        "lease {lease}: lease_duration {lease_duration:?} must be longer than renew_deadline {renew_deadline:?}"
    )]
    RenewDeadlineTooLong {
        /// `namespace/name` of the Lease.
        lease: String,
        /// The configured lease duration.
        lease_duration: Duration,
        /// The configured renew deadline.
        renew_deadline: Duration,
    },
    /// The leader would get fewer than one renewal attempt per deadline.
    #[error(
        "lease {lease}: renew_deadline {renew_deadline:?} must be longer than 1.2 × retry_period {retry_period:?}"
    )]
    RetryPeriodTooLong {
        /// `namespace/name` of the Lease.
        lease: String,
        /// The configured renew deadline.
        renew_deadline: Duration,
        /// The configured retry period.
        retry_period: Duration,
    },
}

impl LeaseConfig {
    /// Checks client-go's constraints: `lease_duration > renew_deadline >
    /// 1.2 × retry_period`. [`start`] does not check; call this at startup.
    ///
    /// # Errors
    /// Which constraint is violated.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        let lease = format!("{}/{}", self.namespace, self.name);
        if self.lease_duration <= self.renew_deadline {
            return Err(InvalidConfig::RenewDeadlineTooLong {
                lease,
                lease_duration: self.lease_duration,
                renew_deadline: self.renew_deadline,
            });
        }
        if self.renew_deadline <= self.retry_period.mul_f64(1.2) {
            return Err(InvalidConfig::RetryPeriodTooLong {
                lease,
                renew_deadline: self.renew_deadline,
                retry_period: self.retry_period,
            });
        }
        Ok(())
    }
}

/// Where an elector stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Trying to acquire the Lease.
    Candidate,
    /// Holding the Lease.
    Leader,
    /// Held the Lease and lost it (renewal failed past the renew deadline, or another
    /// identity took the Lease). Terminal.
    Lost,
    /// Stopped by [`LeaderHandle::release`]. Terminal.
    Stopped,
}

/// The running elector. Dropping it aborts the election loop without releasing the
/// Lease (as a crash would); use [`LeaderHandle::release`] for a graceful step-down.
pub struct LeaderHandle {
    state: watch::Receiver<State>,
    release: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl LeaderHandle {
    /// Resolves once this replica holds the Lease. Also resolves if the elector stopped
    /// without ever leading (check [`LeaderHandle::is_leader`]).
    pub async fn wait_until_leader(&mut self) {
        let _ = self
            .state
            .wait_for(|s| matches!(s, State::Leader | State::Lost | State::Stopped))
            .await;
    }

    /// Whether this replica holds the Lease right now.
    pub fn is_leader(&self) -> bool {
        *self.state.borrow() == State::Leader
    }

    /// The elector's current state.
    pub fn state(&self) -> State {
        *self.state.borrow()
    }

    /// Resolves when leadership, once held, is lost. Never resolves for a replica that
    /// never leads.
    pub async fn lost(&mut self) {
        if self.state.wait_for(|s| *s == State::Lost).await.is_err() {
            // The loop is gone (it panicked): whatever we held is not being renewed.
            if self.state.borrow().eq(&State::Leader) {
                return;
            }
            std::future::pending::<()>().await;
        }
    }

    /// Steps down gracefully: if leading, clears `holderIdentity` so that another replica
    /// takes over at its next retry instead of waiting for the Lease to expire; then stops
    /// the elector.
    pub async fn release(mut self) {
        if let Some(tx) = self.release.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for LeaderHandle {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Starts the election loop on the current tokio runtime.
pub fn start(client: kube::Client, config: LeaseConfig) -> LeaderHandle {
    let (state_tx, state_rx) = watch::channel(State::Candidate);
    let (release_tx, release_rx) = oneshot::channel();
    let elector = Elector {
        api: Api::namespaced(client, &config.namespace),
        config,
        state: state_tx,
    };
    let task = tokio::spawn(elector.run(release_rx));
    LeaderHandle {
        state: state_rx,
        release: Some(release_tx),
        task: Some(task),
    }
}

/// The outcome of one acquire-or-renew attempt.
enum Attempt {
    /// We hold the Lease (acquired or renewed).
    Held,
    /// Another identity holds a valid Lease.
    HeldByOther(String),
    /// The API call failed or lost a race (conflict); try again.
    Failed(kube::Error),
}

struct Elector {
    api: Api<Lease>,
    config: LeaseConfig,
    state: watch::Sender<State>,
}

impl Elector {
    async fn run(self, mut release: oneshot::Receiver<()>) {
        // Candidate: try until we hold the Lease.
        loop {
            match self.try_acquire_or_renew(false).await {
                Attempt::Held => break,
                Attempt::HeldByOther(_) => {}
                Attempt::Failed(e) => {
                    tracing::debug!(lease = %self.config.name, error = %e, "acquiring lease failed");
                }
            }
            tokio::select! {
                _ = &mut release => {
                    self.state.send_replace(State::Stopped);
                    return;
                }
                _ = tokio::time::sleep(jittered(self.config.retry_period)) => {}
            }
        }
        tracing::info!(lease = %self.config.name, identity = %self.config.identity, "acquired leadership");
        self.state.send_replace(State::Leader);

        // Leader: renew every retry period; give up once no renewal succeeded within the
        // renew deadline, or at once when someone else holds the Lease.
        let mut last_renew = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = &mut release => {
                    self.step_down().await;
                    self.state.send_replace(State::Stopped);
                    return;
                }
                _ = tokio::time::sleep(self.config.retry_period) => {}
            }
            let deadline = last_renew + self.config.renew_deadline;
            // A hanging request must not keep us "leader" past the deadline.
            let attempt =
                match tokio::time::timeout_at(deadline, self.try_acquire_or_renew(true)).await {
                    Ok(a) => a,
                    Err(_) => {
                        self.lose("renewal did not complete within the renew deadline");
                        return;
                    }
                };
            match attempt {
                Attempt::Held => last_renew = tokio::time::Instant::now(),
                Attempt::HeldByOther(holder) => {
                    self.lose(&format!("lease is now held by {holder}"));
                    return;
                }
                Attempt::Failed(e) => {
                    tracing::warn!(lease = %self.config.name, error = %e, "renewing lease failed");
                    if tokio::time::Instant::now() >= deadline {
                        self.lose("renewal failed past the renew deadline");
                        return;
                    }
                }
            }
        }
    }

    fn lose(&self, why: &str) {
        tracing::warn!(lease = %self.config.name, identity = %self.config.identity, reason = why, "lost leadership");
        self.state.send_replace(State::Lost);
    }

    /// One round of client-go's `tryAcquireOrRenew`.
    async fn try_acquire_or_renew(&self, leading: bool) -> Attempt {
        let now = Timestamp::now();
        let me = &self.config.identity;
        let existing = match self.api.get_opt(&self.config.name).await {
            Ok(l) => l,
            Err(e) => return Attempt::Failed(e),
        };
        let Some(mut lease) = existing else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.config.name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(me.clone()),
                    lease_duration_seconds: Some(duration_secs(self.config.lease_duration)),
                    acquire_time: Some(MicroTime(now)),
                    renew_time: Some(MicroTime(now)),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            // Two candidates creating at once: one gets AlreadyExists and retries.
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Attempt::Held,
                Err(e) => Attempt::Failed(e),
            };
        };

        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let held_by_me = holder == *me;
        if !holder.is_empty() && !held_by_me && lease_valid(&spec, now) {
            return Attempt::HeldByOther(holder);
        }
        if leading && !held_by_me {
            // We believed we led, but the Lease names someone else (or no one) — it was
            // taken or cleared behind our back. Do not silently re-take it: report it.
            return Attempt::HeldByOther(if holder.is_empty() {
                "nobody".to_string()
            } else {
                holder
            });
        }

        let mut new = LeaseSpec {
            holder_identity: Some(me.clone()),
            lease_duration_seconds: Some(duration_secs(self.config.lease_duration)),
            renew_time: Some(MicroTime(now)),
            ..spec.clone()
        };
        if !held_by_me {
            new.acquire_time = Some(MicroTime(now));
            new.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        lease.spec = Some(new);
        // `replace` sends the resourceVersion we read: a concurrent writer makes this a
        // 409 Conflict, so only one of two racing candidates wins.
        match self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Attempt::Held,
            Err(e) => Attempt::Failed(e),
        }
    }

    /// Clears `holderIdentity` if we still hold the Lease (client-go's release).
    async fn step_down(&self) {
        let result: Result<(), kube::Error> = async {
            let Some(mut lease) = self.api.get_opt(&self.config.name).await? else {
                return Ok(());
            };
            let spec = lease.spec.clone().unwrap_or_default();
            if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
                return Ok(());
            }
            let now = Timestamp::now();
            lease.spec = Some(LeaseSpec {
                holder_identity: None,
                lease_duration_seconds: Some(1),
                acquire_time: Some(MicroTime(now)),
                renew_time: Some(MicroTime(now)),
                ..spec
            });
            self.api
                .replace(&self.config.name, &PostParams::default(), &lease)
                .await?;
            Ok(())
        }
        .await;
        match result {
            Ok(()) => {
                tracing::info!(lease = %self.config.name, identity = %self.config.identity, "released leadership")
            }
            Err(e) => {
                tracing::warn!(lease = %self.config.name, error = %e, "releasing lease failed; it will expire")
            }
        }
    }
}

/// Whether the holder's lease has not yet expired at `now`.
fn lease_valid(spec: &LeaseSpec, now: Timestamp) -> bool {
    let Some(MicroTime(renewed)) = spec.renew_time.as_ref().or(spec.acquire_time.as_ref()) else {
        return false;
    };
    let secs = i64::from(spec.lease_duration_seconds.unwrap_or(0).max(0));
    match renewed.checked_add(SignedDuration::from_secs(secs)) {
        Ok(expiry) => expiry > now,
        // Absurdly far in the future: treat as valid rather than steal it.
        Err(_) => true,
    }
}

/// Whole seconds, rounded up and at least 1, as `leaseDurationSeconds` is an integer.
fn duration_secs(d: Duration) -> i32 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i32::try_from(secs.max(1)).unwrap_or(i32::MAX)
}

/// Spreads candidates' retries (client-go jitters by up to 20 %), so replicas started
/// together do not hit the API server in lockstep. The clock's nanoseconds are random
/// enough for this.
fn jittered(d: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.subsec_nanos())
        .unwrap_or(0);
    d + d.mul_f64(f64::from(nanos % 1000) / 5000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(renewed_secs_ago: i64, duration: i32) -> LeaseSpec {
        let now = Timestamp::now();
        LeaseSpec {
            holder_identity: Some("a".into()),
            lease_duration_seconds: Some(duration),
            renew_time: Some(MicroTime(now - SignedDuration::from_secs(renewed_secs_ago))),
            ..LeaseSpec::default()
        }
    }

    #[test]
    fn lease_is_valid_until_renew_time_plus_duration() {
        let now = Timestamp::now();
        assert!(lease_valid(&spec(10, 35), now));
        assert!(!lease_valid(&spec(40, 35), now));
        assert!(!lease_valid(&LeaseSpec::default(), now), "never renewed");
    }

    #[test]
    fn config_validation_follows_client_go() {
        let ok = LeaseConfig::new("ns", "l", "me");
        ok.validate().unwrap();
        let mut bad = ok.clone();
        bad.renew_deadline = bad.lease_duration;
        assert!(matches!(
            bad.validate(),
            Err(InvalidConfig::RenewDeadlineTooLong { .. })
        ));
        let mut bad = ok.clone();
        bad.retry_period = Duration::from_secs(26);
        let err = bad.validate().unwrap_err();
        assert!(
            err.to_string().starts_with("lease ns/l: renew_deadline"),
            "{err}"
        );
    }

    #[test]
    fn durations_round_up_to_whole_seconds() {
        assert_eq!(duration_secs(Duration::from_secs(35)), 35);
        assert_eq!(duration_secs(Duration::from_millis(1500)), 2);
        assert_eq!(duration_secs(Duration::from_millis(10)), 1);
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        let d = Duration::from_secs(5);
        let j = jittered(d);
        assert!(j >= d && j <= d.mul_f64(1.2), "{j:?}");
    }
}
