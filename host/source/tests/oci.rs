//! OCIRepository and `push_artifact` against a real registry (Debian's docker-registry).

use gyre_test_support as support;

use gyre_source::oci::{self, LayerOperation, OciOutcome, OciRepositoryOptions, PushOptions};
use gyre_source::{Artifact, Limits, ObjectRef, Store, StoreOptions};

fn push_opts() -> PushOptions {
    PushOptions {
        insecure: true,
        ..Default::default()
    }
}

fn content(dir: &std::path::Path, marker: &str) {
    std::fs::create_dir_all(dir.join("apps")).unwrap();
    std::fs::write(dir.join("apps/app.yaml"), format!("marker: {marker}\n")).unwrap();
    std::fs::write(dir.join("logo.png"), "excluded by default").unwrap();
}

fn updated(o: OciOutcome) -> Artifact {
    match o {
        OciOutcome::Updated(a) => a,
        OciOutcome::Unchanged { revision } => {
            panic!("expected a new artifact, got unchanged {revision}")
        }
    }
}

#[tokio::test]
async fn pushes_and_pulls_flux_artifacts_by_tag_semver_and_digest() {
    let tmp = tempfile::tempdir().unwrap();
    let (_reg, port) = support::start_registry(tmp.path());
    let store = Store::new(StoreOptions::new(tmp.path().join("store"))).unwrap();
    let obj = ObjectRef::new("OCIRepository", "flux-system", "manifests");
    let src = tmp.path().join("src");
    content(&src, "one");
    let d1 = oci::push_artifact(
        &src,
        &format!("oci://127.0.0.1:{port}/org/manifests:v1.0.0"),
        "https://github.com/org/app",
        "main@sha1:1111111111111111111111111111111111111111",
        &push_opts(),
    )
    .await
    .unwrap();
    content(&src, "two");
    let d2 = oci::push_artifact(
        &src,
        &format!("127.0.0.1:{port}/org/manifests:v1.1.0"),
        "https://github.com/org/app",
        "main@sha1:2222222222222222222222222222222222222222",
        &push_opts(),
    )
    .await
    .unwrap();
    assert_ne!(d1, d2);

    let mut opts = OciRepositoryOptions::new(format!("oci://127.0.0.1:{port}/org/manifests"));
    opts.insecure = true;
    opts.reference.tag = Some("v1.0.0".into());
    let a = updated(oci::reconcile(&store, &obj, &opts, None).await.unwrap());
    assert_eq!(a.revision, format!("v1.0.0@{d1}"));
    assert_eq!(
        a.metadata.get(oci::ANNOTATION_SOURCE).map(String::as_str),
        Some("https://github.com/org/app")
    );
    assert_eq!(
        a.metadata.get(oci::ANNOTATION_REVISION).map(String::as_str),
        Some("main@sha1:1111111111111111111111111111111111111111")
    );
    assert!(a.metadata.contains_key(oci::ANNOTATION_CREATED));
    let out = tempfile::tempdir().unwrap();
    store
        .extract(&obj, &a, out.path(), &Limits::default())
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(out.path().join("apps/app.yaml")).unwrap(),
        "marker: one\n"
    );
    assert!(
        !out.path().join("logo.png").exists(),
        "push applies the default excludes"
    );

    // No-op when the tag still points at the same manifest.
    match oci::reconcile(&store, &obj, &opts, Some(&a.revision))
        .await
        .unwrap()
    {
        OciOutcome::Unchanged { revision } => assert_eq!(revision, a.revision),
        other => panic!("expected unchanged, got {other:?}"),
    }

    opts.reference = oci::OciReference {
        semver: Some(">=1.0.0".into()),
        ..Default::default()
    };
    let b = updated(oci::reconcile(&store, &obj, &opts, None).await.unwrap());
    assert_eq!(b.revision, format!("v1.1.0@{d2}"));

    opts.reference = oci::OciReference {
        digest: Some(d1.clone()),
        ..Default::default()
    };
    let c = updated(oci::reconcile(&store, &obj, &opts, None).await.unwrap());
    assert_eq!(c.revision, d1);
    assert_eq!(c.digest, a.digest, "same content gives the same artifact");

    // layerSelector copy stores the blob as pushed.
    opts.reference = oci::OciReference {
        tag: Some("v1.1.0".into()),
        ..Default::default()
    };
    opts.layer_selector.media_type = Some(oci::FLUX_CONTENT_MEDIA_TYPE.into());
    opts.layer_selector.operation = LayerOperation::Copy;
    let copied = updated(oci::reconcile(&store, &obj, &opts, None).await.unwrap());
    let out = tempfile::tempdir().unwrap();
    store
        .extract(&obj, &copied, out.path(), &Limits::default())
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(out.path().join("apps/app.yaml")).unwrap(),
        "marker: two\n"
    );

    opts.layer_selector.media_type = Some("application/vnd.example.none".into());
    let err = oci::reconcile(&store, &obj, &opts, None).await.unwrap_err();
    assert!(matches!(err, oci::Error::LayerNotFound { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("OCIRepository flux-system/manifests:"),
        "{err}"
    );
}

#[tokio::test]
async fn missing_tags_unreachable_registries_and_limits_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let (_reg, port) = support::start_registry(tmp.path());
    let store = Store::new(StoreOptions::new(tmp.path().join("store"))).unwrap();
    let obj = ObjectRef::new("OCIRepository", "default", "app");
    let src = tmp.path().join("src");
    content(&src, "one");
    std::fs::write(src.join("big.yaml"), "x".repeat(100_000)).unwrap();
    oci::push_artifact(
        &src,
        &format!("127.0.0.1:{port}/org/app:v1"),
        "src",
        "rev",
        &push_opts(),
    )
    .await
    .unwrap();

    let mut opts = OciRepositoryOptions::new(format!("oci://127.0.0.1:{port}/org/app"));
    opts.insecure = true;
    opts.reference.tag = Some("nope".into());
    let err = oci::reconcile(&store, &obj, &opts, None).await.unwrap_err();
    assert!(matches!(err, oci::Error::ResolveFailed { .. }), "{err:?}");

    opts.reference.tag = Some("v1".into());
    opts.limits = Limits {
        max_bytes: 1024,
        max_files: 100,
    };
    let err = oci::reconcile(&store, &obj, &opts, None).await.unwrap_err();
    assert!(
        matches!(
            err,
            oci::Error::LayerTooLarge { .. } | oci::Error::ExtractFailed { .. }
        ),
        "{err:?}"
    );

    let dead = support::free_port();
    let mut opts = OciRepositoryOptions::new(format!("oci://127.0.0.1:{dead}/org/app"));
    opts.insecure = true;
    let err = oci::reconcile(&store, &obj, &opts, None).await.unwrap_err();
    assert!(matches!(err, oci::Error::ResolveFailed { .. }), "{err:?}");

    let err = oci::reconcile(
        &store,
        &obj,
        &OciRepositoryOptions::new("https://not-oci/x"),
        None,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, oci::Error::InvalidSpec { .. }), "{err:?}");
}

