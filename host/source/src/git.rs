//! GitRepository: resolve a ref over smart HTTP(S), SSH or file://, fetch it shallowly with
//! gix, check the commit out, apply includes and ignore rules, and archive the tree.
//!
//! The no-op path is a handshake plus `ls-refs`: when the remote ref still points at the
//! last revision (and the included artifacts are unchanged) nothing is fetched. All gix
//! work runs on tokio's blocking pool.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use gix::bstr::ByteSlice;
use gix::remote::Direction;
use gix::remote::fetch::{Shallow, Tags};

use crate::archive::{self, Limits};
use crate::artifact::{self, Artifact, ObjectRef, Store, revision};
use crate::constraint::{Constraint, parse_version};
use crate::ignore::{Defaults, SourceFilter};

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Which ref to check out. Precedence as in Flux: `commit`, `name`, `semver`, `tag`,
/// `branch`; with nothing set, branch `master`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GitReference {
    /// Branch name (`main`).
    pub branch: Option<String>,
    /// Tag name (`v1.2.3`).
    pub tag: Option<String>,
    /// Masterminds semver constraint over tags (`>=1.0.0 <2.0.0`).
    pub semver: Option<String>,
    /// Full ref name (`refs/heads/main`, `refs/pull/1/head`).
    pub name: Option<String>,
    /// Commit SHA-1; with `branch`, the commit must be on that branch.
    pub commit: Option<String>,
}

/// Username and password (or token as password) for HTTP(S).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct BasicAuth {
    /// User name.
    pub username: String,
    /// Password or personal access token.
    pub password: String,
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicAuth")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// SSH identity (private key, PEM/OpenSSH format) and the `known_hosts` to trust.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SshAuth {
    /// The private key.
    pub identity: String,
    /// `known_hosts` lines; host keys not listed are refused.
    pub known_hosts: String,
}

impl std::fmt::Debug for SshAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshAuth").finish_non_exhaustive()
    }
}

/// Credentials; at most one of them is used (bearer, then basic, for HTTP; SSH for ssh://).
#[derive(Clone, Default, PartialEq, Eq, Debug)]
pub struct GitAuth {
    /// HTTP basic auth.
    pub basic: Option<BasicAuth>,
    /// HTTP bearer token.
    pub bearer_token: Option<String>,
    /// SSH key and known hosts (requires an `ssh` client on PATH).
    pub ssh: Option<SshAuth>,
    /// Send basic/bearer credentials over plain `http://`. Default false: refused with
    /// [`Error::InvalidSpec`], as Flux does unless told otherwise.
    pub allow_insecure_http: bool,
}

/// Copy (part of) another source's artifact into this one.
#[derive(Debug, Clone)]
pub struct GitInclude {
    /// The included object (for messages and its store directory).
    pub object: ObjectRef,
    /// Its current artifact.
    pub artifact: Artifact,
    /// Directory inside the included artifact to copy. Default: all of it.
    pub from_path: Option<String>,
    /// Destination inside this artifact. Default: the included object's name.
    pub to_path: Option<String>,
}

/// Everything needed to produce a GitRepository artifact.
#[derive(Debug, Clone)]
pub struct GitRepositoryOptions {
    /// `https://…`, `http://…`, `ssh://…` or `file://…`.
    pub url: String,
    /// The ref to follow.
    pub reference: GitReference,
    /// Credentials.
    pub auth: GitAuth,
    /// `spec.ignore`: gitignore patterns; when set they replace the default excludes
    /// (except VCS files).
    pub ignore: Option<String>,
    /// `spec.include`.
    pub include: Vec<GitInclude>,
    /// `spec.recurseSubmodules`. Default false.
    pub recurse_submodules: bool,
    /// `spec.sparseCheckout`: directories to check out. Default empty: everything.
    pub sparse_checkout: Vec<String>,
    /// Whole-operation deadline. Default 60 s (Flux's `spec.timeout`).
    pub timeout: Duration,
    /// Size and file-count limits for the checked-out tree. Default [`Limits::default`].
    pub limits: Limits,
}

impl GitRepositoryOptions {
    /// Options with documented defaults for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            reference: GitReference::default(),
            auth: GitAuth::default(),
            ignore: None,
            include: Vec::new(),
            recurse_submodules: false,
            sparse_checkout: Vec::new(),
            timeout: Duration::from_secs(60),
            limits: Limits::default(),
        }
    }
}

/// What the last successful reconcile produced; used for the no-op check.
#[derive(Debug, Clone, Default)]
pub struct LastObserved {
    /// The last artifact's revision.
    pub revision: String,
    /// Digests of the included artifacts at that time, in `include` order.
    pub included_digests: Vec<String>,
}

/// The result of [`reconcile`].
#[derive(Debug, Clone)]
pub enum GitOutcome {
    /// The remote ref has not moved; nothing was fetched.
    Unchanged {
        /// The (still current) revision.
        revision: String,
    },
    /// A new artifact was written.
    Updated {
        /// The artifact for `status.artifact`.
        artifact: Artifact,
        /// Digests of the included artifacts, for the next [`LastObserved`].
        included_digests: Vec<String>,
    },
}

