//! What the benchmark measures against: the `hooklens` binary as a child process, the plain axum
//! ceiling and the durable floor as child processes of this same example (`--serve-ceiling`,
//! `--serve-floor`), and the local consumer
//! that relayed deliveries land on (in-process, so its arrival times share the load generator's
//! clock).

use crate::load::body_number;
use anyhow::{Context, bail};
use axum::Router;
use axum::extract::State;
use bytes::Bytes;
use http::StatusCode;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// How long a child may take to say it is ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a child may take to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Lines of a child's stderr kept to explain a failure.
const STDERR_TAIL: usize = 20;

/// A running `hooklens listen --headless` over a fresh data directory.
pub struct Hooklens {
    child: Child,
    pub receiver: SocketAddr,
    pub api: SocketAddr,
    data: tempfile::TempDir,
    /// Kept apart from the data directory: hooklens watches the config's directory, and watching
    /// the history file's directory would wake it on every commit.
    _config_dir: Option<tempfile::TempDir>,
    stderr: Arc<Mutex<VecDeque<String>>>,
}

/// How to start hooklens for one case.
#[derive(Default)]
pub struct Options {
    /// `--forward` target.
    pub forward: Option<String>,
    /// Contents of a `--config` file.
    pub config: Option<String>,
}

impl Hooklens {
    /// Starts the binary and waits for its `ready` line.
    pub fn start(bin: &Path, scratch: &Path, options: &Options) -> anyhow::Result<Hooklens> {
        let data = tempfile::Builder::new()
            .prefix("data-")
            .tempdir_in(scratch)?;
        let mut command = Command::new(bin);
        command.arg("--data").arg(data.path());
        let config_dir = match &options.config {
            Some(text) => {
                let dir = tempfile::Builder::new()
                    .prefix("config-")
                    .tempdir_in(scratch)?;
                let path = dir.path().join("hooklens.toml");
                std::fs::write(&path, text)?;
                command.arg("--config").arg(path);
                Some(dir)
            }
            None => None,
        };
        command.args(["listen", "--headless", "--bind", "127.0.0.1:0"]);
        if let Some(url) = &options.forward {
            command.arg("--forward").arg(url);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let stderr = keep_tail(child.stderr.take().context("no stderr")?);
        let first = drain_lines(child.stdout.take().context("no stdout")?);
        let mut hooklens = Hooklens {
            child,
            receiver: ([127, 0, 0, 1], 0).into(),
            api: ([127, 0, 0, 1], 0).into(),
            data,
            _config_dir: config_dir,
            stderr,
        };
        let line = first
            .recv_timeout(READY_TIMEOUT)
            .map_err(|_| hooklens.failure("hooklens did not print its ready line"))?;
        let ready: serde_json::Value =
            serde_json::from_str(&line).with_context(|| format!("ready line {line:?}"))?;
        let addr = |key: &str| -> anyhow::Result<SocketAddr> {
            ready[key]
                .as_str()
                .and_then(|a| a.parse().ok())
                .with_context(|| format!("no {key} address in {line:?}"))
        };
        hooklens.receiver = addr("receiver")?;
        hooklens.api = addr("api")?;
        Ok(hooklens)
    }

    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }

    pub fn history(&self) -> PathBuf {
        self.data.path().join("hooklens.redb")
    }

    /// Peak resident memory so far (`VmHWM`), where `/proc` has it.
    pub fn peak_rss_bytes(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }

    /// Fails if hooklens exited on its own (it should run until stopped).
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        match self.child.try_wait()? {
            None => Ok(()),
            Some(status) => Err(self.failure(&format!("hooklens exited by itself ({status})"))),
        }
    }

    /// SIGTERM, as a user's Ctrl-C would, then waits; kills it if it does not exit in time.
    pub fn stop(mut self) -> anyhow::Result<()> {
        self.check_alive()?;
        terminate(&mut self.child)
    }

    /// Stops hooklens, then looks at its history file before the data directory goes.
    pub fn stop_then<R>(mut self, look: impl FnOnce(&Path) -> R) -> anyhow::Result<R> {
        self.check_alive()?;
        terminate(&mut self.child)?;
        Ok(look(&self.history()))
    }

    fn failure(&self, what: &str) -> anyhow::Error {
        let tail = self.stderr.lock().map(|t| t.clone()).unwrap_or_default();
        let tail: Vec<_> = tail.into_iter().collect();
        anyhow::anyhow!("{what}; its stderr ended with:\n{}", tail.join("\n"))
    }
}

