//! The interface's budgets (INTERFACE.md, "Staying fluid with a million events"), measured on a
//! seeded history:
//!
//! ```sh
//! cargo run --release --example seed -- --data /tmp/big --events 1000000
//! cargo run --release --example tui_bench -- --data /tmp/big
//! ```
//!
//! **In process** it drives `update` and `render` the way the interface's loop does — every
//! effect run against the real store and relay of an instance started on that history, its
//! result fed back as a message, frames rendered into a 120×40 `TestBackend` at most every 16 ms
//! — while a load task sends `--rate` events a second to the instance's receiver over HTTP (each
//! relayed to a local consumer). It reports the first full frame after start (rows and the
//! selected event's detail on screen) and key press → frame (every effect the key caused has
//! answered and the frame is drawn), for a person holding keys at ~30 a second.
//!
//! **The release binary in a pseudo-terminal** (120×40) on the same history: the first frame as
//! the terminal shows it, bytes drawn and CPU used over 5 idle seconds, resident memory, and the
//! relay's latency (request sent → consumer has it) with the interface open against headless,
//! in A B B A order.
//!
//! Nothing is asserted: the figures go to the README's Performance section.

use anyhow::{Context, bail};
use clap::Parser;
use hooklens::app::{Instance, ListenOptions, initial_config};
use hooklens::model::now;
use hooklens::tui::keymap::{Key, Keymap};
use hooklens::tui::state::{Info, State};
use hooklens::tui::update::{Effect, Msg, start, update};
use hooklens::tui::view::{self, Theme};
use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::collections::HashMap;
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

#[derive(Parser)]
#[command(about = "Measure the interface's budgets on a seeded history")]
struct Args {
    /// A data directory seeded with `--example seed` (events are added to it).
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// Key presses measured in process.
    #[arg(long, default_value_t = 600)]
    keys: usize,
    /// Events a second sent while keys are pressed.
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    /// Events sent per relay latency run.
    #[arg(long, default_value_t = 300)]
    relayed: u64,
    /// The hooklens binary for the pseudo-terminal part.
    #[arg(long, default_value = "target/release/hooklens")]
    bin: PathBuf,
    /// Only the in-process part.
    #[arg(long)]
    in_process_only: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !args.data.join("hooklens.redb").exists() {
        bail!(
            "{} holds no history: seed it first (cargo run --release --example seed -- --data {} --events 1000000)",
            args.data.display(),
            args.data.display()
        );
    }
    let consumer = Consumer::start().await?;
    let inside = in_process(&args, &consumer).await?;
    println!(
        "in process (update + render, 120×40, {} stored):",
        inside.stored
    );
    println!(
        "  first full frame after start   {:>8.1} ms",
        inside.first_frame_ms
    );
    println!(
        "  key press → frame              p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms  ({} keys, {:.0} events/s arriving)",
        inside.key_ms.pct(0.5),
        inside.key_ms.pct(0.99),
        inside.key_ms.pct(1.0),
        inside.key_ms.len(),
        inside.arrival_rate
    );
    println!(
        "  render alone                   p50 {:.2} ms  p99 {:.2} ms",
        inside.render_ms.pct(0.5),
        inside.render_ms.pct(0.99)
    );
    match inside.drained {
        Some(s) => println!(
            "  relayed all {} events to the consumer {:.1} s after the load stopped",
            inside.sent, s
        ),
        None => println!(
            "  the consumer did not have all {} events 120 s after the load stopped",
            inside.sent
        ),
    }
    if args.in_process_only {
        return Ok(());
    }
    let bin = std::fs::canonicalize(&args.bin).with_context(|| {
        format!(
            "no binary at {} (cargo build --release)",
            args.bin.display()
        )
    })?;
    let pty = in_pty(&bin, &args.data, &consumer)?;
    println!("the binary in a pseudo-terminal (120×40):");
    println!(
        "  first frame after start        {:>8.1} ms",
        pty.first_frame_ms
    );
    println!(
        "  idle 5 s                       {} bytes drawn, {:.1}% CPU",
        pty.idle_bytes, pty.idle_cpu_percent
    );
    println!(
        "  resident memory                {:.1} MB now, {:.1} MB peak",
        pty.rss_mb, pty.peak_rss_mb
    );
    let latency = relay_latency(&bin, &args.data, &consumer, args.relayed).await?;
    println!(
        "relay latency, sent → consumer (p50 of {} events per run, A B B A twice):",
        args.relayed
    );
    println!(
        "  headless {:.2} ms, interface open {:.2} ms: ratio {:.2}",
        latency.headless_ms,
        latency.interface_ms,
        latency.interface_ms / latency.headless_ms
    );
    Ok(())
}

