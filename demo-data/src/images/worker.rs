//! `acme/worker`: a Node.js job worker under tini. It consumes jobs from `queue.internal`
//! (AMQP, password in its argv), writes exports to S3, and rarely shells out to gzip a big
//! export: a default rule flags that, and it is rare, so no suppression is suggested.

use crate::behaviour::{Freq, ImageModel, Stream, R, WC};
use crate::secrets::AMQP_PASSWORD;

pub fn model(version: &'static str) -> ImageModel {
    let newer = version != "1.8.2";
    let mut m = ImageModel::new("acme/worker", version);
    let tini = m.proc(
        None,
        "/sbin/tini",
        &["/sbin/tini", "--", "node", "dist/worker.js"],
        1000,
        1000,
    );
    let broker = format!("--broker=amqp://worker:{AMQP_PASSWORD}@queue.internal:5672/jobs");
    let node = m.child(
        tini,
        "/usr/local/bin/node",
        &["node", "dist/worker.js", "--concurrency=4", &broker],
    );
    let gzip_sh = m.child(
        node,
        "/bin/sh",
        &["/bin/sh", "-c", "gzip -9 /tmp/export-{tmp}.json"],
    );
    let gzip = m.child(
        gzip_sh,
        "/bin/gzip",
        &["gzip", "-9", "/tmp/export-{tmp}.json"],
    );

    let a = m.activity("start-up", Freq::Startup, Stream::All);
    a.exec(tini)
        .exec(node)
        .read(
            node,
            &[
                "/app/dist/worker.js",
                "/app/package.json",
                "/app/node_modules/amqplib/lib/connect.js",
                "/app/node_modules/@aws-sdk/client-s3/dist-cjs/index.js",
                "/etc/ssl/certs/ca-certificates.crt",
            ],
        )
        .dns46(node, "queue.internal")
        .connect(node, "10.0.4.20", 5672);
    if newer {
        a.read(
            node,
            &["/var/run/secrets/eks.amazonaws.com/serviceaccount/token"],
        )
        .dns46(node, "sts.eu-west-1.amazonaws.com")
        .connect(node, "52.94.{oct}.3", 443);
    }
    m.activity("jobs", Freq::Every, Stream::None)
        .dns(node, "acme-exports.s3.eu-west-1.amazonaws.com")
        .connect(node, "52.218.{oct}.66", 443)
        .read(node, &["/sys/fs/cgroup/memory.max", "/proc/{pid}/stat"]);
    m.activity("exports", Freq::Chance(0.55), Stream::None)
        .open(node, "/tmp/export-{tmp}.json", WC)
        .unlink(node, "/tmp/export-{tmp}.json");
    m.activity("reconnect", Freq::Chance(0.07), Stream::None)
        .dns46(node, "queue.internal")
        .connect(node, "10.0.4.20", 5672);
    m.activity("big export", Freq::Chance(0.05), Stream::All)
        .open(node, "/tmp/export-{tmp}.json", WC)
        .exec(gzip_sh)
        .exec(gzip)
        .open(gzip, "/tmp/export-{tmp}.json", R)
        .open(gzip, "/tmp/export-{tmp}.json.gz", WC)
        .unlink(gzip, "/tmp/export-{tmp}.json");
    if newer {
        m.activity("dead letters", Freq::Chance(0.35), Stream::None)
            .dns(node, "sqs.eu-west-1.amazonaws.com")
            .connect(node, "52.119.{oct}.20", 443);
    }
    m
}