impl Drop for Hooklens {
    fn drop(&mut self) {
        // After an error on the way: never leave a child running behind the benchmark.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends SIGTERM through `kill(1)` (std has no signal API) and waits, killing after a timeout.
fn terminate(child: &mut Child) -> anyhow::Result<()> {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + STOP_TIMEOUT;
    while Instant::now() < deadline {
        if child.try_wait()?.is_some() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill()?;
    child.wait()?;
    bail!("the child did not stop within {STOP_TIMEOUT:?} of SIGTERM and was killed")
}

/// Reads a child's stdout on a thread, discarding lines after the first (hooklens prints one
/// per lifecycle event; an unread pipe would fill and stall it). The first line is sent back.
fn drain_lines(stdout: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (first_tx, first_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::with_capacity(1 << 16, stdout);
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) > 0 {
            let _ = first_tx.send(line.trim_end().to_owned());
        }
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });
    first_rx
}

/// Keeps the last lines a child writes on stderr.
fn keep_tail(stderr: impl Read + Send + 'static) -> Arc<Mutex<VecDeque<String>>> {
    let tail = Arc::new(Mutex::new(VecDeque::new()));
    let keep = tail.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Ok(mut t) = keep.lock() {
                if t.len() == STDERR_TAIL {
                    t.pop_front();
                }
                t.push_back(line);
            }
        }
    });
    tail
}

/// A baseline server (the ceiling, the floor) as a child process of this same example, so that
/// it pays for a process boundary like hooklens.
pub struct Baseline {
    child: Child,
    pub addr: SocketAddr,
    /// Held open: the child exits when it reads EOF, i.e. when the benchmark goes away.
    _stdin: ChildStdin,
    _data: Option<tempfile::TempDir>,
}

impl Baseline {
    /// `--serve-ceiling`: plain axum.
    pub fn ceiling() -> anyhow::Result<Baseline> {
        Baseline::start(&["--serve-ceiling".as_ref()], None)
    }

    /// `--serve-floor`: axum + redb group commit, over a fresh file under `scratch`.
    pub fn floor(scratch: &Path) -> anyhow::Result<Baseline> {
        let data = tempfile::Builder::new()
            .prefix("floor-")
            .tempdir_in(scratch)?;
        let dir = data.path().as_os_str().to_owned();
        Baseline::start(&["--serve-floor".as_ref(), &dir], Some(data))
    }

    fn start(
        args: &[&std::ffi::OsStr],
        data: Option<tempfile::TempDir>,
    ) -> anyhow::Result<Baseline> {
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start the baseline server {args:?}"))?;
        let stdin = child.stdin.take().context("no stdin")?;
        let first = drain_lines(child.stdout.take().context("no stdout")?);
        let line = first
            .recv_timeout(READY_TIMEOUT)
            .with_context(|| format!("the baseline server {args:?} did not print its address"))?;
        let addr = line
            .parse()
            .with_context(|| format!("baseline address {line:?}"))?;
        Ok(Baseline {
            child,
            addr,
            _stdin: stdin,
            _data: data,
        })
    }

    pub fn stop(mut self) -> anyhow::Result<()> {
        terminate(&mut self.child)
    }
}

impl Drop for Baseline {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `--serve-ceiling`: plain axum that reads the body and answers 200, with tokio's default
/// multi-threaded runtime (as hooklens has). Prints its address, serves until stdin closes.
pub fn serve_ceiling() -> anyhow::Result<()> {
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        std::process::exit(0);
    });
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("{}", listener.local_addr()?);
        let app = Router::new().fallback(|body: Bytes| async move {
            drop(body);
            StatusCode::OK
        });
        axum::serve(listener, app).await?;
        Ok(())
    })
}

/// The local consumer relayed deliveries go to: counts them and notes when each numbered body
/// arrived.
pub struct Consumer {
    pub addr: SocketAddr,
    state: Arc<Arrivals>,
}

#[derive(Default)]
struct Arrivals {
    count: AtomicU64,
    at: Mutex<Vec<(u64, Instant)>>,
}

impl Consumer {
    /// Serves on its own thread with a single-threaded runtime: a consumer is light work, and a
    /// thread of its own keeps it from queueing behind the load generator's tasks.
    pub fn start() -> anyhow::Result<Consumer> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Arrivals::default());
        let app = Router::new().fallback(consume).with_state(state.clone());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::spawn(move || {
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                axum::serve(listener, app).await
            })
        });
        Ok(Consumer { addr, state })
    }

    /// Forgets what arrived so far (between cases).
    pub fn reset(&self) {
        self.state.count.store(0, Ordering::Relaxed);
        if let Ok(mut at) = self.state.at.lock() {
            at.clear();
        }
    }

    pub fn count(&self) -> u64 {
        self.state.count.load(Ordering::Relaxed)
    }

    pub fn arrivals(&self) -> Vec<(u64, Instant)> {
        self.state.at.lock().map(|a| a.clone()).unwrap_or_default()
    }
}

async fn consume(State(state): State<Arc<Arrivals>>, body: Bytes) -> StatusCode {
    let at = Instant::now();
    state.count.fetch_add(1, Ordering::Relaxed);
    if let (Some(n), Ok(mut arrivals)) = (body_number(&body), state.at.lock()) {
        arrivals.push((n, at));
    }
    StatusCode::OK
}

/// An address nothing listens on: bound once to get a free port, then released.
pub fn dead_addr() -> anyhow::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}