/// Milliseconds, sorted on demand.
#[derive(Default)]
struct Samples(Vec<f64>);

impl Samples {
    fn push(&mut self, d: Duration) {
        self.0.push(d.as_secs_f64() * 1000.0);
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn pct(&self, p: f64) -> f64 {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        if v.is_empty() {
            return f64::NAN;
        }
        v[((v.len() - 1) as f64 * p).round() as usize]
    }
}

/// A consumer on loopback that answers 200 and notes when each `{"seq": N}` body arrived.
#[derive(Clone)]
struct Consumer {
    url: String,
    seen: Arc<Mutex<HashMap<u64, Instant>>>,
    /// Every request it has had.
    received: Arc<AtomicUsize>,
}

impl Consumer {
    async fn start() -> anyhow::Result<Consumer> {
        let seen: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
        let noted = seen.clone();
        let received: Arc<AtomicUsize> = Arc::default();
        let counted = received.clone();
        let app = axum::Router::new().fallback(move |body: axum::body::Bytes| {
            let (noted, counted) = (noted.clone(), counted.clone());
            async move {
                let at = Instant::now();
                counted.fetch_add(1, Ordering::Relaxed);
                if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body)
                    && let Some(seq) = v["seq"].as_u64()
                {
                    noted.lock().unwrap().insert(seq, at);
                }
                "ok"
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/hooks", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Consumer {
            url,
            seen,
            received,
        })
    }
}

/// Sends `rate` events a second to `receiver` until `stop`, each request on its own task so a
/// slow answer never lowers the rate (at most `IN_FLIGHT` at once); returns how many were
/// answered 2xx.
async fn load(receiver: String, rate: u64, mut stop: tokio::sync::watch::Receiver<bool>) -> u64 {
    const IN_FLIGHT: usize = 64;
    let client = reqwest::Client::new();
    let url = format!("http://{receiver}/load/events");
    let body = r#"{"type":"invoice.paid","data":{"object":{"amount":1200,"currency":"eur","lines":[1,2,3]}}}"#;
    let slots = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(1) as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut requests = tokio::task::JoinSet::new();
    let mut answered = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => break,
        }
        let Ok(slot) = slots.clone().acquire_owned().await else {
            break;
        };
        let request = client
            .post(&url)
            .header("content-type", "application/json")
            .body(body)
            .send();
        requests.spawn(async move {
            let answered = request.await.is_ok_and(|a| a.status().is_success());
            drop(slot);
            answered
        });
        while let Some(done) = requests.try_join_next() {
            answered += u64::from(done.unwrap_or(false));
        }
    }
    while let Some(done) = requests.join_next().await {
        answered += u64::from(done.unwrap_or(false));
    }
    answered
}

struct InProcess {
    stored: u64,
    first_frame_ms: f64,
    key_ms: Samples,
    render_ms: Samples,
    arrival_rate: f64,
    sent: u64,
    /// Seconds after the load stopped until the consumer had every event; None: not in 120 s.
    drained: Option<f64>,
}

/// A message and the key press it answers (`None`: a live fact or what followed one).
type Tagged = (Option<usize>, Msg);

