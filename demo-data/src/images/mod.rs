//! The behaviour of the demo images, one module per image. Each function builds one image
//! version; versions differ a little, as real releases do.

pub mod nginx;
pub mod nightly_report;
pub mod payments_api;
pub mod postgres;
pub mod redis;
pub mod worker;
