//! Bucket against a real S3 API (moto server mode).

use gyre_test_support as support;

use gyre_source::bucket::{self, BucketOptions, BucketOutcome};
use gyre_source::{Limits, ObjectRef, Store, StoreOptions};

/// `bucket` alone creates the bucket (plain HTTP PUT, as moto allows); `bucket/key` uploads
/// a signed object through object_store.
async fn put(client: &reqwest::Client, port: u16, path: &str, body: &[u8]) {
    use object_store::ObjectStoreExt;
    match path.split_once('/') {
        None => {
            let resp = client
                .put(format!("http://127.0.0.1:{port}/{path}"))
                .send()
                .await
                .unwrap();
            assert!(
                resp.status().is_success(),
                "create bucket {path}: {}",
                resp.status()
            );
        }
        Some((bucket, key)) => {
            let s3 = object_store::aws::AmazonS3Builder::new()
                .with_bucket_name(bucket)
                .with_endpoint(format!("http://127.0.0.1:{port}"))
                .with_region("us-east-1")
                .with_allow_http(true)
                .with_access_key_id("test")
                .with_secret_access_key("test")
                .build()
                .unwrap();
            s3.put(&object_store::path::Path::from(key), body.to_vec().into())
                .await
                .unwrap();
        }
    }
}

fn opts(port: u16, bucket: &str) -> BucketOptions {
    let mut o = BucketOptions::new(bucket, format!("127.0.0.1:{port}"));
    o.insecure = true;
    o.access_key = Some("test".into());
    o.secret_key = Some("test".into());
    o
}

#[tokio::test]
async fn bucket_contents_become_an_artifact_with_an_etag_index_revision() {
    let tmp = tempfile::tempdir().unwrap();
    let (_moto, port) = support::start_moto();
    let http = reqwest::Client::new();
    put(&http, port, "manifests", b"").await;
    put(&http, port, "manifests/apps/app.yaml", b"app: 1\n").await;
    put(&http, port, "manifests/apps/secret.txt", b"nope").await;
    put(&http, port, "manifests/other/x.yaml", b"x: 1\n").await;
    put(&http, port, "manifests/.sourceignore", b"*.txt\n").await;

    let store = Store::new(StoreOptions::new(tmp.path().join("store"))).unwrap();
    let obj = ObjectRef::new("Bucket", "flux-system", "manifests");
    let o = opts(port, "manifests");
    let a = match bucket::reconcile(&store, &obj, &o, None).await.unwrap() {
        BucketOutcome::Updated(a) => a,
        other => panic!("{other:?}"),
    };
    assert!(a.revision.starts_with("sha256:"));
    let out = tempfile::tempdir().unwrap();
    store
        .extract(&obj, &a, out.path(), &Limits::default())
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(out.path().join("apps/app.yaml")).unwrap(),
        "app: 1\n"
    );
    assert!(
        !out.path().join("apps/secret.txt").exists(),
        ".sourceignore in the bucket applies"
    );

    match bucket::reconcile(&store, &obj, &o, Some(&a.revision))
        .await
        .unwrap()
    {
        BucketOutcome::Unchanged { revision } => assert_eq!(revision, a.revision),
        other => panic!("{other:?}"),
    }

    put(&http, port, "manifests/apps/app.yaml", b"app: 2\n").await;
    let b = match bucket::reconcile(&store, &obj, &o, Some(&a.revision))
        .await
        .unwrap()
    {
        BucketOutcome::Updated(b) => b,
        other => panic!("{other:?}"),
    };
    assert_ne!(b.revision, a.revision);

    let mut prefixed = o.clone();
    prefixed.prefix = Some("apps".into());
    prefixed.ignore = Some("*.txt\n".into());
    let c = match bucket::reconcile(&store, &obj, &prefixed, None)
        .await
        .unwrap()
    {
        BucketOutcome::Updated(c) => c,
        other => panic!("{other:?}"),
    };
    let out = tempfile::tempdir().unwrap();
    store
        .extract(&obj, &c, out.path(), &Limits::default())
        .unwrap();
    assert!(out.path().join("apps/app.yaml").exists());
    assert!(
        !out.path().join("other").exists(),
        "prefix limits the listing"
    );
}

#[tokio::test]
async fn missing_buckets_bad_endpoints_and_limits_fail_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let (_moto, port) = support::start_moto();
    let http = reqwest::Client::new();
    put(&http, port, "small", b"").await;
    put(&http, port, "small/big.bin", &vec![7u8; 10_000]).await;
    let store = Store::new(StoreOptions::new(tmp.path().join("store"))).unwrap();
    let obj = ObjectRef::new("Bucket", "default", "b");

    let err = bucket::reconcile(&store, &obj, &opts(port, "does-not-exist"), None)
        .await
        .unwrap_err();
    assert!(matches!(err, bucket::Error::ListFailed { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("Bucket default/b: listing bucket does-not-exist failed"),
        "{err}"
    );

    let mut o = opts(port, "small");
    o.limits = Limits {
        max_bytes: 1000,
        max_files: 10,
    };
    let err = bucket::reconcile(&store, &obj, &o, None).await.unwrap_err();
    assert!(matches!(err, bucket::Error::TooLarge { .. }), "{err:?}");

    let dead = support::free_port();
    let mut o = opts(dead, "small");
    o.timeout = std::time::Duration::from_secs(20);
    let err = bucket::reconcile(&store, &obj, &o, None).await.unwrap_err();
    assert!(
        matches!(
            err,
            bucket::Error::ListFailed { .. } | bucket::Error::Timeout { .. }
        ),
        "{err:?}"
    );
}
