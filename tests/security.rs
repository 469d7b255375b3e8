//! What hooklens keeps and shows about other people's requests: file permissions, secrets in
//! errors, and who is trusted with the API token — over real files, sockets and processes.

mod common;

use common::Harness;
use common::binary::{Running, hooklens};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn the_history_is_readable_by_its_owner_only_and_a_loose_one_is_tightened() {
    // A fresh data directory.
    let h = Harness::start("").await;
    let data = h.dir.path().join("data");
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("hooklens.redb")), 0o600);
    assert_eq!(mode(&data.join("api-token")), 0o600);
    assert_eq!(mode(&data.join("instance.json")), 0o600);
    let opts = {
        let mut o = common::options(h.dir.path());
        o.config_path = Some(h.config_path());
        o
    };
    let Harness { instance, dir, .. } = h;
    instance.shutdown().await;

    // As an older hooklens (or a umask of 022) left them: readable by everyone.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let history = data.join("hooklens.redb");
    std::fs::set_permissions(&history, std::fs::Permissions::from_mode(0o644)).unwrap();
    let h = Harness::start_with(dir, opts).await;
    assert_eq!(mode(&data), 0o700, "the directory was tightened");
    assert_eq!(mode(&history), 0o600, "the history was tightened");
    h.stop().await;
}

#[test]
fn a_command_that_makes_the_history_makes_it_private() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        "[[targets]]\nname = \"app\"\nurl = \"http://127.0.0.1:9/\"\n",
    )
    .unwrap();
    let out = hooklens(
        dir.path(),
        &[
            "--config",
            config.to_str().unwrap(),
            "targets",
            "pause",
            "app",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&dir.path().join("data")), 0o700);
    assert_eq!(mode(&dir.path().join("data/hooklens.redb")), 0o600);
}

/// A secret given with the wrong type is named by its key, never shown: at start (stderr) and
/// in a live edit's `config.rejected` record.
#[test]
fn a_secret_of_the_wrong_type_never_reaches_an_output() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    let bad = "[[routes]]\nname = \"s\"\npath = \"/s\"\n[routes.verify]\nscheme = \"stripe\"\n\
               secrets = \"whsec_LEAKED\"\n";
    std::fs::write(&config, bad).unwrap();
    let cfg = config.to_str().unwrap();
    let out = hooklens(dir.path(), &["--config", cfg, "listen", "--headless"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("routes[0].verify.secrets"), "{stderr}");
    assert!(!stderr.contains("LEAKED"), "{stderr}");

    std::fs::write(&config, "").unwrap();
    let running = Running::start(dir.path(), &["--config", cfg]);
    std::fs::write(&config, bad).unwrap();
    let line = running.line_of("config.rejected");
    assert!(line.contains("routes[0].verify.secrets"), "{line}");
    assert!(!line.contains("LEAKED"), "{line}");
    running.stop();
    let out = hooklens(dir.path(), &["events", "list"]);
    assert!(out.status.success());
}
