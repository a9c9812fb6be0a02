//! Leader election against kube-sim (real wire protocol, optimistic concurrency on
//! resourceVersion), with short timings: lease 2 s, renew deadline 1.5 s, retry 200 ms.

use std::time::Duration;

use gyre_controller::leader::{self, LeaderHandle, LeaseConfig, State};
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use kube::api::PostParams;
use kube_sim::{FaultRule, KubeSim, Options};
use tokio::time::{Instant, sleep, timeout};

const NS: &str = "default";
const LEASE: &str = "gyre-leader";

async fn sim() -> (KubeSim, kube::Client) {
    let sim = KubeSim::start(Options::default())
        .await
        .expect("kube-sim starts");
    let config = sim.client_config().await.expect("client config");
    let client = kube::Client::try_from(config).expect("client");
    (sim, client)
}

fn config(identity: &str) -> LeaseConfig {
    let config = LeaseConfig {
        namespace: NS.into(),
        name: LEASE.into(),
        identity: identity.into(),
        lease_duration: Duration::from_secs(2),
        renew_deadline: Duration::from_millis(1500),
        retry_period: Duration::from_millis(200),
    };
    config.validate().expect("test timings are valid");
    config
}

async fn lease(client: &kube::Client) -> Lease {
    Api::<Lease>::namespaced(client.clone(), NS)
        .get(LEASE)
        .await
        .expect("lease exists")
}

fn holder(l: &Lease) -> Option<String> {
    l.spec.as_ref().and_then(|s| s.holder_identity.clone())
}

fn transitions(l: &Lease) -> i32 {
    l.spec
        .as_ref()
        .and_then(|s| s.lease_transitions)
        .unwrap_or(-1)
}

/// Starts two candidates and waits until one leads; returns (leader, follower, ids).
async fn two_candidates(client: &kube::Client) -> (LeaderHandle, LeaderHandle, String, String) {
    let mut a = leader::start(client.clone(), config("a"));
    let mut b = leader::start(client.clone(), config("b"));
    let first = timeout(Duration::from_secs(5), async {
        tokio::select! {
            _ = a.wait_until_leader() => "a",
            _ = b.wait_until_leader() => "b",
        }
    })
    .await
    .expect("someone leads within 5s");
    if first == "a" {
        (a, b, "a".into(), "b".into())
    } else {
        (b, a, "b".into(), "a".into())
    }
}

#[tokio::test]
async fn two_candidates_elect_exactly_one_leader() {
    let (_sim, client) = sim().await;
    let (leader, follower, leader_id, _) = two_candidates(&client).await;
    // Several renew periods later, still exactly one.
    for _ in 0..5 {
        sleep(Duration::from_millis(300)).await;
        assert!(leader.is_leader(), "the leader keeps the lease");
        assert!(
            !follower.is_leader(),
            "the follower never leads at the same time"
        );
    }
    let l = lease(&client).await;
    assert_eq!(holder(&l).as_deref(), Some(leader_id.as_str()));
    assert_eq!(l.spec.as_ref().unwrap().lease_duration_seconds, Some(2));
    assert!(l.spec.as_ref().unwrap().renew_time.is_some());
    assert!(l.spec.as_ref().unwrap().acquire_time.is_some());
}

#[tokio::test]
async fn many_racing_candidates_never_share_leadership() {
    let (_sim, client) = sim().await;
    let handles: Vec<LeaderHandle> = (0..5)
        .map(|i| leader::start(client.clone(), config(&format!("c{i}"))))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut seen_leader = false;
    while Instant::now() < deadline {
        let leaders = handles.iter().filter(|h| h.is_leader()).count();
        assert!(leaders <= 1, "{leaders} leaders at once");
        seen_leader |= leaders == 1;
        sleep(Duration::from_millis(20)).await;
    }
    assert!(seen_leader, "one of five candidates became leader");
}

#[tokio::test]
async fn released_lease_is_taken_over_at_once() {
    let (_sim, client) = sim().await;
    let (leader, mut follower, leader_id, follower_id) = two_candidates(&client).await;
    let before = transitions(&lease(&client).await);
    leader.release().await;
    let l = lease(&client).await;
    // Released: no holder (or already the follower, if it was quick).
    assert_ne!(holder(&l), Some(leader_id), "release clears holderIdentity");
    let started = Instant::now();
    timeout(Duration::from_secs(1), follower.wait_until_leader())
        .await
        .expect("the follower takes over well before the 2s lease would expire");
    assert!(follower.is_leader());
    assert!(started.elapsed() < Duration::from_secs(1));
    let l = lease(&client).await;
    assert_eq!(holder(&l), Some(follower_id));
    assert_eq!(transitions(&l), before + 1);
}