/// A resolved remote ref.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedRef {
    /// The ref as it appears in the revision (`main`, `v1.2.3`, `refs/pull/1/head`), if any.
    pub name: Option<String>,
    /// Full remote ref to fetch, if any (`refs/heads/main`).
    pub full_ref: Option<String>,
    /// The commit it points to (hex).
    pub commit: String,
    /// Flux revision string.
    pub revision: String,
}

/// GitRepository failure. Messages name the object; causes are in the source chain.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The options cannot work (e.g. a `name` that is not a full ref).
    #[error("{object}: invalid spec: {reason}")]
    InvalidSpec {
        /// The object.
        object: String,
        /// What is wrong.
        reason: String,
    },
    /// Connecting, authenticating, listing refs or receiving the pack failed.
    #[error("{object}: fetch from {url} failed")]
    FetchFailed {
        /// The object.
        object: String,
        /// The remote.
        url: String,
        /// The gix error.
        #[source]
        source: BoxError,
    },
    /// The requested ref or commit does not exist on the remote.
    #[error("{object}: {what} not found in {url}")]
    RefNotFound {
        /// The object.
        object: String,
        /// The remote.
        url: String,
        /// E.g. `branch "main"`.
        what: String,
    },
    /// Building the work tree failed.
    #[error("{object}: checkout of {revision} failed")]
    CheckoutFailed {
        /// The object.
        object: String,
        /// The revision.
        revision: String,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// A submodule could not be fetched.
    #[error("{object}: submodule {path} failed")]
    SubmoduleFailed {
        /// The object.
        object: String,
        /// The submodule's path.
        path: String,
        /// The cause.
        #[source]
        source: Box<Error>,
    },
    /// Copying an included artifact failed.
    #[error("{object}: include of {include} failed")]
    IncludeFailed {
        /// The object.
        object: String,
        /// The included object.
        include: String,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// The ignore rules are invalid.
    #[error("{object}: ignore rules")]
    IgnoreRules {
        /// The object.
        object: String,
        /// The cause.
        #[source]
        source: crate::ignore::Error,
    },
    /// Storing or archiving failed (hostile tree, limits, I/O).
    #[error(transparent)]
    Artifact(#[from] artifact::Error),
    /// The operation exceeded [`GitRepositoryOptions::timeout`].
    #[error("{object}: timed out after {timeout:?}")]
    Timeout {
        /// The object.
        object: String,
        /// The deadline.
        timeout: Duration,
    },
    /// Scratch space could not be created.
    #[error("{object}: temporary directory")]
    TempDir {
        /// The object.
        object: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The blocking worker panicked or was cancelled.
    #[error("{object}: git worker failed")]
    Worker {
        /// The object.
        object: String,
        /// The cause.
        #[source]
        source: tokio::task::JoinError,
    },
}

fn boxed(e: impl std::error::Error + Send + Sync + 'static) -> BoxError {
    Box::new(e)
}

/// Reconcile a GitRepository: no-op if the remote ref has not moved since `last`, else fetch,
/// check out, include, filter and archive. The previous artifact is untouched on error.
///
/// # Errors
/// See [`Error`]; every message names `obj`.
pub async fn reconcile(
    store: &Store,
    obj: &ObjectRef,
    opts: &GitRepositoryOptions,
    last: Option<&LastObserved>,
) -> Result<GitOutcome, Error> {
    let included_digests: Vec<String> = opts
        .include
        .iter()
        .map(|i| i.artifact.digest.clone())
        .collect();
    let last_revision = last
        .filter(|l| l.included_digests == included_digests)
        .map(|l| l.revision.clone());
    // Fast no-op path for HTTP(S): one stateless protocol-v2 `ls-refs` request on a shared,
    // keep-alive client. Anything unexpected falls through to the full gix path, which
    // also produces the proper errors.
    if let Some(last) = &last_revision
        && let Some(refs) = ls_refs_http(opts).await
        && let Ok(resolved) = resolve_in(obj, opts, &refs)
        && same_revision(last, &resolved.revision)
    {
        return Ok(GitOutcome::Unchanged {
            revision: resolved.revision,
        });
    }
    let work = tempfile::Builder::new()
        .prefix("gyre-git-")
        .tempdir()
        .map_err(|source| Error::TempDir {
            object: obj.to_string(),
            source,
        })?;
    let interrupt = Arc::new(AtomicBool::new(false));
    let fetched = {
        let (obj2, opts2, dir, intr) = (
            obj.clone(),
            opts.clone(),
            work.path().to_path_buf(),
            interrupt.clone(),
        );
        let task = tokio::task::spawn_blocking(move || {
            fetch_and_checkout(&obj2, &opts2, &dir, last_revision.as_deref(), &intr)
        });
        match tokio::time::timeout(opts.timeout, task).await {
            Ok(joined) => joined.map_err(|source| Error::Worker {
                object: obj.to_string(),
                source,
            })??,
            Err(_) => {
                interrupt.store(true, Ordering::Relaxed);
                return Err(Error::Timeout {
                    object: obj.to_string(),
                    timeout: opts.timeout,
                });
            }
        }
    };
    let (resolved, tree) = match fetched {
        Fetched::Unchanged(revision) => return Ok(GitOutcome::Unchanged { revision }),
        Fetched::CheckedOut { resolved, tree } => (resolved, tree),
    };
    let store = store.clone();
    let obj2 = obj.clone();
    let opts2 = opts.clone();
    let artifact = tokio::task::spawn_blocking(move || -> Result<Artifact, Error> {
        apply_includes(&store, &obj2, &opts2, &tree)?;
        let filter = SourceFilter::for_tree(&tree, Defaults::Source, opts2.ignore.as_deref())
            .map_err(|source| Error::IgnoreRules {
                object: obj2.to_string(),
                source,
            })?;
        let (artifact, _) =
            store.archive_dir(&obj2, &tree, &resolved.revision, &filter, &opts2.limits)?;
        Ok(artifact)
    })
    .await
    .map_err(|source| Error::Worker {
        object: obj.to_string(),
        source,
    })??;
    drop(work);
    Ok(GitOutcome::Updated {
        artifact,
        included_digests,
    })
}

/// List the remote's refs and resolve `opts.reference` without fetching objects.
///
/// # Errors
/// Connection, auth, or a missing ref.
pub async fn resolve(obj: &ObjectRef, opts: &GitRepositoryOptions) -> Result<ResolvedRef, Error> {
    let work = tempfile::Builder::new()
        .prefix("gyre-git-")
        .tempdir()
        .map_err(|source| Error::TempDir {
            object: obj.to_string(),
            source,
        })?;
    let (obj2, opts2, dir) = (obj.clone(), opts.clone(), work.path().to_path_buf());
    let task = tokio::task::spawn_blocking(move || {
        let session = Session::new(&obj2, &opts2, &dir)?;
        let repo = session.init_repo()?;
        let prep = session.prepare(&repo, &refspecs_for(&obj2, &opts2.reference)?)?;
        resolve_in(&obj2, &opts2, &prep.ref_map().remote_refs)
    });
    match tokio::time::timeout(opts.timeout, task).await {
        Ok(joined) => joined.map_err(|source| Error::Worker {
            object: obj.to_string(),
            source,
        })?,
        Err(_) => Err(Error::Timeout {
            object: obj.to_string(),
            timeout: opts.timeout,
        }),
    }
}

enum Fetched {
    Unchanged(String),
    CheckedOut {
        resolved: ResolvedRef,
        tree: PathBuf,
    },
}

/// Per-operation gix configuration: isolated from the machine's git config, with auth and
/// timeouts applied as config overrides.
struct Session<'a> {
    obj: &'a ObjectRef,
    opts: &'a GitRepositoryOptions,
    work: &'a Path,
    overrides: Vec<String>,
}

impl<'a> Session<'a> {
    fn new(
        obj: &'a ObjectRef,
        opts: &'a GitRepositoryOptions,
        work: &'a Path,
    ) -> Result<Self, Error> {
        let has_http_creds = opts.auth.basic.is_some() || opts.auth.bearer_token.is_some();
        if has_http_creds && opts.url.starts_with("http://") && !opts.auth.allow_insecure_http {
            return Err(Error::InvalidSpec {
                object: obj.to_string(),
                reason: "refusing to send credentials over plain HTTP (use https, or allow insecure HTTP)".into(),
            });
        }
        let mut overrides = vec![
            format!(
                "gitoxide.http.connectTimeout={}",
                opts.timeout.as_millis().min(u64::MAX as u128)
            ),
            "http.lowSpeedLimit=1".to_string(),
            format!("http.lowSpeedTime={}", opts.timeout.as_secs().max(1)),
            "core.symlinks=true".to_string(),
            "protocol.version=2".to_string(),
        ];
        if let Some(token) = &opts.auth.bearer_token {
            overrides.push(format!("http.extraHeader=Authorization: Bearer {token}"));
        }
        if let Some(ssh) = &opts.auth.ssh {
            let key = work.join("identity");
            let kh = work.join("known_hosts");
            let write = |p: &Path, s: &str| {
                write_private(p, s).map_err(|source| Error::TempDir {
                    object: obj.to_string(),
                    source,
                })
            };
            write(&key, &ssh.identity)?;
            write(&kh, &ssh.known_hosts)?;
            overrides.push(format!(
                "core.sshCommand=ssh -i '{}' -o UserKnownHostsFile='{}' -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -o BatchMode=yes",
                key.display(),
                kh.display()
            ));
        }
        Ok(Self {
            obj,
            opts,
            work,
            overrides,
        })
    }

    fn fetch_err(&self, e: impl Into<BoxError>) -> Error {
        Error::FetchFailed {
            object: self.obj.to_string(),
            url: redact(&self.opts.url),
            source: e.into(),
        }
    }

    fn init_repo(&self) -> Result<gix::Repository, Error> {
        self.init_repo_at(&self.work.join("repo.git"))
    }

    fn init_repo_at(&self, path: &Path) -> Result<gix::Repository, Error> {
        let open = gix::open::Options::isolated()
            .config_overrides(self.overrides.iter().map(String::as_str));
        gix::ThreadSafeRepository::init_opts(
            path,
            gix::create::Kind::Bare,
            gix::create::Options::default(),
            open,
        )
        .map(|r| r.to_thread_local())
        .map_err(|e| self.fetch_err(e))
    }

    fn prepare<'r>(
        &self,
        repo: &'r gix::Repository,
        refspecs: &[String],
    ) -> Result<
        gix::remote::fetch::Prepare<
            'static,
            'r,
            Box<dyn gix::protocol::transport::client::blocking_io::Transport + Send>,
        >,
        Error,
    > {
        let remote = repo
            .remote_at(self.opts.url.as_str())
            .map_err(|e| self.fetch_err(e))?
            .with_fetch_tags(Tags::None)
            .with_refspecs(refspecs.iter().map(String::as_str), Direction::Fetch)
            .map_err(|e| self.fetch_err(e))?;
        let conn = remote
            .connect(Direction::Fetch)
            .map_err(|e| self.fetch_err(e))?;
        let conn = match (&self.opts.auth.basic, &self.opts.auth.bearer_token) {
            (Some(basic), None) => {
                let basic = basic.clone();
                conn.with_credentials(move |action| match action {
                    gix::credentials::helper::Action::Get(ctx) => {
                        Ok(Some(gix::credentials::protocol::Outcome {
                            identity: gix::sec::identity::Account {
                                username: basic.username.clone(),
                                password: basic.password.clone(),
                                oauth_refresh_token: None,
                            },
                            next: ctx.into(),
                        }))
                    }
                    _ => Ok(None),
                })
            }
            // Never fall back to credential helpers or prompts.
            _ => conn.with_credentials(|_| Ok(None)),
        };
        conn.prepare_fetch(gix::progress::Discard, Default::default())
            .map_err(|e| self.fetch_err(e))
    }
}

fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(content.as_bytes())?;
    if !content.ends_with('\n') {
        f.write_all(b"\n")?;
    }
    Ok(())
}

