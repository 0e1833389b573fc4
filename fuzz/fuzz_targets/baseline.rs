//! The `--baseline` reader on arbitrary bytes: a baseline or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = egresscheck::report::Baseline::from_json("fuzz.json", data);
});
