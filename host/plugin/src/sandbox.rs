//! The per-call sandbox: a WASI context with no network, no environment, no
//! arguments, no inherited stdio and (for renderers) the artifact tree
//! preopened read-only at [`ARTIFACT_GUEST_PATH`]; the log import; and the
//! capped stderr pipe that feeds the host's log.

use crate::bindings::gyre::plugin::log::{self, Level};
use crate::limits::{Limits, MemoryLimiter};
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use wasmtime::component::ResourceTable;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// Where renderers find the artifact tree.
pub const ARTIFACT_GUEST_PATH: &str = "/src";

/// State of one plugin call; dropped with its `Store` when the call ends.
pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    plugin: Arc<str>,
    log_budget: usize,
    logs_dropped: usize,
    pub(crate) stderr: CappedPipe,
}

impl HostState {
    /// Builds the sandbox for one call. `tree` is preopened read-only when
    /// given; nothing else of the host is visible.
    pub(crate) fn new(
        plugin: Arc<str>,
        limits: &Limits,
        tree: Option<&Path>,
    ) -> Result<Self, wasmtime::Error> {
        let stderr = CappedPipe::new(limits.log_bytes);
        let mut b = WasiCtxBuilder::new();
        // Nothing inherited: no env, args, stdin or stdout. Sockets are
        // denied outright (the default check refuses every address, but
        // stating it keeps it true if defaults change).
        b.stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }))
            // File I/O runs on the calling thread instead of being handed to tokio's
            // blocking pool per operation: a call never runs on a runtime thread (see
            // `Plugin::call`), and the hand-off cost tens of microseconds per read, more
            // than the read itself for a chart's many small files. Must be set before the
            // preopen, which captures it.
            .allow_blocking_current_thread(true);
        if let Some(tree) = tree {
            b.preopened_dir(tree, ARTIFACT_GUEST_PATH, FsPerms::ReadOnly)?;
        }
        Ok(HostState {
            wasi: b.build(),
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(limits.memory_bytes),
            plugin,
            log_budget: limits.log_bytes,
            logs_dropped: 0,
            stderr,
        })
    }

    /// Logs what the guest wrote to stderr and how many log records were
    /// dropped; called once the call is over.
    pub(crate) fn flush_logs(&self) {
        let text = self.stderr.contents();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            tracing::debug!(plugin = %self.plugin, stream = "stderr", "{line}");
        }
        if self.logs_dropped > 0 || self.stderr.dropped() > 0 {
            tracing::warn!(
                plugin = %self.plugin,
                records = self.logs_dropped,
                stderr_bytes = self.stderr.dropped(),
                "plugin log output over its cap was dropped"
            );
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl log::Host for HostState {
    fn log(&mut self, level: Level, message: String) {
        if message.len() > self.log_budget {
            self.logs_dropped += 1;
            return;
        }
        self.log_budget -= message.len();
        let plugin = &*self.plugin;
        match level {
            Level::Trace => tracing::trace!(plugin, "{message}"),
            Level::Debug => tracing::debug!(plugin, "{message}"),
            Level::Info => tracing::info!(plugin, "{message}"),
            Level::Warn => tracing::warn!(plugin, "{message}"),
            Level::Error => tracing::error!(plugin, "{message}"),
        }
    }
}

/// An in-memory stderr that keeps the first `cap` bytes and silently drops
/// the rest, so a chatty guest neither traps nor grows the host's memory.
#[derive(Clone)]
pub(crate) struct CappedPipe {
    inner: Arc<Mutex<Captured>>,
}

struct Captured {
    buf: Vec<u8>,
    cap: usize,
    dropped: usize,
}

impl CappedPipe {
    fn new(cap: usize) -> Self {
        CappedPipe {
            inner: Arc::new(Mutex::new(Captured {
                buf: Vec::new(),
                cap,
                dropped: 0,
            })),
        }
    }

    fn append(&self, bytes: &[u8]) {
        let mut c = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let room = c.cap.saturating_sub(c.buf.len());
        let keep = room.min(bytes.len());
        c.buf.extend_from_slice(&bytes[..keep]);
        c.dropped += bytes.len() - keep;
    }

    /// What was captured, as text.
    pub(crate) fn contents(&self) -> String {
        let c = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&c.buf).into_owned()
    }

    fn dropped(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).dropped
    }

    /// The last `max` bytes of stderr, for error messages (a Rust panic
    /// message is printed just before the trap).
    pub(crate) fn tail(&self, max: usize) -> String {
        let text = self.contents();
        let text = text.trim_end();
        if text.len() <= max {
            return text.to_string();
        }
        let mut start = text.len() - max;
        while !text.is_char_boundary(start) {
            start += 1;
        }
        format!("…{}", &text[start..])
    }
}

impl IsTerminal for CappedPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CappedPipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for CappedPipe {
    fn write(&mut self, bytes: bytes::Bytes) -> Result<(), StreamError> {
        self.append(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }
    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(64 * 1024)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CappedPipe {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for CappedPipe {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_pipe_keeps_the_head_and_counts_the_rest() {
        let p = CappedPipe::new(5);
        p.append(b"hello world");
        assert_eq!(p.contents(), "hello");
        assert_eq!(p.dropped(), 6);
        assert_eq!(p.tail(3), "…llo");
    }
}