/// Drop userinfo from a URL for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s && !url[s + 3..at].contains('/') => {
            format!("{}{}", &url[..s + 3], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// Ref prefixes worth listing for `r` (protocol v2 `ref-prefix`).
fn ref_prefixes(r: &GitReference) -> Vec<String> {
    if r.commit.is_some() {
        return r.branch.iter().map(|b| format!("refs/heads/{b}")).collect();
    }
    if let Some(name) = &r.name {
        return vec![name.clone()];
    }
    if r.semver.is_some() {
        return vec!["refs/tags/".into()];
    }
    if let Some(tag) = &r.tag {
        return vec![format!("refs/tags/{tag}")];
    }
    vec![format!(
        "refs/heads/{}",
        r.branch.as_deref().unwrap_or("master")
    )]
}

fn pkt_line(out: &mut Vec<u8>, line: &str) {
    out.extend_from_slice(format!("{:04x}", line.len() + 4).as_bytes());
    out.extend_from_slice(line.as_bytes());
}

/// Parse an `ls-refs` response (`<oid> <name>[ symref-target:…][ peeled:<oid>]` pkt-lines).
fn parse_ls_refs(body: &[u8]) -> Option<Vec<gix::protocol::handshake::Ref>> {
    use gix::protocol::handshake::Ref;
    let mut refs = Vec::new();
    let mut rest = body;
    loop {
        let len = usize::from_str_radix(std::str::from_utf8(rest.get(..4)?).ok()?, 16).ok()?;
        if len == 0 {
            return Some(refs);
        }
        if len < 4 {
            return None;
        }
        let line = std::str::from_utf8(rest.get(4..len)?)
            .ok()?
            .trim_end_matches('\n');
        rest = &rest[len..];
        let mut parts = line.split(' ');
        let object = gix::ObjectId::from_hex(parts.next()?.as_bytes()).ok()?;
        let name: gix::bstr::BString = parts.next()?.into();
        let peeled = parts.find_map(|p| p.strip_prefix("peeled:"));
        refs.push(match peeled {
            Some(p) => Ref::Peeled {
                full_ref_name: name,
                tag: object,
                object: gix::ObjectId::from_hex(p.as_bytes()).ok()?,
            },
            None => Ref::Direct {
                full_ref_name: name,
                object,
            },
        });
    }
}

fn shared_http_client() -> &'static reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .user_agent(concat!(
                "git/2.0 (gyre-source/",
                env!("CARGO_PKG_VERSION"),
                ")"
            ))
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .expect("reqwest client with rustls builds")
    })
}

