//! The `agent-id` binary: everything is in the library (`agent_id_cli::main`), so that tests can
//! run the same code in process.

use std::process::ExitCode;

fn main() -> ExitCode {
    agent_id_cli::main()
}
