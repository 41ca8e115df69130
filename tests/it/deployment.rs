//! Real deployments, with real third-party components started by the tests on loopback:
//! - nginx terminating TLS in front of the reference server, with a private CA, a self-signed
//!   certificate made the usual way (`openssl req -x509`, CA:TRUE) and a required client
//!   certificate, all generated here with the `openssl` command;
//! - tinyproxy as the forward proxy of `HTTP_PROXY` and of a profile's `proxy:`;
//! - nginx as a gateway that refuses every request without its own header.
//!
//! Each checks by what the component saw (its access log) that the requests went the way they
//! should, and by the reports that they say so. nginx, openssl and tinyproxy missing are failures,
//! never skips: `.ci/run` installs them.
#![cfg(unix)]

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::KeptOnFailure;
use crate::support::binary::{BIN, Output, Proc, Server, free_port, nginx_binary, wait};

/// A handful of clauses that touch each credential: an API key, a login, the admin token.
const ONLY: &str = "AUTH-KEY-HEADER,AUTH-KEY-UNKNOWN,AUTH-TOKEN-BEARER,AUTH-ADMIN-HEADER";

struct Fixture {
    dir: KeptOnFailure,
    server: Server,
    upstream: SocketAddr,
    credentials: serde_json::Value,
}

impl Fixture {
    /// The reference server (no rate limiting of its own) and a folder for certificates,
    /// configurations, logs and reports, readable by nginx's workers.
    fn start() -> Self {
        Self::start_with(&[])
    }