async fn in_process(args: &Args, consumer: &Consumer) -> anyhow::Result<InProcess> {
    let options = ListenOptions {
        data_dir: Some(args.data.clone()),
        bind: Some("127.0.0.1:0".parse()?),
        api_bind: Some("127.0.0.1:0".parse()?),
        forward: vec![consumer.url.clone()],
        ..ListenOptions::default()
    };
    let config = initial_config(&options)?;
    let started = Instant::now();
    let instance = Instance::start(options, config).await?;
    let info = Info {
        receiver: instance.receiver_addr().to_string(),
        api: instance.api_addr().to_string(),
        log_file: String::new(),
    };
    let mut state = State::new(Keymap::default(), info, now());
    (state.width, state.height) = (120, 40);
    let mut terminal = Terminal::new(TestBackend::new(120, 40))?;
    let theme = Theme::from_env();
    let (tx, mut rx) = mpsc::unbounded_channel::<Tagged>();
    let mut waiting: HashMap<usize, usize> = HashMap::new();
    let spawn = |effects: Vec<Effect>, tag: Option<usize>, waiting: &mut HashMap<usize, usize>| {
        for effect in effects {
            if let Some(tag) = tag {
                *waiting.entry(tag).or_default() += 1;
            }
            let (store, relay, tx) = (
                instance.store().clone(),
                instance.relay().clone(),
                tx.clone(),
            );
            tokio::spawn(async move {
                let msg = hooklens::tui::run_effect(&store, &relay, effect).await;
                let _ = tx.send((tag, msg));
            });
        }
    };
    // Applies one message; what it causes answers the same key.
    let apply = |state: &mut State, (tag, msg): Tagged, waiting: &mut HashMap<usize, usize>| {
        let effects = update(state, msg);
        if let Some(tag) = tag
            && let Some(n) = waiting.get_mut(&tag)
        {
            *n -= 1;
        }
        spawn(effects, tag, waiting);
    };

    // First frame: the window and the selected event's detail, as `start` asks for them.
    let first = start(&mut state);
    spawn(first, Some(0), &mut waiting);
    while waiting.get(&0).is_some_and(|n| *n > 0) {
        let msg = rx.recv().await.context("effects stopped")?;
        apply(&mut state, msg, &mut waiting);
    }
    terminal.draw(|f| view::render(&state, now(), theme, f))?;
    let first_frame_ms = started.elapsed().as_secs_f64() * 1000.0;
    let stored = state.status.stored;

    // Live facts, as the interface follows them.
    let follower = {
        let (store, tx) = (instance.store().clone(), tx.clone());
        tokio::spawn(async move {
            let mut head = store.subscribe_log();
            let mut seq = *head.borrow_and_update();
            while head.changed().await.is_ok() {
                let mut facts = Vec::new();
                loop {
                    let Ok(batch) = store.read(move |s| s.facts_after(seq, 1000)).await else {
                        return;
                    };
                    let done = batch.next == seq;
                    seq = batch.next;
                    facts.extend(batch.records.into_iter().map(|f| f.lifecycle));
                    if done {
                        break;
                    }
                }
                if tx.send((None, Msg::Log(facts, now()))).is_err() {
                    return;
                }
            }
        })
    };
    let (stop_load, stopped) = tokio::sync::watch::channel(false);
    let relayed_before = consumer.received.load(Ordering::Relaxed);
    let loader = tokio::spawn(load(info_receiver(&instance), args.rate, stopped));
    // Let the load reach its pace before measuring.
    tokio::time::sleep(Duration::from_secs(2)).await;
    while let Ok(msg) = rx.try_recv() {
        apply(&mut state, msg, &mut waiting);
    }

    let keys = [
        Key::ch('j'),
        Key::ch('j'),
        Key::ch('j'),
        Key::ch('k'),
        Key::plain(crossterm::event::KeyCode::PageDown),
        Key::ch('j'),
        Key::plain(crossterm::event::KeyCode::Tab),
        Key::ch('j'),
        Key::plain(crossterm::event::KeyCode::PageUp),
        Key::ch('k'),
        Key::ch('4'),
        Key::ch('j'),
    ];
    let mut key_ms = Samples::default();
    let mut render_ms = Samples::default();
    let measuring = Instant::now();
    let mut last_frame = Instant::now();
    let mut dirty = false;
    for n in 1..=args.keys {
        // Between presses the loop does what the interface does: apply what arrives, draw at
        // most every 16 ms.
        let next_key = Instant::now() + Duration::from_millis(33);
        loop {
            let due = (last_frame + Duration::from_millis(16)).max(Instant::now());
            tokio::select! {
                msg = rx.recv() => {
                    apply(&mut state, msg.context("effects stopped")?, &mut waiting);
                    dirty = true;
                }
                _ = tokio::time::sleep_until(due.into()), if dirty => {
                    let t = Instant::now();
                    terminal.draw(|f| view::render(&state, now(), theme, f))?;
                    render_ms.push(t.elapsed());
                    last_frame = Instant::now();
                    dirty = false;
                }
                _ = tokio::time::sleep_until(next_key.into()) => break,
            }
        }
        let pressed = Instant::now();
        let effects = update(&mut state, Msg::Key(keys[n % keys.len()]));
        waiting.insert(n, 0);
        spawn(effects, Some(n), &mut waiting);
        while waiting.get(&n).is_some_and(|w| *w > 0) {
            let msg = rx.recv().await.context("effects stopped")?;
            apply(&mut state, msg, &mut waiting);
        }
        waiting.remove(&n);
        terminal.draw(|f| view::render(&state, now(), theme, f))?;
        last_frame = Instant::now();
        dirty = false;
        key_ms.push(pressed.elapsed());
    }
    let elapsed = measuring.elapsed().as_secs_f64();
    let _ = stop_load.send(true);
    let sent = loader.await.unwrap_or(0);
    // The relay has kept up when the consumer soon has every event the load sent.
    let stopped_at = Instant::now();
    let drained = loop {
        let relayed = consumer.received.load(Ordering::Relaxed) - relayed_before;
        if relayed as u64 >= sent {
            break Some(stopped_at.elapsed().as_secs_f64());
        }
        if stopped_at.elapsed() > Duration::from_secs(120) {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    follower.abort();
    instance.shutdown().await;
    Ok(InProcess {
        stored,
        first_frame_ms,
        key_ms,
        render_ms,
        arrival_rate: sent as f64 / (elapsed + 2.0),
        sent,
        drained,
    })
}

fn info_receiver(instance: &Instance) -> String {
    instance.receiver_addr().to_string()
}

/// The release binary in a pseudo-terminal, its output parsed as a terminal shows it.
struct Session {
    child: Box<dyn portable_pty::Child + Send + Sync>,
    keys: Box<dyn std::io::Write + Send>,
    bytes: Arc<AtomicUsize>,
    /// When the screen first showed a selected row and its detail.
    first_frame: Arc<Mutex<Option<Instant>>>,
    _master: Box<dyn portable_pty::MasterPty + Send>,
}

impl Session {
    fn start(bin: &Path, data: &Path, forward: &str) -> anyhow::Result<Session> {
        let pty = native_pty_system().openpty(PtySize {
            rows: 40,
            cols: 120,
            pixel_width: 0,
            pixel_height: 0,
        })?;
        let mut cmd = CommandBuilder::new(bin);
        cmd.args(["--data", data.to_str().context("a UTF-8 data path")?]);
        cmd.args(["--bind", "127.0.0.1:0", "--api-bind", "127.0.0.1:0"]);
        cmd.args(["--forward", forward]);
        cmd.env("TERM", "xterm-256color");
        // The glyphs these screens are read by; a C locale would get the ASCII fallbacks.
        cmd.env("LANG", "C.UTF-8");
        for unset in ["LC_ALL", "LC_CTYPE", "HOOKLENS_ASCII"] {
            cmd.env_remove(unset);
        }
        cmd.env_remove("HOOKLENS_CONFIG");
        let child = pty.slave.spawn_command(cmd)?;
        drop(pty.slave);
        let mut output = pty.master.try_clone_reader()?;
        let bytes = Arc::new(AtomicUsize::new(0));
        let first_frame: Arc<Mutex<Option<Instant>>> = Arc::default();
        let (counted, first) = (bytes.clone(), first_frame.clone());
        std::thread::spawn(move || {
            let mut parser = vt100::Parser::new(
                std::num::NonZeroU16::new(40).unwrap(),
                std::num::NonZeroU16::new(120).unwrap(),
                0,
            );
            let mut buf = [0u8; 16384];
            while let Ok(n) = output.read(&mut buf) {
                if n == 0 {
                    break;
                }
                counted.fetch_add(n, Ordering::SeqCst);
                parser.process(&buf[..n]);
                let mut first = first.lock().unwrap();
                if first.is_none() {
                    let text = parser.screen().contents();
                    if text.contains('▶') && text.contains("SHA-256") {
                        *first = Some(Instant::now());
                    }
                }
            }
        });
        Ok(Session {
            child,
            keys: pty.master.take_writer()?,
            bytes,
            first_frame,
            _master: pty.master,
        })
    }

    fn pid(&self) -> anyhow::Result<u32> {
        self.child.process_id().context("no pid")
    }

    fn quit(mut self) -> anyhow::Result<()> {
        self.keys.write_all(b"q")?;
        self.keys.flush()?;
        let status = self.child.wait()?;
        if !status.success() {
            bail!("the interface exited with {status:?}");
        }
        Ok(())
    }
}

struct Pty {
    first_frame_ms: f64,
    idle_bytes: usize,
    idle_cpu_percent: f64,
    rss_mb: f64,
    peak_rss_mb: f64,
}

fn in_pty(bin: &Path, data: &Path, consumer: &Consumer) -> anyhow::Result<Pty> {
    let spawned = Instant::now();
    let session = Session::start(bin, data, &consumer.url)?;
    let deadline = spawned + Duration::from_secs(30);
    let first = loop {
        if let Some(at) = *session.first_frame.lock().unwrap() {
            break at;
        }
        if Instant::now() > deadline {
            bail!("no frame with a selected row within 30 s");
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let pid = session.pid()?;
    // Settle (the count, the health, the first ticks), then watch it do nothing.
    std::thread::sleep(Duration::from_secs(3));
    let (b0, c0) = (session.bytes.load(Ordering::SeqCst), cpu_ticks(pid)?);
    std::thread::sleep(Duration::from_secs(5));
    let (b1, c1) = (session.bytes.load(Ordering::SeqCst), cpu_ticks(pid)?);
    let (rss_mb, peak_rss_mb) = memory(pid)?;
    session.quit()?;
    Ok(Pty {
        first_frame_ms: (first - spawned).as_secs_f64() * 1000.0,
        idle_bytes: b1 - b0,
        idle_cpu_percent: (c1 - c0) as f64 / clock_ticks() / 5.0 * 100.0,
        rss_mb,
        peak_rss_mb,
    })
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) start at state (field 3).
    let rest = &stat[stat.rfind(')').context("a stat line")? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    Ok(fields[11].parse::<u64>()? + fields[12].parse::<u64>()?)
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// (VmRSS, VmHWM) in MB.
fn memory(pid: u32) -> anyhow::Result<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    Ok((field("VmRSS:"), field("VmHWM:")))
}

struct Latency {
    headless_ms: f64,
    interface_ms: f64,
}

/// The relay's latency with the interface open against headless, A B B A.
async fn relay_latency(
    bin: &Path,
    data: &Path,
    consumer: &Consumer,
    events: u64,
) -> anyhow::Result<Latency> {
    let mut headless = Vec::new();
    let mut interface = Vec::new();
    let mut seq = 1_000_000_000u64;
    // A B B A, twice.
    for round in 0..8 {
        let with_interface = matches!(round % 4, 1 | 2);
        let p50 = if with_interface {
            let session = Session::start(bin, data, &consumer.url)?;
            let receiver = receiver_of(data).await?;
            let p50 = relay_run(&receiver, consumer, &mut seq, events).await?;
            session.quit()?;
            p50
        } else {
            let mut child = std::process::Command::new(bin)
                .args(["--data", data.to_str().context("a UTF-8 data path")?])
                .args(["--bind", "127.0.0.1:0", "--api-bind", "127.0.0.1:0"])
                .args(["--forward", &consumer.url])
                .env_remove("HOOKLENS_CONFIG")
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .spawn()?;
            let mut lines = std::io::BufReader::new(child.stdout.take().context("stdout")?);
            let mut ready = String::new();
            lines.read_line(&mut ready)?;
            let ready: serde_json::Value = serde_json::from_str(&ready)?;
            let receiver = ready["receiver"]
                .as_str()
                .context("a ready line")?
                .to_owned();
            // Keep reading its lines, as a script would.
            let drain = std::thread::spawn(move || for _ in lines.lines() {});
            let p50 = relay_run(&receiver, consumer, &mut seq, events).await?;
            stop(&mut child)?;
            let _ = drain.join();
            p50
        };
        if with_interface {
            interface.push(p50);
        } else {
            headless.push(p50);
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    Ok(Latency {
        headless_ms: mean(&headless),
        interface_ms: mean(&interface),
    })
}

/// The receiver of the instance running on `data`, from its `instance.json`.
async fn receiver_of(data: &Path) -> anyhow::Result<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(text) = std::fs::read_to_string(data.join("instance.json"))
            && let Ok(json) = serde_json::from_str::<serde_json::Value>(&text)
            && let Some(receiver) = json["receiver"].as_str()
            && tokio::net::TcpStream::connect(receiver).await.is_ok()
        {
            return Ok(receiver.to_owned());
        }
        if Instant::now() > deadline {
            bail!("no instance.json in {} within 30 s", data.display());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn stop(child: &mut std::process::Child) -> anyhow::Result<()> {
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    child.wait()?;
    Ok(())
}

/// Sends `events` at 100 a second, one connection; the p50 of sent → consumer, in ms.
async fn relay_run(
    receiver: &str,
    consumer: &Consumer,
    seq: &mut u64,
    events: u64,
) -> anyhow::Result<f64> {
    let client = reqwest::Client::new();
    let mut sent = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    for _ in 0..events {
        tick.tick().await;
        *seq += 1;
        let at = Instant::now();
        client
            .post(format!("http://{receiver}/relay"))
            .header("content-type", "application/json")
            .body(format!(r#"{{"seq":{seq},"type":"latency.probe"}}"#))
            .send()
            .await?
            .error_for_status()?;
        sent.insert(*seq, at);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut samples = Samples::default();
    loop {
        let seen = consumer.seen.lock().unwrap().clone();
        if sent.keys().all(|k| seen.contains_key(k)) || Instant::now() > deadline {
            for (k, at) in &sent {
                if let Some(got) = seen.get(k) {
                    samples.push(got.saturating_duration_since(*at));
                }
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if samples.len() < events as usize {
        bail!(
            "only {} of {events} events reached the consumer",
            samples.len()
        );
    }
    Ok(samples.pct(0.5))
}
