//! What the tests share: the binary and other programs as children (`binary`), the reference
//! server in this process and requests to it (`server`), JWTs forged by hand (`jwt`), and target
//! profiles for a server's credentials (`profiles`); and temporary folders, removed when dropped.

pub mod binary;
pub mod jwt;
pub mod profiles;
pub mod server;

/// A temporary folder, removed (with what the test wrote into it) when dropped.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("lelantos-conform-test-")
        .tempdir()
        .expect("a temporary folder")
}
