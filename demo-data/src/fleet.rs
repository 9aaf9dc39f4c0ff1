//! Which containers of which image versions run where and when: older versions from the
//! start (several replicas, so some profiles reach 200 snapshots), newer versions rolled
//! out later (so their profiles are still Learning at the end), and a job image whose every
//! run is a short-lived container with a single snapshot.

use crate::behaviour::ImageModel;
use crate::clock::{HOUR_MS, MINUTE_MS, SPAN_MS};
use crate::images;
use crate::prng::Prng;

/// One container's life.
#[derive(Debug, Clone)]
pub struct ContainerPlan {
    /// A label (pod-like name) that seeds the container's randomness.
    pub name: String,
    pub host: &'static str,
    /// Offsets from the base time.
    pub start_ms: i64,
    pub end_ms: i64,
    /// A job run: all of its activities run once, in order, in one short snapshot.
    pub one_shot: bool,
}

/// One image version and its containers.
#[derive(Debug, Clone)]
pub struct Deployment {
    pub model: ImageModel,
    pub containers: Vec<ContainerPlan>,
}

pub const HOSTS: [&str; 3] = ["node-a", "node-b", "node-c"];

/// `n` long-running replicas from `from_h` hours to the end of the span, started a few
/// minutes apart (a rolling start), spread over the hosts.
fn replicas(prng: &mut Prng, name: &str, n: usize, from_h: i64) -> Vec<ContainerPlan> {
    (0..n)
        .map(|i| ContainerPlan {
            name: format!("{name}-{i}"),
            host: HOSTS[i % HOSTS.len()],
            start_ms: from_h * HOUR_MS + i as i64 * 2 * MINUTE_MS + prng.range(0, 90_000),
            end_ms: SPAN_MS,
            one_shot: false,
        })
        .collect()
}

/// Like [`replicas`], but stopped (replaced by a newer version) at `until_h` hours.
fn replaced_replicas(
    prng: &mut Prng,
    name: &str,
    n: usize,
    from_h: i64,
    until_h: i64,
) -> Vec<ContainerPlan> {
    let mut v = replicas(prng, name, n, from_h);
    for (i, c) in v.iter_mut().enumerate() {
        c.end_ms = until_h * HOUR_MS + i as i64 * 2 * MINUTE_MS + prng.range(0, 60_000);
    }
    v
}

/// One job run per hour from `from_h` to `until_h`, 6-14 minutes each.
fn hourly_runs(prng: &mut Prng, name: &str, from_h: i64, until_h: i64) -> Vec<ContainerPlan> {
    (from_h..until_h)
        .map(|h| {
            let start = h * HOUR_MS + 5 * MINUTE_MS + prng.range(0, 40_000);
            ContainerPlan {
                name: format!("{name}-{h}"),
                host: HOSTS[(h as usize) % HOSTS.len()],
                start_ms: start,
                end_ms: start + prng.range(6 * MINUTE_MS, 14 * MINUTE_MS),
                one_shot: true,
            }
        })
        .collect()
}

/// The whole fleet, in a fixed order.
pub fn deployments(seed: u64) -> Vec<Deployment> {
    let mut prng = Prng::fork(seed, "fleet");
    let p = &mut prng;
    let d = |model: ImageModel, containers: Vec<ContainerPlan>| Deployment { model, containers };
    vec![
        d(images::nginx::model("1.25.3"), replicas(p, "web", 6, 0)),
        d(
            images::nginx::model("1.27.0"),
            replicas(p, "web-canary", 2, 40),
        ),
        d(images::redis::model("7.0.15"), replicas(p, "cache", 4, 0)),
        d(
            images::redis::model("7.2.4"),
            replicas(p, "cache-next", 1, 44),
        ),
        d(images::postgres::model("15.6"), replicas(p, "pg", 4, 0)),
        d(images::postgres::model("16.2"), replicas(p, "pg16", 2, 48)),
        d(
            images::payments_api::model("2.3.0"),
            replaced_replicas(p, "payments-api-6d9f", 2, 0, 34),
        ),
        d(
            images::payments_api::model("2.4.1"),
            replicas(p, "payments-api-7c4b", 4, 34),
        ),
        d(
            images::worker::model("1.8.2"),
            replicas(p, "worker-5f7a", 2, 0),
        ),
        d(
            images::worker::model("1.9.0"),
            replicas(p, "worker-8b2e", 2, 52),
        ),
        d(
            images::nightly_report::model("0.4.0"),
            hourly_runs(p, "nightly-report", 0, 36),
        ),
        d(
            images::nightly_report::model("0.5.0"),
            hourly_runs(p, "nightly-report", 36, 72),
        ),
    ]
}
