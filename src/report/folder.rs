//! A report folder claimed by one run: created and checked writable before the first request
//! (a folder that cannot take the reports is a usage error, exit 2, not a lost run), locked so a
//! second process using it at once is refused, and cleared of an earlier run's reports so a folder
//! never mixes two runs' verdicts.

use std::path::{Path, PathBuf};

use crate::error::Error;

/// The lock file inside a claimed folder; it holds the claiming process's id.
pub const LOCK: &str = ".lelantos-conform.lock";

/// Every file a run or a swarm writes into its folder.
pub const REPORT_FILES: &[&str] = &[
    "compliance.json",
    "junit.xml",
    "compliance.md",
    "report.html",
    "load.json",
    "goose-report.html",
];

/// A claimed folder; the claim ends (the lock file goes) when this is dropped.
#[derive(Debug)]
pub struct ReportDir {
    path: PathBuf,
}

impl ReportDir {
    /// Creates `path` if need be, checks it takes files, takes its lock and removes an earlier
    /// run's reports (and their half-written `.tmp` copies).
    pub fn claim(path: &Path) -> Result<ReportDir, Error> {
        let usage = |why: String| Error::Usage(format!("--report-dir {}: {why}", path.display()));
        if path.exists() && !path.is_dir() {
            return Err(usage("exists and is not a directory".into()));
        }
        std::fs::create_dir_all(path).map_err(|e| usage(format!("cannot create it: {e}")))?;
        let lock = path.join(LOCK);
        let me = std::process::id().to_string();
        let mut claimed = false;
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&lock)
            {
                Ok(mut f) => {
                    use std::io::Write as _;
                    f.write_all(me.as_bytes())
                        .map_err(|e| usage(format!("cannot write in it: {e}")))?;
                    claimed = true;
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&lock).unwrap_or_default();
                    if alive(holder.trim()) {
                        return Err(usage(format!(
                            "in use by another run (process {}): give each run its own folder",
                            holder.trim()
                        )));
                    }
                    // Left by a run that was killed: taken over.
                    let _ = std::fs::remove_file(&lock);
                }
                Err(e) => return Err(usage(format!("cannot write in it: {e}"))),
            }
        }
        if !claimed {
            return Err(usage("another run claimed it at the same moment".into()));
        }
        let dir = ReportDir {
            path: path.to_path_buf(),
        };
        for name in REPORT_FILES {
            for file in [path.join(name), path.join(format!("{name}.tmp"))] {
                match std::fs::remove_file(&file) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(usage(format!(
                            "cannot remove the earlier run's {}: {e}",
                            file.display()
                        )));
                    }
                }
            }
        }
        Ok(dir)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ReportDir {
    fn drop(&mut self) {
        let lock = self.path.join(LOCK);
        if std::fs::read_to_string(&lock).is_ok_and(|p| p.trim() == std::process::id().to_string())
        {
            let _ = std::fs::remove_file(lock);
        }
    }
}

/// Whether the process `pid` still runs (Linux: its `/proc` entry); unknown elsewhere, so a lock
/// there is taken for live.
fn alive(pid: &str) -> bool {
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid).exists()
    } else {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_is_claimed_once_cleared_and_released() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("r");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("compliance.md"), "old PASS").unwrap();
        std::fs::write(dir.join("notes.txt"), "mine").unwrap();
        let claim = ReportDir::claim(&dir).unwrap();
        assert!(
            !dir.join("compliance.md").exists(),
            "an earlier run's report stays"
        );
        assert!(
            dir.join("notes.txt").exists(),
            "a file that is no report was removed"
        );
        let again = ReportDir::claim(&dir).unwrap_err().to_string();
        assert!(again.contains("in use by another run"), "{again}");
        drop(claim);
        assert!(!dir.join(LOCK).exists());
        // A lock left by a process that is gone is taken over.
        std::fs::write(dir.join(LOCK), "999999999").unwrap();
        assert!(ReportDir::claim(&dir).is_ok());
        let file = tmp.path().join("f");
        std::fs::write(&file, "").unwrap();
        let e = ReportDir::claim(&file).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("is not a directory"), "{e}");
    }
}
