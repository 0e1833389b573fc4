//! The data-file loader on arbitrary bytes: it must return a catalog or errors, never
//! panic, hang or overflow its stack. A catalog that loads is rendered in every firewall
//! dialect, so hostile data that passes validation also reaches the renderers.
#![no_main]

use egresscheck::rules::{Format, Options, RuleSet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(catalog) = egresscheck::catalog::load_bytes(data, "fuzz.toml") {
        let as_of = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
        let rules = RuleSet::from_catalog(&catalog, &Options::new(as_of));
        for format in Format::ALL {
            let _ = format.render(&rules);
        }
    }
});