/// List refs over smart HTTP with a single stateless v2 `ls-refs` POST. `None` means "use
/// the full gix path" (not HTTP, server without v2, auth problems, anything unexpected).
async fn ls_refs_http(opts: &GitRepositoryOptions) -> Option<Vec<gix::protocol::handshake::Ref>> {
    let url = opts.url.trim_end_matches('/');
    let is_https = url.starts_with("https://");
    if !(is_https || url.starts_with("http://")) || url.contains('@') {
        return None;
    }
    let has_creds = opts.auth.basic.is_some() || opts.auth.bearer_token.is_some();
    if has_creds && !is_https && !opts.auth.allow_insecure_http {
        return None;
    }
    let mut body = Vec::new();
    pkt_line(&mut body, "command=ls-refs\n");
    pkt_line(&mut body, "object-format=sha1\n");
    body.extend_from_slice(b"0001");
    pkt_line(&mut body, "peel\n");
    pkt_line(&mut body, "symrefs\n");
    for p in ref_prefixes(&opts.reference) {
        pkt_line(&mut body, &format!("ref-prefix {p}\n"));
    }
    body.extend_from_slice(b"0000");
    let mut req = shared_http_client()
        .post(format!("{url}/git-upload-pack"))
        .timeout(opts.timeout)
        .header("Content-Type", "application/x-git-upload-pack-request")
        .header("Accept", "application/x-git-upload-pack-result")
        .header("Git-Protocol", "version=2")
        .body(body);
    if let Some(token) = &opts.auth.bearer_token {
        req = req.bearer_auth(token);
    } else if let Some(b) = &opts.auth.basic {
        req = req.basic_auth(&b.username, Some(&b.password));
    }
    let resp = req.send().await.ok()?;
    let content_type = resp
        .headers()
        .get("content-type")?
        .to_str()
        .ok()?
        .to_string();
    if !resp.status().is_success() || content_type != "application/x-git-upload-pack-result" {
        return None;
    }
    let bytes = resp.bytes().await.ok()?;
    parse_ls_refs(&bytes)
}

