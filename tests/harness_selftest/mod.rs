//! Self-tests of the offline harness in `tests/support/`: each piece does what its docs say,
//! checked with plain clients, so a failing product test points at the product.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod authserver;
mod dns;
mod netns;
mod proxy;
mod tcp;
mod tls;
mod tools;
