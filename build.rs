//! Build script: reads the bundled data file's provider and data version, so that
//! `egresscheck --version` says which table the binary carries
//! (`egresscheck 0.1.0 (data Skatteetaten 2026-02-09.2)`) from the file itself, with no copy
//! kept by hand. The full validation of that file happens in the loader and its tests; here a
//! file without `[data] provider` and `version` stops the build with what to fix.

use std::process::ExitCode;

const BUNDLED: &str = "data/skatteetaten.toml";

fn main() -> ExitCode {
    println!("cargo::rerun-if-changed={BUNDLED}");
    match data_label() {
        Ok(label) => {
            println!("cargo::rustc-env=EGRESSCHECK_BUNDLED_DATA={label}");
            ExitCode::SUCCESS
        }
        Err(reason) => {
            eprintln!("{BUNDLED}: {reason}");
            ExitCode::FAILURE
        }
    }
}

/// "Skatteetaten 2026-02-09.2": the `[data]` table's provider and version.
fn data_label() -> Result<String, String> {
    let text = std::fs::read_to_string(BUNDLED).map_err(|e| format!("cannot read it: {e}"))?;
    let table: toml::Table = text.parse().map_err(|e| format!("not valid TOML: {e}"))?;
    let data = table
        .get("data")
        .and_then(toml::Value::as_table)
        .ok_or("no [data] table")?;
    let field = |name: &str| {
        data.get(name)
            .and_then(toml::Value::as_str)
            .ok_or(format!("[data] has no string `{name}`"))
    };
    Ok(format!("{} {}", field("provider")?, field("version")?))
}