/// Refspecs for the ls-refs phase.
fn refspecs_for(obj: &ObjectRef, r: &GitReference) -> Result<Vec<String>, Error> {
    let invalid = |reason: String| Error::InvalidSpec {
        object: obj.to_string(),
        reason,
    };
    Ok(if r.commit.is_some() {
        match &r.branch {
            Some(b) => vec![format!("+refs/heads/{b}:refs/remotes/origin/{b}")],
            None => vec!["+refs/heads/*:refs/remotes/origin/*".to_string()],
        }
    } else if let Some(name) = &r.name {
        if !(name.starts_with("refs/") || name == "HEAD") {
            return Err(invalid(format!(
                "ref name {name:?} must be a full ref (refs/…)"
            )));
        }
        vec![format!("+{name}:refs/gyre/target")]
    } else if r.semver.is_some() {
        vec!["+refs/tags/*:refs/tags/*".to_string()]
    } else if let Some(tag) = &r.tag {
        vec![format!("+refs/tags/{tag}:refs/tags/{tag}")]
    } else {
        let b = r.branch.as_deref().unwrap_or("master");
        vec![format!("+refs/heads/{b}:refs/remotes/origin/{b}")]
    })
}

/// The commit a remote ref points to (peeling annotated tags).
fn ref_target(refs: &[gix::protocol::handshake::Ref], full: &str) -> Option<String> {
    use gix::protocol::handshake::Ref;
    refs.iter().find_map(|r| match r {
        Ref::Direct {
            full_ref_name,
            object,
        } if full_ref_name == full => Some(object.to_string()),
        Ref::Peeled {
            full_ref_name,
            object,
            ..
        } if full_ref_name == full => Some(object.to_string()),
        Ref::Symbolic {
            full_ref_name,
            object,
            ..
        } if full_ref_name == full => Some(object.to_string()),
        _ => None,
    })
}

