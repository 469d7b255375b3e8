//! The relay's tasks (the engine, every attempt), cut off and waited for by a stop.

/// Tasks a stop cuts off and waits for, so none is left detached.
#[derive(Clone, Default)]
pub(super) struct Tracked {
    tracker: tokio_util::task::TaskTracker,
    cancel: tokio_util::sync::CancellationToken,
}

impl Tracked {
    pub fn spawn(&self, work: impl std::future::Future<Output = ()> + Send + 'static) {
        let cancel = self.cancel.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                _ = cancel.cancelled() => {}
                _ = work => {}
            }
        });
    }

    /// Cuts off every task and returns once all have ended.
    pub async fn stop(&self) {
        self.tracker.close();
        self.cancel.cancel();
        self.tracker.wait().await;
    }
}
