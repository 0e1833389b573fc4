//! `egresscheck token` and `check --client` (issue 17): key loading, certificate judgement,
//! the grant, the answer, every finding in table and JSON, and no secret in any output.

pub(crate) mod check_client;
mod command;
mod keys;
pub(crate) mod lab;
mod secrets;