fn resolve_in(
    obj: &ObjectRef,
    opts: &GitRepositoryOptions,
    refs: &[gix::protocol::handshake::Ref],
) -> Result<ResolvedRef, Error> {
    let r = &opts.reference;
    let not_found = |what: String| Error::RefNotFound {
        object: obj.to_string(),
        url: redact(&opts.url),
        what,
    };
    if let Some(commit) = &r.commit {
        let commit = commit.to_lowercase();
        if commit.len() != 40 || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::InvalidSpec {
                object: obj.to_string(),
                reason: format!("commit {commit:?} is not a full SHA-1"),
            });
        }
        if let Some(b) = &r.branch
            && ref_target(refs, &format!("refs/heads/{b}")).is_none()
        {
            return Err(not_found(format!("branch {b:?}")));
        }
        return Ok(ResolvedRef {
            name: r.branch.clone(),
            full_ref: r.branch.as_ref().map(|b| format!("refs/heads/{b}")),
            revision: revision::git(r.branch.as_deref(), &commit),
            commit,
        });
    }
    let (name, full) = if let Some(name) = &r.name {
        (name.clone(), name.clone())
    } else if let Some(range) = &r.semver {
        let constraint = Constraint::parse(range).map_err(|e| Error::InvalidSpec {
            object: obj.to_string(),
            reason: e.to_string(),
        })?;
        let tags: Vec<(semver::Version, String)> = refs
            .iter()
            .filter_map(|r| {
                let (name, _, _) = r.unpack();
                let tag = name.to_str().ok()?.strip_prefix("refs/tags/")?;
                if tag.ends_with("^{}") {
                    return None;
                }
                parse_version(tag).map(|v| (v, tag.to_string()))
            })
            .collect();
        let (_, tag) = constraint
            .best(tags.iter().map(|(v, t)| (v.clone(), t)))
            .ok_or_else(|| not_found(format!("no tag matching semver {range:?}")))?;
        (tag.clone(), format!("refs/tags/{tag}"))
    } else if let Some(tag) = &r.tag {
        (tag.clone(), format!("refs/tags/{tag}"))
    } else {
        let b = r.branch.clone().unwrap_or_else(|| "master".into());
        let full = format!("refs/heads/{b}");
        (b, full)
    };
    let commit = ref_target(refs, &full).ok_or_else(|| {
        not_found(if r.name.is_some() {
            format!("ref {full:?}")
        } else if full.starts_with("refs/tags/") {
            format!("tag {name:?}")
        } else {
            format!("branch {name:?}")
        })
    })?;
    Ok(ResolvedRef {
        revision: revision::git(Some(&name), &commit),
        name: Some(name),
        full_ref: Some(full),
        commit,
    })
}

fn fetch_and_checkout(
    obj: &ObjectRef,
    opts: &GitRepositoryOptions,
    work: &Path,
    last_revision: Option<&str>,
    interrupt: &AtomicBool,
) -> Result<Fetched, Error> {
    let session = Session::new(obj, opts, work)?;
    let repo = session.init_repo()?;
    let specs = refspecs_for(obj, &opts.reference)?;
    let prep = session.prepare(&repo, &specs)?;
    let resolved = resolve_in(obj, opts, &prep.ref_map().remote_refs)?;
    if last_revision.is_some_and(|l| same_revision(l, &resolved.revision)) {
        return Ok(Fetched::Unchanged(resolved.revision));
    }
    let pinned = opts.reference.commit.is_some();
    let prep = if opts.reference.semver.is_some() {
        // The listing asked for all tags; fetch only the chosen one.
        drop(prep);
        let full = resolved.full_ref.as_deref().unwrap_or_default();
        session.prepare(&repo, &[format!("+{full}:{full}")])?
    } else {
        prep
    };
    let shallow = if pinned {
        Shallow::NoChange
    } else {
        Shallow::DepthAtRemote(1.try_into().expect("non-zero"))
    };
    prep.with_shallow(shallow)
        .receive(gix::progress::Discard, interrupt)
        .map_err(|e| session.fetch_err(e))?;
    let tree = work.join("tree");
    checkout(&session, &repo, &resolved, &tree, interrupt)?;
    Ok(Fetched::CheckedOut { resolved, tree })
}

/// Revisions are equal if they name the same ref and commit; the legacy `main/<sha>` form
/// matches `main@sha1:<sha>`.
fn same_revision(a: &str, b: &str) -> bool {
    match (revision::parse(a), revision::parse(b)) {
        (Some(x), Some(y)) => x.name == y.name && x.hex.eq_ignore_ascii_case(y.hex),
        _ => a == b,
    }
}

