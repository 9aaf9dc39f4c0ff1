//! The command line.

use crate::engine::Speed;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "wsprof",
    version,
    about = "Workload security profiles for the containers of this host: capture, profile, triage."
)]
pub struct Cli {
    /// The store (a DuckDB file). Default: $XDG_DATA_HOME/wsprof/wsprof.duckdb; `demo` uses a fresh temporary file.
    #[arg(long, global = true, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Log file (tracing never writes to the terminal). Default: $XDG_STATE_HOME/wsprof/wsprof.log.
    #[arg(long, global = true, value_name = "PATH")]
    pub log_file: Option<PathBuf>,
    /// Settings file (TOML). Default: $WSPROF_CONFIG, else /etc/wsprof/config.toml if it exists.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Extra rules files (TOML or YAML) on top of the defaults.
    #[arg(long = "rules", global = true, value_name = "FILE")]
    pub rules: Vec<PathBuf>,
    /// The agent's API socket (also WSPROF_SOCKET). Clients attach to the agent there;
    /// without it they try /run/wsprof/wsprof.sock, then the store file (--db).
    #[arg(long, global = true, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Without a command: the UI, attached to the agent when one answers, else on the
    /// store file.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Args, Clone)]
pub struct UiArgs {
    /// Keymap on top of the default: `vim`, `emacs`, or a TOML file. The user's
    /// $XDG_CONFIG_HOME/wsprof/keymap.toml is applied last.
    #[arg(long, value_name = "PRESET|FILE")]
    pub keymap: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Replay the bundled demo data on a clock into a fresh store and open the UI (no root needed).
    Demo {
        /// Simulated seconds per real second, or `max` to load everything at once.
        #[arg(long, default_value = "1000", value_parser = parse_speed)]
        speed: Speed,
        /// Replay into the store and exit, without the UI.
        #[arg(long)]
        headless: bool,
        /// Replay this bundle file instead of the built-in one.
        #[arg(long, value_name = "FILE")]
        bundle: Option<PathBuf>,
        #[command(flatten)]
        ui: UiArgs,
    },
    /// Capture this host for real (root) and open the UI on what it sees.
    Live {
        #[command(flatten)]
        capture: CaptureArgs,
        #[command(flatten)]
        ui: UiArgs,
    },
    /// The always-on agent (root): captures, detects and ingests into the store, and serves
    /// the UI and the CLI on a unix socket (default /run/wsprof/wsprof.sock, mode 0660,
    /// group `wsprof`). Until SIGTERM/SIGINT, which store the open snapshots first.
    Agent {
        #[command(flatten)]
        capture: CaptureArgs,
        /// The group whose members may use the socket (default: the config's
        /// agent.socket_group, `wsprof`).
        #[arg(long, value_name = "GROUP")]
        socket_group: Option<String>,
    },
    /// The UI on the agent (or, when none answers, on the store file) without capturing.
    Ui {
        #[command(flatten)]
        ui: UiArgs,
    },
    /// The decisions people made (accept, reject, undo), who and when, newest first.
    Decisions {
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Capture this host for real (root) into the store, without the UI, until Ctrl-C.
    Capture {
        #[command(flatten)]
        capture: CaptureArgs,
        /// Stop after this long (30s, 10m, 2h).
        #[arg(long, value_name = "DURATION")]
        duration: Option<String>,
    },
    /// What the store holds and the last capture counters (events, lost, drops by kind).
    Status {
        #[arg(long)]
        json: bool,
    },
    /// List profiles (the images screen).
    Profiles {
        #[arg(long)]
        json: bool,
    },
    /// Profile commands.
    Profile {
        #[command(subcommand)]
        command: ProfileCommand,
    },
    /// List signals, newest first (the signal queue).
    Signals {
        #[arg(long)]
        json: bool,
        #[arg(long)]
        image: Option<String>,
        #[arg(long)]
        rule: Option<String>,
        /// open, suppressed or rejected
        #[arg(long)]
        status: Option<String>,
        /// Only signals whose container carries this tag (`namespace:payments`, `pod:web-1`).
        #[arg(long, value_name = "KEY:VALUE")]
        tag: Option<String>,
        /// Only signals from this Kubernetes namespace (same as `--tag namespace:NS`).
        #[arg(long, value_name = "NS", conflicts_with = "tag")]
        namespace: Option<String>,
        /// At most N signals, the newest (a page of a large queue).
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
    /// One snapshot: its own activity tree, each node's commonality in the profile.
    Snapshot {
        #[command(subcommand)]
        command: SnapshotCommand,
    },
    /// One signal with all its distinct matches, or (drift) every novel node.
    Signal {
        #[command(subcommand)]
        command: SignalCommand,
    },
    /// Accept a signal's suggestion: suppress its rule for its image and process.
    Suppress {
        signal_id: i64,
        /// Why (stored with the suppression).
        #[arg(long, default_value = "")]
        reason: String,
        /// Expire after a duration (30m, 12h, 7d).
        #[arg(long, value_name = "DURATION")]
        expires_in: Option<String>,
        /// Suppress even without a suggestion (the behaviour is not common in the profile).
        #[arg(long)]
        force: bool,
        /// Only show how many signals it would hide.
        #[arg(long)]
        dry_run: bool,
        /// Only for containers of this Kubernetes namespace (the signal's must be in it).
        #[arg(long, value_name = "NS", conflicts_with = "tag")]
        namespace: Option<String>,
        /// Only for containers carrying this tag (`pod:web-1`, `namespace:payments`, a label).
        #[arg(long, value_name = "KEY:VALUE")]
        tag: Option<String>,
    },
    /// Undo a suppression.
    Unsuppress { suppression_id: i64 },
    /// List suppressions.
    Suppressions {
        #[arg(long)]
        json: bool,
        /// Include undone ones.
        #[arg(long)]
        all: bool,
    },
    /// Respond to a signal: freeze its container (cgroup v2 freezer) or thaw it again.
    /// Needs root, or goes through the agent; asks first unless --yes. Every attempt is
    /// recorded in the responses table.
    Respond {
        #[command(subcommand)]
        command: RespondCommand,
    },
    /// The responses audit table: containers frozen and thawed, who, when, how it went.
    Responses {
        #[arg(long)]
        json: bool,
    },
    /// Detection rules.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Import or export snapshots (JSON or Parquet, by file extension).
    Snapshots {
        #[command(subcommand)]
        command: SnapshotsCommand,
    },
    /// Check a store file, or get one that no longer opens back into use.
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
    /// Settings (the config file).
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print every effective setting, its value and where it came from.
    Show {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Open the store read-only, count what it holds and check it is consistent
    /// (exit 1 when it cannot be opened or has problems).
    Check {
        #[arg(long)]
        json: bool,
    },
    /// A store that does not open (e.g. its WAL cannot be replayed after a crash): copy
    /// the damaged files aside, set the WAL aside, open what the main file holds and say
    /// what was lost. A store that opens is left untouched.
    Recover {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args, Clone)]
pub struct CaptureArgs {
    /// How often each container's activity is cut into a snapshot (30s, 10m, 30m, 2h).
    /// Default: capture.snapshot_interval of the config file, else 30m.
    #[arg(long, value_name = "DURATION")]
    pub snapshot_interval: Option<String>,
    /// At most this many containers profiled at once (the least recently started wait).
    /// Default: capture.max_containers of the config file, else 5.
    #[arg(long, value_name = "N")]
    pub max_containers: Option<usize>,
    /// Runtime API socket(s) to resolve images: docker/podman, containerd or CRI-O (probed; default: whichever exists).
    #[arg(long = "runtime-socket", value_name = "PATH")]
    pub runtime_sockets: Vec<PathBuf>,
    /// Also profile processes outside containers.
    #[arg(long)]
    pub host: bool,
}

#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Show one profile: its tree with commonality on every node.
    Show {
        /// IMAGE:VERSION
        profile: String,
        #[arg(long)]
        json: bool,
    },
    /// Compare two profiles (usually two versions of an image): the nodes the second holds
    /// that the first does not (added), those it no longer holds (removed), and those whose
    /// commonality moved by more than the threshold (moved), as a tree.
    Diff {
        /// IMAGE:VERSION to compare from (the older one).
        from: String,
        /// IMAGE:VERSION to compare with (the newer one).
        to: String,
        /// A node has moved when its commonality changed by more than this (0..1, or 20%).
        #[arg(long, default_value = "0.2", value_name = "SHARE")]
        threshold: String,
        #[arg(long)]
        json: bool,
    },
    /// Rank the profile's containers by how rare their behaviour is in it, each with the
    /// nodes that set it apart. Score = mean, over the distinct nodes in the container's
    /// snapshots (merged or kept), of (1 - the node's commonality in the profile); a node
    /// the profile does not hold counts as commonality 0.
    Outliers {
        /// IMAGE:VERSION
        profile: String,
        #[arg(long)]
        json: bool,
    },
    /// Export the profile for other tools (YAML): a Kubernetes NetworkPolicy of its egress,
    /// a wsprof rules file that flags anything outside it, or a Kubescape
    /// ApplicationProfile. A Learning profile is refused unless --force.
    Export {
        /// IMAGE:VERSION
        profile: String,
        /// networkpolicy, rules or kubescape
        #[arg(long, value_name = "FORMAT")]
        format: String,
        /// Write to this file (created mode 0600) instead of standard output.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Export a Learning profile too (its behaviour is not complete yet).
        #[arg(long)]
        force: bool,
    },
    /// Learning progress: per kind (process, file, DNS, network, kernel), the new nodes
    /// each of the last N merged snapshots brought, in ingest order.
    Progress {
        /// IMAGE:VERSION
        profile: String,
        /// How many of the last merged snapshots.
        #[arg(long, default_value_t = 20, value_name = "N")]
        last: usize,
        #[arg(long)]
        json: bool,
    },
    /// Promote a Learning profile to Stable now (recorded, undoable with `profile undo`).
    Promote {
        /// IMAGE:VERSION
        profile: String,
        /// Why (required; kept in the audit trail).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Reset a profile to Learning: it learns again from its next snapshot; what it learned
    /// is archived (kept, with its snapshots) and comes back with `profile undo`.
    Reset {
        /// IMAGE:VERSION
        profile: String,
        /// Why (required; kept in the audit trail).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Undo the latest promote or reset of a profile.
    Undo {
        /// IMAGE:VERSION
        profile: String,
        /// Why (kept in the audit trail).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// The promote and reset decisions on a profile: who, when, why, undone.
    History {
        /// IMAGE:VERSION
        profile: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Show one snapshot (ids: `wsprof profile show IMAGE:VERSION --json`, or the snapshot
    /// a signal happened in: `wsprof signal show ID`).
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SignalCommand {
    /// Show one signal: everything the queue and the panel show, with every distinct match
    /// and every novel node.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum RespondCommand {
    /// Freeze the container a signal came from: every process in it stops until thawed.
    Freeze {
        signal_id: i64,
        /// Do not ask (needed when stdin is not a terminal).
        #[arg(long)]
        yes: bool,
        /// Why (recorded with the response).
        #[arg(long, default_value = "")]
        reason: String,
        #[arg(long)]
        json: bool,
    },
    /// Thaw a frozen container: by the signal it was frozen for, or by its container id
    /// (at least 12 characters; one a response recorded).
    Thaw {
        #[arg(value_name = "SIGNAL_ID|CONTAINER")]
        target: String,
        /// Do not ask (needed when stdin is not a terminal).
        #[arg(long)]
        yes: bool,
        /// Why (recorded with the response).
        #[arg(long, default_value = "")]
        reason: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Validate a rules file (TOML or YAML).
    Check { file: PathBuf },
    /// List the active rules.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SnapshotsCommand {
    Export { file: PathBuf },
    Import { file: PathBuf },
}

fn parse_speed(s: &str) -> Result<Speed, String> {
    s.parse()
}
