//! The terminal interface (ratatui + crossterm): Elm style — `update` changes the state and
//! returns effects, `view::render` draws it, `run` owns the terminal and runs the effects.

pub mod filter;
pub mod keymap;
mod overlays;
mod run;
pub mod state;
pub mod update;
pub mod view;

pub use run::{run, run_effect};

#[cfg(test)]
mod tests;