fn checkout(
    session: &Session<'_>,
    repo: &gix::Repository,
    resolved: &ResolvedRef,
    dest: &Path,
    interrupt: &AtomicBool,
) -> Result<(), Error> {
    let obj = session.obj;
    let opts = session.opts;
    let fail = |e: BoxError| Error::CheckoutFailed {
        object: obj.to_string(),
        revision: resolved.revision.clone(),
        source: e,
    };
    let id = gix::ObjectId::from_hex(resolved.commit.as_bytes()).map_err(|e| fail(boxed(e)))?;
    let commit = match repo.try_find_object(id).map_err(|e| fail(boxed(e)))? {
        Some(o) => o.try_into_commit().map_err(|e| fail(boxed(e)))?,
        None => {
            return Err(Error::RefNotFound {
                object: obj.to_string(),
                url: redact(&opts.url),
                what: match &resolved.name {
                    Some(b) => format!("commit {} on branch {b:?}", resolved.commit),
                    None => format!("commit {}", resolved.commit),
                },
            });
        }
    };
    let tree_id = commit.tree_id().map_err(|e| fail(boxed(e)))?.detach();
    let mut index = repo.index_from_tree(&tree_id).map_err(|e| fail(boxed(e)))?;
    if !opts.sparse_checkout.is_empty() {
        let dirs: Vec<String> = opts
            .sparse_checkout
            .iter()
            .map(|d| d.trim_matches('/').trim_start_matches("./").to_string())
            .filter(|d| !d.is_empty())
            .collect();
        index.remove_entries(|_, path, _| {
            !dirs.iter().any(|d| {
                path.starts_with(d.as_bytes()) && path.get(d.len()).is_some_and(|c| *c == b'/')
            })
        });
    }
    let gitlinks: Vec<(String, gix::ObjectId)> = index
        .entries()
        .iter()
        .filter(|e| e.mode == gix::index::entry::Mode::COMMIT)
        .map(|e| (e.path(&index).to_str_lossy().into_owned(), e.id))
        .collect();
    let mut copts = repo
        .checkout_options(gix::worktree::stack::state::attributes::Source::IdMapping)
        .map_err(|e| fail(boxed(e)))?;
    copts.destination_is_initially_empty = true;
    copts.overwrite_existing = false;
    std::fs::create_dir_all(dest).map_err(|e| fail(boxed(e)))?;
    let objects = repo
        .objects
        .clone()
        .into_arc()
        .map_err(|e| fail(boxed(e)))?;
    let outcome = gix::worktree::state::checkout(
        &mut index,
        dest,
        objects,
        &gix::progress::Discard,
        &gix::progress::Discard,
        interrupt,
        copts,
    )
    .map_err(|e| fail(boxed(e)))?;
    if let Some(first) = outcome.errors.first() {
        return Err(fail(format!("{}: {}", first.path, first.error).into()));
    }
    if opts.recurse_submodules && !gitlinks.is_empty() {
        checkout_submodules(session, repo, &tree_id, &gitlinks, dest, interrupt)?;
    }
    Ok(())
}

/// Fetch each submodule at its recorded commit and check it out in place.
fn checkout_submodules(
    session: &Session<'_>,
    repo: &gix::Repository,
    tree_id: &gix::ObjectId,
    gitlinks: &[(String, gix::ObjectId)],
    dest: &Path,
    interrupt: &AtomicBool,
) -> Result<(), Error> {
    let obj = session.obj;
    let sub_err = |path: &str, e: Error| Error::SubmoduleFailed {
        object: obj.to_string(),
        path: path.to_string(),
        source: Box::new(e),
    };
    let tree = repo
        .find_tree(*tree_id)
        .map_err(|e| sub_err(".gitmodules", session.fetch_err(e)))?;
    let entry = tree.find_entry(".gitmodules").ok_or_else(|| {
        sub_err(
            ".gitmodules",
            Error::InvalidSpec {
                object: obj.to_string(),
                reason: "gitlinks without .gitmodules".into(),
            },
        )
    })?;
    let blob = repo
        .find_blob(entry.oid())
        .map_err(|e| sub_err(".gitmodules", session.fetch_err(e)))?;
    let modules = gix::config::File::from_bytes_no_includes(
        &blob.data,
        gix::config::file::Metadata::api(),
        Default::default(),
    )
    .map_err(|e| sub_err(".gitmodules", session.fetch_err(e)))?;
    for (path, commit) in gitlinks {
        let mut url = None;
        for section in modules.sections_by_name("submodule").into_iter().flatten() {
            if section
                .value("path")
                .is_some_and(|p| p.to_str_lossy() == path.as_str())
            {
                url = section.value("url").map(|u| u.to_str_lossy().into_owned());
            }
        }
        let Some(url) = url else {
            return Err(sub_err(
                path,
                Error::InvalidSpec {
                    object: obj.to_string(),
                    reason: "no url in .gitmodules".into(),
                },
            ));
        };
        let url = resolve_submodule_url(&session.opts.url, &url);
        let mut sub_opts = session.opts.clone();
        sub_opts.url = url;
        sub_opts.reference = GitReference {
            commit: Some(commit.to_string()),
            ..Default::default()
        };
        sub_opts.sparse_checkout.clear();
        let sub_work = session.work.join(format!("sub-{}", commit));
        std::fs::create_dir_all(&sub_work).map_err(|source| Error::TempDir {
            object: obj.to_string(),
            source,
        })?;
        let sub_session = Session::new(obj, &sub_opts, &sub_work).map_err(|e| sub_err(path, e))?;
        let sub_repo = sub_session.init_repo().map_err(|e| sub_err(path, e))?;
        let specs = refspecs_for(obj, &sub_opts.reference)?;
        let prep = sub_session
            .prepare(&sub_repo, &specs)
            .map_err(|e| sub_err(path, e))?;
        let resolved = resolve_in(obj, &sub_opts, &prep.ref_map().remote_refs)
            .map_err(|e| sub_err(path, e))?;
        prep.receive(gix::progress::Discard, interrupt)
            .map_err(|e| sub_err(path, sub_session.fetch_err(e)))?;
        let target = dest.join(path);
        // gix leaves an empty directory for the gitlink; check out into it.
        let _ = std::fs::remove_dir(&target);
        checkout(&sub_session, &sub_repo, &resolved, &target, interrupt)
            .map_err(|e| sub_err(path, e))?;
    }
    Ok(())
}

