//! GitRepository against real Git: smart HTTP (`git http-backend`) and file://.

use gyre_test_support as support;

use std::path::Path;
use std::time::{Duration, Instant};

use gyre_source::git::{
    self, BasicAuth, GitInclude, GitOutcome, GitReference, GitRepositoryOptions, LastObserved,
};
use gyre_source::{Artifact, Limits, ObjectRef, Store, StoreOptions};
use support::{TestRepo, git_http_server};

struct Env {
    tmp: tempfile::TempDir,
    store: Store,
    obj: ObjectRef,
}

fn env() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::new(StoreOptions::new(tmp.path().join("store"))).unwrap();
    Env {
        tmp,
        store,
        obj: ObjectRef::new("GitRepository", "flux-system", "podinfo"),
    }
}

fn files() -> Vec<(&'static str, &'static str)> {
    vec![
        ("kustomization.yaml", "resources: [deploy.yaml]\n"),
        ("deploy.yaml", "kind: Deployment\n"),
        ("logo.png", "not really a png"),
        (".github/workflows/ci.yaml", "on: push\n"),
        ("apps/a/app.yaml", "app: a\n"),
        ("apps/b/app.yaml", "app: b\n"),
    ]
}

fn extract(store: &Store, obj: &ObjectRef, a: &Artifact) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    store
        .extract(obj, a, out.path(), &Limits::default())
        .unwrap();
    out
}

fn updated(o: GitOutcome) -> (Artifact, Vec<String>) {
    match o {
        GitOutcome::Updated {
            artifact,
            included_digests,
        } => (artifact, included_digests),
        GitOutcome::Unchanged { revision } => {
            panic!("expected a new artifact, got unchanged {revision}")
        }
    }
}

#[tokio::test]
async fn clones_a_branch_over_smart_http_with_flux_revision_and_default_excludes() {
    let e = env();
    let served = e.tmp.path().join("served");
    let repo = TestRepo::new(e.tmp.path(), &served, "podinfo", &files());
    let server = git_http_server(&served, None);
    let mut opts = GitRepositoryOptions::new(format!("{}/podinfo.git", server.url()));
    opts.reference.branch = Some("main".into());
    let (a, _) = updated(git::reconcile(&e.store, &e.obj, &opts, None).await.unwrap());
    assert_eq!(a.revision, format!("main@sha1:{}", repo.head()));
    assert!(a.digest.starts_with("sha256:") && a.digest.len() == 71);
    e.store.verify(&e.obj, &a).unwrap();
    let out = extract(&e.store, &e.obj, &a);
    assert_eq!(
        std::fs::read_to_string(out.path().join("deploy.yaml")).unwrap(),
        "kind: Deployment\n"
    );
    assert!(out.path().join("apps/b/app.yaml").exists());
    assert!(
        !out.path().join("logo.png").exists(),
        "*.png is a default exclude"
    );
    assert!(
        !out.path().join(".github").exists(),
        ".github/ is a default exclude"
    );
    assert!(!out.path().join(".git").exists());
}

#[tokio::test]
async fn unchanged_remote_is_a_no_op_and_a_new_commit_is_picked_up() {
    let e = env();
    let served = e.tmp.path().join("served");
    let repo = TestRepo::new(e.tmp.path(), &served, "podinfo", &files());
    let server = git_http_server(&served, None);
    let mut opts = GitRepositoryOptions::new(format!("{}/podinfo.git", server.url()));
    opts.reference.branch = Some("main".into());
    let (first, inc) = updated(git::reconcile(&e.store, &e.obj, &opts, None).await.unwrap());
    let last = LastObserved {
        revision: first.revision.clone(),
        included_digests: inc,
    };

    let start = Instant::now();
    let outcome = git::reconcile(&e.store, &e.obj, &opts, Some(&last))
        .await
        .unwrap();
    let took = start.elapsed();
    match outcome {
        GitOutcome::Unchanged { revision } => assert_eq!(revision, first.revision),
        other => panic!("expected no-op, got {other:?}"),
    }
    eprintln!("no-op reconcile over smart HTTP took {took:?}");

    repo.write(&[("deploy.yaml", "kind: Deployment\nreplicas: 2\n")]);
    let new_head = repo.commit("scale");
    repo.push();
    let (second, _) = updated(
        git::reconcile(&e.store, &e.obj, &opts, Some(&last))
            .await
            .unwrap(),
    );
    assert_eq!(second.revision, format!("main@sha1:{new_head}"));
    assert_ne!(second.digest, first.digest);
    let out = extract(&e.store, &e.obj, &second);
    assert!(
        std::fs::read_to_string(out.path().join("deploy.yaml"))
            .unwrap()
            .contains("replicas: 2")
    );

    // Both artifacts exist until GC; retention 2 keeps both, a third reconcile drops the first.
    repo.write(&[("deploy.yaml", "kind: Deployment\nreplicas: 3\n")]);
    repo.commit("scale again");
    repo.push();
    let (third, _) = updated(git::reconcile(&e.store, &e.obj, &opts, None).await.unwrap());
    let deleted = e.store.gc(&e.obj, Some(&third)).unwrap();
    assert_eq!(deleted, vec![e.store.local_path(&first).unwrap()]);
    assert!(e.store.local_path(&second).unwrap().exists());
}

