//! `listen`: wires the store, the receiver, the control API, live configuration and the headless
//! output together, and takes them down in order.

use crate::api::{self, ApiServer, ApiState};
use crate::config::{self, Config, Reload};
use crate::identity::Identity;
use crate::ingress::{self, Receiver};
use crate::instance::{DataDir, InstanceInfo};
use crate::live::Live;
use crate::model::{Lifecycle, now};
use crate::relay::Relay;
use crate::store::{DiskFull, Store, StoreOptions, Writer};
use anyhow::Context;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Debounce for configuration edits (editors write in several steps).
const RELOAD_DEBOUNCE: Duration = Duration::from_millis(200);

#[derive(Clone, Default)]
pub struct ListenOptions {
    pub config_path: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub bind: Option<SocketAddr>,
    pub api_bind: Option<SocketAddr>,
    pub forward: Vec<String>,
    /// Fault injection for tests.
    pub disk_full: Option<DiskFull>,
}

/// A running receiver + control API over one history.
pub struct Instance {
    receiver: Receiver,
    api: ApiServer,
    relay: Relay,
    store: Store,
    writer: Writer,
    data: DataDir,
    live: watch::Sender<Arc<Live>>,
    reload: Option<JoinHandle<()>>,
    /// Log head when the instance started: headless output prints what comes after it.
    started_at_seq: u64,
}

/// Loads the configuration the instance starts with: the file if given, else the embedded
/// default; `--forward` targets added.
pub fn initial_config(options: &ListenOptions) -> Result<Config, config::ConfigError> {
    let mut config = match &options.config_path {
        Some(path) => config::load(path)?,
        None => Config::default(),
    };
    config.with_forwards(&options.forward)?;
    Ok(config)
}

impl Instance {
    pub async fn start(options: ListenOptions, config: Config) -> anyhow::Result<Instance> {
        let data = DataDir::resolve(options.data_dir.as_deref())?;
        let token = data
            .token()
            .with_context(|| format!("cannot write the API token in {}", data.path().display()))?;
        let mut store_options = StoreOptions::new(data.history());
        store_options.cache_mb = usize::try_from(config.storage.cache_mb).unwrap_or(usize::MAX);
        store_options.max_events = config.storage.max_events;
        store_options.disk_full = options.disk_full.clone();
        let (store, writer) = Store::open(store_options)
            .with_context(|| format!("cannot open the history {}", data.history().display()))?;
        let started_at_seq = store.log_head();

        let bind = options.bind.unwrap_or(config.receiver.bind);
        let api_bind = options.api_bind.unwrap_or(if bind.port() == 0 {
            SocketAddr::new(config.api.bind.ip(), 0)
        } else {
            config.api.bind
        });
        if !is_loopback(api_bind.ip()) {
            tracing::warn!(%api_bind, "the control API listens beyond loopback; keep its token secret");
        }
        let receiver_listener = TcpListener::bind(bind)
            .await
            .with_context(|| format!("cannot listen on {bind} (receiver)"))?;
        let api_listener = TcpListener::bind(api_bind)
            .await
            .with_context(|| format!("cannot listen on {api_bind} (control API)"))?;

        let identity = Identity::generate().context("cannot make an instance id")?;
        warn_about_loops(&config, receiver_listener.local_addr()?);
        let (live, live_rx) = watch::channel(Arc::new(Live::new(
            config,
            options.config_path.clone(),
            identity.clone(),
        )));
        let relay = Relay::start(store.clone(), writer.clone(), live_rx.clone())?;
        let receiver = ingress::serve(
            receiver_listener,
            live_rx.clone(),
            writer.clone(),
            relay.clone(),
        )?;
        let state = ApiState::new(
            store.clone(),
            writer.clone(),
            relay.clone(),
            live_rx.clone(),
            &token,
        );
        let api = api::serve(api_listener, state)?;
        data.write_instance(&InstanceInfo {
            pid: std::process::id(),
            instance_id: identity.id().to_owned(),
            receiver: receiver.local_addr(),
            api: api.local_addr(),
        })
        .context("cannot write instance.json")?;

        let mut instance = Instance {
            receiver,
            api,
            relay,
            store,
            writer,
            data,
            live,
            reload: None,
            started_at_seq,
        };
        if let Some(path) = options.config_path.clone() {
            instance.reload = Some(instance.watch_config(path, options.forward.clone())?);
        }
        Ok(instance)
    }

    pub fn receiver_addr(&self) -> SocketAddr {
        self.receiver.local_addr()
    }

    pub fn api_addr(&self) -> SocketAddr {
        self.api.local_addr()
    }

    /// Body bytes the receiver holds in memory, waiting for the disk.
    pub fn inflight_body_bytes(&self) -> u64 {
        self.receiver.inflight_body_bytes()
    }

    pub fn relay(&self) -> &Relay {
        &self.relay
    }