/// Resolve a `.gitmodules` URL relative to the superproject's URL (`../lib.git`).
fn resolve_submodule_url(base: &str, url: &str) -> String {
    if !(url.starts_with("./") || url.starts_with("../")) {
        return url.to_string();
    }
    let mut base = base.trim_end_matches('/').to_string();
    let mut rest = url;
    loop {
        if let Some(r) = rest.strip_prefix("./") {
            rest = r;
        } else if let Some(r) = rest.strip_prefix("../") {
            if let Some(i) = base.rfind('/') {
                base.truncate(i);
            }
            rest = r;
        } else {
            break;
        }
    }
    format!("{base}/{rest}")
}

fn apply_includes(
    store: &Store,
    obj: &ObjectRef,
    opts: &GitRepositoryOptions,
    tree: &Path,
) -> Result<(), Error> {
    for inc in &opts.include {
        let fail = |e: BoxError| Error::IncludeFailed {
            object: obj.to_string(),
            include: inc.object.to_string(),
            source: e,
        };
        let scratch = tempfile::tempdir().map_err(|e| fail(boxed(e)))?;
        store
            .extract(&inc.object, &inc.artifact, scratch.path(), &opts.limits)
            .map_err(|e| fail(boxed(e)))?;
        let from = safe_join(scratch.path(), inc.from_path.as_deref().unwrap_or(""))
            .ok_or_else(|| fail("fromPath leaves the included artifact".into()))?;
        let to = safe_join(tree, inc.to_path.as_deref().unwrap_or(&inc.object.name))
            .ok_or_else(|| fail("toPath leaves the artifact".into()))?;
        if !from.is_dir() {
            return Err(fail(
                format!(
                    "fromPath {:?} is not a directory in the included artifact",
                    inc.from_path
                )
                .into(),
            ));
        }
        // Flux replaces the destination with the included content.
        if to.symlink_metadata().is_ok() {
            if to.is_dir() && !to.is_symlink() {
                std::fs::remove_dir_all(&to).map_err(|e| fail(boxed(e)))?;
            } else {
                std::fs::remove_file(&to).map_err(|e| fail(boxed(e)))?;
            }
        }
        archive::copy_tree(&from, &to, &SourceFilter::none(), Path::new(""))
            .map_err(|e| fail(boxed(e)))?;
    }
    Ok(())
}

/// Join a user-supplied relative path, refusing anything that leaves `root`.
fn safe_join(root: &Path, rel: &str) -> Option<PathBuf> {
    let mut out = root.to_path_buf();
    for c in Path::new(rel).components() {
        match c {
            std::path::Component::Normal(n) => out.push(n),
            std::path::Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submodule_urls_resolve_relative_to_the_superproject() {
        assert_eq!(
            resolve_submodule_url("http://h/org/app.git", "../lib.git"),
            "http://h/org/lib.git"
        );
        assert_eq!(
            resolve_submodule_url("http://h/org/app.git/", "./sub"),
            "http://h/org/app.git/sub"
        );
        assert_eq!(
            resolve_submodule_url("http://h/a.git", "https://x/y.git"),
            "https://x/y.git"
        );
    }

    #[test]
    fn credentials_are_redacted_from_urls() {
        assert_eq!(
            redact("https://user:pw@example.com/r.git"),
            "https://example.com/r.git"
        );
        assert_eq!(redact("https://example.com/a@b"), "https://example.com/a@b");
    }

    #[test]
    fn legacy_and_current_revisions_compare_equal() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        assert!(same_revision(
            &format!("main/{sha}"),
            &format!("main@sha1:{sha}")
        ));
        assert!(!same_revision(
            &format!("dev@sha1:{sha}"),
            &format!("main@sha1:{sha}")
        ));
    }

    #[test]
    fn ls_refs_responses_parse_with_peeled_tags() {
        let a = "1".repeat(40);
        let b = "2".repeat(40);
        let mut body = Vec::new();
        pkt_line(&mut body, &format!("{a} refs/heads/main\n"));
        pkt_line(&mut body, &format!("{a} refs/tags/v1 peeled:{b}\n"));
        body.extend_from_slice(b"0000");
        let refs = parse_ls_refs(&body).unwrap();
        assert_eq!(ref_target(&refs, "refs/heads/main").unwrap(), a);
        assert_eq!(
            ref_target(&refs, "refs/tags/v1").unwrap(),
            b,
            "annotated tags resolve to the commit"
        );
        assert!(parse_ls_refs(b"zzzz").is_none());
        assert!(parse_ls_refs(b"0010short").is_none());
    }

    #[test]
    fn include_paths_cannot_escape() {
        assert!(safe_join(Path::new("/r"), "../x").is_none());
        assert!(safe_join(Path::new("/r"), "/etc").is_none());
        assert_eq!(
            safe_join(Path::new("/r"), "./a/b").unwrap(),
            Path::new("/r/a/b")
        );
    }
}
