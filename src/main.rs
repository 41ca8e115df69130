//! The binary: the command line is `lelantos_conform::cli`.

fn main() -> std::process::ExitCode {
    lelantos_conform::cli::main()
}