    pub fn writer(&self) -> &Writer {
        &self.writer
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn started_at_seq(&self) -> u64 {
        self.started_at_seq
    }

    /// `{"type":"ready","receiver":...,"api":...}`, in that order.
    pub fn ready_line(&self) -> String {
        format!(
            r#"{{"type":"ready","receiver":"{}","api":"{}"}}"#,
            self.receiver_addr(),
            self.api_addr()
        )
    }

    fn watch_config(&self, path: PathBuf, forward: Vec<String>) -> anyhow::Result<JoinHandle<()>> {
        let (watcher, mut reloads) = config::watch(path.clone(), RELOAD_DEBOUNCE)
            .with_context(|| format!("cannot watch {}", path.display()))?;
        let live = self.live.clone();
        let writer = self.writer.clone();
        let receiver = self.receiver.local_addr();
        // What restart-only keys are compared with: the configuration this process started
        // with, not the last edit (an edit reverted needs no restart).
        let running = live.borrow().config.clone();
        Ok(tokio::spawn(async move {
            let _watcher = watcher; // dropping it stops the watch
            let shown = path.display().to_string();
            while let Some(reload) = reloads.recv().await {
                let record = match reload.and_then_forwards(&forward) {
                    Ok(new) => {
                        let restart_required = config::restart_required(&running, &new);
                        let identity = live.borrow().identity.clone();
                        warn_about_loops(&new, receiver);
                        live.send_replace(Arc::new(Live::new(new, Some(path.clone()), identity)));
                        tracing::info!(path = %shown, "configuration reloaded");
                        Lifecycle::ConfigReloaded {
                            at: now(),
                            path: shown.clone(),
                            error: None,
                            restart_required,
                        }
                    }
                    Err(error) => {
                        tracing::warn!(path = %shown, %error, "configuration edit rejected; the last good one stays");
                        Lifecycle::ConfigRejected {
                            at: now(),
                            path: shown.clone(),
                            error: Some(error.to_string()),
                        }
                    }
                };
                let _ = writer.log(record).await;
            }
        }))
    }

    /// Stops taking requests, lets those in progress be stored and answered, then closes.
    pub async fn shutdown(self) {
        if let Some(reload) = self.reload {
            reload.abort();
        }
        self.receiver.shutdown().await;
        if !self.relay.shutdown(Duration::from_secs(5)).await {
            tracing::warn!("stopped with attempts under way; they are retried at the next start");
        }
        self.api.shutdown().await;
        self.data.remove_instance();
        // The writer thread ends once the last handle is gone and what was sent is committed.
        drop((self.writer, self.relay));
        if tokio::time::timeout(Duration::from_secs(5), self.store.writer_stopped())
            .await
            .is_err()
        {
            tracing::warn!("stopped before the history writer finished");
        }
    }
}

trait ReloadExt {
    fn and_then_forwards(self, forward: &[String]) -> Result<Config, config::ConfigError>;
}

impl ReloadExt for Reload {
    fn and_then_forwards(self, forward: &[String]) -> Result<Config, config::ConfigError> {
        match self {
            Reload::Applied(mut config) => {
                config.with_forwards(forward)?;
                Ok(config)
            }
            Reload::Rejected(error) => Err(error),
        }
    }
}

/// Warns about a target whose URL is this receiver: every event would come back to it (the
/// receiver refuses the second visit, `loop_detected`).
fn warn_about_loops(config: &Config, receiver: SocketAddr) {
    for target in &config.targets {
        let Ok(url) = reqwest::Url::parse(&target.url) else {
            continue;
        };
        let port = url.port_or_known_default();
        let host = url.host_str().unwrap_or_default();
        let local = match host.trim_matches(['[', ']']).parse::<IpAddr>() {
            Ok(ip) => ip.is_loopback() || ip.is_unspecified() || ip == receiver.ip(),
            Err(_) => host.eq_ignore_ascii_case("localhost"),
        };
        if local && port == Some(receiver.port()) {
            tracing::warn!(
                target = %crate::text::escape(&target.name),
                "this target is hooklens's own receiver: its deliveries would loop (they are refused with 508)"
            );
        }
    }
}

fn is_loopback(ip: IpAddr) -> bool {
    ip.is_loopback()
}

/// Runs `listen` headless: the ready line, then the lifecycle log, until SIGINT or SIGTERM.
pub async fn run_headless(options: ListenOptions, config: Config) -> anyhow::Result<()> {
    let instance = Instance::start(options, config).await?;
    let (stop, stopped) = watch::channel(false);
    let printer = {
        let store = instance.store().clone();
        let from = instance.started_at_seq();
        let ready = instance.ready_line();
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let mut out = tokio::io::stdout();
            out.write_all(format!("{ready}\n").as_bytes()).await?;
            out.flush().await?;
            crate::headless::follow(store, from, out, stopped).await
        })
    };
    shutdown_signal().await;
    instance.shutdown().await;
    let _ = stop.send(true);
    match printer.await {
        Ok(Err(error)) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            tracing::warn!(%error, "headless output stopped");
        }
        _ => {}
    }
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
