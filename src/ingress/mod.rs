//! The receiver: captures every request sent to it, exactly, and answers only once it is durable.
//!
//! It runs its own hyper accept loop (axum's `serve` has no header-read timer): a connection cap,
//! header and body timeouts, a header size limit (hyper answers 431), a body size limit (413) and a
//! budget of body bytes waiting for commit (503 beyond it).

mod budget;
mod error;
mod handler;
mod rejections;
mod server;

pub use error::IngressError;
pub use server::{Receiver, serve};
