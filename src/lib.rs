//! hooklens: a local webhook receiver and delivery relay with a terminal interface.
//!
//! Data flows one way: [`ingress`] → [`store`] (outbox) → relay → [`store`] → lifecycle log →
//! headless output, stream and interface.

pub mod api;
pub mod app;
pub mod capture;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod contract;
pub mod export;
pub mod headless;
pub mod identity;
pub mod ingress;
pub mod instance;
pub mod live;
pub mod model;
pub mod relay;
pub mod replay;
pub mod signature;
pub mod store;
pub mod text;
pub mod tui;
