//! The binary and other programs as child processes: run with a deadline, servers that say
//! where they listen, stopped when dropped; loopback ports and a listener that proves no request
//! was sent.

use std::io::Read as _;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_lelantos-conform");

pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

impl Output {
    /// Asserts the exit code, showing what the binary printed when it differs.
    pub fn assert_code(&self, code: i32, what: &str) {
        assert_eq!(
            self.code,
            Some(code),
            "{what}stderr: {}\nstdout: {}",
            self.stderr,
            self.stdout
        );
    }
}

/// Waits for `child` at most `deadline`; kills it past that (and the test then fails on `code`).
pub fn wait(mut child: Child, deadline: Duration) -> Output {
    let started = Instant::now();
    // Pipes are drained by threads so a chatty child cannot block on a full pipe.
    let mut out = child.stdout.take().expect("stdout piped");
    let mut err = child.stderr.take().expect("stderr piped");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        code: status.and_then(|s| s.code()),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        took: started.elapsed(),
    }
}

pub fn spawn(args: &[&str]) -> Child {
    Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts")
}

/// `spawn` with a (made-up) `LELANTOS_API_KEY`, for `--target` runs, which need a credential.
pub fn spawn_with_key(args: &[&str]) -> Child {
    Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .env("LELANTOS_API_KEY", "lel_madeupkeyforatargetrun0000")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts")
}

/// `conform` with a made-up `LELANTOS_API_KEY`; at most 30 s.
pub fn conform_with_key(args: &[&str]) -> Output {
    wait(spawn_with_key(args), Duration::from_secs(30))
}

/// Runs the binary with `args`; at most 30 s.
pub fn conform(args: &[&str]) -> Output {
    wait(spawn(args), Duration::from_secs(30))
}

/// A loopback listener nothing accepts from: a connection to it stays in its backlog, so
/// `connections()` tells whether anything connected.
pub struct Watched {
    listener: TcpListener,
    pub url: String,
}

impl Watched {
    pub fn new() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}", listener.local_addr().unwrap());
        Self { listener, url }
    }

    pub fn connections(&self) -> usize {
        let mut n = 0;
        while self.listener.accept().is_ok() {
            n += 1;
        }
        n
    }
}

/// A port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().unwrap().port()
}

/// A server started as a child process, stopped (killed and reaped) when dropped: the reference
/// server (`serve`) or a peer implementation, each printing `listening on http://ADDR` once it
/// accepts connections.
pub struct Server {
    child: Child,
    pub url: String,
    /// What it printed on stderr, collected by a thread (shown when a test fails).
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Server {
    /// Starts `cmd` and waits (at most `deadline`) for its `listening on` line.
    pub fn start(mut cmd: Command, deadline: Duration) -> Server {
        use std::io::BufRead as _;
        let what = format!("{cmd:?}");
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut err = child.stderr.take().expect("stderr piped");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .expect("lock")
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let out = child.stdout.take().expect("stdout piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = std::io::BufReader::new(out).lines();
            for line in lines.by_ref().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("listening on ") {
                    let _ = tx.send(url.trim().to_string());
                    break;
                }
            }
            // Keep draining, so the child never blocks on a full pipe.
            for _ in lines {}
        });
        let mut server = Server {
            child,
            url: String::new(),
            stderr,
        };
        match rx.recv_timeout(deadline) {
            Ok(url) => server.url = url,
            Err(_) => panic!(
                "{what} did not say where it listens within {deadline:?}; stderr:\n{}",
                server.stderr()
            ),
        }
        server
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("lock").clone()
    }

    /// Whether it is still running (a test that blames the harness first checks the server).
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A child process stopped when dropped: SIGTERM first (nginx's master then stops its workers;
/// SIGKILL would orphan them, still listening), SIGKILL if it lingers.
pub struct Proc {
    pub name: &'static str,
    pub child: Child,
}

impl Proc {
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.exited().is_none() {
            // SAFETY: kill(2) on our own child's pid, not reaped yet (try_wait said it runs).
            unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(5);
            while self.exited().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        if self.exited().is_none() {
            eprintln!("{} did not stop on SIGTERM: killing it", self.name);
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// nginx on PATH or where distributions put it; its absence fails the test, saying what to do.
pub fn nginx_binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let candidates = std::env::split_paths(&path).map(|d| d.join("nginx")).chain(
        [
            "/usr/sbin/nginx",
            "/usr/local/sbin/nginx",
            "/usr/local/nginx/sbin/nginx",
        ]
        .map(PathBuf::from),
    );
    for c in candidates {
        if c.is_file() {
            return c;
        }
    }
    panic!(
        "nginx is not installed: the tests run a real nginx in front of the \
         reference server. Install it (`apt-get install -y nginx-light`, or `nginx`) and run \
         .ci/run (or `cargo test --test it gateway_nginx`) again; these tests are never skipped."
    );
}

/// A port that was free a moment ago (bound, then released); nginx binding it may still lose a
/// race, which `start_nginx` retries.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}
