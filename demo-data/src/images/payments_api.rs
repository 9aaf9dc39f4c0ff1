//! `acme/payments-api`: a Flask app under gunicorn on Python 3.11. Start-up runs database
//! migrations (with credentials on the command line), then gunicorn forks Python workers
//! that import under /usr/local/lib/python3.11, talk to `db.internal:5432` and
//! `api.stripe.com:443`, and now and then shell out to `uname -p` (a library collecting
//! platform details: a default rule flags it, and it is in most snapshots).

use crate::behaviour::{Freq, ImageModel, Stream, R, WC};
use crate::secrets::{MIGRATION_TOKEN, PAYMENTS_DB_PASSWORD, STRIPE_API_KEY};

const SITE: &str = "/usr/local/lib/python3.11/site-packages";

fn site(paths: &[&str]) -> Vec<String> {
    paths.iter().map(|p| format!("{SITE}/{p}")).collect()
}

pub fn model(version: &'static str) -> ImageModel {
    let newer = version != "2.3.0";
    let mut m = ImageModel::new("acme/payments-api", version);
    let entry = m.proc(
        None,
        "/app/docker-entrypoint.sh",
        &["/app/docker-entrypoint.sh"],
        1000,
        1000,
    );
    let dburl =
        format!("dburl=postgresql://payments:{PAYMENTS_DB_PASSWORD}@db.internal:5432/payments");
    let alembic = m.child(
        entry,
        "/usr/local/bin/alembic",
        &[
            "alembic",
            "-x",
            &dburl,
            "--token",
            MIGRATION_TOKEN,
            "upgrade",
            "head",
        ],
    );
    let db_env = format!(
        "DATABASE_URL=postgresql://payments:{PAYMENTS_DB_PASSWORD}@db.internal:5432/payments"
    );
    let stripe_env = format!("STRIPE_API_KEY={STRIPE_API_KEY}");
    let gunicorn = m.proc(
        None,
        "/usr/local/bin/gunicorn",
        &[
            "/usr/local/bin/python",
            "/usr/local/bin/gunicorn",
            "--bind",
            "0.0.0.0:8000",
            "--workers",
            "4",
            "--env",
            &db_env,
            "--env",
            &stripe_env,
            "payments.wsgi:app",
        ],
        1000,
        1000,
    );
    let worker = m.child(
        gunicorn,
        "/usr/local/bin/python3.11",
        &["gunicorn: worker [payments.wsgi:app]"],
    );
    let uname_sh = m.child(
        worker,
        "/bin/sh",
        &["/bin/sh", "-c", "uname -p 2> /dev/null"],
    );
    let uname = m.child(uname_sh, "/usr/bin/uname", &["uname", "-p"]);
    let hc = m.proc(
        None,
        "/usr/local/bin/python3.11",
        &[
            "python",
            "-c",
            "import urllib.request as u; u.urlopen('http://localhost:8000/healthz', timeout=2)",
        ],
        1000,
        1000,
    );
    m.set_role("worker", worker);

    let imports = site(&[
        "flask/__init__.py",
        "flask/app.py",
        "werkzeug/serving.py",
        "sqlalchemy/engine/base.py",
        "psycopg2/__init__.py",
        "psycopg2/_psycopg.cpython-311-x86_64-linux-gnu.so",
        "stripe/__init__.py",
    ]);
    let imports: Vec<&str> = imports.iter().map(String::as_str).collect();
    let a = m.activity("start-up", Freq::Startup, Stream::All);
    a.exec(entry)
        .exec(alembic)
        .read(
            alembic,
            &[
                "/app/alembic.ini",
                "/app/migrations/env.py",
                "/usr/local/lib/python3.11/logging/config.py",
            ],
        )
        .dns46(alembic, "db.internal")
        .connect(alembic, "10.0.2.15", 5432)
        .exec(gunicorn)
        .read(
            gunicorn,
            &[
                "/app/gunicorn.conf.py",
                "/usr/local/lib/python3.11/os.py",
                "/usr/local/lib/python3.11/json/__init__.py",
            ],
        )
        .bind(gunicorn, "0.0.0.0", 8000)
        .read(worker, &imports)
        .read(
            worker,
            &[
                "/app/payments/wsgi.py",
                "/app/payments/routes.py",
                "/etc/ssl/certs/ca-certificates.crt",
            ],
        );
    if newer {
        a.read(
            worker,
            &["/usr/local/lib/python3.11/site-packages/sentry_sdk/__init__.py"],
        );
    }

    m.activity("requests", Freq::Every, Stream::None)
        .dns46(worker, "db.internal")
        .connect(worker, "10.0.2.15", 5432);
    m.activity("stripe calls", Freq::Chance(0.72), Stream::None)
        .dns46(worker, "api.stripe.com")
        .connect(worker, "54.187.{oct}.12", 443)
        .read(
            worker,
            &["/usr/local/lib/python3.11/site-packages/certifi/cacert.pem"],
        );
    m.activity("healthcheck", Freq::Every, Stream::Execs)
        .exec(hc)
        .connect(hc, "127.0.0.1", 8000);
    m.activity("platform info", Freq::Chance(0.6), Stream::All)
        .exec(uname_sh)
        .exec(uname)
        .read(uname, &["/etc/ld.so.cache"]);
    m.activity("file uploads", Freq::Chance(0.3), Stream::None)
        .open(worker, "/tmp/tmp{tmp}", WC)
        .unlink(worker, "/tmp/tmp{tmp}");
    m.activity("refunds", Freq::Chance(0.05), Stream::None)
        .read(
            worker,
            &["/usr/local/lib/python3.11/site-packages/stripe/api_resources/refund.py"],
        )
        .dns46(worker, "hooks.slack.com")
        .connect(worker, "34.{oct}.42.7", 443);
    if newer {
        m.activity("error reporting", Freq::Chance(0.45), Stream::None)
            .dns46(worker, "o450123.ingest.sentry.io")
            .connect(worker, "34.120.{oct}.9", 443);
        m.activity("lazy import", Freq::Chance(0.08), Stream::None)
            .open(
                worker,
                "/usr/local/lib/python3.11/site-packages/stripe/api_resources/dispute.py",
                R,
            );
    }
    m
}
