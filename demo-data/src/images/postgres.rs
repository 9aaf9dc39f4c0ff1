//! `postgres`: the entrypoint drops to the postgres user with gosu (kernel setgid/setuid),
//! the postmaster binds 5432 and forks backends, the checkpointer and autovacuum write
//! relation files and the WAL; a backup loop runs `pg_dump` every few hours with the
//! database URL (and its password) on the command line.

use crate::behaviour::{Freq, ImageModel, Stream, R, W, WC};
use crate::secrets::PG_BACKUP_PASSWORD;

pub fn model(version: &'static str) -> ImageModel {
    let major = version.split('.').next().unwrap_or("15");
    let bin = |name: &str| format!("/usr/lib/postgresql/{major}/bin/{name}");
    let data = "/var/lib/postgresql/data";
    let mut m = ImageModel::new("postgres", version);
    let entry = m.proc(
        None,
        "/usr/local/bin/docker-entrypoint.sh",
        &["docker-entrypoint.sh", "postgres"],
        0,
        0,
    );
    let gosu = m.proc(
        None,
        "/usr/local/bin/gosu",
        &["gosu", "postgres", "docker-entrypoint.sh", "postgres"],
        0,
        0,
    );
    let postmaster = m.proc(None, &bin("postgres"), &["postgres"], 999, 999);
    let backend = m.child(
        postmaster,
        &bin("postgres"),
        &["postgres: app app 10.0.3.12(51234) idle"],
    );
    let backup = m.proc(
        None,
        "/bin/sh",
        &["/bin/sh", "/usr/local/bin/pg-backup-loop.sh"],
        999,
        999,
    );
    let dbname = format!("--dbname=postgres://backup:{PG_BACKUP_PASSWORD}@localhost:5432/app");
    let pg_dump = m.child(
        backup,
        &bin("pg_dump"),
        &[
            "pg_dump",
            &dbname,
            "-Fc",
            "-f",
            "/var/lib/postgresql/backups/app.dump",
        ],
    );
    let sleep = m.child(backup, "/bin/sleep", &["sleep", "21600"]);
    let isready = m.proc(
        None,
        "/usr/bin/pg_isready",
        &["pg_isready", "-U", "postgres"],
        999,
        999,
    );
    m.set_role("postmaster", postmaster);

    m.activity("entrypoint", Freq::Startup, Stream::All)
        .exec(entry)
        .read(entry, &[&format!("{data}/PG_VERSION")])
        .exec(gosu)
        .read(gosu, &["/etc/passwd", "/etc/group"])
        .drop_to(gosu, 999, 999)
        .exec(postmaster)
        .read(
            postmaster,
            &[
                &format!("{data}/postgresql.conf"),
                &format!("{data}/pg_hba.conf"),
                &format!("{data}/global/pg_control"),
            ],
        )
        .open(postmaster, &format!("{data}/postmaster.pid"), WC)
        .bind(postmaster, "0.0.0.0", 5432)
        .bind(postmaster, "::", 5432)
        .bind(postmaster, "/var/run/postgresql/.s.PGSQL.5432", 0)
        .exec(backup)
        .exec(sleep);
    m.activity("queries", Freq::Every, Stream::None)
        .read(
            backend,
            &[
                &format!("{data}/base/16384/2619"),
                &format!("{data}/base/16384/16402"),
                &format!("{data}/global/pg_filenode.map"),
            ],
        )
        .open(
            backend,
            &format!("{data}/pg_wal/000000010000000000000003"),
            W,
        );
    m.activity("healthcheck", Freq::Every, Stream::Execs)
        .exec(isready)
        .connect(isready, "/var/run/postgresql/.s.PGSQL.5432", 0);
    m.activity("checkpoint", Freq::Chance(0.66), Stream::None)
        .open(backend, &format!("{data}/base/16384/16402"), W)
        .open(backend, &format!("{data}/global/pg_control"), W);
    m.activity("autovacuum", Freq::Chance(0.36), Stream::None)
        .open(backend, &format!("{data}/base/16384/16402_fsm"), W)
        .open(backend, &format!("{data}/base/16384/16402_vm"), W);
    m.activity("wal segment switch", Freq::Chance(0.12), Stream::None)
        .open(
            backend,
            &format!("{data}/pg_wal/000000010000000000000004"),
            WC,
        )
        .open(
            backend,
            &format!("{data}/pg_wal/archive_status/000000010000000000000003.done"),
            WC,
        );
    m.activity("pg_dump", Freq::Chance(0.08), Stream::All)
        .exec(pg_dump)
        .read(pg_dump, &["/etc/passwd", "/etc/hosts"])
        .connect(pg_dump, "127.0.0.1", 5432)
        .open(pg_dump, "/var/lib/postgresql/backups/app.dump", WC)
        .exec(sleep);
    if major != "15" {
        m.activity("io workers", Freq::Chance(0.5), Stream::None)
            .open(backend, &format!("{data}/pg_stat/pgstat.tmp"), WC)
            .open(
                backend,
                &format!("{data}/pg_logical/replorigin_checkpoint"),
                R,
            );
    }
    m
}
