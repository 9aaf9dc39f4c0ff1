//! The deterministic generator: runs every container of the fleet interval by interval,
//! picks the activities of each interval, turns them into events, records the events into
//! the interval's activity tree (the snapshot) and keeps the notable ones as the event
//! stream.

use crate::behaviour::{Activity, Freq, ImageModel, Stream};
use crate::bundle::Bundle;
use crate::clock::{BASE_MS, INTERVAL_MS};
use crate::fleet::{self, ContainerPlan};
use crate::outliers::{self, Outlier};
use crate::prng::Prng;
use model::scrub::scrub_args;
use model::snapshot::Snapshot;
use model::{ActivityTree, ContainerRef, Event, EventKind, ProcessInfo};

/// The seed the checked-in bundle is generated with.
pub const SEED: u64 = 0x5753_5052_4f46_2026;

/// Generate the demo bundle. The same seed gives the same bundle, byte for byte.
pub fn generate(seed: u64) -> Bundle {
    let mut snapshots = Vec::new();
    let mut events = Vec::new();
    for mut dep in fleet::deployments(seed) {
        let outliers = outliers::for_model(&mut dep.model);
        for (index, plan) in dep.containers.iter().enumerate() {
            let mine: Vec<&Outlier> = outliers.iter().filter(|o| o.container == index).collect();
            let mut run = ContainerRun::new(seed, &dep.model, plan);
            run.simulate(&mine, &mut snapshots, &mut events);
        }
    }
    // Stable sorts over a deterministic order: ties keep fleet order.
    snapshots.sort_by_key(|s: &Snapshot| s.ended_ms);
    events.sort_by_key(|e: &Event| e.ts_ms);
    Bundle {
        snapshots,
        events,
        generated_with_seed: seed,
    }
}

/// An event on its way into a snapshot, and whether it also goes to the stream.
struct Pending {
    event: Event,
    streamed: bool,
}

struct ContainerRun<'a> {
    model: &'a ImageModel,
    plan: &'a ContainerPlan,
    prng: Prng,
    container: ContainerRef,
    /// Current pid of each process of the model, once started.
    pids: Vec<Option<u32>>,
    next_pid: u32,
    /// Events generated but not yet cut into a snapshot (an activity may run past the end
    /// of its interval).
    pending: Vec<Pending>,
}

