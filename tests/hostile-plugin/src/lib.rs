//! A renderer that misbehaves on request (`{"mode": "..."}` in its config):
//! it loops forever, eats memory, recurses without end, returns gigantic
//! output, reads outside its tree, opens sockets, reads the environment or
//! panics. The hostile-plugin suite in `tests/plugin-host` uses it to prove
//! that every such plugin ends in a typed error and the host carries on.

// The WIT glue that wit-bindgen generates is `unsafe` by nature (raw exports).
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code, missing_docs)]
mod guest;

/// The object a well-behaved call returns.
pub fn ok_object() -> String {
    r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"ok"}}"#.to_string()
}

/// Recurses `depth` times without being optimized into a loop.
pub fn recurse(depth: u64) -> u64 {
    if depth == 0 {
        return 0;
    }
    let mut pad = [0u8; 256];
    pad[(depth % 256) as usize] = depth as u8;
    std::hint::black_box(&mut pad);
    recurse(depth - 1) + u64::from(pad[(depth % 256) as usize])
}
