//! The API calls the engine makes (get, list, apply, delete, discovery), each bounded by
//! a timeout and retried on transient failures, on plain JSON values.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::Client;
use kube::api::{DeleteParams, GetParams, ListParams, Patch, PatchParams, Preconditions};
use kube::core::{ApiResource, DynamicObject, Request, Resource};
use kube::discovery::{ApiCapabilities, Scope};
use serde_json::Value;

use crate::error::RequestError;
use crate::object::split_api_version;

/// How requests are made. Defaults: 30 s timeout, 3 attempts, backoff from 100 ms
/// doubling up to 2 s.
#[derive(Debug, Clone)]
pub struct RequestOptions {
    /// Per-request timeout. Default 30 s.
    pub timeout: Duration,
    /// Attempts per request, counting the first; transient failures (429, 409, 5xx,
    /// timeouts, broken connections) are retried. Default 3.
    pub attempts: u32,
    /// First backoff; doubles per retry. A 429's `retryAfterSeconds` is honoured up to
    /// `max_backoff`. Default 100 ms.
    pub backoff: Duration,
    /// Backoff cap. Default 2 s.
    pub max_backoff: Duration,
}

impl Default for RequestOptions {
    fn default() -> Self {
        RequestOptions {
            timeout: Duration::from_secs(30),
            attempts: 3,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
        }
    }
}

/// A resolved type: where its objects live and whether they are namespaced.
#[derive(Debug, Clone)]
pub struct TypeInfo {
    /// Group, version, kind, plural.
    pub resource: ApiResource,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
}

/// A client with request options and a discovery cache shared by clones.
#[derive(Clone)]
pub(crate) struct Api {
    pub client: Client,
    pub opts: RequestOptions,
    /// Discovered types by apiVersion, then kind. `None` remembers nothing.
    types: Arc<Mutex<HashMap<String, HashMap<String, TypeInfo>>>>,
}

impl Api {
    pub fn new(client: Client, opts: RequestOptions) -> Api {
        Api {
            client,
            opts,
            types: Arc::default(),
        }
    }

    /// Runs a request with the timeout and retry policy.
    async fn call<T, F, Fut>(&self, mut f: F) -> Result<T, RequestError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, kube::Error>>,
    {
        let mut backoff = self.opts.backoff;
        let mut attempt = 1;
        loop {
            let res = match tokio::time::timeout(self.opts.timeout, f()).await {
                Ok(r) => r.map_err(RequestError::Api),
                Err(_) => Err(RequestError::Timeout(self.opts.timeout)),
            };
            match res {
                Err(e) if e.is_transient() && attempt < self.opts.attempts.max(1) => {
                    let wait = e
                        .retry_after()
                        .unwrap_or(backoff)
                        .max(backoff)
                        .min(self.opts.max_backoff);
                    // Only the code: a message may quote a value of the object.
                    tracing::debug!(attempt, ?wait, code = ?e.code(), "retrying request");
                    tokio::time::sleep(wait).await;
                    backoff = (backoff * 2).min(self.opts.max_backoff);
                    attempt += 1;
                }
                r => return r,
            }
        }
    }

    fn url(ti: &TypeInfo, namespace: &str) -> String {
        let ns = (ti.namespaced && !namespace.is_empty()).then_some(namespace);
        DynamicObject::url_path(&ti.resource, ns)
    }

    async fn send(
        &self,
        req: Result<http::Request<Vec<u8>>, kube::core::request::Error>,
    ) -> Result<Value, kube::Error> {
        let req = req.map_err(kube::Error::BuildRequest)?;
        self.client.request::<Value>(req).await
    }

