//! Numbered schema migrations, applied in order inside one transaction each.
//!
//! Schema changes never live only in the WAL: DuckDB 1.5.6 cannot replay a WAL holding
//! `ALTER TABLE .. ADD COLUMN` on a table with a `nextval(..)` default (the store then no
//! longer opens: "Failure while replaying WAL file"). So the store is checkpointed before
//! migrations run (the WAL holds nothing else) and right after them. A new store is built
//! under a temporary name and renamed into place only once checkpointed (`lib.rs`). The
//! only DDL outside migrations is `CREATE TEMP TABLE` (ingest staging), which lives in the
//! connection's temporary catalog and is never written to the WAL.

use crate::{Result, StoreError};
use duckdb::Connection;

/// (version, SQL). Append only; never edit a released migration.
const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        r#"
CREATE SEQUENCE profile_ids START 1;
CREATE SEQUENCE signal_ids START 1;
CREATE SEQUENCE suppression_ids START 1;
CREATE TABLE profiles (
    profile_id        INTEGER PRIMARY KEY DEFAULT nextval('profile_ids'),
    image             VARCHAR NOT NULL,
    version           VARCHAR NOT NULL,
    status            VARCHAR NOT NULL,
    snapshot_count    INTEGER NOT NULL DEFAULT 0,
    first_snapshot_ms BIGINT,
    last_updated_ms   BIGINT,
    stable_since_ms   BIGINT,
    UNIQUE (image, version)
);
CREATE TABLE snapshots (
    snapshot_id  VARCHAR PRIMARY KEY,
    profile_id   INTEGER NOT NULL,
    container_id VARCHAR NOT NULL,
    host         VARCHAR NOT NULL,
    started_ms   BIGINT NOT NULL,
    ended_ms     BIGINT NOT NULL,
    merged       BOOLEAN NOT NULL,
    node_count   INTEGER NOT NULL,
    tree_json    VARCHAR NOT NULL
);
CREATE TABLE snapshot_nodes (
    snapshot_id VARCHAR NOT NULL,
    node_key    VARCHAR NOT NULL,
    parent_key  VARCHAR,
    kind        VARCHAR NOT NULL,
    label       VARCHAR NOT NULL,
    depth       INTEGER NOT NULL,
    access      INTEGER NOT NULL,
    args_json   VARCHAR NOT NULL
);
CREATE TABLE profile_nodes (
    profile_id INTEGER NOT NULL,
    node_key   VARCHAR NOT NULL,
    parent_key VARCHAR,
    kind       VARCHAR NOT NULL,
    label      VARCHAR NOT NULL,
    depth      INTEGER NOT NULL,
    snapshots  INTEGER NOT NULL,
    access     INTEGER NOT NULL,
    args_json  VARCHAR NOT NULL,
    PRIMARY KEY (profile_id, node_key)
);
CREATE TABLE signals (
    signal_id      BIGINT PRIMARY KEY DEFAULT nextval('signal_ids'),
    ts_ms          BIGINT NOT NULL,
    last_ts_ms     BIGINT NOT NULL,
    kind           VARCHAR NOT NULL,
    rule_id        VARCHAR NOT NULL,
    severity       VARCHAR NOT NULL,
    mitre          VARCHAR NOT NULL,
    container_id   VARCHAR NOT NULL,
    image          VARCHAR NOT NULL,
    version        VARCHAR NOT NULL,
    process_path   VARCHAR NOT NULL,
    process_json   VARCHAR NOT NULL,
    summary        VARCHAR NOT NULL,
    node_key       VARCHAR NOT NULL,
    reason         VARCHAR NOT NULL,
    status         VARCHAR NOT NULL,
    suppression_id BIGINT,
    count          INTEGER NOT NULL,
    dedup_key      VARCHAR NOT NULL
);
CREATE TABLE suppressions (
    suppression_id BIGINT PRIMARY KEY DEFAULT nextval('suppression_ids'),
    rule_id        VARCHAR NOT NULL,
    image          VARCHAR NOT NULL,
    lineage_json   VARCHAR NOT NULL,
    expression     VARCHAR NOT NULL,
    created_ms     BIGINT NOT NULL,
    created_by     VARCHAR NOT NULL,
    reason         VARCHAR NOT NULL,
    expires_ms     BIGINT,
    removed_ms     BIGINT,
    hidden_count   BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE capture_stats (
    ts_ms   BIGINT NOT NULL,
    events  BIGINT NOT NULL,
    lost    BIGINT NOT NULL,
    detail  VARCHAR NOT NULL
);
"#,
    ),
    (
        2,
        // Why a signal may get no suggestion whatever its profile says (its rule matched on
        // the command line, which profiles do not record).
        "ALTER TABLE signals ADD COLUMN suggestion_block VARCHAR;",
    ),
    (
        3,
        // Every decision a person makes (accept, reject, undo), who made it and from where:
        // an append-only audit trail.
        "CREATE TABLE decisions (
            ts_ms          BIGINT NOT NULL,
            who            VARCHAR NOT NULL,
            action         VARCHAR NOT NULL,
            signal_id      BIGINT,
            suppression_id BIGINT,
            detail         VARCHAR NOT NULL
        );",
    ),
    (
        4,
        // Nothing is lost to de-duplication or the rate limit. `signal_matches`: every
        // distinct match (node and summary) of a signal, with how many of its matches the
        // rate limit counted there instead of raising a signal of their own (existing
        // signals get one row: their own match, all counts on it). `drift_nodes`: every
        // node a Stable profile lacks, of one drift signal (one per container and window),
        // ranked.
        "CREATE TABLE signal_matches (
            signal_id    BIGINT NOT NULL,
            node_key     VARCHAR NOT NULL,
            summary      VARCHAR NOT NULL,
            count        BIGINT NOT NULL,
            rate_limited BIGINT NOT NULL,
            first_ms     BIGINT NOT NULL,
            last_ms      BIGINT NOT NULL
        );
        INSERT INTO signal_matches
            SELECT signal_id, node_key, summary, count, 0, ts_ms, last_ts_ms FROM signals;
        CREATE TABLE drift_nodes (
            signal_id  BIGINT NOT NULL,
            node_key   VARCHAR NOT NULL,
            parent_key VARCHAR,
            kind       VARCHAR NOT NULL,
            label      VARCHAR NOT NULL,
            access     INTEGER NOT NULL,
            category   VARCHAR NOT NULL,
            severity   VARCHAR NOT NULL,
            tactic     VARCHAR NOT NULL,
            why        VARCHAR NOT NULL,
            count      BIGINT NOT NULL,
            first_ms   BIGINT NOT NULL,
            last_ms    BIGINT NOT NULL
        );",
    ),
    (
        5,
        // Kubernetes hosts: the tags of the container (host, container name, pod, namespace,
        // labels; a JSON array of `key:value`) and the digest of the image it ran, on every
        // snapshot and signal. The profile key stays {image, version}.
        "ALTER TABLE snapshots ADD COLUMN tags_json VARCHAR DEFAULT '[]';
         ALTER TABLE snapshots ADD COLUMN image_digest VARCHAR DEFAULT '';
         ALTER TABLE signals ADD COLUMN tags_json VARCHAR DEFAULT '[]';
         ALTER TABLE signals ADD COLUMN image_digest VARCHAR DEFAULT '';",
    ),
    (
        6,
        // A suppression may be limited to containers carrying one tag (a Kubernetes
        // namespace, a pod, any runtime label); '' = every container of the image.
        "ALTER TABLE suppressions ADD COLUMN scope_tag VARCHAR DEFAULT '';",
    ),
    (
        7,
        // Learning progress and manual lifecycle decisions.
        // - `snapshots.ingest_seq`: the order snapshots were stored in; learning progress
        //   counts new nodes in that order. Rows stored before keep the order of their rows,
        //   numbered -N..-1 so that they sort before every later one whatever the sequence
        //   gave them while the column was added.
        // - `lifecycle_changes`: a person promoted a profile to Stable or reset it to
        //   Learning: who, when, why, the profile's state before (what an undo restores).
        // - `lifecycle_archive`: the nodes a profile had learned when it was reset (the
        //   archived generation, evidence; an undo adds them back). `snapshots.reset_id`
        //   names the reset whose archived generation a snapshot belongs to (NULL: the
        //   current one).
        // - `decisions.profile`: the `image:version` a lifecycle decision was about.
        // Written to be run again (IF NOT EXISTS): its row order fix-up (FOLLOW_UPS) runs in
        // a transaction of its own, and the version is recorded only with it.
        "CREATE SEQUENCE IF NOT EXISTS snapshot_seq START 1;
         CREATE SEQUENCE IF NOT EXISTS lifecycle_change_ids START 1;
         ALTER TABLE snapshots ADD COLUMN IF NOT EXISTS ingest_seq BIGINT DEFAULT nextval('snapshot_seq');
         ALTER TABLE snapshots ADD COLUMN IF NOT EXISTS reset_id BIGINT;
         CREATE TABLE IF NOT EXISTS lifecycle_changes (
             change_id              BIGINT PRIMARY KEY DEFAULT nextval('lifecycle_change_ids'),
             profile_id             INTEGER NOT NULL,
             action                 VARCHAR NOT NULL,
             ts_ms                  BIGINT NOT NULL,
             who                    VARCHAR NOT NULL,
             reason                 VARCHAR NOT NULL,
             prev_status            VARCHAR NOT NULL,
             prev_snapshot_count    INTEGER NOT NULL,
             prev_first_snapshot_ms BIGINT,
             prev_last_updated_ms   BIGINT,
             prev_stable_since_ms   BIGINT,
             undone_ms              BIGINT,
             undone_by              VARCHAR,
             undo_reason            VARCHAR
         );
         CREATE TABLE IF NOT EXISTS lifecycle_archive (
             change_id  BIGINT NOT NULL,
             node_key   VARCHAR NOT NULL,
             parent_key VARCHAR,
             kind       VARCHAR NOT NULL,
             label      VARCHAR NOT NULL,
             depth      INTEGER NOT NULL,
             snapshots  INTEGER NOT NULL,
             access     INTEGER NOT NULL,
             args_json  VARCHAR NOT NULL
         );
         ALTER TABLE decisions ADD COLUMN IF NOT EXISTS profile VARCHAR;",
    ),
    (
        8,
        // Responses: a container frozen or thawed from a signal, who did it, through what
        // (the cgroup v2 directory, or the runtime's pause), and how it went. An
        // append-only audit table: a failed attempt is recorded with its error.
        "CREATE SEQUENCE response_ids START 1;
         CREATE TABLE responses (
            response_id  BIGINT PRIMARY KEY DEFAULT nextval('response_ids'),
            at_ms        BIGINT NOT NULL,
            who          VARCHAR NOT NULL,
            action       VARCHAR NOT NULL,
            container_id VARCHAR NOT NULL,
            image        VARCHAR NOT NULL,
            version      VARCHAR NOT NULL,
            signal_id    BIGINT,
            cgroup_path  VARCHAR NOT NULL,
            method       VARCHAR NOT NULL,
            outcome      VARCHAR NOT NULL,
            error        VARCHAR NOT NULL,
            reason       VARCHAR NOT NULL
         );",
    ),
];