    /// The same, the server started with `args` as well (`--fault NAME`).
    fn start_with(args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--addr", "127.0.0.1:0", "--window", "1ns"])
            .args(args)
            .arg("--credentials-out")
            .arg(dir.path().join("creds.json"));
        let server = Server::start(cmd, Duration::from_secs(60));
        let upstream = server
            .url
            .strip_prefix("http://")
            .and_then(|a| a.parse().ok())
            .expect("serve's address");
        let credentials = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("creds.json")).expect("credentials"),
        )
        .expect("credentials JSON");
        Fixture {
            dir: KeptOnFailure::new(dir),
            server,
            upstream,
            credentials,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn credential(&self, role: &str) -> String {
        self.credentials[role].as_str().expect(role).to_string()
    }

    /// The harness with the target's credentials in the environment (as `--target` reads them).
    fn harness(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut c = Command::new(BIN);
        c.args(args)
            .env("NO_COLOR", "1")
            .env_remove("HTTP_PROXY")
            .env_remove("HTTPS_PROXY")
            .env_remove("ALL_PROXY")
            .env_remove("http_proxy")
            .env_remove("https_proxy")
            .env_remove("all_proxy")
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .env_remove("SSL_CERT_FILE")
            .env("LELANTOS_API_KEY", self.credential("api_key"))
            .env("LELANTOS_EMAIL", self.credential("email"))
            .env("LELANTOS_PASSWORD", self.credential("password"))
            .env("LELANTOS_ADMIN_TOKEN", self.credential("admin_token"))
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            c.env(k, v);
        }
        let out = wait(
            c.spawn().expect("the binary starts"),
            Duration::from_secs(120),
        );
        assert!(self.server_alive(), "the reference server died");
        out
    }

    fn server_alive(&self) -> bool {
        // `Server::alive` needs `&mut`; a connection tells as much.
        TcpStream::connect(self.upstream).is_ok()
    }

    /// `run --only ONLY` against `url` with `extra`; its reports in `<dir>/<name>`.
    fn run(
        &self,
        name: &str,
        url: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> (Output, Reports) {
        let reports = self.path(name);
        let mut args = vec!["run", "--quiet", "--only", ONLY, "--report-dir"];
        let dir = reports.to_str().unwrap().to_string();
        args.push(&dir);
        if !url.is_empty() {
            args.extend(["--target", url]);
        }
        args.extend(extra);
        let out = self.harness(&args, env);
        (out, Reports(reports))
    }

    fn openssl(&self, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("openssl is installed (apt-get install openssl)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A private CA (`ca.pem`) with a server certificate for localhost and 127.0.0.1
    /// (`server.pem`) and a client certificate (`client.pem`, CN=harness) issued by it; and a
    /// self-signed server certificate made the usual way (`self.pem`, CA:TRUE).
    fn certificates(&self) {
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let req_x509 = |key: &str, out: &str, subj: &str, ext: &[&str]| {
            let mut a = vec!["req", "-x509"];
            a.extend(ec);
            a.extend(["-keyout", key, "-out", out, "-days", "2", "-subj", subj]);
            a.extend(ext);
            self.openssl(&a);
        };
        req_x509("ca.key", "ca.pem", "/CN=lelantos test CA", &[]);
        req_x509(
            "self.key",
            "self.pem",
            "/CN=localhost",
            &["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        );
        req_x509(
            "other.key",
            "other.pem",
            "/CN=other.example",
            &["-addext", "subjectAltName=DNS:other.example"],
        );
        std::fs::write(
            self.path("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        std::fs::write(self.path("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
        for (name, subj) in [("server", "/CN=localhost"), ("client", "/CN=harness")] {
            let (key, csr, pem, ext) = (
                format!("{name}.key"),
                format!("{name}.csr"),
                format!("{name}.pem"),
                format!("{name}.ext"),
            );
            let mut a = vec!["req"];
            a.extend(ec);
            a.extend(["-keyout", &key, "-out", &csr, "-subj", subj]);
            self.openssl(&a);
            self.openssl(&[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &pem,
                "-days",
                "2",
                "-extfile",
                &ext,
            ]);
        }
        let text = Command::new("openssl")
            .args(["x509", "-in", "self.pem", "-noout", "-text"])
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&text.stdout).contains("CA:TRUE"),
            "openssl req -x509 no longer writes CA:TRUE: the self-signed case tests nothing"
        );
    }

    /// nginx as `name` with `server` (a `server { ... }` body's directives, `@PORT@` replaced)
    /// proxying to the reference server; access log `<name>.access.log` in `format`. Header
    /// lines up to 16 KB: the keys property sends API keys of up to 8 KB, which nginx's default
    /// (8 KB a line) answers 400 before reading any header, the gateway's included.
    fn nginx(&self, name: &str, format: &str, server: &str) -> (Proc, u16) {
        let bin = nginx_binary();
        let tmp = self.dir.path().display().to_string();
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port();
            let conf = format!(
                "worker_processes 1;\npid {tmp}/{name}.pid;\nerror_log {tmp}/{name}.error.log warn;\n\
                 events {{ worker_connections 1024; }}\n\
                 http {{\n  log_format d '{format}';\n  access_log {tmp}/{name}.access.log d;\n\
                 client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;\n\
                 fastcgi_temp_path {tmp}/fastcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;\n\
                 server_tokens off;\n  large_client_header_buffers 4 16k;\n  server {{\n    {}\n    location / {{ proxy_pass http://{}; }}\n  }}\n}}\n",
                server.replace("@PORT@", &port.to_string()),
                self.upstream
            );
            let conf_path = self.path(&format!("{name}.conf"));
            std::fs::write(&conf_path, conf).unwrap();
            let log = std::fs::File::create(self.path(&format!("{name}.stderr"))).unwrap();
            let child = Command::new(&bin)
                .arg("-c")
                .arg(&conf_path)
                .arg("-p")
                .arg(self.dir.path())
                .args(["-g", "daemon off;"])
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("nginx starts");
            let mut proc = Proc {
                name: "nginx",
                child,
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if proc.exited().is_some() {
                    last = std::fs::read_to_string(self.path(&format!("{name}.stderr")))
                        .unwrap_or_default();
                    assert!(
                        last.contains("Address already in use"),
                        "nginx {name} exited at start: {last}"
                    );
                    break;
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return (proc, port);
                }
                assert!(Instant::now() < deadline, "nginx {name} did not listen");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("nginx found no free port: {last}");
    }

    /// The lines of `<name>.access.log` (nginx writes each as the request ends).
    fn access_log(&self, name: &str) -> Vec<String> {
        std::fs::read_to_string(self.path(&format!("{name}.access.log")))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn clear_log(&self, name: &str) {
        let _ = std::fs::write(self.path(&format!("{name}.access.log")), "");
    }
}

/// A run's report folder.
struct Reports(PathBuf);

impl Reports {
    fn json(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.0.join("compliance.json"))
            .unwrap_or_else(|e| panic!("no compliance.json in {}: {e}", self.0.display()));
        serde_json::from_str(&text).expect("compliance.json")
    }

    fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.0.join(name)).unwrap_or_default()
    }

    /// Every report file, concatenated.
    fn all(&self) -> String {
        [
            "compliance.json",
            "compliance.md",
            "junit.xml",
            "report.html",
            "load.json",
        ]
        .iter()
        .map(|f| self.file(f))
        .collect::<Vec<_>>()
        .join("\n")
    }

    /// The status of each clause of `ONLY`.
    fn statuses(&self) -> Vec<(String, String)> {
        let json = self.json();
        ONLY.split(',')
            .map(|id| {
                let status = json["clauses"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|c| c["id"] == id)
                    .map(|c| c["status"].as_str().unwrap().to_string())
                    .unwrap_or_else(|| "absent".into());
                (id.to_string(), status)
            })
            .collect()
    }

    fn assert_all_pass(&self, out: &Output, what: &str) {
        out.assert_code(0, what);
        for (id, status) in self.statuses() {
            assert_eq!(status, "pass", "{what}: {id} is {status}\n{}", out.stderr);
        }
    }
}

fn tls_server(cert: &str, extra: &str) -> String {
    format!(
        "listen 127.0.0.1:@PORT@ ssl;\n    ssl_certificate {cert}.pem;\n    ssl_certificate_key {cert}.key;\n    {extra}"
    )
}

#[test]
fn a_private_ca_is_trusted_with_cacert_refused_without_and_skipped_with_insecure() {
    let f = Fixture::start();
    f.certificates();
    let (_nginx, port) = f.nginx(
        "tls",
        "$request_method $uri $status $ssl_protocol",
        &tls_server(&f.path("server").display().to_string(), ""),
    );
    let url = format!("https://127.0.0.1:{port}");

    // Trusted with the CA: every clause passes, every request went over TLS, the report says so.
    let (out, reports) = f.run("with-ca", &url, &["--cacert", "ca.pem"], &[]);
    reports.assert_all_pass(&out, "with --cacert: ");
    let json = reports.json();
    assert_eq!(
        json["target"]["tls"]["ca"][0], "ca.pem",
        "{}",
        json["target"]
    );
    assert_eq!(json["target"]["tls"]["insecure"], false);
    assert!(json.get("warnings").is_none(), "{json}");
    let log = f.access_log("tls");
    assert!(log.len() >= 4, "nginx saw {} requests", log.len());
    assert!(log.iter().all(|l| l.contains("TLSv1.")), "{log:?}");

    // Without it: exit 3 before any clause, naming the certificate problem and the way out.
    let (out, _) = f.run("without-ca", &url, &[], &[]);
    out.assert_code(3, "without --cacert: ");
    assert!(out.stderr.contains("UnknownIssuer"), "{}", out.stderr);
    assert!(out.stderr.contains("--cacert"), "{}", out.stderr);

    // --insecure: accepted, with a warning on stderr and in every report.
    let (out, reports) = f.run("insecure", &url, &["--insecure"], &[]);
    reports.assert_all_pass(&out, "with --insecure: ");
    assert!(out.stderr.contains("warning: --insecure"), "{}", out.stderr);
    let json = reports.json();
    assert_eq!(json["target"]["tls"]["insecure"], true);
    assert!(
        json["warnings"][0].as_str().unwrap().contains("--insecure"),
        "{json}"
    );
    for file in ["compliance.md", "junit.xml", "report.html"] {
        assert!(
            reports.file(file).contains("--insecure"),
            "{file} does not record --insecure"
        );
    }
    assert!(
        out.stdout.contains("--insecure"),
        "terminal: {}",
        out.stdout
    );

    // timing and load take the same TLS settings.
    f.clear_log("tls");
    let timing = f.path("timing");
    let out = f.harness(
        &[
            "timing",
            "--quiet",
            "--target",
            &url,
            "--cacert",
            "ca.pem",
            "--samples",
            "200",
            "--budget",
            "20s",
            "--report-dir",
            timing.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        matches!(out.code, Some(0 | 1)),
        "timing over TLS: {}",
        out.stderr
    );
    let json = Reports(timing).json();
    let status = json["clauses"][0]["status"].as_str().unwrap().to_string();
    assert!(
        status != "error" && json["verdict"] != "error",
        "timing over TLS: {json}"
    );
    assert!(
        f.access_log("tls").len() >= 200,
        "nginx saw {} timing requests",
        f.access_log("tls").len()
    );
    f.clear_log("tls");
    let load = f.path("load");
    let out = f.harness(
        &[
            "load",
            "--quiet",
            "--target",
            &url,
            "--cacert",
            "ca.pem",
            "--scenario",
            concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/load-burst.yaml"),
            "--users",
            "4",
            "--duration",
            "1s",
            "--report-dir",
            load.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        matches!(out.code, Some(0 | 1)),
        "load over TLS: {}",
        out.stderr
    );
    let load_json: serde_json::Value =
        serde_json::from_str(&Reports(load.clone()).file("load.json")).expect("load.json");
    let ok = load_json["statuses"]["200"].as_u64().unwrap_or(0);
    assert!(
        ok > 0,
        "no request of the swarm was answered 200: {load_json}"
    );
    let seen = f.access_log("tls").len() as u64;
    assert!(
        seen >= ok,
        "nginx saw {seen} requests, the swarm counted {ok} answers"
    );
    let threshold = Reports(load).json()["clauses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "LOAD-THRESHOLDS")
        .map(|c| c["status"].clone());
    assert_eq!(
        threshold,
        Some("pass".into()),
        "errors over TLS in the swarm"
    );
}

#[test]
fn a_self_signed_certificate_given_as_its_own_ca_is_trusted_as_curl_does() {
    let f = Fixture::start();
    f.certificates();
    let (_nginx, port) = f.nginx(
        "self",
        "$request_method $uri $status",
        &tls_server(&f.path("self").display().to_string(), ""),
    );
    let url = format!("https://127.0.0.1:{port}");
    // The peer: curl trusts it given as the CA.
    let curl = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
        .arg(f.path("self.pem"))
        .arg(format!("{url}/"))
        .output()
        .expect("curl is installed");
    assert!(
        curl.status.success(),
        "curl refused the self-signed certificate"
    );

    let (out, reports) = f.run("cacert", &url, &["--cacert", "self.pem"], &[]);
    reports.assert_all_pass(&out, "--cacert self.pem: ");
    let (out, reports) = f.run(
        "localhost",
        &format!("https://localhost:{port}"),
        &["--cacert", "self.pem"],
        &[],
    );
    reports.assert_all_pass(&out, "by name: ");
    // SSL_CERT_FILE (the platform's roots, replaced) works the same.
    let file = f.path("self.pem");
    let (out, reports) = f.run(
        "ssl-cert-file",
        &url,
        &[],
        &[("SSL_CERT_FILE", file.to_str().unwrap())],
    );
    reports.assert_all_pass(&out, "SSL_CERT_FILE: ");
    // Without it the refusal names the problem and the way out.
    let (out, _) = f.run("none", &url, &[], &[]);
    out.assert_code(3, "no CA: ");
    assert!(out.stderr.contains("--cacert"), "{}", out.stderr);
    // The allowance is for the certificate's own names only: another self-signed certificate
    // given as the CA is no trust anchor for this one, and one for another name is refused.
    let (_other, other_port) = f.nginx(
        "other",
        "$request_method $uri $status",
        &tls_server(&f.path("other").display().to_string(), ""),
    );
    let (out, _) = f.run("wrong-anchor", &url, &["--cacert", "other.pem"], &[]);
    out.assert_code(3, "another certificate as the CA: ");
    let (out, _) = f.run(
        "wrong-name",
        &format!("https://127.0.0.1:{other_port}"),
        &["--cacert", "other.pem"],
        &[],
    );
    out.assert_code(3, "a certificate for another name: ");
    assert!(out.stderr.contains("NotValidForName"), "{}", out.stderr);
}

#[test]
fn a_required_client_certificate_is_presented_from_flags_or_the_profile() {
    let f = Fixture::start();
    f.certificates();
    let ca = f.path("ca.pem").display().to_string();
    let (_nginx, port) = f.nginx(
        "mtls",
        "$request_method $uri $status client=$ssl_client_s_dn verify=$ssl_client_verify",
        &tls_server(
            &f.path("server").display().to_string(),
            &format!("ssl_client_certificate {ca};\n    ssl_verify_client on;"),
        ),
    );
    let url = format!("https://127.0.0.1:{port}");

    // Without one, nginx answers 400 to every request: nothing passes.
    let (out, reports) = f.run("no-cert", &url, &["--cacert", "ca.pem"], &[]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        reports.statuses().iter().all(|(_, s)| s != "pass"),
        "{:?}",
        reports.statuses()
    );
    f.clear_log("mtls");

    let (out, reports) = f.run(
        "flags",
        &url,
        &[
            "--cacert",
            "ca.pem",
            "--cert",
            "client.pem",
            "--key",
            "client.key",
        ],
        &[],
    );
    reports.assert_all_pass(&out, "--cert/--key: ");
    assert_eq!(reports.json()["target"]["tls"]["client_cert"], "client.pem");
    let log = f.access_log("mtls");
    assert!(!log.is_empty());
    assert!(
        log.iter()
            .all(|l| l.contains("client=CN=harness verify=SUCCESS")),
        "{log:?}"
    );

    // The same from a profile: paths relative to it, the key from a secret source; and `load`.
    std::fs::write(
        f.path("mtls.yaml"),
        format!(
            "base_url: {url}\ncredentials:\n  api_key: {{file: creds.json, pointer: /api_key}}\n  \
             email: {{file: creds.json, pointer: /email}}\n  password: {{file: creds.json, pointer: /password}}\n  \
             admin_token: {{file: creds.json, pointer: /admin_token}}\n\
             tls:\n  ca: ca.pem\n  client_cert: client.pem\n  client_key: {{file: client.key}}\n"
        ),
    )
    .unwrap();
    let (out, reports) = f.run("profile", "", &["--profile", "mtls.yaml"], &[]);
    reports.assert_all_pass(&out, "profile tls: ");
    // The key never reaches a report.
    let key = std::fs::read_to_string(f.path("client.key")).unwrap();
    let body: String = key.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(body.len() > 40);
    assert!(
        !reports.all().contains(&body[..40]),
        "the key is in a report"
    );
    f.clear_log("mtls");
    let load = f.path("load");
    let out = f.harness(
        &[
            "load",
            "--quiet",
            "--profile",
            "mtls.yaml",
            "--scenario",
            concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/load-burst.yaml"),
            "--users",
            "2",
            "--duration",
            "1s",
            "--report-dir",
            load.to_str().unwrap(),
        ],
        &[],
    );
    assert!(matches!(out.code, Some(0 | 1)), "load: {}", out.stderr);
    let log = f.access_log("mtls");
    assert!(log.len() > 10, "the swarm sent {} requests", log.len());
    assert!(
        log.iter()
            .all(|l| l.contains("client=CN=harness verify=SUCCESS")),
        "a swarm request without the client certificate: {:?}",
        log.iter().find(|l| !l.contains("verify=SUCCESS"))
    );
}

// ------------------------------------------------------------------------------ proxy

/// tinyproxy on a free port, logging every request it forwards.
fn tinyproxy(f: &Fixture) -> (Proc, u16) {
    tinyproxy_with(f, "")
}

/// The same, with `extra` lines in its configuration (`BasicAuth user password`).
fn tinyproxy_with(f: &Fixture, extra: &str) -> (Proc, u16) {
    let bin = ["/usr/bin/tinyproxy", "/usr/sbin/tinyproxy"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .expect("tinyproxy is installed (apt-get install tinyproxy; .ci/run does)");
    for _ in 0..5 {
        let port = free_port();
        let conf = f.path("tinyproxy.conf");
        std::fs::write(
            &conf,
            format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 30\nLogFile \"{}\"\nLogLevel Info\n\
                 MaxClients 200\nAllow 127.0.0.1\nDisableViaHeader Yes\n{extra}",
                f.path("tinyproxy.log").display()
            ),
        )
        .unwrap();
        let child = Command::new(&bin)
            .arg("-d")
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tinyproxy starts");
        let mut proc = Proc {
            name: "tinyproxy",
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if proc.exited().is_some() {
                break;
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return (proc, port);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    panic!(
        "tinyproxy did not start: {}",
        std::fs::read_to_string(f.path("tinyproxy.log")).unwrap_or_default()
    );
}

/// The requests tinyproxy forwarded to `upstream` (its `Request (file descriptor N): GET
/// http://…` lines).
fn proxied(f: &Fixture) -> usize {
    let needle = format!("http://{}/", f.upstream);
    std::fs::read_to_string(f.path("tinyproxy.log"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("Request (file descriptor") && l.contains(&needle))
        .count()
}

#[test]
fn run_and_load_go_through_the_environments_proxy_and_the_profiles() {
    let f = Fixture::start();
    let (_proxy, port) = tinyproxy(&f);
    let proxy = format!("http://127.0.0.1:{port}");
    let url = f.server.url.clone();

    // HTTP_PROXY applies to a loopback target (as curl does): every request went through it.
    let (out, reports) = f.run("env", &url, &[], &[("HTTP_PROXY", &proxy)]);
    reports.assert_all_pass(&out, "through HTTP_PROXY: ");
    let through_run = proxied(&f);
    assert!(
        through_run >= 4,
        "tinyproxy forwarded {through_run} requests"
    );
    assert_eq!(
        reports.json()["target"]["proxy"],
        format!("{proxy} (from HTTP_PROXY)")
    );

    // NO_PROXY exempts it.
    let (out, reports) = f.run(
        "no-proxy",
        &url,
        &[],
        &[("HTTP_PROXY", &proxy), ("NO_PROXY", "127.0.0.1")],
    );
    reports.assert_all_pass(&out, "NO_PROXY: ");
    assert_eq!(proxied(&f), through_run, "a request went through the proxy");

    // load, through the same proxy.
    let load = f.path("load");
    let out = f.harness(
        &[
            "load",
            "--quiet",
            "--target",
            &url,
            "--scenario",
            concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/load-burst.yaml"),
            "--users",
            "2",
            "--duration",
            "1s",
            "--report-dir",
            load.to_str().unwrap(),
        ],
        &[("HTTP_PROXY", &proxy)],
    );
    assert!(matches!(out.code, Some(0 | 1)), "load: {}", out.stderr);
    let load_json: serde_json::Value =
        serde_json::from_str(&Reports(load).file("load.json")).expect("load.json");
    let answered: u64 = load_json["statuses"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    let through_load = proxied(&f) - through_run;
    assert!(answered > 10, "{load_json}");
    assert!(
        through_load as u64 >= answered,
        "tinyproxy forwarded {through_load} of the swarm's {answered} requests"
    );

    // A profile's proxy, its URL from a secret source.
    std::fs::write(
        f.path("proxied.yaml"),
        format!(
            "base_url: {url}\ncredentials:\n  api_key: {{file: creds.json, pointer: /api_key}}\n  \
             email: {{file: creds.json, pointer: /email}}\n  password: {{file: creds.json, pointer: /password}}\n  \
             admin_token: {{file: creds.json, pointer: /admin_token}}\nproxy: {{env: LC_TEST_PROXY}}\n"
        ),
    )
    .unwrap();
    let before = proxied(&f);
    let (out, reports) = f.run(
        "profile",
        "",
        &["--profile", "proxied.yaml"],
        &[("LC_TEST_PROXY", &proxy)],
    );
    reports.assert_all_pass(&out, "profile proxy: ");
    assert!(
        proxied(&f) >= before + 4,
        "the profile's proxy was not used"
    );

    // A proxy that is not there: exit 3, and the error names it.
    let dead = format!("http://127.0.0.1:{}", crate::support::binary::closed_port());
    let (out, _) = f.run("dead", &url, &[], &[("HTTP_PROXY", &dead)]);
    out.assert_code(3, "a dead proxy: ");
    assert!(
        out.stderr
            .contains(&format!("through proxy {dead} (from HTTP_PROXY)")),
        "{}",
        out.stderr
    );

    // The embedded server is never reached through a proxy.
    let (out, reports) = f.run(
        "embedded",
        "",
        &[],
        &[
            ("HTTP_PROXY", &dead),
            ("HTTPS_PROXY", &dead),
            ("ALL_PROXY", &dead),
        ],
    );
    reports.assert_all_pass(&out, "embedded with a dead proxy in the environment: ");
    assert!(reports.json()["target"].get("proxy").is_none());
}

/// A profile's proxy that wants credentials, its URL from a secret source: the run goes
/// through it, and a failing clause's replay line names the variable that holds the URL (never
/// the password), so replayed with that variable set it goes through the proxy too and gets the
/// status the harness saw; without the credentials the proxy refuses it (407).
#[test]
fn a_replay_line_goes_through_the_profiles_proxy_with_its_credentials() {
    let f = Fixture::start_with(&["--fault", "apikey-prefix-only"]);
    let password = "px-secret-0123456789";
    let (_proxy, port) = tinyproxy_with(&f, &format!("BasicAuth harness {password}\n"));
    let proxy = format!("http://harness:{password}@127.0.0.1:{port}");
    std::fs::write(
        f.path("proxied.yaml"),
        format!(
            "base_url: {}\ncredentials:\n  api_key: {{env: LELANTOS_API_KEY}}\n\
             proxy: {{env: LC_TEST_PROXY}}\n",
            f.server.url
        ),
    )
    .unwrap();
    let env = [("LC_TEST_PROXY", proxy.as_str())];
    let before = proxied(&f);
    let reports = f.path("replay");
    let out = f.harness(
        &[
            "run",
            "--quiet",
            "--only",
            "AUTH-KEY-UNKNOWN",
            "--profile",
            "proxied.yaml",
            "--report-dir",
            reports.to_str().unwrap(),
        ],
        &env,
    );
    out.assert_code(1, "apikey-prefix-only fails AUTH-KEY-UNKNOWN: ");
    let reports = Reports(reports);
    assert!(
        !reports.all().contains(password),
        "the proxy's password in a report"
    );
    let through_run = proxied(&f) - before;
    assert!(
        through_run >= 2,
        "tinyproxy forwarded {through_run} requests"
    );
    let json = reports.json();
    let clause = json["clauses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "AUTH-KEY-UNKNOWN")
        .expect("AUTH-KEY-UNKNOWN in the report");
    assert_eq!(clause["status"], "fail", "{clause}");
    let ex = clause["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["exchanges"].as_array().cloned().unwrap_or_default())
        .find(|ex| ex["curl"].is_string())
        .unwrap_or_else(|| panic!("no replay line in {clause}"));
    let curl = ex["curl"].as_str().unwrap();
    assert!(curl.contains("-x \"$LC_TEST_PROXY\""), "{curl}");
    assert!(!curl.contains(password), "{curl}");

    let replay = |env: &[(&str, &str)]| {
        let run = Command::new("bash")
            .arg("-c")
            .arg(curl)
            .env_remove("HTTP_PROXY")
            .env_remove("http_proxy")
            .env_remove("ALL_PROXY")
            .env_remove("all_proxy")
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .envs(env.iter().copied())
            .output()
            .expect("bash and curl are installed");
        let head = String::from_utf8_lossy(&run.stdout).to_string();
        head.lines()
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse::<u16>().ok())
            .unwrap_or_else(|| panic!("{curl}: no HTTP answer: {head}"))
    };
    let forwarded = proxied(&f);
    assert_eq!(
        Some(u64::from(replay(&env))),
        ex["status"].as_u64(),
        "replayed through the proxy: {curl}"
    );
    assert_eq!(
        proxied(&f),
        forwarded + 1,
        "the replay did not go through the proxy"
    );
    // Without the password the proxy refuses it: the line's credentials were what let it in.
    let anonymous = format!("http://127.0.0.1:{port}");
    assert_eq!(replay(&[("LC_TEST_PROXY", &anonymous)]), 407, "{curl}");
}

// ------------------------------------------------------------------------------ headers

#[test]
fn a_gateway_that_wants_its_own_header_gets_it_on_every_request() {
    let f = Fixture::start();
    let token = "gw-secret-0123456789abcdef";
    let (_nginx, port) = f.nginx(
        "gw",
        "$request_method $uri $status tenant=$http_x_gateway_tenant token=$http_x_gateway_token",
        &format!(
            "listen 127.0.0.1:@PORT@;\n    \
             if ($http_x_gateway_token != \"{token}\") {{ return 403 \"gateway: no token\\n\"; }}"
        ),
    );
    let url = format!("http://127.0.0.1:{port}");
    let profile = |extra: &str| {
        format!(
            "base_url: {url}\ncredentials:\n  api_key: {{file: creds.json, pointer: /api_key}}\n  \
             email: {{file: creds.json, pointer: /email}}\n  password: {{file: creds.json, pointer: /password}}\n  \
             admin_token: {{file: creds.json, pointer: /admin_token}}\n{extra}"
        )
    };
    std::fs::write(f.path("bare.yaml"), profile("")).unwrap();
    std::fs::write(
        f.path("gw.yaml"),
        profile(
            "headers:\n  X-Gateway-Tenant: staging\n  X-Gateway-Token: {env: LC_TEST_GW_TOKEN}\n",
        ),
    )
    .unwrap();

    // Without the header the gateway refuses everything: nothing passes.
    let (out, reports) = f.run("bare", "", &["--profile", "bare.yaml"], &[]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(reports.statuses().iter().all(|(_, s)| s != "pass"));
    f.clear_log("gw");

    // With it, every clause passes; every request carried both headers; the token is secret.
    let env = [("LC_TEST_GW_TOKEN", token)];
    let (out, reports) = f.run("gw", "", &["--profile", "gw.yaml"], &env);
    reports.assert_all_pass(&out, "with the gateway's header: ");
    let log = f.access_log("gw");
    assert!(log.len() >= 4);
    assert!(
        log.iter()
            .all(|l| l.contains(&format!("tenant=staging token={token}"))),
        "{log:?}"
    );
    assert_eq!(
        reports.json()["target"]["headers"],
        serde_json::json!(["X-Gateway-Tenant", "X-Gateway-Token"])
    );
    let all = reports.all();
    assert!(
        !all.contains(&token[..12]),
        "the gateway token is in a report"
    );
    assert!(!out.stdout.contains(&token[..12]) && !out.stderr.contains(&token[..12]));

    // timing and load send them too.
    f.clear_log("gw");
    let timing = f.path("timing");
    let out = f.harness(
        &[
            "timing",
            "--quiet",
            "--profile",
            "gw.yaml",
            "--samples",
            "200",
            "--budget",
            "20s",
            "--report-dir",
            timing.to_str().unwrap(),
        ],
        &env,
    );
    assert!(matches!(out.code, Some(0 | 1)), "timing: {}", out.stderr);
    let load = f.path("load");
    let out = f.harness(
        &[
            "load",
            "--quiet",
            "--profile",
            "gw.yaml",
            "--scenario",
            concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/load-burst.yaml"),
            "--users",
            "2",
            "--duration",
            "1s",
            "--report-dir",
            load.to_str().unwrap(),
        ],
        &env,
    );
    assert!(matches!(out.code, Some(0 | 1)), "load: {}", out.stderr);
    let log = f.access_log("gw");
    assert!(
        log.len() > 200,
        "timing and load sent {} requests",
        log.len()
    );
    let refused: Vec<&String> = log.iter().filter(|l| l.contains(" 403 ")).collect();
    assert!(
        refused.is_empty(),
        "requests without the header: {refused:?}"
    );
    let all = format!("{}{}", Reports(timing).all(), Reports(load).all());
    assert!(
        !all.contains(&token[..12]),
        "the gateway token is in a report"
    );
}