    /// Resolves a kind at an apiVersion, with one discovery request per group/version
    /// (cached). `Ok(None)` when the server does not serve it.
    pub async fn resolve(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<Option<TypeInfo>, RequestError> {
        if let Some(gv) = self.types.lock().expect("lock").get(api_version) {
            return Ok(gv.get(kind).cloned());
        }
        let (group, version) = split_api_version(api_version);
        let gv = kube::core::GroupVersion::gv(group, version);
        let found = self
            .call(|| kube::discovery::pinned_group(&self.client, &gv))
            .await;
        let kinds: HashMap<String, TypeInfo> = match found {
            Ok(g) => g
                .versioned_resources(version)
                .into_iter()
                .map(|(ar, caps): (ApiResource, ApiCapabilities)| {
                    (
                        ar.kind.clone(),
                        TypeInfo {
                            namespaced: caps.scope == Scope::Namespaced,
                            resource: ar,
                        },
                    )
                })
                .collect(),
            // A group/version that does not exist (yet): nothing to cache, so a CRD
            // created later in the run is found.
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let out = kinds.get(kind).cloned();
        if out.is_some() {
            self.types
                .lock()
                .expect("lock")
                .insert(api_version.to_string(), kinds);
        }
        Ok(out)
    }

    /// Forgets discovered types of a group (after its CRD changed).
    pub fn forget_group(&self, group: &str) {
        self.types
            .lock()
            .expect("lock")
            .retain(|av, _| split_api_version(av).0 != group);
    }

    pub async fn get(
        &self,
        ti: &TypeInfo,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Value>, RequestError> {
        let url = Self::url(ti, namespace);
        match self
            .call(|| self.send(Request::new(&url).get(name, &GetParams::default())))
            .await
        {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Lists objects (all pages) matching a label selector.
    pub async fn list(
        &self,
        ti: &TypeInfo,
        namespace: &str,
        selector: &str,
    ) -> Result<Vec<Value>, RequestError> {
        let url = Self::url(ti, namespace);
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut lp = ListParams::default().labels(selector).limit(500);
            if let Some(t) = &token {
                lp = lp.continue_token(t);
            }
            let mut page = self
                .call(|| self.send(Request::new(&url).list(&lp)))
                .await?;
            if let Some(items) = page["items"].as_array_mut() {
                out.append(items);
            }
            match page["metadata"]["continue"].as_str() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(out),
            }
        }
    }

    /// Server-side apply with force, optionally as a dry-run.
    pub async fn apply(
        &self,
        ti: &TypeInfo,
        obj: &Value,
        manager: &str,
        dry_run: bool,
    ) -> Result<Value, RequestError> {
        let url = Self::url(
            ti,
            obj["metadata"]["namespace"].as_str().unwrap_or_default(),
        );
        let name = obj["metadata"]["name"].as_str().unwrap_or_default();
        let mut pp = PatchParams::apply(manager).force();
        if dry_run {
            pp = pp.dry_run();
        }
        self.call(|| self.send(Request::new(&url).patch(name, &pp, &Patch::Apply(obj))))
            .await
    }

    /// A JSON patch (RFC 6902) as `manager`: what drift correction sends, so that only the
    /// drifted fields are written and fields a drift rule ignores are left alone.
    pub async fn patch_json(
        &self,
        ti: &TypeInfo,
        namespace: &str,
        name: &str,
        ops: &Value,
        manager: &str,
    ) -> Result<Value, RequestError> {
        let url = format!("{}/{name}?fieldManager={manager}", Self::url(ti, namespace));
        let body = serde_json::to_vec(ops).unwrap_or_default();
        self.call(|| {
            let req = http::Request::patch(url.as_str())
                .header(http::header::CONTENT_TYPE, "application/json-patch+json")
                .header(http::header::ACCEPT, "application/json")
                .body(body.clone())
                .map_err(kube::core::request::Error::BuildRequest);
            self.send(req)
        })
        .await
    }

    /// Deletes with the given propagation; with a uid precondition so that an object
    /// recreated meanwhile by someone else is not deleted. `Ok(false)` when already gone.
    pub async fn delete(
        &self,
        ti: &TypeInfo,
        namespace: &str,
        name: &str,
        uid: Option<&str>,
        propagation: crate::prune::Propagation,
    ) -> Result<bool, RequestError> {
        let url = Self::url(ti, namespace);
        let mut dp = match propagation {
            crate::prune::Propagation::Background => DeleteParams::background(),
            crate::prune::Propagation::Foreground => DeleteParams::foreground(),
            crate::prune::Propagation::Orphan => DeleteParams::orphan(),
        };
        if let Some(uid) = uid {
            dp = dp.preconditions(Preconditions {
                uid: Some(uid.to_string()),
                resource_version: None,
            });
        }
        match self
            .call(|| self.send(Request::new(&url).delete(name, &dp)))
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }
}