/// (version, SQL) to run after a migration's own transaction, once that is checkpointed, in
/// a transaction of its own that also records the version: DuckDB refuses to update a
/// table in the transaction that altered it. The migration must then be safe to run again
/// (a crash between the two leaves it applied but unrecorded).
const FOLLOW_UPS: &[(i64, &str)] = &[(
    7,
    // Snapshots stored before migration 7 (all of them, when it runs): the order of their
    // rows (the column's default numbered them in parallel, nearly but not exactly in that
    // order), as -N..-1 so that they sort before every later snapshot whatever the
    // sequence gave them.
    "UPDATE snapshots SET ingest_seq = o.n
       FROM (SELECT snapshot_id AS id,
                    row_number() OVER (ORDER BY rowid) - count(*) OVER () - 1 AS n
             FROM snapshots) o
      WHERE snapshots.snapshot_id = o.id;",
)];

/// Latest schema version this build knows.
pub const LATEST: i64 = 8;

pub fn migrate(conn: &mut Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_ms BIGINT NOT NULL)",
    )?;
    let current: i64 = conn.query_row(
        "SELECT coalesce(max(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?;
    if current > LATEST {
        return Err(StoreError::TooNew {
            found: current,
            known: LATEST,
        });
    }
    // Every migration not recorded yet, in order: not only those above the newest applied
    // one, since migrations developed apart land in any order (a store made by a build
    // with 8 but not 7 gets 7 when it meets a build that has it). Each touches its own
    // tables and columns.
    let applied: std::collections::HashSet<i64> = {
        let mut stmt = conn.prepare("SELECT version FROM schema_migrations")?;
        let rows = stmt.query_map([], |r| r.get::<_, i64>(0))?;
        rows.collect::<Result<_, _>>()?
    };
    let pending: Vec<_> = MIGRATIONS
        .iter()
        .filter(|(v, _)| !applied.contains(v))
        .collect();
    if pending.is_empty() {
        return Ok(());
    }
    conn.execute_batch("CHECKPOINT")?;
    for (version, sql) in pending {
        let follow_up = FOLLOW_UPS.iter().find(|(v, _)| v == version).map(|f| f.1);
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        if follow_up.is_none() {
            tx.execute(
                "INSERT INTO schema_migrations VALUES (?, ?)",
                duckdb::params![version, crate::now_ms()],
            )?;
        }
        tx.commit()?;
        if let Some(f) = follow_up {
            conn.execute_batch("CHECKPOINT")?;
            let tx = conn.transaction()?;
            tx.execute_batch(f)?;
            tx.execute(
                "INSERT INTO schema_migrations VALUES (?, ?)",
                duckdb::params![version, crate::now_ms()],
            )?;
            tx.commit()?;
        }
        tracing::info!(version, "applied migration");
    }
    conn.execute_batch("CHECKPOINT")?;
    Ok(())
}
