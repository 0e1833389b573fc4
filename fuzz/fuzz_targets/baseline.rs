//! The `--baseline` reader on arbitrary bytes (report schemas 1 and 2): a baseline or an
//! error, never a panic; and what it read is what a report of it holds again.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(baseline) = egresscheck::report::Baseline::from_json("fuzz.json", data)
        && let Some(observations) = baseline.observations()
    {
        // Only what serde_json itself cannot write back (a non-finite number) may fail here.
        if let Ok(json) = serde_json::to_vec(observations) {
            let back: Vec<egresscheck::probe::model::NameObservation> =
                serde_json::from_slice(&json).expect("a written baseline reads back");
            assert!(back.as_slice() == observations, "round trip");
        }
    }
});
