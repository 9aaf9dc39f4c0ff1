//! `nginx`: the official image's entrypoint scripts, a master and its workers, config
//! reads, log writes, a proxied upstream, and a healthcheck `/bin/sh -c curl localhost`
//! spawned by the master (which default rules flag, and which is in nearly every snapshot).
//! 1.27.0 also loads the njs module, serves a status page and staples OCSP responses (a
//! DNS question and a connection to a public address that 1.25.3 never made).

use crate::behaviour::{Freq, ImageModel, Stream, R, W, WA, WC};

pub fn model(version: &'static str) -> ImageModel {
    let newer = version != "1.25.3";
    let mut m = ImageModel::new("nginx", version);
    let entry = m.proc(
        None,
        "/docker-entrypoint.sh",
        &["/docker-entrypoint.sh", "nginx", "-g", "daemon off;"],
        0,
        0,
    );
    let find = m.child(
        entry,
        "/usr/bin/find",
        &[
            "find",
            "/docker-entrypoint.d/",
            "-mindepth",
            "1",
            "-maxdepth",
            "1",
            "-type",
            "f",
            "-print",
            "-quit",
        ],
    );
    let ipv6 = m.child(
        entry,
        "/docker-entrypoint.d/10-listen-on-ipv6-by-default.sh",
        &["/docker-entrypoint.d/10-listen-on-ipv6-by-default.sh"],
    );
    let sed = m.child(
        ipv6,
        "/bin/sed",
        &[
            "sed",
            "-i",
            "-E",
            "s,listen       80;,listen       80;\\n    listen  [::]:80;,",
            "/etc/nginx/conf.d/default.conf",
        ],
    );
    let envsubst_sh = m.child(
        entry,
        "/docker-entrypoint.d/20-envsubst-on-templates.sh",
        &["/docker-entrypoint.d/20-envsubst-on-templates.sh"],
    );
    let tune = m.child(
        entry,
        "/docker-entrypoint.d/30-tune-worker-processes.sh",
        &["/docker-entrypoint.d/30-tune-worker-processes.sh"],
    );
    let master = m.proc(
        None,
        "/usr/sbin/nginx",
        &["nginx", "-g", "daemon off;"],
        0,
        0,
    );
    let worker = m.child(master, "/usr/sbin/nginx", &["nginx: worker process"]);
    m.procs[worker].uid = 101;
    m.procs[worker].gid = 101;
    let hc_sh = m.child(
        master,
        "/bin/sh",
        &[
            "/bin/sh",
            "-c",
            "curl -fsS http://localhost/healthz || exit 1",
        ],
    );
    let hc_curl = m.child(
        hc_sh,
        "/usr/bin/curl",
        &["curl", "-fsS", "http://localhost/healthz"],
    );
    m.set_role("master", master);
    m.set_role("worker", worker);

    let a = m.activity("entrypoint", Freq::Startup, Stream::All);
    a.exec(entry)
        .read(entry, &["/etc/passwd"])
        .exec(find)
        .read(find, &["/docker-entrypoint.d"])
        .exec(ipv6)
        .read(ipv6, &["/etc/nginx/conf.d/default.conf"])
        .exec(sed)
        .read(sed, &["/etc/nginx/conf.d/default.conf"])
        .open(sed, "/etc/nginx/conf.d/sedq3K9xB", WC)
        .rename(
            sed,
            "/etc/nginx/conf.d/sedq3K9xB",
            "/etc/nginx/conf.d/default.conf",
        )
        .exec(envsubst_sh)
        .read(envsubst_sh, &["/etc/nginx/templates"])
        .exec(tune);
    a.exec(master).read(
        master,
        &[
            "/etc/nginx/nginx.conf",
            "/etc/nginx/mime.types",
            "/etc/nginx/conf.d/default.conf",
            "/etc/passwd",
            "/etc/group",
        ],
    );
    if newer {
        a.read(
            master,
            &[
                "/etc/nginx/conf.d/status.conf",
                "/usr/lib/nginx/modules/ngx_http_js_module.so",
            ],
        );
    }
    a.bind(master, "0.0.0.0", 80)
        .bind(master, "::", 80)
        .open(master, "/var/log/nginx/error.log", WA)
        .open(master, "/var/log/nginx/access.log", WA)
        .open(master, "/var/run/nginx.pid", WC)
        .drop_to(worker, 101, 101);

    m.activity("serve", Freq::Every, Stream::None)
        .read(worker, &["/usr/share/nginx/html/index.html"])
        .open(worker, "/var/log/nginx/access.log", W)
        .connect(worker, "10.0.{oct}.21", 8000);
    m.activity("healthcheck", Freq::Every, Stream::All)
        .exec(hc_sh)
        .exec(hc_curl)
        .read(hc_curl, &["/etc/hosts", "/etc/ssl/openssl.cnf"])
        .connect(hc_curl, "127.0.0.1", 80);
    m.activity("static assets", Freq::Chance(0.62), Stream::None)
        .read(
            worker,
            &[
                "/usr/share/nginx/html/assets/app.js",
                "/usr/share/nginx/html/assets/app.css",
            ],
        );
    m.activity("error page", Freq::Chance(0.38), Stream::None)
        .read(worker, &["/usr/share/nginx/html/50x.html"])
        .open(worker, "/var/log/nginx/error.log", W);
    m.activity("client body buffering", Freq::Chance(0.3), Stream::None)
        .open(worker, "/var/cache/nginx/client_temp/0000000{pid}", WC)
        .unlink(worker, "/var/cache/nginx/client_temp/0000000{pid}");
    if newer {
        m.activity("status page", Freq::Chance(0.55), Stream::None)
            .read(worker, &["/proc/{pid}/status"]);
    }
    if newer {
        // 1.27.0's config turns on OCSP stapling: workers now resolve the CA's OCSP
        // responder and connect to it on a public address, which 1.25.3 never did. What a
        // version diff should surface (and an egress policy must allow).
        m.activity("ocsp stapling", Freq::Chance(0.45), Stream::None)
            .dns(worker, "r11.o.lencr.org")
            .connect(worker, "23.215.0.{oct}", 80);
    }
    m.activity("log reopen", Freq::Chance(0.05), Stream::None)
        .open(master, "/var/log/nginx/access.log", WA)
        .open(master, "/var/log/nginx/error.log", WA);
    m.activity("config reload", Freq::Chance(0.03), Stream::None)
        .read(
            master,
            &["/etc/nginx/nginx.conf", "/etc/nginx/conf.d/default.conf"],
        )
        .open(master, "/proc/sys/kernel/ngroups_max", R);
    m
}
