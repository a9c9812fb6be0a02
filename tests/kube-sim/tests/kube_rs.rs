//! kube-sim driven by kube-rs: watcher/reflector across restarts and 410s, server-side
//! apply with force, dry-run, the workload controller, fault injection and auth.

use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Client, Error};
use kube_sim::{FaultRule, KubeSim, Options, WorkloadMode};
use serde_json::json;

async fn client(sim: &KubeSim) -> Client {
    Client::try_from(sim.client_config().await.expect("config")).expect("client")
}

fn cm(name: &str) -> ConfigMap {
    serde_json::from_value(
        json!({"metadata": {"name": name, "labels": {"test": "yes"}}, "data": {"k": name}}),
    )
    .unwrap()
}

/// One HTTP/1.1 GET as the admin over plain HTTP; returns the raw response.
async fn raw_get(sim: &KubeSim, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        sim.admin_token().unwrap()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

async fn eventually<F: Fn() -> bool>(what: &str, f: F) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflector_stays_in_sync_across_a_server_restart_and_a_410_gone() {
    let mut sim = KubeSim::start(Options::default()).await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client(&sim).await, "default");
    for n in ["a", "b"] {
        api.create(&PostParams::default(), &cm(n)).await.unwrap();
    }
    let (reader, writer) = reflector::store();
    let inits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let inits2 = inits.clone();
    let stream = watcher(api.clone(), watcher::Config::default().labels("test=yes"))
        .default_backoff()
        .inspect_ok(move |e| {
            if matches!(e, watcher::Event::Init) {
                inits2.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        })
        .reflect(writer)
        .for_each(|_| async {});
    let task = tokio::spawn(stream);
    let r = reader.clone();
    eventually("initial list", || r.state().len() == 2).await;

    // Restart: every connection drops; the watcher resumes from its resourceVersion.
    sim.restart().await.unwrap();
    let api2: Api<ConfigMap> = Api::namespaced(client(&sim).await, "default");
    api2.create(&PostParams::default(), &cm("c")).await.unwrap();
    api2.delete("a", &DeleteParams::default()).await.unwrap();
    let r = reader.clone();
    eventually("changes after restart", || {
        let names: Vec<String> = r
            .state()
            .iter()
            .map(|o| o.metadata.name.clone().unwrap())
            .collect();
        names.len() == 2 && names.contains(&"c".to_string()) && !names.contains(&"a".to_string())
    })
    .await;
    assert_eq!(
        inits.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "resumed without relisting"
    );

    // Watch dropped and refused while changes happen and history is compacted: resuming
    // gets 410 Gone and the watcher relists.
    sim.add_fault(FaultRule::error(500).on_verb("watch"));
    sim.drop_watches();
    api2.create(&PostParams::default(), &cm("d")).await.unwrap();
    api2.create(&PostParams::default(), &cm("e")).await.unwrap();
    sim.compact();
    sim.clear_faults();
    let r = reader.clone();
    eventually("relist after 410", || r.state().len() == 4).await;
    let i = inits.clone();
    eventually("a second Init", || {
        i.load(std::sync::atomic::Ordering::SeqCst) == 2
    })
    .await;
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raw_watch_resumes_from_a_resource_version_and_gets_410_once_compacted() {
    let sim = KubeSim::start(Options::default()).await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client(&sim).await, "default");
    let created = api.create(&PostParams::default(), &cm("w")).await.unwrap();
    let rv = created.metadata.resource_version.clone().unwrap();
    let mut changed = created.clone();
    changed.data = Some([("k".to_string(), "v2".to_string())].into());
    api.replace("w", &PostParams::default(), &changed)
        .await
        .unwrap();
    api.delete("w", &DeleteParams::default()).await.unwrap();

    let mut s = api
        .watch(&WatchParams::default().timeout(5), &rv)
        .await
        .unwrap()
        .boxed();
    let mut seen = vec![];
    while let Some(ev) = s.try_next().await.unwrap() {
        match ev {
            WatchEvent::Modified(o) => seen.push(("MODIFIED", o.data.unwrap()["k"].clone())),
            WatchEvent::Deleted(o) => seen.push(("DELETED", o.data.unwrap()["k"].clone())),
            other => panic!("unexpected {other:?}"),
        }
        if seen.len() == 2 {
            break;
        }
    }
    assert_eq!(
        seen,
        [
            ("MODIFIED", "v2".to_string()),
            ("DELETED", "v2".to_string())
        ]
    );

    // A stale resourceVersion with replace → 409.
    api.create(&PostParams::default(), &cm("x")).await.unwrap();
    let mut stale = created.clone();
    stale.metadata.name = Some("x".into());
    let err = api
        .replace("x", &PostParams::default(), &stale)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Api(ref s) if s.code == 409 && s.reason == "Conflict"),
        "{err:?}"
    );

    sim.compact();
    let mut s = api
        .watch(&WatchParams::default().timeout(5), &rv)
        .await
        .unwrap()
        .boxed();
    match s.try_next().await.unwrap() {
        Some(WatchEvent::Error(e)) => {
            assert_eq!(e.code, 410);
            assert_eq!(e.reason, "Expired");
        }
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }

    // Bookmarks carry the resourceVersion and nothing else.
    sim.set_bookmark_interval(Duration::from_millis(100));
    let now = sim.resource_version().to_string();
    let mut s = api
        .watch(&WatchParams::default().timeout(5), &now)
        .await
        .unwrap()
        .boxed();
    match s.try_next().await.unwrap() {
        Some(WatchEvent::Bookmark(b)) => assert_eq!(b.metadata.resource_version, now),
        other => panic!("expected a BOOKMARK, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_list_watches_get_initial_events_then_changes() {
    let sim = KubeSim::start(Options::default()).await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client(&sim).await, "default");
    api.create(&PostParams::default(), &cm("s1")).await.unwrap();
    let (reader, writer) = reflector::store();
    let task = tokio::spawn(
        watcher(
            api.clone(),
            watcher::Config::default()
                .labels("test=yes")
                .streaming_lists(),
        )
        .default_backoff()
        .reflect(writer)
        .for_each(|_| async {}),
    );
    let r = reader.clone();
    eventually("initial events", || r.state().len() == 1).await;
    api.create(&PostParams::default(), &cm("s2")).await.unwrap();
    let r = reader.clone();
    eventually("watch event", || r.state().len() == 2).await;
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_with_force_takes_ownership_and_dry_run_persists_nothing() {
    let sim = KubeSim::start(Options::default()).await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client(&sim).await, "default");
    let v1 = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owned"}, "data": {"a": "1"}});
    api.patch("owned", &PatchParams::apply("first"), &Patch::Apply(&v1))
        .await
        .unwrap();

    let v2 = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owned"}, "data": {"a": "2"}});
    let err = api
        .patch("owned", &PatchParams::apply("second"), &Patch::Apply(&v2))
        .await
        .unwrap_err();
    match err {
        Error::Api(s) => {
            assert_eq!(s.code, 409);
            assert_eq!(s.reason, "Conflict");
            assert!(
                s.message
                    .contains(r#"conflict with "first" using v1: .data.a"#),
                "{}",
                s.message
            );
        }
        other => panic!("expected a conflict, got {other:?}"),
    }

    // Dry-run: the answer shows the change, the store does not.
    let preview = api
        .patch(
            "owned",
            &PatchParams::apply("second").force().dry_run(),
            &Patch::Apply(&v2),
        )
        .await
        .unwrap();
    assert_eq!(preview.data.unwrap()["a"], "2");
    assert_eq!(api.get("owned").await.unwrap().data.unwrap()["a"], "1");
    let ghost = api
        .create(
            &PostParams {
                dry_run: true,
                ..Default::default()
            },
            &cm("ghost"),
        )
        .await
        .unwrap();
    assert_eq!(ghost.metadata.name.as_deref(), Some("ghost"));
    assert!(api.get_opt("ghost").await.unwrap().is_none());
    let dp = DeleteParams {
        dry_run: true,
        ..Default::default()
    };
    api.delete("owned", &dp).await.unwrap();
    assert!(api.get_opt("owned").await.unwrap().is_some());

    let forced = api
        .patch(
            "owned",
            &PatchParams::apply("second").force(),
            &Patch::Apply(&v2),
        )
        .await
        .unwrap();
    assert_eq!(forced.data.as_ref().unwrap()["a"], "2");
    let mf = forced.metadata.managed_fields.unwrap();
    let second = mf
        .iter()
        .find(|m| m.manager.as_deref() == Some("second"))
        .unwrap();
    assert_eq!(second.operation.as_deref(), Some("Apply"));
    assert!(second.fields_v1.as_ref().unwrap().0["f:data"]["f:a"].is_object());
    assert!(
        mf.iter()
            .filter(|m| m.manager.as_deref() == Some("first"))
            .all(|m| m.fields_v1.as_ref().unwrap().0["f:data"]
                .get("f:a")
                .is_none()),
        "forcing took .data.a away from first: {mf:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workload_controller_drives_deployments_ready_and_jobs_to_completion_or_failure() {
    let sim = KubeSim::start(Options::default()).await.unwrap();
    let c = client(&sim).await;
    let deploys: Api<Deployment> = Api::namespaced(c.clone(), "default");
    let jobs: Api<Job> = Api::namespaced(c, "default");
    let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "app"}},
                 "template": {"metadata": {"labels": {"app": "app"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}});
    deploys
        .patch("app", &PatchParams::apply("t"), &Patch::Apply(&d))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        deploys.get("app").await.unwrap().status.is_none(),
        "controller is off by default"
    );

    sim.set_workload_mode(WorkloadMode::Ready);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = deploys.get("app").await.unwrap();
        let st = got.status.clone().unwrap_or_default();
        if st.available_replicas == Some(3) && st.observed_generation == got.metadata.generation {
            let conds = st.conditions.unwrap();
            assert!(
                conds.iter().any(|c| c.type_.as_deref() == Some("Available")
                    && c.status.as_deref() == Some("True"))
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "deployment never became available: {st:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let job = |name: &str, behavior: Option<&str>| {
        let mut j = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}});
        if let Some(b) = behavior {
            j["metadata"]["annotations"] = json!({"kube-sim.gyre.dev/behavior": b});
        }
        j
    };
    jobs.patch(
        "ok",
        &PatchParams::apply("t"),
        &Patch::Apply(&job("ok", None)),
    )
    .await
    .unwrap();
    jobs.patch(
        "bad",
        &PatchParams::apply("t"),
        &Patch::Apply(&job("bad", Some("fail"))),
    )
    .await
    .unwrap();
    let cond_of = |j: &Job, t: &str| {
        j.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == t && c.status == "True"))
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ok = jobs.get("ok").await.unwrap();
        let bad = jobs.get("bad").await.unwrap();
        if cond_of(&ok, "Complete") && cond_of(&bad, "Failed") {
            assert_eq!(ok.status.unwrap().succeeded, Some(1));
            break;
        }
        assert!(Instant::now() < deadline, "jobs did not finish");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The Job's pod template is immutable.
    let mut changed = job("ok", None);
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = json!("alpine");
    let err = jobs
        .patch(
            "ok",
            &PatchParams::apply("t").force(),
            &Patch::Apply(&changed),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Api(ref s) if s.code == 422 && s.message.contains("spec.template")),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_to_completion_pods_succeed_or_fail_while_restarting_pods_stay_running() {
    use k8s_openapi::api::core::v1::Pod;
    let sim = KubeSim::start(Options::default()).await.unwrap();
    sim.set_workload_mode(WorkloadMode::Ready);
    let pods: Api<Pod> = Api::namespaced(client(&sim).await, "default");
    let pod = |name: &str, restart: Option<&str>, behavior: Option<&str>| {
        let mut p = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
        if let Some(r) = restart {
            p["spec"]["restartPolicy"] = json!(r);
        }
        if let Some(b) = behavior {
            p["metadata"]["annotations"] = json!({"kube-sim.gyre.dev/behavior": b});
        }
        p
    };
    for (name, restart, behavior) in [
        ("once", Some("Never"), None),
        ("retry", Some("OnFailure"), None),
        ("server", None, None),
        ("broken", Some("Never"), Some("fail")),
    ] {
        pods.patch(
            name,
            &PatchParams::apply("t"),
            &Patch::Apply(&pod(name, restart, behavior)),
        )
        .await
        .unwrap();
    }
    let phase = |p: &Pod| {
        p.status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_default()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got: Vec<String> =
            futures::future::join_all(["once", "retry", "server", "broken"].map(|n| pods.get(n)))
                .await
                .into_iter()
                .map(|p| phase(&p.unwrap()))
                .collect();
        if got == ["Succeeded", "Succeeded", "Running", "Failed"] {
            break;
        }
        assert!(Instant::now() < deadline, "pod phases: {got:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let once = pods.get("once").await.unwrap();
    let cs = &once.status.unwrap().container_statuses.unwrap()[0];
    let terminated = cs.state.as_ref().unwrap().terminated.as_ref().unwrap();
    assert_eq!(terminated.exit_code, 0);
    assert_eq!(terminated.reason.as_deref(), Some("Completed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_faults_fail_or_delay_matching_requests_then_stop() {
    let sim = KubeSim::start(Options {
        tls: false,
        ..Default::default()
    })
    .await
    .unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client(&sim).await, "default");
    api.create(&PostParams::default(), &cm("f")).await.unwrap();

    sim.add_fault(
        FaultRule::error(500)
            .on_verb("get")
            .on_resource("ConfigMap")
            .times(1),
    );
    let err = api.get("f").await.unwrap_err();
    assert!(
        matches!(err, Error::Api(ref s) if s.code == 500 && s.reason == "InternalError"),
        "{err:?}"
    );
    api.get("f").await.expect("the rule applied once");

    // kube-rs retries 429s itself (with backoff), so look at the wire directly.
    sim.add_fault(FaultRule::error(429).on_verb("list").times(1));
    let raw = raw_get(&sim, "/api/v1/namespaces/default/configmaps").await;
    assert!(raw.starts_with("HTTP/1.1 429"), "{raw}");
    assert!(raw.to_lowercase().contains("retry-after: 1"), "{raw}");
    assert!(raw.contains(r#""reason":"TooManyRequests""#), "{raw}");
    api.list(&Default::default())
        .await
        .expect("the rule applied once");

    sim.add_fault(FaultRule::latency(Duration::from_millis(400)).on_verb("get"));
    let t = Instant::now();
    api.get("f").await.unwrap();
    assert!(t.elapsed() >= Duration::from_millis(400));
    sim.clear_faults();
    let t = Instant::now();
    api.get("f").await.unwrap();
    assert!(t.elapsed() < Duration::from_millis(400));

    // Watches of ConfigMaps are cut after 300ms; a watch with a 60s timeout ends early and
    // a reflector keeps up anyway by re-watching.
    sim.add_fault(
        FaultRule::drop_watch_after(Duration::from_millis(300)).on_resource("configmaps"),
    );
    let t = Instant::now();
    let mut s = api
        .watch(&WatchParams::default().timeout(60), "0")
        .await
        .unwrap()
        .boxed();
    while s.try_next().await.unwrap().is_some() {}
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "the watch was dropped"
    );
    let (reader, writer) = reflector::store();
    let task = tokio::spawn(
        watcher(api.clone(), watcher::Config::default().labels("test=yes"))
            .default_backoff()
            .reflect(writer)
            .for_each(|_| async {}),
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    api.create(&PostParams::default(), &cm("after-drops"))
        .await
        .unwrap();
    let r = reader.clone();
    eventually("reflector after dropped watches", || r.state().len() == 2).await;
    task.abort();
    sim.clear_faults();

    sim.add_fault(FaultRule::error(409).on_verb("update").times(1));
    let cur = api.get("f").await.unwrap();
    let err = api
        .replace("f", &PostParams::default(), &cur)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Api(ref s) if s.code == 409), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_with_tokens_rejects_strangers_and_applies_rbac_to_users() {
    let sim = KubeSim::start(Options {
        tls: false,
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(sim.base_url().starts_with("http://"));
    let stranger = Client::try_from(sim.client_config_for(Some("nope")).await.unwrap()).unwrap();
    let err = Api::<ConfigMap>::namespaced(stranger, "default")
        .list(&Default::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Api(ref s) if s.code == 401), "{err:?}");

    sim.add_user("bob-token", "bob", &["devs"]);
    let bob = Client::try_from(sim.client_config_for(Some("bob-token")).await.unwrap()).unwrap();
    let err = Api::<ConfigMap>::namespaced(bob.clone(), "default")
        .get("x")
        .await
        .unwrap_err();
    match err {
        Error::Api(s) => {
            assert_eq!(s.code, 403);
            assert_eq!(
                s.message,
                r#"configmaps "x" is forbidden: User "bob" cannot get resource "configmaps" in API group "" in the namespace "default""#
            );
        }
        other => panic!("{other:?}"),
    }
    let admin = client(&sim).await;
    let crb = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "devs-view"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "devs"}]});
    let api: Api<k8s_openapi::api::rbac::v1::ClusterRoleBinding> = Api::all(admin);
    api.patch("devs-view", &PatchParams::apply("t"), &Patch::Apply(&crb))
        .await
        .unwrap();
    Api::<ConfigMap>::namespaced(bob.clone(), "default")
        .list(&Default::default())
        .await
        .unwrap();
    let err = Api::<ConfigMap>::namespaced(bob, "default")
        .create(&PostParams::default(), &cm("nope"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Api(ref s) if s.code == 403), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_subresource_and_the_main_resource_each_ignore_the_other_half() {
    let sim = KubeSim::start(Options::default()).await.unwrap();
    let api: Api<Deployment> = Api::namespaced(client(&sim).await, "default");
    let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "s"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "s"}},
                 "template": {"metadata": {"labels": {"app": "s"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}},
        "status": {"replicas": 99}});
    let created = api
        .patch("s", &PatchParams::apply("t"), &Patch::Apply(&d))
        .await
        .unwrap();
    assert!(
        created.status.is_none(),
        "status in a main-resource write is dropped"
    );

    let st = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "s"},
        "spec": {"replicas": 7}, "status": {"replicas": 1, "observedGeneration": 1}});
    let after = api
        .patch_status("s", &PatchParams::apply("ctrl").force(), &Patch::Apply(&st))
        .await
        .unwrap();
    assert_eq!(after.status.as_ref().unwrap().replicas, Some(1));
    assert_eq!(
        after.spec.replicas,
        Some(1),
        "spec in a status write is ignored"
    );
    assert_eq!(
        after.metadata.generation,
        Some(1),
        "status writes never bump generation"
    );
    let mf = after.metadata.managed_fields.unwrap();
    let ctrl = mf
        .iter()
        .find(|m| m.manager.as_deref() == Some("ctrl"))
        .unwrap();
    assert_eq!(ctrl.subresource.as_deref(), Some("status"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminating_namespace_refuses_new_objects_until_its_content_is_gone() {
    let sim = KubeSim::start(Options::default()).await.unwrap();
    let c = client(&sim).await;
    let nss: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(c.clone());
    let ns: k8s_openapi::api::core::v1::Namespace =
        serde_json::from_value(json!({"metadata": {"name": "t1"}})).unwrap();
    nss.create(&PostParams::default(), &ns).await.unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(c, "t1");
    let held: ConfigMap = serde_json::from_value(
        json!({"metadata": {"name": "held", "finalizers": ["example.com/x"]}}),
    )
    .unwrap();
    cms.create(&PostParams::default(), &held).await.unwrap();
    nss.delete("t1", &DeleteParams::default()).await.unwrap();
    let got = nss.get("t1").await.unwrap();
    assert_eq!(got.status.unwrap().phase.as_deref(), Some("Terminating"));
    let err = cms
        .create(&PostParams::default(), &cm("new"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Api(ref s) if s.code == 403 && s.message.contains("because it is being terminated")),
        "{err:?}"
    );
    cms.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    assert!(
        nss.get_opt("t1").await.unwrap().is_none(),
        "namespace removed once empty"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_only_clients_get_partial_object_metadata() {
    let sim = KubeSim::start(Options::default()).await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client(&sim).await, "default");
    api.create(&PostParams::default(), &cm("m1")).await.unwrap();
    let meta = api.get_metadata("m1").await.unwrap();
    assert_eq!(meta.metadata.name.as_deref(), Some("m1"));
    assert_eq!(meta.types.unwrap().kind, "PartialObjectMetadata");
    let list = api
        .list_metadata(&kube::api::ListParams::default().labels("test=yes"))
        .await
        .unwrap();
    assert_eq!(list.items.len(), 1);
    let (reader, writer) = reflector::store();
    let task = tokio::spawn(
        watcher(
            Api::<kube::core::PartialObjectMeta<ConfigMap>>::namespaced(
                client(&sim).await,
                "default",
            ),
            watcher::Config::default().labels("test=yes"),
        )
        .default_backoff()
        .reflect(writer)
        .for_each(|_| async {}),
    );
    api.create(&PostParams::default(), &cm("m2")).await.unwrap();
    let r = reader.clone();
    eventually("metadata watch", || r.state().len() == 2).await;
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filtered_watch_sees_objects_leave_and_enter_its_label_selector() {
    let sim = KubeSim::start(Options::default()).await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client(&sim).await, "default");
    let created = api
        .create(&PostParams::default(), &cm("moving"))
        .await
        .unwrap();
    let rv = created.metadata.resource_version.unwrap();
    let mut s = api
        .watch(
            &WatchParams::default()
                .labels("test=yes")
                .timeout(5)
                .disable_bookmarks(),
            &rv,
        )
        .await
        .unwrap()
        .boxed();
    let relabel = |v: &str| Patch::Merge(json!({"metadata": {"labels": {"test": v}}}));
    api.patch("moving", &PatchParams::default(), &relabel("no"))
        .await
        .unwrap();
    api.patch("moving", &PatchParams::default(), &relabel("no2"))
        .await
        .unwrap();
    api.patch("moving", &PatchParams::default(), &relabel("yes"))
        .await
        .unwrap();
    let mut kinds = vec![];
    while kinds.len() < 2 {
        match s.try_next().await.unwrap() {
            Some(WatchEvent::Deleted(_)) => kinds.push("DELETED"),
            Some(WatchEvent::Added(_)) => kinds.push("ADDED"),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        kinds,
        ["DELETED", "ADDED"],
        "changes outside the selector are not seen"
    );

    api.create(&PostParams::default(), &cm("other"))
        .await
        .unwrap();
    api.delete_collection(
        &DeleteParams::default(),
        &kube::api::ListParams::default().labels("test=yes"),
    )
    .await
    .unwrap();
    let left: Vec<String> = api
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|c| c.metadata.name.unwrap())
        .collect();
    assert_eq!(
        left,
        ["kube-root-ca.crt"],
        "deletecollection honours the selector"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_removes_a_container_it_stopped_applying_but_keeps_fields_others_own() {
    let sim = KubeSim::start(Options::default()).await.unwrap();
    let api: Api<Deployment> = Api::namespaced(client(&sim).await, "default");
    let dep = |containers: serde_json::Value| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "m"},
            "spec": {"selector": {"matchLabels": {"app": "m"}},
                     "template": {"metadata": {"labels": {"app": "m"}}, "spec": {"containers": containers}}}})
    };
    let both = json!([{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]);
    api.patch("m", &PatchParams::apply("gyre"), &Patch::Apply(dep(both)))
        .await
        .unwrap();
    // Another manager co-owns container a's image and adds an env var to it.
    let env = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "m"},
        "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"}]}]}}}});
    api.patch("m", &PatchParams::apply("injector"), &Patch::Apply(env))
        .await
        .unwrap();
    // gyre now applies only container b.
    let only_b = json!([{"name": "b", "image": "b:2"}]);
    let d = api
        .patch("m", &PatchParams::apply("gyre"), &Patch::Apply(dep(only_b)))
        .await
        .unwrap();
    let cs = d.spec.template.spec.unwrap().containers;
    let names: Vec<&str> = cs.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        ["a", "b"],
        "a stays: injector still owns fields in it"
    );
    assert_eq!(cs[0].image.as_deref(), Some("a:1"));
    assert_eq!(cs[0].env.as_ref().map(Vec::len), Some(1));
    assert_eq!(cs[1].image.as_deref(), Some("b:2"));

    // Once the injector lets go too, the item disappears.
    let none = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "m"}});
    let d = api
        .patch("m", &PatchParams::apply("injector"), &Patch::Apply(none))
        .await
        .unwrap();
    let cs = d.spec.template.spec.unwrap().containers;
    assert_eq!(
        cs.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        ["b"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_admin_cannot_grant_permissions_it_does_not_hold() {
    use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleBinding};
    let sim = KubeSim::start(Options::default()).await.unwrap();
    let admin = client(&sim).await;
    let nss: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(admin.clone());
    let ns = serde_json::from_value(json!({"metadata": {"name": "team"}})).unwrap();
    nss.create(&PostParams::default(), &ns).await.unwrap();
    let rb = |name: &str, role: &str, user: &str| {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": "team"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]})
    };
    Api::<RoleBinding>::namespaced(admin, "team")
        .patch(
            "lead",
            &PatchParams::apply("t"),
            &Patch::Apply(rb("lead", "admin", "lead")),
        )
        .await
        .unwrap();
    sim.add_user("lead-token", "lead", &[]);
    let lead = Client::try_from(sim.client_config_for(Some("lead-token")).await.unwrap()).unwrap();
    let rbs: Api<RoleBinding> = Api::namespaced(lead.clone(), "team");
    rbs.patch(
        "dev",
        &PatchParams::apply("lead"),
        &Patch::Apply(rb("dev", "view", "dev")),
    )
    .await
    .expect("binding a role whose permissions the lead holds is allowed");
    let err = rbs
        .patch(
            "root",
            &PatchParams::apply("lead"),
            &Patch::Apply(rb("root", "cluster-admin", "dev")),
        )
        .await
        .unwrap_err();
    match err {
        Error::Api(s) => {
            assert_eq!(s.code, 403);
            assert!(
                s.message
                    .contains("is attempting to grant RBAC permissions not currently held"),
                "{}",
                s.message
            );
        }
        other => panic!("{other:?}"),
    }
    let crb = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "x"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "lead"}]});
    let err = Api::<ClusterRoleBinding>::all(lead)
        .patch("x", &PatchParams::apply("lead"), &Patch::Apply(crb))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Api(ref s) if s.code == 403 && s.message.contains("at the cluster scope")),
        "{err:?}"
    );
}
