//! `completions` and `man`: the command line described for shells and for man.

use std::io::Write as _;
use std::path::PathBuf;

use clap::{Args, CommandFactory as _};

use super::Cli;
use crate::error::Error;

/// `completions`.
#[derive(Args)]
pub struct CompletionsCmd {
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

impl CompletionsCmd {
    pub fn exec(self) -> Result<u8, Error> {
        let mut cmd = Cli::command();
        let mut script = Vec::new();
        clap_complete::generate(self.shell, &mut cmd, "lelantos-conform", &mut script);
        print_all(&script)
    }
}

/// `man`.
#[derive(Args)]
pub struct ManCmd {
    /// Write every page into this folder; without it, the main page goes to stdout.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

impl ManCmd {
    /// The main page on stdout, or every page (one per command) into a folder.
    pub fn exec(self) -> Result<u8, Error> {
        let cmd = Cli::command();
        let Some(dir) = self.dir else {
            let mut page = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut page)
                .map_err(|e| Error::io("cannot render the man page", e))?;
            return print_all(&page);
        };
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        clap_mangen::generate_to(cmd, &dir).map_err(|e| {
            Error::io(
                format!("cannot write the man pages into {}", dir.display()),
                e,
            )
        })?;
        Ok(0)
    }
}

/// Writes `bytes` to stdout; a reader that stopped early (`| head`) is no error.
fn print_all(bytes: &[u8]) -> Result<u8, Error> {
    match std::io::stdout().write_all(bytes) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::io("cannot write to stdout", e))
        }
        _ => Ok(0),
    }
}
