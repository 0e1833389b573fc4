//! The `data check-source` page extractor and comparison on arbitrary page text (lossy
//! UTF-8, as the command reads pages), against the bundled catalog.
#![no_main]

use std::sync::LazyLock;

use egresscheck::catalog::Catalog;
use libfuzzer_sys::fuzz_target;

static CATALOG: LazyLock<Option<Catalog>> =
    LazyLock::new(|| egresscheck::catalog::bundled().ok());

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let as_of = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
    match CATALOG.as_ref() {
        // check_source runs the extractor first, then compares.
        Some(catalog) => {
            let _ = egresscheck::pagecheck::check_source(catalog, "fuzz.md", &text, as_of);
        }
        None => {
            let _ = egresscheck::pagecheck::extract::extract(&text);
        }
    }
});
