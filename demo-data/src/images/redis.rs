//! `redis`: the entrypoint fixes ownership of /data as root, drops to the redis user
//! (gosu in 7.0, setpriv in 7.2: kernel setgid/setuid), then redis-server binds 6379,
//! appends to its AOF and saves RDB snapshots; `redis-cli ping` is the healthcheck.

use crate::behaviour::{Freq, ImageModel, Stream, R, W, WA, WC};

pub fn model(version: &'static str) -> ImageModel {
    let newer = version != "7.0.15";
    let mut m = ImageModel::new("redis", version);
    let args = [
        "docker-entrypoint.sh",
        "redis-server",
        "--appendonly",
        "yes",
    ];
    let entry = m.proc(None, "/usr/local/bin/docker-entrypoint.sh", &args, 0, 0);
    let find = m.child(
        entry,
        "/usr/bin/find",
        &[
            "find", ".", "!", "-user", "redis", "-exec", "chown", "redis", "{}", "+",
        ],
    );
    let dropper = if newer {
        m.proc(
            None,
            "/usr/bin/setpriv",
            &[
                "setpriv",
                "--reuid=redis",
                "--regid=redis",
                "--clear-groups",
                "--",
                "docker-entrypoint.sh",
                "redis-server",
                "--appendonly",
                "yes",
            ],
            0,
            0,
        )
    } else {
        m.proc(
            None,
            "/usr/local/bin/gosu",
            &[
                "gosu",
                "redis",
                "docker-entrypoint.sh",
                "redis-server",
                "--appendonly",
                "yes",
            ],
            0,
            0,
        )
    };
    let server = m.proc(
        None,
        "/usr/local/bin/redis-server",
        &["redis-server *:6379"],
        999,
        999,
    );
    let cli = m.proc(
        None,
        "/usr/local/bin/redis-cli",
        &["redis-cli", "ping"],
        0,
        0,
    );
    m.set_role("server", server);

    m.activity("entrypoint", Freq::Startup, Stream::All)
        .exec(entry)
        .exec(find)
        .read(find, &["/data"])
        .chown(find, "/data/appendonlydir", 999, 999)
        .exec(dropper)
        .read(dropper, &["/etc/passwd", "/etc/group"])
        .drop_to(dropper, 999, 999)
        .exec(server)
        .read(
            server,
            &[
                "/proc/sys/net/core/somaxconn",
                "/sys/kernel/mm/transparent_hugepage/enabled",
            ],
        )
        .read(
            server,
            &[
                "/data/appendonlydir/appendonly.aof.manifest",
                "/data/dump.rdb",
            ],
        )
        .bind(server, "0.0.0.0", 6379)
        .bind(server, "::", 6379);
    if newer {
        m.activity("entrypoint", Freq::Startup, Stream::All)
            .read(server, &["/usr/local/etc/redis/redis.conf"]);
    }
    m.activity("append only file", Freq::Every, Stream::None)
        .open(server, "/data/appendonlydir/appendonly.aof.1.incr.aof", W);
    m.activity("healthcheck", Freq::Every, Stream::Execs)
        .exec(cli)
        .connect(cli, "127.0.0.1", 6379);
    m.activity("bgsave", Freq::Chance(0.62), Stream::None)
        .open(server, "/data/temp-bgsave.rdb", WC)
        .rename(server, "/data/temp-bgsave.rdb", "/data/dump.rdb");
    m.activity("aof rewrite", Freq::Chance(0.33), Stream::None)
        .open(server, "/data/appendonlydir/appendonly.aof.manifest", WC)
        .open(server, "/data/appendonlydir/temp-rewriteaof-bg.aof", WA);
    m.activity("memory stats", Freq::Chance(0.06), Stream::None)
        .open(server, "/proc/{pid}/smaps", R);
    m.activity("replica sync", Freq::Chance(0.04), Stream::None)
        .connect(server, "10.0.{oct}.31", 6379);
    m
}
