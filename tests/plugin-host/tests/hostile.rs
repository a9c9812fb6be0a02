//! The hostile-plugin suite: every misbehaviour ends in its typed error
//! within the limits, and the next call on the same host succeeds.

use gyre_plugin::{EngineOptions, Error, Limits, Plugin, PluginEngine, RenderOutput, World};
use gyre_plugin_tests::hostile_wasm;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn limits() -> Limits {
    Limits {
        memory_bytes: 64 << 20,
        timeout: Duration::from_secs(1),
        output_bytes: 1 << 20,
        log_bytes: 64 << 10,
    }
}

fn engine() -> &'static PluginEngine {
    static ENGINE: OnceLock<PluginEngine> = OnceLock::new();
    ENGINE.get_or_init(|| PluginEngine::new(EngineOptions::default()).expect("engine"))
}

fn hostile() -> &'static Plugin {
    static PLUGIN: OnceLock<Plugin> = OnceLock::new();
    PLUGIN.get_or_init(|| {
        engine()
            .load_as("hostile", &hostile_wasm(), World::Renderer, limits())
            .expect("hostile plugin loads")
    })
}

/// An artifact tree with one file inside and a secret outside it.
struct Tree {
    root: tempfile::TempDir,
    outside: tempfile::TempDir,
}

const SECRET: &str = "TOP-SECRET-CONTENT";

fn tree() -> Tree {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("inside.yaml"), "kind: ConfigMap\n").unwrap();
    std::fs::write(outside.path().join("secret.txt"), SECRET).unwrap();
    std::os::unix::fs::symlink(outside.path(), root.path().join("escape")).unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        root.path().join("secret-link"),
    )
    .unwrap();
    Tree { root, outside }
}

fn run(tree: &Path, config: serde_json::Value) -> Result<RenderOutput, Error> {
    hostile().render(tree, ".", &config.to_string())
}

fn assert_next_call_succeeds() {
    let t = tree();
    let out = run(t.root.path(), serde_json::json!({"mode": "ok"}))
        .expect("a well-behaved call after a hostile one succeeds");
    assert_eq!(out.objects[0]["metadata"]["name"], "ok");
}

#[test]
fn infinite_loop_is_stopped_at_the_deadline() {
    let t = tree();
    let start = Instant::now();
    let err = run(t.root.path(), serde_json::json!({"mode": "loop"})).unwrap_err();
    let took = start.elapsed();
    assert!(
        matches!(err, Error::Timeout { limit, .. } if limit == Duration::from_secs(1)),
        "{err}"
    );
    assert!(
        took < Duration::from_secs(5),
        "deadline of 1 s took {took:?}"
    );
    assert!(
        err.to_string().contains("hostile") && err.to_string().contains("deadline"),
        "{err}"
    );
    assert_next_call_succeeds();
}

#[test]
fn memory_bomb_hits_the_memory_limit() {
    let t = tree();
    let err = run(t.root.path(), serde_json::json!({"mode": "memory"})).unwrap_err();
    assert!(
        matches!(err, Error::MemoryLimit { limit, .. } if limit == 64 << 20),
        "{err}"
    );
    assert_next_call_succeeds();
}

#[test]
fn unbounded_recursion_is_a_stack_overflow() {
    let t = tree();
    let err = run(t.root.path(), serde_json::json!({"mode": "recursion"})).unwrap_err();
    // Rust guests keep their frames' data on a shadow stack in linear
    // memory, which usually runs out before wasmtime's native stack does:
    // that ends as an out-of-bounds trap; a guest whose frames live on the
    // wasm stack ends as a stack overflow. Either way a typed error.
    let ok = match &err {
        Error::StackOverflow { .. } => true,
        Error::Trapped { trap, .. } => trap.contains("out of bounds"),
        _ => false,
    };
    assert!(ok, "{err}");
    assert_next_call_succeeds();
}

#[test]
fn gigantic_output_is_refused_over_the_cap() {
    let t = tree();
    let err = run(
        t.root.path(),
        serde_json::json!({"mode": "huge-output", "bytes": 2 << 20}),
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::OutputTooLarge { limit, size, .. } if limit == 1 << 20 && size > 2 << 20),
        "{err}"
    );
    // Just under the cap is fine.
    run(
        t.root.path(),
        serde_json::json!({"mode": "huge-output", "bytes": 512 << 10}),
    )
    .expect("output under the cap");
    assert_next_call_succeeds();
}

#[test]
fn malformed_and_nameless_objects_are_rejected() {
    let t = tree();
    for mode in ["malformed", "nameless"] {
        let err = run(t.root.path(), serde_json::json!({ "mode": mode })).unwrap_err();
        assert!(
            matches!(err, Error::MalformedOutput { .. }),
            "{mode}: {err}"
        );
    }
    assert_next_call_succeeds();
}

