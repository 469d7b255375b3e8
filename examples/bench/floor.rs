//! The floor: the least a durable receiver can do on this machine. axum hands each body to one
//! writer thread that group-commits whatever is waiting into one redb table, durably and in two
//! phases as hooklens does, and answers 200 once its commit returns. No routing, no headers, no
//! log, no signature: what is left is the disk's commit cycle. hooklens at 64 connections cannot
//! pass it; the gap between the two is hooklens's own cost.

use axum::Router;
use axum::extract::State;
use bytes::Bytes;
use http::StatusCode;
use redb::{Builder, Durability, TableDefinition};
use std::path::Path;
use tokio::sync::{mpsc, oneshot};

const BODIES: TableDefinition<u64, &[u8]> = TableDefinition::new("bodies");
/// hooklens's own bound on one commit.
const MAX_BATCH: usize = 1024;

type Op = (Bytes, oneshot::Sender<bool>);

/// `--serve-floor DIR`: prints its address, serves until stdin closes.
pub fn serve(dir: &Path) -> anyhow::Result<()> {
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        std::process::exit(0);
    });
    let mut builder = Builder::new();
    builder.set_cache_size(64 * 1024 * 1024);
    let db = builder.create(dir.join("floor.redb"))?;
    let (tx, rx) = mpsc::channel::<Op>(MAX_BATCH * 4);
    std::thread::spawn(move || write_loop(&db, rx));
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("{}", listener.local_addr()?);
        let app = Router::new().fallback(store).with_state(tx);
        axum::serve(listener, app).await?;
        Ok(())
    })
}

async fn store(State(writer): State<mpsc::Sender<Op>>, body: Bytes) -> StatusCode {
    let (done, stored) = oneshot::channel();
    if writer.send((body, done)).await.is_err() {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    match stored.await {
        Ok(true) => StatusCode::OK,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    }
}

fn write_loop(db: &redb::Database, mut rx: mpsc::Receiver<Op>) {
    let mut key = 0u64;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(op) = rx.blocking_recv() {
        batch.push(op);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let committed = commit(db, &mut key, &batch).is_ok();
        for (_, done) in batch.drain(..) {
            let _ = done.send(committed);
        }
    }
}

fn commit(db: &redb::Database, key: &mut u64, batch: &[Op]) -> anyhow::Result<()> {
    let mut txn = db.begin_write()?;
    txn.set_durability(Durability::Immediate)?;
    txn.set_two_phase_commit(true);
    {
        let mut bodies = txn.open_table(BODIES)?;
        for (body, _) in batch {
            *key += 1;
            bodies.insert(*key, body.as_ref())?;
        }
    }
    txn.commit()?;
    Ok(())
}
