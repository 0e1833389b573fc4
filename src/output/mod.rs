//! Renderers of results: one file per format, each writing to a writer it is given.
//!
//! [`target`] defines the target object shared by `probe --format json` and
//! `check --format json`: one (host, address, port) with what DNS, TCP and TLS showed.

pub mod probe_table;
pub mod target;
