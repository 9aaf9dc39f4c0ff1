//! wsprof's terminal UI and command line. The engine ([`engine`]) has no UI; the UI
//! ([`app`], [`view`]) is generic over the ratatui backend and tested with `TestBackend`.

pub mod action;
pub mod agent;
pub mod app;
pub mod attach;
pub mod changes;
pub mod cli;
pub mod client;
pub mod commands;
pub mod config;
pub mod engine;
pub mod http;
pub mod keymap;
pub mod live;
pub mod logging;
pub mod respond;
pub mod source;
pub mod terminal;
pub mod tree;
pub mod ui;
pub mod view;
