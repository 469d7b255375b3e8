//! The terminal loop: owns the terminal, feeds input, log facts, ticks and effect results to
//! `update` as messages, runs effects off the loop, and draws only when something changed (at
//! most ~60 frames a second, each in a synchronized update).

use super::keymap::{Key, Keymap};
use super::state::{DetailView, Info, State};
use super::update::{Effect, Msg, start, update};
use super::view::{self, Theme};
use crate::app::Instance;
use crate::model::now;
use crate::relay::Relay;
use crate::store::Store;
use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture, Event,
    EventStream, KeyCode, MouseEventKind,
};
use crossterm::terminal::{BeginSynchronizedUpdate, EndSynchronizedUpdate};
use futures_util::StreamExt;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

const FRAME: Duration = Duration::from_millis(16);
const TICK: Duration = Duration::from_secs(1);

/// Puts back what `ratatui::restore` does not: mouse capture, bracketed paste, the cursor.
fn restore_extras() {
    let mut out = std::io::stdout();
    let _ = crossterm::execute!(
        out,
        DisableMouseCapture,
        DisableBracketedPaste,
        crossterm::cursor::Show
    );
    let _ = out.flush();
}

/// Runs the interface over a started instance until the user quits (or SIGTERM), then shuts
/// the instance down. The caller checked that stdin and stdout are terminals.
pub async fn run(
    instance: Instance,
    keymap: Keymap,
    mouse: bool,
    log_file: String,
) -> anyhow::Result<()> {
    let info = Info {
        receiver: instance.receiver_addr().to_string(),
        api: instance.api_addr().to_string(),
        log_file,
    };
    let mut terminal = ratatui::try_init()?;
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |panic| {
        restore_extras();
        previous(panic);
    }));
    let _ = crossterm::execute!(std::io::stdout(), EnableBracketedPaste);
    if mouse {
        let _ = crossterm::execute!(std::io::stdout(), EnableMouseCapture);
    }
    let result = event_loop(&mut terminal, &instance, keymap, info).await;
    restore_extras();
    ratatui::restore();
    instance.shutdown().await;
    result
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    instance: &Instance,
    keymap: Keymap,
    info: Info,
) -> anyhow::Result<()> {
    let theme = Theme::from_env();
    let mut state = State::new(keymap, info, now());
    let size = terminal.size()?;
    state.width = size.width;
    state.height = size.height;
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let follower = tokio::spawn(follow_log(instance.store().clone(), tx.clone()));
    let mut input = EventStream::new();
    let mut tick = tokio::time::interval_at(Instant::now() + TICK, TICK);
    let mut sigterm = sigterm();

    for effect in start(&mut state) {
        spawn_effect(instance, effect, tx.clone());
    }
    let mut dirty = true;
    let mut last_frame = Instant::now() - FRAME;
    loop {
        if dirty && last_frame.elapsed() >= FRAME {
            draw(terminal, &state, theme)?;
            last_frame = Instant::now();
            dirty = false;
        }
        let frame_due = last_frame + FRAME;
        let msg = tokio::select! {
            event = input.next() => match event {
                Some(Ok(event)) => match translate(&event) {
                    Some(msg) => msg,
                    None => continue,
                },
                Some(Err(_)) | None => break,
            },
            Some(msg) = rx.recv() => msg,
            _ = tick.tick() => Msg::Tick(now()),
            _ = sigterm.recv() => break,
            _ = tokio::time::sleep_until(frame_due), if dirty => continue,
        };
        // Drain what else arrived, apply it all, then draw once.
        let mut msgs = vec![msg];
        while let Ok(more) = rx.try_recv() {
            msgs.push(more);
        }
        for msg in msgs {
            let quiet = matches!(msg, Msg::Tick(_) | Msg::Count(_) | Msg::Health { .. });
            let before = quiet.then(|| fingerprint(&state));
            for effect in update(&mut state, msg) {
                spawn_effect(instance, effect, tx.clone());
            }
            // A tick redraws only when something it shows moved.
            dirty |= before.is_none_or(|b| b != fingerprint(&state));
        }
        if state.quit {
            break;
        }
    }
    follower.abort();
    Ok(())
}

/// What a tick, a count or a health read can change on screen: the rate, the stored count, the
/// targets, and the second countdowns are at while one shows. Equal before and after: no frame.
fn fingerprint(state: &State) -> (u64, u64, Vec<crate::relay::HealthReport>, Option<i64>) {
    let now = state.now;
    let countdown = state
        .targets
        .reports
        .iter()
        .any(|r| r.circuit_open_until.is_some_and(|u| u > now))
        || state.detail.view.as_ref().is_some_and(|v| {
            v.detail
                .deliveries
                .iter()
                .any(|d| d.next_attempt_at.is_some_and(|at| at > now))
        });
    (
        (state.rate() * 10.0) as u64,
        state.status.stored,
        state.targets.reports.clone(),
        countdown.then(|| now.unix_secs()),
    )
}

