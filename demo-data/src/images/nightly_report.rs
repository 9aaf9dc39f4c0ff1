//! `acme/nightly-report`: a job container (one run per container, one snapshot each):
//! `/bin/sh -c` refreshes apt lists and pip-installs requirements at start (default rules
//! flag package managers; it happens in every run), then `python report.py` queries the
//! database, writes temp files with random names (folded to `/tmp/*`) and uploads to S3.

use crate::behaviour::{Freq, ImageModel, Stream, WC};
use crate::secrets::REPORT_DB_PASSWORD;

pub fn model(version: &'static str) -> ImageModel {
    let newer = version != "0.4.0";
    let mut m = ImageModel::new("acme/nightly-report", version);
    let pw = format!("--db-password={REPORT_DB_PASSWORD}");
    let cmd = format!(
        "apt-get update -qq && pip install -q -r requirements.txt && python report.py {pw}"
    );
    let sh = m.proc(None, "/bin/sh", &["/bin/sh", "-c", &cmd], 0, 0);
    let apt = m.child(sh, "/usr/bin/apt-get", &["apt-get", "update", "-qq"]);
    let http = m.child(
        apt,
        "/usr/lib/apt/methods/http",
        &["/usr/lib/apt/methods/http"],
    );
    m.procs[http].uid = 42;
    let pip = m.child(
        sh,
        "/usr/local/bin/pip",
        &["pip", "install", "-q", "-r", "requirements.txt"],
    );
    let py = m.child(
        sh,
        "/usr/local/bin/python3.11",
        &["python", "report.py", &pw],
    );

    m.activity("packages", Freq::Every, Stream::All)
        .exec(sh)
        .exec(apt)
        .read(apt, &["/etc/apt/sources.list.d/debian.sources"])
        .exec(http)
        .dns46(http, "deb.debian.org")
        .connect(http, "151.101.{oct}.132", 80)
        .open(
            apt,
            "/var/lib/apt/lists/partial/deb.debian.org_debian_dists_bookworm_InRelease",
            WC,
        )
        .exec(pip)
        .read(pip, &["/app/requirements.txt"])
        .dns46(pip, "pypi.org")
        .connect(pip, "151.101.{oct}.223", 443)
        .dns46(pip, "files.pythonhosted.org")
        .open(pip, "/tmp/pip-install-{tmp}/jinja2_{tmp}/setup.py", WC)
        .open(
            pip,
            "/usr/local/lib/python3.11/site-packages/jinja2/__init__.py",
            WC,
        );
    let a = m.activity("report", Freq::Every, Stream::Execs);
    a.exec(py)
        .read(
            py,
            &[
                "/app/report.py",
                "/usr/local/lib/python3.11/csv.py",
                "/usr/local/lib/python3.11/site-packages/psycopg2/__init__.py",
                "/usr/local/lib/python3.11/site-packages/boto3/__init__.py",
            ],
        )
        .dns46(py, "db.internal")
        .connect(py, "10.0.2.15", 5432)
        .open(py, "/tmp/tmp.{tmp}", WC)
        .open(py, "/tmp/report-{tmp}.csv", WC)
        .dns(py, "acme-reports.s3.eu-west-1.amazonaws.com")
        .connect(py, "52.218.{oct}.41", 443)
        .unlink(py, "/tmp/tmp.{tmp}");
    if newer {
        a.read(
            py,
            &[
                "/usr/local/lib/python3.11/site-packages/jinja2/__init__.py",
                "/app/templates/report.html",
            ],
        );
    }
    m.activity("email", Freq::Chance(0.58), Stream::None)
        .dns46(py, "smtp.sendgrid.net")
        .connect(py, "167.89.{oct}.20", 587);
    m.activity("slow query retry", Freq::Chance(0.33), Stream::None)
        .open(py, "/tmp/retry-{tmp}.json", WC);
    m.activity("charts", Freq::Chance(0.06), Stream::None)
        .read(
            py,
            &["/usr/local/lib/python3.11/site-packages/matplotlib/__init__.py"],
        )
        .open(py, "/root/.cache/matplotlib/fontlist-v330.json", WC)
        .open(py, "/tmp/chart-{tmp}.png", WC);
    m
}
