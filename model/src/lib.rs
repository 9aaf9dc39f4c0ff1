//! The wsprof domain, free of I/O: what a workload did ([`event`]), how that becomes an
//! activity tree and a snapshot ([`tree`], [`snapshot`]), how snapshots merge into a profile
//! with commonality and a lifecycle ([`profile`]), and what a person triages ([`signal`],
//! [`suppression`]); beyond triage: version diffs ([`diff`]), outlier containers
//! ([`outlier`]) and exports for other tools ([`export`]).

pub mod calendar;
pub mod diff;
pub mod drift;
pub mod event;
pub mod export;
pub mod fold;
pub mod learning;
pub mod outlier;
pub mod profile;
pub mod rule;
pub mod scrub;
pub mod signal;
pub mod snapshot;
pub mod suppression;
pub mod tree;

pub use event::{Access, ContainerRef, Event, EventKind, NetClass, ProcessInfo};
pub use profile::{LifecycleAction, LifecycleSettings, Profile, ProfileStatus};
pub use snapshot::Snapshot;
pub use tree::{ActivityTree, NodeKey, NodeKind};
