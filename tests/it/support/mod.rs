//! What the tests share: the binary and other programs as children (`binary`), the reference
//! server in this process and requests to it (`server`), JWTs forged by hand (`jwt`), and target
//! profiles for a server's credentials (`profiles`); and temporary folders, removed when dropped
//! (kept when the test failed, where a deployment's logs and reports are worth a look).

pub mod binary;
pub mod jwt;
pub mod profiles;
pub mod server;

use std::path::Path;

/// A temporary folder, removed (with what the test wrote into it) when dropped.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("lelantos-conform-test-")
        .tempdir()
        .expect("a temporary folder")
}

/// A temporary folder removed when dropped, unless the test is failing: then it is kept and its
/// path printed (configurations, logs, credentials and reports to look at).
pub struct KeptOnFailure(Option<tempfile::TempDir>);

impl KeptOnFailure {
    pub fn new(dir: tempfile::TempDir) -> Self {
        KeptOnFailure(Some(dir))
    }

    pub fn path(&self) -> &Path {
        self.0.as_ref().expect("the folder").path()
    }
}

impl Drop for KeptOnFailure {
    fn drop(&mut self) {
        if std::thread::panicking()
            && let Some(dir) = self.0.take()
        {
            eprintln!("kept the test's folder: {}", dir.keep().display());
        }
    }
}
