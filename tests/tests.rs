//! Integration tests.

mod harness_selftest;
mod rules;
mod support;
