//! The `shoal` command line.

#![deny(unsafe_code)]

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::sys::default_sigpipe();
    let args = cli::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("shoal: {e:#}");
            // A topology error is the user's file, not a failed run: status 2, like a usage error.
            if e.downcast_ref::<cli::TopoError>().is_some()
                || e.downcast_ref::<cli::Usage>().is_some()
            {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
