//! OAuth as the agent.

pub mod flow;