impl<'a> ContainerRun<'a> {
    fn new(seed: u64, model: &'a ImageModel, plan: &'a ContainerPlan) -> ContainerRun<'a> {
        let mut prng = Prng::fork(
            seed,
            &format!("{}:{}/{}", model.image, model.version, plan.name),
        );
        let container = ContainerRef {
            id: prng.hex(64),
            image: model.image.to_string(),
            version: model.version.to_string(),
            ..Default::default()
        };
        ContainerRun {
            model,
            plan,
            prng,
            container,
            pids: vec![None; model.procs.len()],
            next_pid: 1,
            pending: Vec::new(),
        }
    }

    fn simulate(
        &mut self,
        outliers: &[&Outlier],
        snapshots: &mut Vec<Snapshot>,
        stream: &mut Vec<Event>,
    ) {
        let (begin, end) = (BASE_MS + self.plan.start_ms, BASE_MS + self.plan.end_ms);
        let mut k = 0;
        let mut start = begin;
        while start < end {
            let stop = (start + INTERVAL_MS).min(end);
            if self.plan.one_shot {
                self.run_job(start);
            } else {
                self.run_interval(k, start, stop);
            }
            for o in outliers {
                let at = BASE_MS + o.at_ms;
                if (start..stop).contains(&at) {
                    self.run_activity(&o.episode, at);
                } else if at < start {
                    if let Some(after) = &o.aftermath {
                        let t0 = self.offset(after, start, stop);
                        self.run_activity(after, t0);
                    }
                }
            }
            let last = stop == end;
            let mut taken: Vec<Pending> = Vec::new();
            let mut kept = Vec::new();
            for mut p in std::mem::take(&mut self.pending) {
                if p.event.ts_ms < stop || last {
                    p.event.ts_ms = p.event.ts_ms.min(stop - 1);
                    taken.push(p);
                } else {
                    kept.push(p);
                }
            }
            self.pending = kept;
            taken.sort_by_key(|p| p.event.ts_ms);
            let mut tree = ActivityTree::default();
            for p in &taken {
                tree.record(&p.event);
            }
            snapshots.push(Snapshot {
                id: format!("{}-{:04}", &self.container.id[..12], k),
                container: self.container.clone(),
                host: self.plan.host.to_string(),
                started_ms: start,
                ended_ms: stop,
                tree,
            });
            stream.extend(taken.into_iter().filter(|p| p.streamed).map(|p| {
                let mut e = p.event;
                e.process.args = scrub_args(&e.process.args);
                e
            }));
            k += 1;
            start = stop;
        }
    }

    /// A long-running container's interval: each activity by its frequency.
    fn run_interval(&mut self, k: usize, start: i64, stop: i64) {
        for act in &self.model.activities {
            let runs = match act.freq {
                Freq::Startup => k == 0,
                Freq::Every => true,
                Freq::Chance(p) => self.prng.chance(p),
            };
            if !runs {
                continue;
            }
            let t0 = match act.freq {
                Freq::Startup => start + self.prng.range(20, 1_500),
                _ => self.offset(act, start, stop),
            };
            self.run_activity(act, t0);
        }
    }

    /// A job run: start-up and every-run activities in order, chance ones after them.
    fn run_job(&mut self, start: i64) {
        let mut t = start + self.prng.range(20, 1_500);
        for act in &self.model.activities {
            let runs = match act.freq {
                Freq::Startup | Freq::Every => true,
                Freq::Chance(p) => self.prng.chance(p),
            };
            if runs {
                t = self.run_activity(act, t) + self.prng.range(500, 30_000);
            }
        }
    }

    /// A random start for an activity so that it (mostly) fits in the interval.
    fn offset(&mut self, act: &Activity, start: i64, stop: i64) -> i64 {
        let needed = act.ops.len() as i64 * act.gap_ms.1;
        let room = (stop - start - needed).max(1);
        start + self.prng.range(0, room - 1)
    }

    /// Run an activity's ops from `t0`; returns the time of the last op.
    fn run_activity(&mut self, act: &Activity, t0: i64) -> i64 {
        let mut tmp = self.prng.temp_name(6);
        while tmp.starts_with("tmp") {
            tmp = self.prng.temp_name(6);
        }
        let oct = self.prng.range(1, 254).to_string();
        let mut t = t0;
        for (i, op) in act.ops.iter().enumerate() {
            if i > 0 {
                t += self.prng.range(act.gap_ms.0, act.gap_ms.1);
            }
            let pid = match (&op.kind, self.pids[op.proc]) {
                (EventKind::Exec, _) | (_, None) => {
                    let pid = self.next_pid;
                    self.next_pid += self.prng.range(1, 7) as u32;
                    self.pids[op.proc] = Some(pid);
                    pid
                }
                (_, Some(pid)) => pid,
            };
            let fill = |s: &str| {
                s.replace("{tmp}", &tmp)
                    .replace("{pid}", &pid.to_string())
                    .replace("{oct}", &oct)
            };
            let proc = &self.model.procs[op.proc];
            let event = Event {
                ts_ms: t,
                container: self.container.clone(),
                process: ProcessInfo {
                    pid,
                    exec_path: fill(&proc.path),
                    args: proc.args.iter().map(|a| fill(a)).collect(),
                    uid: proc.uid,
                    gid: proc.gid,
                    ancestors: self.model.ancestors(op.proc),
                    ..Default::default()
                },
                kind: fill_kind(&op.kind, &fill),
            };
            let streamed = match act.stream {
                Stream::None => false,
                Stream::Execs => event.kind == EventKind::Exec,
                Stream::All => true,
            };
            self.pending.push(Pending { event, streamed });
        }
        t
    }
}

/// The event kind with placeholders in its strings filled.
fn fill_kind(kind: &EventKind, fill: &dyn Fn(&str) -> String) -> EventKind {
    use EventKind as K;
    match kind {
        K::Open {
            path,
            access,
            errno,
            requested,
        } => K::Open {
            path: fill(path),
            access: *access,
            errno: *errno,
            requested: requested.as_deref().map(fill),
        },
        K::Unlink { path } => K::Unlink { path: fill(path) },
        K::Rename { from, to } => K::Rename {
            from: fill(from),
            to: fill(to),
        },
        K::Chmod { path, mode } => K::Chmod {
            path: fill(path),
            mode: *mode,
        },
        K::Chown { path, uid, gid } => K::Chown {
            path: fill(path),
            uid: *uid,
            gid: *gid,
        },
        K::Mkdir { path } => K::Mkdir { path: fill(path) },
        K::Dns { name, qtype } => K::Dns {
            name: fill(name),
            qtype: qtype.clone(),
        },
        K::Connect { family, addr, port } => K::Connect {
            family: family.clone(),
            addr: fill(addr),
            port: *port,
        },
        K::Bind { family, addr, port } => K::Bind {
            family: family.clone(),
            addr: fill(addr),
            port: *port,
        },
        K::MemfdCreate { name } => K::MemfdCreate { name: fill(name) },
        K::IoUringSetup { entries } => K::IoUringSetup { entries: *entries },
        other => other.clone(),
    }
}
