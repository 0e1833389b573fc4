//! Integration tests.

mod harness_selftest;
mod support;
