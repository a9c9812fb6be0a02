//! The controller's HTTP endpoints: `/metrics`, `/healthz` and `/readyz`, and the
//! read-only artifact file server that Flux's source-controller runs
//! (`/<kind>/<namespace>/<name>/<file>`).

use std::future::Future;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use percent_encoding::percent_decode_str;
use tower::ServiceExt;
use tower_http::services::ServeFile;

use crate::metrics::{self, Metrics};

/// `GET /metrics`: every metric in the OpenMetrics text format.
pub fn metrics_router(metrics: Metrics) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(m): State<Metrics>| async move {
                ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], m.encode())
            }),
        )
        .with_state(metrics)
}

/// Readiness of the process, shared between whoever decides it (caches synced, leader
/// election settled) and the `/readyz` endpoint. Cheap to clone.
#[derive(Clone)]
pub struct Health {
    state: Arc<RwLock<Readiness>>,
}

struct Readiness {
    ready: bool,
    reason: String,
}

impl Default for Health {
    fn default() -> Self {
        Self::new()
    }
}

impl Health {
    /// Not ready, with the reason "starting".
    pub fn new() -> Self {
        Health {
            state: Arc::new(RwLock::new(Readiness {
                ready: false,
                reason: "starting".into(),
            })),
        }
    }

    /// Marks the process ready or not ready (with a generic reason).
    pub fn set_ready(&self, ready: bool) {
        let mut s = self.state.write().unwrap_or_else(|p| p.into_inner());
        s.ready = ready;
        if !ready {
            s.reason = "not ready".into();
        }
    }

    /// Marks the process not ready, saying why (shown in the `/readyz` body).
    pub fn set_not_ready(&self, reason: impl Into<String>) {
        let mut s = self.state.write().unwrap_or_else(|p| p.into_inner());
        s.ready = false;
        s.reason = reason.into();
    }

    /// Whether `/readyz` answers 200.
    pub fn is_ready(&self) -> bool {
        self.state.read().unwrap_or_else(|p| p.into_inner()).ready
    }

    fn reason(&self) -> String {
        self.state
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .reason
            .clone()
    }
}

/// `GET /healthz`: 200 while the process serves requests. `GET /readyz`: 200 once
/// [`Health::set_ready`]`(true)` was called, else 503 with the reason.
pub fn health_router(health: Health) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(|State(h): State<Health>| async move {
                if h.is_ready() {
                    (StatusCode::OK, "ok".to_string())
                } else {
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        format!("not ready: {}", h.reason()),
                    )
                }
            }),
        )
        .with_state(health)
}

/// Serves the files under `store_root` read-only (`GET`/`HEAD`, with ranges and
/// conditional requests), as source-controller serves artifacts at
/// `/<kind>/<namespace>/<name>/<file>`.
///
/// Refused with 404, without touching the file system outside the root: `..` and `.`
/// segments (also percent-encoded), encoded slashes and backslashes, NUL bytes, empty
/// segments (so no absolute paths), directories, and symlinks that resolve outside the
/// root.
///
/// # Caveats
/// The path is resolved (symlinks followed) before the file is opened; a symlink swapped
/// in between could escape. The store is written only by this process, which never
/// creates symlinks pointing outside it.
pub fn artifact_router(store_root: PathBuf) -> Router {
    Router::new()
        .route("/{*path}", get(serve_artifact))
        .with_state(Arc::new(store_root))
}

async fn serve_artifact(State(root): State<Arc<PathBuf>>, request: Request) -> Response {
    let not_found = || (StatusCode::NOT_FOUND, "not found").into_response();
    let Some(relative) = safe_relative_path(request.uri().path()) else {
        return not_found();
    };
    // Resolve both sides, so a symlink inside the store that points out of it is caught.
    let Ok(root) = tokio::fs::canonicalize(root.as_path()).await else {
        return not_found();
    };
    let Ok(file) = tokio::fs::canonicalize(root.join(&relative)).await else {
        return not_found();
    };
    if !file.starts_with(&root) {
        tracing::warn!(path = %request.uri().path(), "artifact request resolves outside the store");
        return not_found();
    }
    match tokio::fs::metadata(&file).await {
        Ok(m) if m.is_file() => {}
        _ => return not_found(),
    }
    match ServeFile::new(&file).oneshot(request).await {
        Ok(response) => response.map(Body::new),
        Err(e) => {
            tracing::warn!(file = %file.display(), error = %e, "serving artifact failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "artifact read failed").into_response()
        }
    }
}

/// Turns a raw request path into a relative path of plain names, or `None` if any
/// segment could step outside the root. Segments are decoded one by one, so an encoded
/// `/` (`%2F`) cannot create new segments.
fn safe_relative_path(raw: &str) -> Option<PathBuf> {
    let rest = raw.strip_prefix('/')?;
    let mut out = PathBuf::new();
    for segment in rest.split('/') {
        let decoded = percent_decode_str(segment).decode_utf8().ok()?;
        if decoded.is_empty()
            || decoded == "."
            || decoded == ".."
            || decoded.contains(['/', '\\', '\0'])
        {
            return None;
        }
        // Anything Path would read as other than a normal name (a Windows prefix, say).
        let mut components = Path::new(decoded.as_ref()).components();
        match (components.next(), components.next()) {
            (Some(Component::Normal(_)), None) => out.push(decoded.as_ref()),
            _ => return None,
        }
    }
    Some(out)
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops accepting and
/// lets in-flight requests finish.
///
/// # Errors
/// An I/O error from the listener.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_are_accepted() {
        assert_eq!(
            safe_relative_path("/gitrepository/flux-system/podinfo/abc.tar.gz"),
            Some(PathBuf::from(
                "gitrepository/flux-system/podinfo/abc.tar.gz"
            ))
        );
        assert_eq!(
            safe_relative_path("/a/b%20c"),
            Some(PathBuf::from("a/b c")),
            "percent-encoded names are decoded"
        );
    }

    #[test]
    fn traversal_and_odd_segments_are_refused() {
        for raw in [
            "/../etc/passwd",
            "/a/../../etc/passwd",
            "/a/%2e%2e/%2E%2E/etc/passwd",
            "/a/%2e/b",
            "/a/..%2fb",
            "/a/..%2Fetc",
            "/a%5c..%5cb",
            "//etc/passwd",
            "/a//b",
            "/a/",
            "/a/b%00",
            "/%ff",
            "relative",
            "/",
        ] {
            assert_eq!(safe_relative_path(raw), None, "{raw}");
        }
    }
}