/// Push a hand-made layer (bypassing push_artifact) to test hostile content.
async fn push_raw_layer(port: u16, repo_tag: &str, layer: Vec<u8>) {
    use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
    let client = oci_client::Client::new(ClientConfig {
        protocol: ClientProtocol::Http,
        ..Default::default()
    });
    let image: oci_client::Reference = format!("127.0.0.1:{port}/{repo_tag}").parse().unwrap();
    let layers = vec![ImageLayer::new(
        layer,
        oci::FLUX_CONTENT_MEDIA_TYPE.into(),
        None,
    )];
    let config = Config::new(b"{}".to_vec(), oci::FLUX_CONFIG_MEDIA_TYPE.into(), None);
    client
        .push(
            &image,
            &layers,
            config,
            &oci_client::secrets::RegistryAuth::Anonymous,
            None,
        )
        .await
        .unwrap();
}

fn tar_gz_with_raw_name(name: &str, kind: tar::EntryType, link: Option<&str>) -> Vec<u8> {
    use std::io::Write;
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_old();
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    if let Some(l) = link {
        h.as_old_mut().linkname[..l.len()].copy_from_slice(l.as_bytes());
    }
    h.set_entry_type(kind);
    h.set_size(1);
    h.set_mode(0o644);
    h.set_cksum();
    b.append(&h, &b"x"[..]).unwrap();
    let raw = b.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&raw).unwrap();
    gz.finish().unwrap()
}

#[tokio::test]
async fn hostile_and_corrupt_layers_fail_and_keep_the_previous_artifact() {
    let tmp = tempfile::tempdir().unwrap();
    let (_reg, port) = support::start_registry(tmp.path());
    let store = Store::new(StoreOptions::new(tmp.path().join("store"))).unwrap();
    let obj = ObjectRef::new("OCIRepository", "default", "app");
    let src = tmp.path().join("src");
    content(&src, "good");
    oci::push_artifact(
        &src,
        &format!("127.0.0.1:{port}/org/app:good"),
        "src",
        "rev",
        &push_opts(),
    )
    .await
    .unwrap();
    let mut opts = OciRepositoryOptions::new(format!("oci://127.0.0.1:{port}/org/app"));
    opts.insecure = true;
    opts.reference.tag = Some("good".into());
    let good = updated(oci::reconcile(&store, &obj, &opts, None).await.unwrap());

    push_raw_layer(
        port,
        "org/app:traversal",
        tar_gz_with_raw_name("../../escape.txt", tar::EntryType::Regular, None),
    )
    .await;
    push_raw_layer(
        port,
        "org/app:symlink",
        tar_gz_with_raw_name("passwd", tar::EntryType::Symlink, Some("/etc/passwd")),
    )
    .await;
    push_raw_layer(
        port,
        "org/app:corrupt",
        b"\x1f\x8b\x08\x00garbage-not-deflate".to_vec(),
    )
    .await;
    for tag in ["traversal", "symlink", "corrupt"] {
        opts.reference.tag = Some(tag.into());
        let err = oci::reconcile(&store, &obj, &opts, Some(&good.revision))
            .await
            .unwrap_err();
        assert!(
            matches!(err, oci::Error::ExtractFailed { .. }),
            "{tag}: {err:?}"
        );
        let cause = std::error::Error::source(&err).unwrap().to_string();
        assert!(
            cause.contains("unsafe path")
                || cause.contains("outside the source root")
                || cause.contains("corrupted"),
            "{tag}: {cause}"
        );
        assert!(store.local_path(&good).unwrap().exists());
    }
    assert!(!tmp.path().join("escape.txt").exists());
}