fn draw(
    terminal: &mut ratatui::DefaultTerminal,
    state: &State,
    theme: Theme,
) -> anyhow::Result<()> {
    let at = now();
    crossterm::queue!(terminal.backend_mut(), BeginSynchronizedUpdate)?;
    terminal.draw(|frame| view::render(state, at, theme, frame))?;
    crossterm::execute!(terminal.backend_mut(), EndSynchronizedUpdate)?;
    Ok(())
}

fn translate(event: &Event) -> Option<Msg> {
    match event {
        Event::Key(key) => Key::of(key).map(Msg::Key),
        Event::Resize(w, h) => Some(Msg::Resize(*w, *h)),
        Event::Mouse(m) => match m.kind {
            MouseEventKind::ScrollDown => Some(Msg::Key(Key::plain(KeyCode::Down))),
            MouseEventKind::ScrollUp => Some(Msg::Key(Key::plain(KeyCode::Up))),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(unix)]
fn sigterm() -> Box<dyn SignalLike> {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => Box::new(s),
        Err(_) => Box::new(Never),
    }
}

#[cfg(not(unix))]
fn sigterm() -> Box<dyn SignalLike> {
    Box::new(Never)
}

trait SignalLike: Send {
    fn recv(
        &mut self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<()>> + Send + '_>>;
}

#[cfg(unix)]
impl SignalLike for tokio::signal::unix::Signal {
    fn recv(
        &mut self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<()>> + Send + '_>> {
        Box::pin(tokio::signal::unix::Signal::recv(self))
    }
}

struct Never;

impl SignalLike for Never {
    fn recv(
        &mut self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<()>> + Send + '_>> {
        Box::pin(std::future::pending())
    }
}

/// Follows the lifecycle log from its head: waits for commits, drains every record that
/// arrived, and sends them as one message.
async fn follow_log(store: crate::store::Store, tx: mpsc::UnboundedSender<Msg>) {
    let mut head = store.subscribe_log();
    let mut seq = *head.borrow_and_update();
    while head.changed().await.is_ok() {
        let mut facts = Vec::new();
        loop {
            let batch = match store.read(move |s| s.facts_after(seq, 1000)).await {
                Ok(batch) => batch,
                Err(error) => {
                    let _ = tx.send(Msg::Failed(format!("cannot read the log: {error}")));
                    break;
                }
            };
            let done = batch.next == seq;
            seq = batch.next;
            facts.extend(batch.records.into_iter().map(|f| f.lifecycle));
            if done {
                break;
            }
        }
        if !facts.is_empty() && tx.send(Msg::Log(facts, now())).is_err() {
            return;
        }
    }
}

/// Runs one effect on its own task (store reads on a blocking thread); the result comes back
/// as a message.
fn spawn_effect(instance: &Instance, effect: Effect, tx: mpsc::UnboundedSender<Msg>) {
    let store = instance.store().clone();
    let relay = instance.relay().clone();
    tokio::spawn(async move {
        let _ = tx.send(run_effect(&store, &relay, effect).await);
    });
}

/// Runs one effect against the store and the relay (store reads on a blocking thread) and
/// returns its result as the message for `update`. Public for the interface benchmark, which
/// drives `update` and `render` the way this loop does.
pub async fn run_effect(store: &Store, relay: &Relay, effect: Effect) -> Msg {
    match effect {
        Effect::ReadWindow {
            generation,
            from,
            direction,
            limit,
            budget,
            filter,
            place,
        } => {
            let read = store
                .read(move |s| {
                    let scope = filter.scope();
                    s.scan_window(from, direction, limit, budget, scope, &|c| {
                        filter.matches(c)
                    })
                })
                .await;
            match read {
                Ok(scan) => Msg::Window {
                    generation,
                    place,
                    direction,
                    scan,
                },
                Err(error) => Msg::Failed(format!("cannot read events: {error}")),
            }
        }
        Effect::ReadDetail { generation, id } => {
            let read = store
                .read(move |s| {
                    // As `events show` without `--reveal`: secrets redacted.
                    Ok(s.event_detail(id, false)?
                        .map(|detail| Arc::new(DetailView::new(detail))))
                })
                .await;
            match read {
                Ok(view) => Msg::Detail { generation, view },
                Err(error) => Msg::Failed(format!("cannot read the event: {error}")),
            }
        }
        Effect::ReadHealth { generation } => Msg::Health {
            generation,
            reports: relay.health().await,
            at: now(),
        },
        Effect::ReadCount => match store.read(|s| s.event_count()).await {
            Ok(n) => Msg::Count(n),
            Err(error) => Msg::Failed(format!("cannot count events: {error}")),
        },
        Effect::Control { target, action } => {
            let shown = crate::text::escape(&target).into_owned();
            match relay.control(&target, action, "interface").await {
                Ok(report) => Msg::Controlled(Ok(format!(
                    "{} {shown}: now {}",
                    action.as_str(),
                    report.state.as_str()
                ))),
                Err(error) => Msg::Controlled(Err(format!("{} {shown}: {error}", action.as_str()))),
            }
        }
    }
}
