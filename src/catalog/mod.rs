//! The catalog: a provider's published firewall table in typed, validated form.
//!
//! [`load_path`] and friends read a data file (TOML, see the README's "Data format"),
//! check every rule the format states and return either a [`Catalog`] or every problem
//! found, each with `FILE:LINE:COLUMN`. Loading never panics and never hangs: input size
//! and nesting depth are bounded before the TOML parser sees the text.

pub mod diff;
mod error;
pub mod http;
pub mod index;
mod load;
pub mod model;
pub mod names;
mod raw;
mod validate;

pub use error::{Diagnostic, LoadError};
pub use http::{
    HttpCheck, HttpMethod, MAX_HTTP_NAME_CHARS, MAX_HTTP_PATH_CHARS, check_header_name,
    check_http_path,
};
pub use index::{AddressIndex, Documented, DocumentedBy};
pub use load::{
    BUNDLED_ORIGIN, BUNDLED_TOML, MAX_FILE_BYTES, MAX_NESTING, bundled, load_bytes, load_path,
    load_reader, load_str, read_bounded,
};
pub use model::*;
pub use names::{DnsName, HostPattern, NameError};
