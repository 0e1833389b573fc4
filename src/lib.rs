//! egresscheck: can this network reach a provider's API the way the provider documents it,
//! and which firewall rules does it need?
//!
//! The crate follows one data flow (see `DESIGN.md` in the repository): a data file is
//! loaded into a [`catalog::Catalog`]; commands turn it into firewall rules, or plan targets,
//! probe them, audit the observations and render a report. Only [`probe`] touches the
//! network; everything else is pure and tested without one.

pub mod atomic;
pub mod audit;
pub mod catalog;
pub mod cli;
pub mod commands;
pub mod exit;
pub mod interrupt;
pub mod labels;
pub mod output;
pub mod pagecheck;
pub mod plan;
pub mod probe;
pub mod report;
pub mod rules;
pub mod term;
pub mod token;
