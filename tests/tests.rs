//! The integration tests: one binary (`autotests = false`), one module per area, as ripgrep
//! does, so that the crate is linked once.

// A test fails by panicking: the lints that keep panics out of the library do not apply.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod advice;
mod audit;
mod blocking;
mod catalog;
mod catalog_authorization;
mod check;
mod contrib;
mod data_cmd;
mod documents;
mod formats;
mod generated_docs;
mod golive;
mod hardening;
mod harness_selftest;
mod probe;
mod rules;
mod screen;
mod serve;
mod support;
mod time;
mod token;
mod usage;