#[tokio::test]
async fn tags_semver_names_and_commits_resolve_like_flux() {
    let e = env();
    let served = e.tmp.path().join("served");
    let repo = TestRepo::new(e.tmp.path(), &served, "podinfo", &files());
    let c1 = repo.head();
    support::git(&repo.work, &["tag", "v1.0.0"]);
    repo.write(&[("deploy.yaml", "v: 1.2\n")]);
    let c2 = repo.commit("1.2");
    support::git(&repo.work, &["tag", "-a", "v1.2.0", "-m", "annotated"]);
    repo.write(&[("deploy.yaml", "v: 2\n")]);
    let c3 = repo.commit("2.0");
    support::git(&repo.work, &["tag", "v2.0.0"]);
    support::git(&repo.work, &["branch", "feature", &c1]);
    repo.push();
    let server = git_http_server(&served, None);
    let url = format!("{}/podinfo.git", server.url());

    let cases: Vec<(GitReference, String, &str)> = vec![
        (
            GitReference {
                tag: Some("v1.0.0".into()),
                ..Default::default()
            },
            format!("v1.0.0@sha1:{c1}"),
            "kind: Deployment\n",
        ),
        (
            GitReference {
                tag: Some("v1.2.0".into()),
                ..Default::default()
            },
            format!("v1.2.0@sha1:{c2}"),
            "v: 1.2\n",
        ),
        (
            GitReference {
                semver: Some(">=1.0.0 <2.0.0".into()),
                ..Default::default()
            },
            format!("v1.2.0@sha1:{c2}"),
            "v: 1.2\n",
        ),
        (
            GitReference {
                semver: Some("*".into()),
                ..Default::default()
            },
            format!("v2.0.0@sha1:{c3}"),
            "v: 2\n",
        ),
        (
            GitReference {
                name: Some("refs/heads/feature".into()),
                ..Default::default()
            },
            format!("refs/heads/feature@sha1:{c1}"),
            "kind: Deployment\n",
        ),
        (
            GitReference {
                branch: Some("main".into()),
                commit: Some(c2.clone()),
                ..Default::default()
            },
            format!("main@sha1:{c2}"),
            "v: 1.2\n",
        ),
        (
            GitReference {
                commit: Some(c1.clone()),
                ..Default::default()
            },
            format!("sha1:{c1}"),
            "kind: Deployment\n",
        ),
    ];
    for (reference, want_rev, want_body) in cases {
        let mut opts = GitRepositoryOptions::new(url.clone());
        opts.reference = reference.clone();
        let (a, _) = updated(
            git::reconcile(&e.store, &e.obj, &opts, None)
                .await
                .unwrap_or_else(|err| panic!("{reference:?}: {err:?}")),
        );
        assert_eq!(a.revision, want_rev, "{reference:?}");
        let out = extract(&e.store, &e.obj, &a);
        assert_eq!(
            std::fs::read_to_string(out.path().join("deploy.yaml")).unwrap(),
            want_body,
            "{reference:?}"
        );
    }
}

#[tokio::test]
async fn file_urls_work() {
    let e = env();
    let served = e.tmp.path().join("served");
    let repo = TestRepo::new(e.tmp.path(), &served, "podinfo", &files());
    let mut opts = GitRepositoryOptions::new(format!("file://{}", repo.bare.display()));
    opts.reference.branch = Some("main".into());
    let (a, _) = updated(git::reconcile(&e.store, &e.obj, &opts, None).await.unwrap());
    assert_eq!(a.revision, format!("main@sha1:{}", repo.head()));
    let out = extract(&e.store, &e.obj, &a);
    assert!(out.path().join("kustomization.yaml").exists());
}