#[test]
fn reading_inside_the_tree_works_and_nothing_outside_is_visible() {
    let t = tree();
    let inside = run(
        t.root.path(),
        serde_json::json!({"mode": "read", "path": "/src/inside.yaml"}),
    )
    .unwrap();
    assert!(inside.warnings[1].contains("ConfigMap"));
    let outside_abs = t.outside.path().join("secret.txt").display().to_string();
    for path in [
        "/src/../etc/passwd".to_string(),
        "/src/../../../../etc/passwd".to_string(),
        "/etc/passwd".to_string(),
        "../secret.txt".to_string(),
        outside_abs.clone(),
        format!("/src/..{outside_abs}"),
        "/src/escape/secret.txt".to_string(),
        "/src/secret-link".to_string(),
    ] {
        let err = run(
            t.root.path(),
            serde_json::json!({"mode": "read", "path": path}),
        )
        .unwrap_err();
        assert!(matches!(err, Error::PluginFailed { .. }), "{path}: {err}");
        assert!(
            !err.to_string().contains(SECRET),
            "{path} leaked the secret"
        );
    }
    assert_next_call_succeeds();
}

#[test]
fn the_tree_is_read_only() {
    let t = tree();
    let err = run(
        t.root.path(),
        serde_json::json!({"mode": "write", "path": "/src/new.txt"}),
    )
    .unwrap_err();
    assert!(matches!(err, Error::PluginFailed { .. }), "{err}");
    assert!(!t.root.path().join("new.txt").exists());
    assert_next_call_succeeds();
}

#[test]
fn sockets_are_denied() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let t = tree();
    let err = run(
        t.root.path(),
        serde_json::json!({"mode": "socket", "addr": addr}),
    )
    .unwrap_err();
    assert!(err.to_string().contains("connect:"), "{err}");
    assert!(
        listener.accept().is_err(),
        "the plugin reached the host's listener"
    );
    assert_next_call_succeeds();
}

#[test]
fn the_environment_and_arguments_are_empty() {
    // The host process has variables (PATH at least); none may reach the guest.
    assert!(std::env::var("PATH").is_ok(), "the host has an environment");
    let t = tree();
    let out = run(t.root.path(), serde_json::json!({"mode": "env"})).unwrap();
    assert!(out.warnings.is_empty(), "guest saw {:?}", out.warnings);
    assert_next_call_succeeds();
}

#[test]
fn a_panic_is_a_trap_carrying_the_panic_message() {
    let t = tree();
    let err = run(t.root.path(), serde_json::json!({"mode": "panic"})).unwrap_err();
    match &err {
        Error::Trapped { stderr, .. } => {
            assert!(stderr.contains("panicked on purpose"), "{stderr}")
        }
        other => panic!("expected a trap, got {other}"),
    }
    assert_next_call_succeeds();
}

#[test]
fn log_floods_are_capped_not_fatal() {
    let t = tree();
    run(t.root.path(), serde_json::json!({"mode": "log-flood"}))
        .expect("flooding the log is not an error");
    assert_next_call_succeeds();
}

#[test]
fn a_plugin_of_another_world_is_refused() {
    let webhook = gyre_builtins::get("webhook").unwrap();
    let err = engine()
        .load_as("webhook", webhook.bytes, World::Renderer, limits())
        .unwrap_err();
    assert!(
        matches!(&err, Error::WrongWorld { expected: World::Renderer, found, .. } if found == &[World::Notifier]),
        "{err}"
    );
    assert!(err.to_string().contains("notifier"), "{err}");

    let policy = engine()
        .load(
            "image-policy",
            gyre_builtins::get("image-policy").unwrap().bytes,
            limits(),
        )
        .unwrap();
    let t = tree();
    assert!(matches!(
        policy.render(t.root.path(), ".", "{}"),
        Err(Error::WrongWorld { .. })
    ));
    assert_next_call_succeeds();
}

#[test]
fn non_components_are_refused_before_compiling() {
    let core_module = b"\0asm\x01\0\0\0";
    assert!(matches!(
        engine().load("core", core_module, limits()),
        Err(Error::NotAComponent { .. })
    ));
    assert!(matches!(
        engine().load("zip", b"PK\x03\x04....", limits()),
        Err(Error::NotAComponent { .. })
    ));
    let truncated = &hostile_wasm()[..1000];
    assert!(matches!(
        engine().load("truncated", truncated, limits()),
        Err(Error::CompileFailed { .. })
    ));
}

#[test]
fn render_paths_outside_the_tree_are_refused_by_the_host() {
    let t = tree();
    for p in ["../x", "/etc", "a/../../b"] {
        assert!(
            matches!(
                hostile().render(t.root.path(), p, r#"{"mode":"ok"}"#),
                Err(Error::BadRenderPath(_))
            ),
            "{p}"
        );
    }
}
