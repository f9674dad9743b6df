//! `agent-id`: the command-line tool for agents.

fn main() {}
