//! Secret literals the generated command lines carry, as real ones do. The tree builder and
//! the generator scrub argv, so none of these may appear in the bundle (tested).

/// `pg_dump --dbname=postgres://backup:PW@localhost:5432/app` in the postgres images.
pub const PG_BACKUP_PASSWORD: &str = "Sup3rS3cret-pgbackup";
/// `DATABASE_URL=postgresql://payments:PW@db.internal...` in payments-api's gunicorn argv.
pub const PAYMENTS_DB_PASSWORD: &str = "pa55w0rd-Payments-77";
/// `STRIPE_API_KEY=...` in payments-api's gunicorn argv.
pub const STRIPE_API_KEY: &str = "sk_live_51DemoKeyQx7Rf93LmZ";
/// `--broker=amqp://worker:PW@queue.internal:5672/jobs` in acme/worker's node argv.
pub const AMQP_PASSWORD: &str = "Qu3ue-P4ss-w0rker";
/// `python report.py --db-password=PW` in acme/nightly-report.
pub const REPORT_DB_PASSWORD: &str = "N1ghtly-R3p0rt-pw";
/// `alembic -x dburl=postgresql://...:PW@...` at payments-api start-up, with `--token`.
pub const MIGRATION_TOKEN: &str = "tok-8c1f0e55aa31";

/// Every secret above.
pub const ALL: [&str; 6] = [
    PG_BACKUP_PASSWORD,
    PAYMENTS_DB_PASSWORD,
    STRIPE_API_KEY,
    AMQP_PASSWORD,
    REPORT_DB_PASSWORD,
    MIGRATION_TOKEN,
];
