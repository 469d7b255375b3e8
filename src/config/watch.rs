//! Live configuration: watches the config file, reloads it after a quiet spell, and says which
//! changed keys only take effect after a restart (DESIGN.md, "Live config").

use super::load::parse;
use super::{Config, ConfigError, StorageConfig};
use notify::event::{AccessKind, AccessMode};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::time::Duration;
use tokio::sync::mpsc;

/// The outcome of one reload. On `Rejected` the last good configuration stays in force.
#[derive(Debug, Clone)]
pub enum Reload {
    Applied(Config),
    Rejected(ConfigError),
}

/// Starts watching `path`. Each burst of changes (quiet for `debounce`) reloads and validates the
/// file once and sends the outcome; identical contents are not sent twice in a row. Keep the
/// returned watcher alive: dropping it (or the receiver) stops the watch.
///
/// A reloaded configuration carries no `--forward` targets: apply [`Config::with_forwards`] to it.
pub fn watch(
    path: PathBuf,
    debounce: Duration,
) -> Result<(RecommendedWatcher, mpsc::Receiver<Reload>), ConfigError> {
    let watch_error = |message: String| ConfigError::Watch {
        path: path.clone(),
        message,
    };
    let name = path
        .file_name()
        .map(OsString::from)
        .ok_or_else(|| watch_error("not a file path".to_owned()))?;
    // The directory, not the file: editors save by writing a new file and renaming it over the
    // old one, which would end a watch on the file itself.
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };

    let (wake_tx, wake_rx) = std_mpsc::channel::<()>();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<Event>| match res {
        Ok(event) if concerns(&event, &name) => {
            // Fails only once the reload thread has ended; nothing is waiting then.
            let _ = wake_tx.send(());
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "config watch error"),
    })
    .map_err(|e| watch_error(e.to_string()))?;
    watcher
        .watch(&dir, RecursiveMode::NonRecursive)
        .map_err(|e| watch_error(format!("{}: {e}", dir.display())))?;

    let (tx, rx) = mpsc::channel(8);
    // A plain thread rather than a task: notify calls back on its own thread, and this way
    // `watch` needs no runtime and the blocking file read stays off the async workers.
    let file = path.clone();
    std::thread::Builder::new()
        .name("hooklens-config-watch".to_owned())
        .spawn(move || reload_loop(&file, debounce, &wake_rx, &tx))
        .map_err(|e| watch_error(e.to_string()))?;
    Ok((watcher, rx))
}

/// Events about the config file that may change its contents. Access events are ignored: inotify
/// reports opens, and our own reads would otherwise trigger reloads forever.
fn concerns(event: &Event, name: &OsString) -> bool {
    let kind = match event.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    };
    kind && event
        .paths
        .iter()
        .any(|p| p.file_name() == Some(name.as_os_str()))
}

fn reload_loop(
    path: &Path,
    debounce: Duration,
    wake: &std_mpsc::Receiver<()>,
    tx: &mpsc::Sender<Reload>,
) {
    let mut last_text: Option<String> = None;
    // Ends when the watcher is dropped (its callback holds the sender).
    while wake.recv().is_ok() {
        let Some(read) = settled_read(path, debounce, wake) else {
            return;
        };
        let reload = match read {
            Ok(text) => {
                if last_text.as_deref() == Some(text.as_str()) {
                    continue;
                }
                let outcome = if text.trim().is_empty() {
                    Err(empty_file(path))
                } else {
                    parse(&text, path)
                };
                last_text = Some(text);
                match outcome {
                    Ok(config) => Reload::Applied(config),
                    Err(e) => Reload::Rejected(e),
                }
            }
            Err(e) => {
                last_text = None;
                Reload::Rejected(read_error(path, &e))
            }
        };
        if tx.blocking_send(reload).is_err() {
            return;
        }
    }
}

