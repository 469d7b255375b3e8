//! The data directory: the history file, the control API token and `instance.json`, which tells
//! other commands where a running instance listens.

use serde::{Deserialize, Serialize};
use std::fs;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub const HISTORY_FILE: &str = "hooklens.redb";
pub const TOKEN_FILE: &str = "api-token";
pub const INSTANCE_FILE: &str = "instance.json";

/// Written while an instance runs: `{pid, instance_id, receiver, api}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceInfo {
    pub pid: u32,
    /// What the instance's `/healthz` answers: a command sends the API token only to the
    /// instance that wrote this file.
    pub instance_id: String,
    pub receiver: SocketAddr,
    pub api: SocketAddr,
}

#[derive(Debug, Clone)]
pub struct DataDir {
    path: PathBuf,
}

impl DataDir {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        DataDir { path: path.into() }
    }

    /// `--data DIR`, else the platform's data directory.
    pub fn resolve(explicit: Option<&Path>) -> io::Result<Self> {
        if let Some(path) = explicit {
            return Ok(Self::new(path));
        }
        directories::ProjectDirs::from("", "", "hooklens")
            .map(|dirs| Self::new(dirs.data_dir()))
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    "no home directory to keep the history in; pass --data DIR",
                )
            })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn history(&self) -> PathBuf {
        self.path.join(HISTORY_FILE)
    }

    /// Makes the directory (mode 0700: it holds other people's requests), or tightens an
    /// existing one that others may read, with a notice.
    pub fn prepare(&self) -> io::Result<()> {
        private_dir(&self.path)
    }

    /// The control API token, made (mode 0600) on first use.
    pub fn token(&self) -> io::Result<String> {
        self.prepare()?;
        let file = self.path.join(TOKEN_FILE);
        match fs::read_to_string(&file) {
            Ok(token) if !token.trim().is_empty() => return Ok(token.trim().to_owned()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(io::Error::other)?;
        let token = hex::encode(bytes);
        write_private(&file, token.as_bytes())?;
        Ok(token)
    }

    /// The token of a running instance, if the file exists.
    pub fn existing_token(&self) -> Option<String> {
        fs::read_to_string(self.path.join(TOKEN_FILE))
            .ok()
            .map(|t| t.trim().to_owned())
    }

    pub fn write_instance(&self, info: &InstanceInfo) -> io::Result<()> {
        let json = serde_json::to_vec(info).map_err(io::Error::other)?;
        // Write then rename, so a reader never sees half a file.
        let tmp = self.path.join(".instance.json.tmp");
        write_private(&tmp, &json)?;
        fs::rename(tmp, self.path.join(INSTANCE_FILE))
    }

    pub fn read_instance(&self) -> Option<InstanceInfo> {
        let bytes = fs::read(self.path.join(INSTANCE_FILE)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    pub fn remove_instance(&self) {
        let _ = fs::remove_file(self.path.join(INSTANCE_FILE));
    }
}

/// Makes `dir` (and its parents) with mode 0700, or tightens it to 0700 when others may read it.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)?;
    tighten(dir, 0o700)
}

/// Takes away what group and others may do with `path`, with a notice when there was any.
#[cfg(unix)]
pub fn tighten(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let was = fs::metadata(path)?.permissions().mode() & 0o777;
    if was & 0o077 != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
        tracing::warn!(
            path = %path.display(),
            "tightened permissions from {was:o} to {mode:o}: it holds captured requests"
        );
    }
    Ok(())
}

#[cfg(not(unix))]
pub fn tighten(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

fn write_private(file: &Path, contents: &[u8]) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(file)?;
    f.write_all(contents)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_made_once_private_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path().join("data"));
        let token = data.token().unwrap();
        assert_eq!(token.len(), 64);
        assert_eq!(data.token().unwrap(), token);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(data.path().join(TOKEN_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "token readable by others: {mode:o}");
        }
    }
}
