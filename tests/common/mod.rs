//! Shared test harness: a real instance (receiver, control API, redb file in a temp dir) on
//! `127.0.0.1:0`, and a real HTTP client.
#![allow(dead_code)]

pub mod binary;
pub mod consumer;

use hooklens::app::{Instance, ListenOptions};
use hooklens::config::{self, Config};
use hooklens::model::EventDetail;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct Harness {
    pub instance: Instance,
    pub dir: TempDir,
    pub http: reqwest::Client,
    pub token: String,
}

pub fn options(dir: &Path) -> ListenOptions {
    ListenOptions {
        data_dir: Some(dir.join("data")),
        bind: Some("127.0.0.1:0".parse().unwrap()),
        ..ListenOptions::default()
    }
}

impl Harness {
    /// An instance with this configuration text (written to `hooklens.toml`, watched).
    pub async fn start(config_text: &str) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hooklens.toml");
        std::fs::write(&path, config_text).unwrap();
        let mut opts = options(dir.path());
        opts.config_path = Some(path);
        Self::start_with(dir, opts).await
    }

    pub async fn start_with(dir: TempDir, opts: ListenOptions) -> Harness {
        let config = hooklens::app::initial_config(&opts).expect("config");
        let instance = Instance::start(opts, config)
            .await
            .expect("instance starts");
        let token = std::fs::read_to_string(dir.path().join("data/api-token")).unwrap();
        Harness {
            instance,
            dir,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
            token: token.trim().to_owned(),
        }
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("hooklens.toml")
    }

    pub fn receiver(&self) -> SocketAddr {
        self.instance.receiver_addr()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.receiver(), path)
    }

    pub fn api_url(&self, path: &str) -> String {
        format!("http://{}{}", self.instance.api_addr(), path)
    }

    /// POSTs and returns the status and the JSON answer.
    pub async fn post(
        &self,
        path: &str,
        body: impl Into<reqwest::Body>,
    ) -> (u16, serde_json::Value) {
        let response = self
            .http
            .post(self.url(path))
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let json = response.json().await.unwrap_or(serde_json::Value::Null);
        (status, json)
    }

    /// POSTs with extra headers and returns the status and the answer's text.
    pub async fn post_with(
        &self,
        path: &str,
        body: &[u8],
        headers: &[(String, String)],
    ) -> (u16, String) {
        let mut request = self.http.post(self.url(path)).body(body.to_vec());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    pub async fn api_get(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self
            .http
            .get(self.api_url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (
            status,
            response.json().await.unwrap_or(serde_json::Value::Null),
        )
    }

    pub async fn event(&self, id: &str) -> EventDetail {
        let (status, json) = self
            .api_get(&format!("/api/v1/events/{id}?reveal=true"))
            .await;
        assert_eq!(status, 200, "{json}");
        serde_json::from_value(json).unwrap()
    }

    /// Lifecycle records logged since the instance started, as JSON.
    pub fn lifecycle(&self) -> Vec<serde_json::Value> {
        self.instance
            .store()
            .log_after(self.instance.started_at_seq(), 100_000)
            .unwrap()
            .records
            .iter()
            .map(|r| serde_json::from_slice(&r.json).unwrap())
            .collect()
    }

    /// Waits (a few seconds at most) for a lifecycle record of this type.
    pub async fn wait_for(&self, kind: &str) -> serde_json::Value {
        for _ in 0..200 {
            if let Some(found) = self.lifecycle().into_iter().find(|r| r["type"] == kind) {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("no {kind} record; have {:?}", self.lifecycle());
    }

    pub async fn stop(self) {
        self.instance.shutdown().await;
    }
}

/// Sends raw bytes on a fresh connection and returns what the server answered before closing
/// (or until `wait` passes).
pub async fn raw_exchange(addr: SocketAddr, bytes: &[u8], wait: Duration) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(wait, stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

pub fn default_config() -> Config {
    let mut c = Config::default();
    c.receiver.header_timeout_ms = 10_000;
    c
}

pub fn parse_config(text: &str) -> Config {
    config::parse(text, Path::new("test.toml")).unwrap()
}
