//! Silences what goose prints on stdout ("N users launched.", whatever its verbosity) while a
//! swarm runs: stdout carries this tool's summary, and `--quiet` means quiet. File descriptor 1
//! points at /dev/null for the duration and is restored after (Linux with glibc; elsewhere goose's
//! lines stay).

/// While alive, stdout goes to /dev/null.
pub struct Muted {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    saved: Option<libc::c_int>,
}

impl Muted {
    pub fn begin() -> Muted {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        {
            use std::io::Write as _;
            let _ = std::io::stdout().flush();
            // SAFETY: dup/open/dup2/close on file descriptors this function owns or on fd 1,
            // with every result checked; no memory is shared with the kernel beyond the path.
            let saved = unsafe {
                let saved = libc::dup(1);
                let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY);
                if saved < 0 || null < 0 || libc::dup2(null, 1) < 0 {
                    if null >= 0 {
                        libc::close(null);
                    }
                    if saved >= 0 {
                        libc::close(saved);
                    }
                    None
                } else {
                    libc::close(null);
                    Some(saved)
                }
            };
            Muted { saved }
        }
        #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
        {
            Muted {}
        }
    }
}

impl Drop for Muted {
    fn drop(&mut self) {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        if let Some(saved) = self.saved.take() {
            use std::io::Write as _;
            let _ = std::io::stdout().flush();
            // SAFETY: `saved` is the descriptor duplicated in `begin`, restored onto fd 1 once.
            unsafe {
                libc::dup2(saved, 1);
                libc::close(saved);
            }
        }
    }
}
