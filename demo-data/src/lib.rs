//! The demo data of wsprof: a deterministic generator of realistic container behaviour
//! (six images, two versions each, several containers on three hosts, three days of
//! simulated time, a few compromised containers) and the bundle it produced, compiled in,
//! which `wsprof demo` replays.
//!
//! ```no_run
//! let bundle = demo_data::Bundle::load_embedded().unwrap();
//! for item in bundle.timeline() {
//!     match item {
//!         demo_data::TimelineItem::Snapshot(s) => { /* ingest, merge into the profile */ }
//!         demo_data::TimelineItem::Event(e) => { /* run the rules, check Stable profiles */ }
//!     }
//! }
//! ```

pub mod behaviour;
pub mod bundle;
pub mod clock;
pub mod fleet;
pub mod generate;
pub mod images;
pub mod outliers;
pub mod prng;
pub mod secrets;
pub mod stats;

pub use bundle::{Bundle, BundleError, TimelineItem, BUNDLE_FORMAT, BUNDLE_VERSION};
pub use generate::{generate, SEED};
pub use stats::BundleStats;