/// Reads the file once it has settled: after a quiet `debounce`, and again a `debounce` later,
/// until two reads agree with no change seen between them. An editor that truncates the file
/// and writes it a moment later is never read in between (an empty or cut-short configuration
/// would drop every route and target). `None`: the watch is over.
fn settled_read(
    path: &Path,
    debounce: Duration,
    wake: &std_mpsc::Receiver<()>,
) -> Option<io::Result<String>> {
    let quiet = || loop {
        match wake.recv_timeout(debounce) {
            Ok(()) => continue,
            Err(std_mpsc::RecvTimeoutError::Timeout) => return Some(()),
            Err(std_mpsc::RecvTimeoutError::Disconnected) => return None,
        }
    };
    // An editor's save is several events (truncate, write, rename): wait for quiet.
    quiet()?;
    let mut read = std::fs::read_to_string(path);
    loop {
        let changed = match wake.recv_timeout(debounce) {
            Ok(()) => true,
            Err(std_mpsc::RecvTimeoutError::Timeout) => false,
            Err(std_mpsc::RecvTimeoutError::Disconnected) => return None,
        };
        if changed {
            quiet()?;
        }
        let again = std::fs::read_to_string(path);
        let same = match (&read, &again) {
            (Ok(a), Ok(b)) => a == b,
            (Err(a), Err(b)) => a.kind() == b.kind(),
            _ => false,
        };
        if same && !changed {
            return Some(again);
        }
        read = again;
    }
}

fn empty_file(path: &Path) -> ConfigError {
    ConfigError::Read {
        path: path.to_owned(),
        kind: io::ErrorKind::UnexpectedEof,
        message: "empty file".to_owned(),
    }
}

fn read_error(path: &Path, err: &io::Error) -> ConfigError {
    let mut e = ConfigError::read(path, err);
    // The likely cause: an editor between deleting the old file and renaming in the new one.
    if let ConfigError::Read {
        kind: io::ErrorKind::NotFound,
        message,
        ..
    } = &mut e
    {
        message.push_str(" (deleted or being replaced?)");
    }
    e
}

