//! wsprof's terminal UI and command line. The engine ([`engine`]) has no UI; the UI
//! ([`app`], [`view`]) is generic over the ratatui backend and tested with `TestBackend`.

pub mod action;
pub mod app;
pub mod cli;
pub mod commands;
pub mod config;
pub mod engine;
pub mod keymap;
pub mod live;
pub mod logging;
pub mod terminal;
pub mod tree;
pub mod ui;
pub mod view;
