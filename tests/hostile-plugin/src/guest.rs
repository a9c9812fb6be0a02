//! The misbehaviours, selected by `config.mode`.

use crate::{ok_object, recurse};
use serde_json::Value;

wit_bindgen::generate!({ path: "../../wit", world: "renderer" });

use exports::gyre::plugin::render::{Guest, RenderOutput, RenderRequest};
use gyre::plugin::log::{Level, log};
use gyre::plugin::types::PluginError;

struct Hostile;

fn ok(objects: Vec<String>, warnings: Vec<String>) -> Result<RenderOutput, PluginError> {
    Ok(RenderOutput {
        objects,
        origins: Vec::new(),
        warnings,
    })
}

impl Guest for Hostile {
    fn render(request: RenderRequest) -> Result<RenderOutput, PluginError> {
        let config: Value = serde_json::from_str(&request.config)
            .map_err(|e| PluginError::InvalidConfig(e.to_string()))?;
        let arg = |k: &str| {
            config
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        match arg("mode").as_str() {
            "ok" => ok(vec![ok_object()], vec![]),
            "loop" => {
                let mut i: u64 = 0;
                loop {
                    i = std::hint::black_box(i.wrapping_add(1));
                }
            }
            "memory" => {
                let mut hog: Vec<Vec<u8>> = Vec::new();
                loop {
                    hog.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hog);
                }
            }
            "recursion" => {
                let n = recurse(std::hint::black_box(u64::MAX));
                ok(vec![ok_object()], vec![n.to_string()])
            }
            "huge-output" => {
                let bytes: usize = config
                    .get("bytes")
                    .and_then(Value::as_u64)
                    .unwrap_or(1 << 20) as usize;
                let filler = "x".repeat(bytes);
                let obj = format!(
                    r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"big"}},"data":{{"x":"{filler}"}}}}"#
                );
                ok(vec![obj], vec![])
            }
            "malformed" => ok(vec!["{not json".into()], vec![]),
            "nameless" => ok(
                vec![r#"{"apiVersion":"v1","kind":"ConfigMap"}"#.into()],
                vec![],
            ),
            "read" => {
                let path = arg("path");
                match std::fs::read_to_string(&path) {
                    Ok(text) => ok(
                        vec![ok_object()],
                        vec![format!("read {path}: {} bytes", text.len()), text],
                    ),
                    Err(e) => Err(PluginError::Internal(format!("read {path}: {e}"))),
                }
            }
            "write" => match std::fs::write(arg("path"), b"pwned") {
                Ok(()) => ok(vec![ok_object()], vec!["wrote".into()]),
                Err(e) => Err(PluginError::Internal(format!("write: {e}"))),
            },
            "socket" => match std::net::TcpStream::connect(arg("addr")) {
                Ok(_) => ok(vec![ok_object()], vec!["connected".into()]),
                Err(e) => Err(PluginError::Internal(format!("connect: {e}"))),
            },
            "env" => {
                let vars: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
                let args: Vec<String> = std::env::args().collect();
                ok(vec![ok_object()], vars.into_iter().chain(args).collect())
            }
            "panic" => panic!("hostile plugin panicked on purpose"),
            "log-flood" => {
                // 2 MiB to each stream, far over the 64 KiB the tests allow.
                for i in 0..2048 {
                    log(Level::Info, &format!("line {i} {}", "y".repeat(1024)));
                    eprintln!("stderr line {i} {}", "z".repeat(1024));
                }
                ok(vec![ok_object()], vec![])
            }
            other => Err(PluginError::InvalidConfig(format!(
                "unknown mode {other:?}"
            ))),
        }
    }
}

export!(Hostile);
