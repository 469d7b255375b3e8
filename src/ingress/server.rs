//! The accept loop: a cap on open connections, per-connection hyper settings taken from the
//! configuration in force, and a graceful stop.

use super::budget::Budget;
use super::handler;
use super::rejections::Rejections;
use crate::live::LiveRx;
use crate::relay::Relay;
use crate::store::Writer;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;

/// How long a stop waits for requests in progress before it drops them.
const DRAIN: Duration = Duration::from_secs(5);

/// State shared by every connection of the receiver.
pub(super) struct Ctx {
    pub live: LiveRx,
    pub writer: Writer,
    pub relay: Relay,
    /// Body bytes read but not yet committed (the `inflight_body_bytes` budget).
    pub budget: Arc<Budget>,
    pub rejections: Arc<Rejections>,
    /// Captures under way; each runs to its end even when its sender has hung up.
    pub tasks: TaskTracker,
    open: AtomicUsize,
    freed: Notify,
}

/// A running receiver.
pub struct Receiver {
    ctx: Arc<Ctx>,
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Receiver {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Body bytes held in memory now, waiting for the disk.
    pub fn inflight_body_bytes(&self) -> u64 {
        self.ctx.budget.used()
    }

    /// Stops accepting, lets requests in progress finish (they are answered only once stored),
    /// waits for every capture whose sender hung up to be stored and handed to the relay, then
    /// returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        self.ctx.tasks.close();
        if tokio::time::timeout(DRAIN, self.ctx.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("receiver stopped with captures still being stored");
        }
    }
}

/// Starts the receiver on an already bound listener.
pub fn serve(
    listener: TcpListener,
    live: LiveRx,
    writer: Writer,
    relay: Relay,
) -> std::io::Result<Receiver> {
    let local_addr = listener.local_addr()?;
    let ctx = Arc::new(Ctx {
        live,
        writer,
        relay,
        budget: Arc::default(),
        rejections: Arc::default(),
        tasks: TaskTracker::new(),
        open: AtomicUsize::new(0),
        freed: Notify::new(),
    });
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(accept_loop(listener, ctx.clone(), stopped));
    Ok(Receiver {
        ctx,
        local_addr,
        stop,
        task,
    })
}

async fn accept_loop(listener: TcpListener, ctx: Arc<Ctx>, mut stopped: watch::Receiver<bool>) {
    let graceful = GracefulShutdown::new();
    loop {
        // At the cap, leave new connections in the kernel's backlog until one closes.
        loop {
            let cap = ctx.live.borrow().config.receiver.max_connections as usize;
            if ctx.open.load(Ordering::Acquire) < cap {
                break;
            }
            tokio::select! {
                _ = ctx.freed.notified() => {}
                _ = stopped.changed() => return drain(graceful).await,
            }
        }
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.changed() => break,
        };
        let (stream, remote) = match accepted {
            Ok(pair) => pair,
            Err(error) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        ctx.open.fetch_add(1, Ordering::AcqRel);
        let builder = connection_builder(&ctx);
        let service_ctx = ctx.clone();
        let service =
            service_fn(move |request| handler::handle(service_ctx.clone(), remote, request));
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        let ctx = ctx.clone();
        tokio::spawn(async move {
            // Malformed HTTP, timeouts and resets end here; hyper already answered what it could.
            if let Err(error) = connection.await {
                tracing::debug!(%error, %remote, "receiver connection ended with an error");
            }
            ctx.open.fetch_sub(1, Ordering::AcqRel);
            ctx.freed.notify_one();
        });
    }
    drain(graceful).await;
}

async fn drain(graceful: GracefulShutdown) {
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("receiver stopped with requests still in progress");
    }
}

fn connection_builder(ctx: &Ctx) -> http1::Builder {
    let live = ctx.live.borrow();
    let limits = &live.config.receiver;
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(limits.header_timeout_ms))
        // Heads up to twice the limit reach the handler, which counts the limit exactly and
        // records the refusal; past that hyper answers 431 itself (its floor is 8 KiB).
        .max_buf_size(
            usize::try_from(limits.max_header_bytes.saturating_mul(2))
                .unwrap_or(usize::MAX)
                .max(16 * 1024),
        )
        .max_headers(512);
    builder
}