/// The keys that differ between `old` and `new` but only take effect after a restart
/// (`config.reloaded` lists them in `restart_required`).
pub fn restart_required(old: &Config, new: &Config) -> Vec<String> {
    let mut keys = Vec::new();
    if old.receiver.bind != new.receiver.bind {
        keys.push("receiver.bind");
    }
    if old.api.bind != new.api.bind {
        keys.push("api.bind");
    }
    // Destructured so that a new [storage] key cannot be forgotten here.
    let StorageConfig {
        max_events,
        cache_mb,
    } = &new.storage;
    if old.storage.max_events != *max_events {
        keys.push("storage.max_events");
    }
    if old.storage.cache_mb != *cache_mb {
        keys.push("storage.cache_mb");
    }
    keys.into_iter().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    const DEBOUNCE: Duration = Duration::from_millis(50);

    async fn next(rx: &mut mpsc::Receiver<Reload>) -> Reload {
        tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("a reload within 5 s")
            .expect("watch still running")
    }

    fn applied(r: Reload) -> Config {
        match r {
            Reload::Applied(c) => c,
            Reload::Rejected(e) => panic!("rejected: {e}"),
        }
    }

    fn rejected(r: Reload) -> ConfigError {
        match r {
            Reload::Rejected(e) => e,
            Reload::Applied(c) => panic!("applied: {c:?}"),
        }
    }

    async fn quiet(rx: &mut mpsc::Receiver<Reload>) {
        let got = tokio::time::timeout(Duration::from_millis(300), rx.recv()).await;
        assert!(got.is_err(), "unexpected reload: {got:?}");
    }

    fn setup() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hooklens.toml");
        fs::write(&path, "[storage]\ncache_mb = 1\n").unwrap();
        (dir, path)
    }

    #[tokio::test]
    async fn an_edit_is_applied_once_per_burst() {
        let (dir, path) = setup();
        let (_watcher, mut rx) = watch(path.clone(), DEBOUNCE).unwrap();
        for mb in 2..=5 {
            fs::write(&path, format!("[storage]\ncache_mb = {mb}\n")).unwrap();
        }
        assert_eq!(applied(next(&mut rx).await).storage.cache_mb, 5);
        // Other files in the directory, and our own reads, do not reload.
        fs::write(dir.path().join("other.toml"), "x").unwrap();
        quiet(&mut rx).await;
    }

    #[tokio::test]
    async fn a_broken_edit_is_rejected_and_a_fix_applied() {
        let (_dir, path) = setup();
        let (_watcher, mut rx) = watch(path.clone(), DEBOUNCE).unwrap();
        fs::write(&path, "[storage]\ncache_mb = \n").unwrap();
        let e = rejected(next(&mut rx).await);
        assert!(
            matches!(&e, ConfigError::Parse { line: Some(2), .. }),
            "{e}"
        );
        assert!(
            e.to_string().starts_with(&format!("{}:2:", path.display())),
            "{e}"
        );

        fs::write(&path, "[[routes]]\nname = \"default\"\npath = \"/\"\n").unwrap();
        let e = rejected(next(&mut rx).await);
        assert!(e.to_string().contains("routes[0].name"), "{e}");

        fs::write(&path, "[storage]\ncache_mb = 7\n").unwrap();
        assert_eq!(applied(next(&mut rx).await).storage.cache_mb, 7);
    }

    #[tokio::test]
    async fn a_rename_over_the_file_is_applied() {
        let (dir, path) = setup();
        let (_watcher, mut rx) = watch(path.clone(), DEBOUNCE).unwrap();
        let tmp = dir.path().join(".hooklens.toml.swp");
        fs::write(&tmp, "[storage]\ncache_mb = 3\n").unwrap();
        fs::rename(&tmp, &path).unwrap();
        assert_eq!(applied(next(&mut rx).await).storage.cache_mb, 3);
        // The watch survives the replacement.
        fs::write(&path, "[storage]\ncache_mb = 4\n").unwrap();
        assert_eq!(applied(next(&mut rx).await).storage.cache_mb, 4);
    }

    #[tokio::test]
    async fn a_deleted_file_is_rejected_then_recreated() {
        let (_dir, path) = setup();
        let (_watcher, mut rx) = watch(path.clone(), DEBOUNCE).unwrap();
        fs::remove_file(&path).unwrap();
        let e = rejected(next(&mut rx).await);
        assert!(
            matches!(
                &e,
                ConfigError::Read {
                    kind: io::ErrorKind::NotFound,
                    ..
                }
            ),
            "{e}"
        );
        assert!(
            e.to_string()
                .contains("not found (deleted or being replaced?)"),
            "{e}"
        );
        fs::write(&path, "[storage]\ncache_mb = 1\n").unwrap();
        assert_eq!(applied(next(&mut rx).await).storage.cache_mb, 1);
    }

    #[tokio::test]
    async fn a_file_read_while_an_editor_rewrites_it_is_never_applied_half_written() {
        let (_dir, path) = setup();
        let (_watcher, mut rx) = watch(path.clone(), DEBOUNCE).unwrap();
        let full =
            "[[routes]]\nname = \"a\"\npath = \"/a\"\n\n[[routes]]\nname = \"b\"\npath = \"/b\"\n";
        // Truncate, pause longer than the debounce, then write.
        let writer = {
            let path = path.clone();
            std::thread::spawn(move || {
                fs::write(&path, "").unwrap();
                std::thread::sleep(DEBOUNCE * 3 / 2);
                fs::write(&path, full).unwrap();
            })
        };
        // On a slow machine the pause may outlast the second read too: then the empty file is
        // rejected (never applied) before the finished one is applied.
        let config = loop {
            match next(&mut rx).await {
                Reload::Applied(config) => break config,
                Reload::Rejected(e) => assert!(e.to_string().contains("empty file"), "{e}"),
            }
        };
        writer.join().unwrap();
        let names: Vec<_> = config.routes.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["a", "b"], "only the finished file is applied");
        // A file that stays empty is rejected, and the last good configuration stays.
        fs::write(&path, "\n").unwrap();
        let e = rejected(next(&mut rx).await);
        assert!(e.to_string().contains("empty file"), "{e}");
    }

    #[test]
    fn watching_a_missing_directory_fails_with_its_name() {
        let e = watch(PathBuf::from("/nonexistent-hooklens-dir/x.toml"), DEBOUNCE).unwrap_err();
        assert!(e.to_string().contains("/nonexistent-hooklens-dir"), "{e}");
    }

    #[test]
    fn restart_required_lists_only_changed_restart_keys() {
        let old = Config::default();
        let mut new = old.clone();
        new.receiver.max_connections = 5;
        new.targets
            .push(super::super::TargetConfig::new("a", "http://x"));
        assert!(restart_required(&old, &new).is_empty());
        new.receiver.bind = "127.0.0.1:1".parse().unwrap();
        new.storage.cache_mb = 1;
        assert_eq!(
            restart_required(&old, &new),
            ["receiver.bind", "storage.cache_mb"]
        );
        new.api.bind = "127.0.0.1:2".parse().unwrap();
        new.storage.max_events = 1;
        assert_eq!(
            restart_required(&old, &new),
            [
                "receiver.bind",
                "api.bind",
                "storage.max_events",
                "storage.cache_mb"
            ]
        );
    }
}