#[tokio::test]
async fn basic_auth_is_sent_and_wrong_credentials_fail_clearly() {
    let e = env();
    let served = e.tmp.path().join("served");
    TestRepo::new(e.tmp.path(), &served, "podinfo", &files());
    let server = git_http_server(&served, Some(("flux", "s3cret")));
    let mut opts = GitRepositoryOptions::new(format!("{}/podinfo.git", server.url()));
    opts.reference.branch = Some("main".into());
    opts.auth.basic = Some(BasicAuth {
        username: "flux".into(),
        password: "s3cret".into(),
    });
    // Plain http:// with credentials is refused unless explicitly allowed.
    let err = git::reconcile(&e.store, &e.obj, &opts, None)
        .await
        .unwrap_err();
    assert!(matches!(err, git::Error::InvalidSpec { .. }), "{err:?}");
    assert!(err.to_string().contains("plain HTTP"), "{err}");
    opts.auth.allow_insecure_http = true;
    updated(git::reconcile(&e.store, &e.obj, &opts, None).await.unwrap());

    opts.auth.basic = Some(BasicAuth {
        username: "flux".into(),
        password: "wrong".into(),
    });
    let err = git::reconcile(&e.store, &e.obj, &opts, None)
        .await
        .unwrap_err();
    assert!(matches!(err, git::Error::FetchFailed { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("GitRepository flux-system/podinfo: fetch from"),
        "{err}"
    );
    opts.auth.basic = None;
    let err = git::reconcile(&e.store, &e.obj, &opts, None)
        .await
        .unwrap_err();
    assert!(matches!(err, git::Error::FetchFailed { .. }), "{err:?}");
}

#[tokio::test]
async fn missing_refs_and_unreachable_hosts_are_clear_errors() {
    let e = env();
    let served = e.tmp.path().join("served");
    TestRepo::new(e.tmp.path(), &served, "podinfo", &files());
    let server = git_http_server(&served, None);
    let mut opts = GitRepositoryOptions::new(format!("{}/podinfo.git", server.url()));
    opts.reference.branch = Some("nope".into());
    let err = git::reconcile(&e.store, &e.obj, &opts, None)
        .await
        .unwrap_err();
    assert!(matches!(err, git::Error::RefNotFound { .. }), "{err:?}");
    assert!(
        err.to_string().contains("branch \"nope\" not found"),
        "{err}"
    );

    opts.reference = GitReference {
        tag: Some("v9".into()),
        ..Default::default()
    };
    let err = git::reconcile(&e.store, &e.obj, &opts, None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("tag \"v9\" not found"), "{err}");

    opts.reference = GitReference {
        semver: Some(">=5.0.0".into()),
        ..Default::default()
    };
    let err = git::reconcile(&e.store, &e.obj, &opts, None)
        .await
        .unwrap_err();
    assert!(matches!(err, git::Error::RefNotFound { .. }), "{err:?}");

    opts.reference = GitReference {
        branch: Some("main".into()),
        commit: Some("0".repeat(40)),
        ..Default::default()
    };
    let err = git::reconcile(&e.store, &e.obj, &opts, None)
        .await
        .unwrap_err();
    assert!(matches!(err, git::Error::RefNotFound { .. }), "{err:?}");

    let port = support::free_port();
    let mut opts = GitRepositoryOptions::new(format!("http://127.0.0.1:{port}/podinfo.git"));
    opts.timeout = Duration::from_secs(10);
    let start = Instant::now();
    let err = git::reconcile(&e.store, &e.obj, &opts, None)
        .await
        .unwrap_err();
    assert!(matches!(err, git::Error::FetchFailed { .. }), "{err:?}");
    assert!(start.elapsed() < Duration::from_secs(5));
}

fn artifacts_on_disk(store: &Store) -> usize {
    fn count(p: &Path) -> usize {
        std::fs::read_dir(p)
            .map(|rd| {
                rd.flatten()
                    .map(|e| {
                        if e.path().is_dir() {
                            count(&e.path())
                        } else {
                            usize::from(e.path().to_string_lossy().ends_with(".tar.gz"))
                        }
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    count(store.root())
}

#[tokio::test]
async fn hostile_repositories_fail_and_keep_the_previous_artifact() {
    let e = env();
    let served = e.tmp.path().join("served");
    let repo = TestRepo::new(e.tmp.path(), &served, "podinfo", &files());
    let server = git_http_server(&served, None);
    let mut opts = GitRepositoryOptions::new(format!("{}/podinfo.git", server.url()));
    opts.reference.branch = Some("main".into());
    opts.limits = Limits {
        max_bytes: 64 * 1024,
        max_files: 1000,
    };
    let (good, _) = updated(git::reconcile(&e.store, &e.obj, &opts, None).await.unwrap());

    std::os::unix::fs::symlink("/etc/passwd", repo.work.join("passwd")).unwrap();
    repo.commit("symlink out");
    repo.push();
    let err = git::reconcile(&e.store, &e.obj, &opts, None)
        .await
        .unwrap_err();
    let chain = format!(
        "{err}: {}",
        std::error::Error::source(&err)
            .map(|s| s.to_string())
            .unwrap_or_default()
    );
    assert!(
        chain.contains("GitRepository flux-system/podinfo: archiving failed"),
        "{chain}"
    );
    assert!(chain.contains("outside the source root"), "{chain}");
    assert!(e.store.local_path(&good).unwrap().exists());
    assert_eq!(artifacts_on_disk(&e.store), 1);

    std::fs::remove_file(repo.work.join("passwd")).unwrap();
    repo.write(&[("big.yaml", &"x".repeat(200 * 1024))]);
    repo.commit("huge");
    repo.push();
    let err = git::reconcile(&e.store, &e.obj, &opts, None)
        .await
        .unwrap_err();
    let src = std::error::Error::source(&err).unwrap().to_string();
    assert!(src.contains("size limit exceeded"), "{src}");
    assert!(e.store.local_path(&good).unwrap().exists());
    assert_eq!(artifacts_on_disk(&e.store), 1);
}

#[tokio::test]
async fn sourceignore_and_spec_ignore_are_applied() {
    let e = env();
    let served = e.tmp.path().join("served");
    let mut f = files();
    f.push((".sourceignore", "apps/b/\n"));
    f.push(("notes.txt", "x"));
    TestRepo::new(e.tmp.path(), &served, "podinfo", &f);
    let server = git_http_server(&served, None);
    let mut opts = GitRepositoryOptions::new(format!("{}/podinfo.git", server.url()));
    opts.reference.branch = Some("main".into());
    opts.ignore = Some("*.txt\n".into());
    let (a, _) = updated(git::reconcile(&e.store, &e.obj, &opts, None).await.unwrap());
    let out = extract(&e.store, &e.obj, &a);
    assert!(out.path().join("apps/a/app.yaml").exists());
    assert!(
        !out.path().join("apps/b").exists(),
        ".sourceignore excludes apps/b/"
    );
    assert!(
        !out.path().join("notes.txt").exists(),
        "spec.ignore excludes *.txt"
    );
    assert!(
        out.path().join("logo.png").exists(),
        "spec.ignore replaces the default extension excludes"
    );
}

#[tokio::test]
async fn sparse_checkout_and_include_shape_the_tree() {
    let e = env();
    let served = e.tmp.path().join("served");
    TestRepo::new(e.tmp.path(), &served, "podinfo", &files());
    TestRepo::new(
        e.tmp.path(),
        &served,
        "shared",
        &[
            ("base/common.yaml", "common: true\n"),
            ("other.yaml", "o\n"),
        ],
    );
    let server = git_http_server(&served, None);

    let shared_obj = ObjectRef::new("GitRepository", "flux-system", "shared");
    let mut shared = GitRepositoryOptions::new(format!("{}/shared.git", server.url()));
    shared.reference.branch = Some("main".into());
    let (shared_art, _) = updated(
        git::reconcile(&e.store, &shared_obj, &shared, None)
            .await
            .unwrap(),
    );

    let mut opts = GitRepositoryOptions::new(format!("{}/podinfo.git", server.url()));
    opts.reference.branch = Some("main".into());
    opts.sparse_checkout = vec!["apps/a".into()];
    opts.include = vec![GitInclude {
        object: shared_obj.clone(),
        artifact: shared_art.clone(),
        from_path: Some("base".into()),
        to_path: Some("vendor/base".into()),
    }];
    let (a, included) = updated(git::reconcile(&e.store, &e.obj, &opts, None).await.unwrap());
    assert_eq!(included, vec![shared_art.digest.clone()]);
    let out = extract(&e.store, &e.obj, &a);
    assert!(out.path().join("apps/a/app.yaml").exists());
    assert!(
        !out.path().join("apps/b").exists(),
        "outside the sparse checkout"
    );
    assert!(
        !out.path().join("deploy.yaml").exists(),
        "outside the sparse checkout"
    );
    assert_eq!(
        std::fs::read_to_string(out.path().join("vendor/base/common.yaml")).unwrap(),
        "common: true\n"
    );
    assert!(!out.path().join("vendor/base/other.yaml").exists());

    // Same commit, but the included artifact changed: not a no-op.
    let last = LastObserved {
        revision: a.revision.clone(),
        included_digests: vec!["sha256:old".into()],
    };
    let outcome = git::reconcile(&e.store, &e.obj, &opts, Some(&last))
        .await
        .unwrap();
    assert!(matches!(outcome, GitOutcome::Updated { .. }));
    let last = LastObserved {
        revision: a.revision.clone(),
        included_digests: included,
    };
    let outcome = git::reconcile(&e.store, &e.obj, &opts, Some(&last))
        .await
        .unwrap();
    assert!(matches!(outcome, GitOutcome::Unchanged { .. }));
}

#[tokio::test]
async fn submodules_are_checked_out_when_recursing() {
    let e = env();
    let served = e.tmp.path().join("served");
    let lib = TestRepo::new(e.tmp.path(), &served, "lib", &[("lib.yaml", "lib: 1\n")]);
    let app = TestRepo::new(e.tmp.path(), &served, "app", &[("app.yaml", "app: 1\n")]);
    let server = git_http_server(&served, None);
    support::git(
        &app.work,
        &[
            "-c",
            "protocol.file.allow=always",
            "submodule",
            "add",
            "-q",
            lib.bare.to_str().unwrap(),
            "vendor/lib",
        ],
    );
    // Point the recorded URL at the served relative path.
    std::fs::write(
        app.work.join(".gitmodules"),
        "[submodule \"vendor/lib\"]\n\tpath = vendor/lib\n\turl = ../lib.git\n",
    )
    .unwrap();
    app.commit("add submodule");
    app.push();
    let _ = lib;

    let mut opts = GitRepositoryOptions::new(format!("{}/app.git", server.url()));
    opts.reference.branch = Some("main".into());
    let (a, _) = updated(git::reconcile(&e.store, &e.obj, &opts, None).await.unwrap());
    let out = extract(&e.store, &e.obj, &a);
    assert!(!out.path().join("vendor/lib/lib.yaml").exists());

    opts.recurse_submodules = true;
    let (a, _) = updated(git::reconcile(&e.store, &e.obj, &opts, None).await.unwrap());
    let out = extract(&e.store, &e.obj, &a);
    assert_eq!(
        std::fs::read_to_string(out.path().join("vendor/lib/lib.yaml")).unwrap(),
        "lib: 1\n"
    );
}

#[tokio::test]
async fn resolve_lists_refs_without_fetching() {
    let e = env();
    let served = e.tmp.path().join("served");
    let repo = TestRepo::new(e.tmp.path(), &served, "podinfo", &files());
    let server = git_http_server(&served, None);
    let mut opts = GitRepositoryOptions::new(format!("{}/podinfo.git", server.url()));
    opts.reference.branch = Some("main".into());
    let r = git::resolve(&e.obj, &opts).await.unwrap();
    assert_eq!(r.commit, repo.head());
    assert_eq!(r.revision, format!("main@sha1:{}", repo.head()));
    assert_eq!(artifacts_on_disk(&e.store), 0);
}

#[tokio::test]
async fn ssh_urls_use_the_given_identity_and_fail_clearly_when_unreachable() {
    // No sshd runs here: this checks that the SSH path (identity and known_hosts written to
    // private files, `ssh` invoked by gix) turns a refused connection into a clear error.
    let e = env();
    let port = support::free_port();
    let mut opts = GitRepositoryOptions::new(format!("ssh://git@127.0.0.1:{port}/org/repo.git"));
    opts.reference.branch = Some("main".into());
    opts.auth.ssh = Some(git::SshAuth {
        identity: "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----\n".into(),
        known_hosts: format!("[127.0.0.1]:{port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"),
    });
    opts.timeout = Duration::from_secs(20);
    let err = git::reconcile(&e.store, &e.obj, &opts, None)
        .await
        .unwrap_err();
    assert!(matches!(err, git::Error::FetchFailed { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("GitRepository flux-system/podinfo: fetch from ssh://"),
        "{err}"
    );
    let mut chain = String::new();
    let mut cur: Option<&dyn std::error::Error> = Some(&err);
    while let Some(e) = cur {
        chain.push_str(&format!("{e}\n"));
        cur = e.source();
    }
    assert!(
        format!("{chain}{err:?}").contains("Connection refused"),
        "{chain}"
    );
    assert!(!err.to_string().contains("not-a-real-key"));
}