#[tokio::test]
async fn killed_leader_is_replaced_after_the_lease_expires() {
    let (_sim, client) = sim().await;
    let (leader, mut follower, _, follower_id) = two_candidates(&client).await;
    let before = transitions(&lease(&client).await);
    // Killed: the task is aborted, nothing is released.
    drop(leader);
    let killed = Instant::now();
    sleep(Duration::from_millis(1000)).await;
    assert!(
        !follower.is_leader(),
        "the follower must not take a lease that has not expired"
    );
    timeout(Duration::from_secs(4), follower.wait_until_leader())
        .await
        .expect("the follower takes over once the lease expired");
    assert!(follower.is_leader());
    assert!(
        killed.elapsed() >= Duration::from_millis(1500),
        "took over after {:?}, before the lease could have expired",
        killed.elapsed()
    );
    let l = lease(&client).await;
    assert_eq!(holder(&l), Some(follower_id));
    assert_eq!(transitions(&l), before + 1);
}

#[tokio::test]
async fn leader_reports_lost_when_the_lease_is_overwritten() {
    let (_sim, client) = sim().await;
    let mut solo = leader::start(client.clone(), config("solo"));
    timeout(Duration::from_secs(5), solo.wait_until_leader())
        .await
        .expect("leads");
    assert!(solo.is_leader());
    // Someone else (another controller, a human) writes itself into the Lease.
    let api = Api::<Lease>::namespaced(client.clone(), NS);
    let mut l = api.get(LEASE).await.unwrap();
    let spec = l.spec.as_mut().unwrap();
    spec.holder_identity = Some("intruder".into());
    spec.lease_duration_seconds = Some(60);
    spec.renew_time = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
        k8s_openapi::jiff::Timestamp::now(),
    ));
    api.replace(LEASE, &PostParams::default(), &l)
        .await
        .unwrap();
    timeout(Duration::from_secs(3), solo.lost())
        .await
        .expect("loss is reported");
    assert!(!solo.is_leader());
    assert_eq!(solo.state(), State::Lost);
    assert_eq!(holder(&lease(&client).await).as_deref(), Some("intruder"));
}

#[tokio::test]
async fn leader_that_cannot_renew_reports_lost_within_the_renew_deadline() {
    let (sim, client) = sim().await;
    let mut solo = leader::start(client.clone(), config("solo"));
    timeout(Duration::from_secs(5), solo.wait_until_leader())
        .await
        .expect("leads");
    sim.add_fault(FaultRule::error(500).on_resource("leases"));
    let broken = Instant::now();
    timeout(Duration::from_secs(4), solo.lost())
        .await
        .expect("loss is reported");
    let after = broken.elapsed();
    assert!(!solo.is_leader());
    // Last renewal was at most one retry period before the fault; the deadline is 1.5s,
    // which must come before the 2s lease lets anyone else in.
    assert!(
        after <= Duration::from_millis(2000),
        "lost only after {after:?}"
    );
    assert!(
        after >= Duration::from_millis(1000),
        "gave up too early: {after:?}"
    );
}

#[tokio::test]
async fn lost_never_resolves_for_a_candidate_that_never_led() {
    let (_sim, client) = sim().await;
    let (_leader, mut follower, _, _) = two_candidates(&client).await;
    assert!(
        timeout(Duration::from_millis(800), follower.lost())
            .await
            .is_err(),
        "a follower has nothing to lose"
    );
}

#[tokio::test]
async fn candidates_racing_for_an_expired_lease_never_share_it() {
    let (_sim, client) = sim().await;
    // A Lease left behind by a dead leader: all candidates read it as free at once and
    // race to replace it; resourceVersion must let exactly one write through.
    let api = Api::<Lease>::namespaced(client.clone(), NS);
    let stale =
        k8s_openapi::jiff::Timestamp::now() - k8s_openapi::jiff::SignedDuration::from_secs(60);
    let stale_lease: Lease = serde_json::from_value(serde_json::json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": LEASE, "namespace": NS},
        "spec": {"holderIdentity": "dead", "leaseDurationSeconds": 2, "leaseTransitions": 4,
                 "acquireTime": stale.to_string(), "renewTime": stale.to_string()}
    }))
    .unwrap();
    api.create(&PostParams::default(), &stale_lease)
        .await
        .unwrap();

    let handles: Vec<LeaderHandle> = (0..6)
        .map(|i| leader::start(client.clone(), config(&format!("c{i}"))))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut seen_leader = None;
    while Instant::now() < deadline {
        let leaders: Vec<usize> = (0..handles.len())
            .filter(|&i| handles[i].is_leader())
            .collect();
        assert!(leaders.len() <= 1, "{leaders:?} lead at once");
        if let [one] = leaders[..] {
            seen_leader = Some(one);
        }
        tokio::task::yield_now().await;
        sleep(Duration::from_millis(5)).await;
    }
    let winner = seen_leader.expect("one candidate took over the expired lease");
    let l = lease(&client).await;
    assert_eq!(holder(&l), Some(format!("c{winner}")));
    assert_eq!(transitions(&l), 5, "exactly one takeover was recorded");
}

#[tokio::test]
async fn a_follower_stepping_down_leaves_the_leader_alone() {
    let (_sim, client) = sim().await;
    let (leader, follower, leader_id, _) = two_candidates(&client).await;
    let before = lease(&client).await;
    follower.release().await;
    sleep(Duration::from_millis(600)).await;
    assert!(leader.is_leader());
    let after = lease(&client).await;
    assert_eq!(holder(&after), Some(leader_id));
    assert_eq!(transitions(&after), transitions(&before));
}
