//! The `agent-id` command-line tool: an agent's identity at an agent-id server — keys,
//! registration, DPoP log-in, key rotation, claims, OAuth consent — for a shell or for a program
//! in any language that runs it as a subprocess (`--json`, documented exit codes).
//!
//! The library (`agent-id-client`) does the protocol; this crate parses the command line
//! ([`cli`]), resolves what a command needs ([`context`]), runs it ([`commands`]) and prints the
//! result ([`output`]) or the failure with its exit code ([`exit`]). Everything runs through
//! [`run`], which tests call in process with their own transport and state directory.

pub mod cli;
pub mod commands;
pub mod context;
pub mod exit;
mod keyfile;
pub mod output;
pub mod server;

use std::ffi::OsString;
use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;

pub use context::Environment;

use crate::cli::Cli;
use crate::context::Context;
use crate::output::write_failure;

/// The binary's entry point: the process's arguments, stdout and stderr, the native transport.
pub fn main() -> ExitCode {
    let code = run(
        std::env::args_os(),
        Environment::default(),
        &mut io::stdout().lock(),
        &mut io::stderr().lock(),
    );
    ExitCode::from(code)
}

/// Runs one command line and returns its exit code (module [`exit`]). A usage error is clap's
/// (exit 2, its message on stderr); `--help` and `--version` print on `out` and exit 0.
pub fn run<I, T>(args: I, env: Environment, out: &mut dyn Write, err: &mut dyn Write) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(usage) => {
            // A closed stdout/stderr cannot be reported anywhere; the exit code still says it.
            let _ = match usage.use_stderr() {
                true => write!(err, "{}", usage.render()),
                false => write!(out, "{}", usage.render()),
            };
            return u8::try_from(usage.exit_code()).unwrap_or(exit::USAGE);
        }
    };
    let ctx = Context::new(cli.global, env);
    let format = ctx.format();
    match futures_executor::block_on(commands::run(cli.command, &ctx)) {
        Ok(output) => match output.write(format, out) {
            Ok(()) => exit::OK,
            Err(_) => exit::LOCAL,
        },
        Err(failure) => {
            let _ = write_failure(&failure, format, err);
            failure.exit_code()
        }
    }
}
