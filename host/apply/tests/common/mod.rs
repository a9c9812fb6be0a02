//! Shared test support: a kube-sim server, a client whose requests are recorded by a tower
//! layer, and object builders.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use gyre_apply::Applier;
use kube_sim::{KubeSim, Options};
use serde_json::{Value, json};

/// Every request the client sent, as `METHOD path?query`.
#[derive(Clone, Default)]
pub struct Requests(Arc<Mutex<Vec<String>>>);

impl Requests {
    /// Takes the recorded requests, leaving none.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    /// Writes: non-dry-run PATCH/POST/PUT/DELETE.
    pub fn writes(reqs: &[String]) -> Vec<&String> {
        reqs.iter()
            .filter(|r| {
                ["PATCH", "POST", "PUT", "DELETE"]
                    .iter()
                    .any(|m| r.starts_with(m))
                    && !r.contains("dryRun=All")
            })
            .collect()
    }
}

/// The tower layer recording requests.
#[derive(Clone)]
pub struct Record(pub Requests);

impl<S> tower::Layer<S> for Record {
    type Service = Recorded<S>;
    fn layer(&self, inner: S) -> Recorded<S> {
        Recorded {
            inner,
            log: self.0.clone(),
        }
    }
}

/// A service recording every request it passes on.
#[derive(Clone)]
pub struct Recorded<S> {
    inner: S,
    log: Requests,
}

impl<S, B> tower::Service<http::Request<B>> for Recorded<S>
where
    S: tower::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let pq = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default();
        self.log
            .0
            .lock()
            .unwrap()
            .push(format!("{} {pq}", req.method()));
        self.inner.call(req)
    }
}

/// A running kube-sim with a recording client and an engine.
pub struct Env {
    pub sim: KubeSim,
    pub client: kube::Client,
    pub requests: Requests,
    pub applier: Applier,
}

impl Env {
    pub async fn start() -> Env {
        let sim = KubeSim::start(Options::default())
            .await
            .expect("kube-sim starts");
        let config = sim.client_config().await.expect("client config");
        let requests = Requests::default();
        let client = kube::client::ClientBuilder::try_from(config)
            .expect("client builder")
            .with_layer(&Record(requests.clone()))
            .build();
        let applier = Applier::new(client.clone());
        Env {
            sim,
            client,
            requests,
            applier,
        }
    }

    /// Reads an object as JSON, `None` when absent.
    pub async fn get(
        &self,
        api_version: &str,
        plural: &str,
        ns: &str,
        name: &str,
    ) -> Option<Value> {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let ar = kube::core::ApiResource {
            group: group.into(),
            version: version.into(),
            api_version: api_version.into(),
            kind: String::new(),
            plural: plural.into(),
        };
        let api: kube::Api<kube::core::DynamicObject> = if ns.is_empty() {
            kube::Api::all_with(self.client.clone(), &ar)
        } else {
            kube::Api::namespaced_with(self.client.clone(), ns, &ar)
        };
        api.get_opt(name)
            .await
            .expect("get")
            .map(|o| serde_json::to_value(o).unwrap())
    }

    /// Changes an object as another field manager would (`kubectl edit`): a merge patch.
    pub async fn edit(&self, api_version: &str, plural: &str, ns: &str, name: &str, patch: Value) {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let ar = kube::core::ApiResource {
            group: group.into(),
            version: version.into(),
            api_version: api_version.into(),
            kind: String::new(),
            plural: plural.into(),
        };
        let api: kube::Api<kube::core::DynamicObject> = if ns.is_empty() {
            kube::Api::all_with(self.client.clone(), &ar)
        } else {
            kube::Api::namespaced_with(self.client.clone(), ns, &ar)
        };
        api.patch(
            name,
            &kube::api::PatchParams {
                field_manager: Some("kubectl-edit".into()),
                ..Default::default()
            },
            &kube::api::Patch::Merge(patch),
        )
        .await
        .expect("edit");
    }
}

pub fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

pub fn config_map(ns: &str, name: &str, value: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns},
           "data": {"key": value}})
}

pub fn secret(ns: &str, name: &str, b64: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns},
           "type": "Opaque", "data": {"password": b64}})
}

pub fn service(ns: &str, name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
           "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]}})
}

pub fn deployment(ns: &str, name: &str, image: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
           "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
             "template": {"metadata": {"labels": {"app": name}},
               "spec": {"containers": [{"name": "app", "image": image,
                 "ports": [{"containerPort": 8080}],
                 "env": [{"name": "MODE", "value": "prod"}],
                 "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}}}})
}

/// A mixed set: per namespace, `per_ns` objects cycling ConfigMap, Secret, Service,
/// Deployment — plus the Namespaces.
pub fn mixed_set(namespaces: &[&str], per_ns: usize) -> Vec<Value> {
    let mut out: Vec<Value> = namespaces.iter().map(|n| namespace(n)).collect();
    for ns in namespaces {
        for i in 0..per_ns {
            let name = format!("obj-{i}");
            out.push(match i % 4 {
                0 => config_map(ns, &name, &format!("value-{i}")),
                1 => secret(ns, &name, "c2VjcmV0"),
                2 => service(ns, &name),
                _ => deployment(ns, &name, "ghcr.io/stefanprodan/podinfo:6.5.0"),
            });
        }
    }
    out
}
