//! The audit thresholds every judging command takes (`check`, `serve`): certificate expiry,
//! staleness of the data, clock skew. One definition, so both commands judge alike.

use std::time::Duration;

use clap::Args;

use super::values::{count_between, duration_between};
use crate::audit::{
    AuditOptions, DEFAULT_CERT_WARN_DAYS, DEFAULT_CLOCK_SKEW_FAIL, DEFAULT_CLOCK_SKEW_WARN,
    DEFAULT_STALE_DAYS, MAX_CLOCK_SKEW, MIN_CLOCK_SKEW, SUNSET_WARN_DAYS,
};
use crate::commands::CommandError;

/// Flags of the audit's thresholds.
#[derive(Debug, Clone, Args)]
pub struct AuditFlags {
    /// Warn when a certificate expires within this many days.
    #[arg(long, value_name = "DAYS", default_value_t = DEFAULT_CERT_WARN_DAYS, value_parser = count_between(0_i64, 3650))]
    pub cert_warn_days: i64,

    /// Report the data as stale when its source page is older than this many days.
    #[arg(long, value_name = "DAYS", default_value_t = DEFAULT_STALE_DAYS, value_parser = count_between(1_i64, 36500))]
    pub stale_days: i64,

    /// Warn (`clock-skew`) when a server's HTTP `Date` shows this host's clock off by more
    /// than this (1s to 1h) [default: 5s].
    #[arg(long = "clock-skew-warn", value_name = "DURATION", value_parser = duration_between(MIN_CLOCK_SKEW, MAX_CLOCK_SKEW))]
    pub clock_skew_warn: Option<Duration>,

    /// Fail (`clock-skew`) when a server's HTTP `Date` shows this host's clock off by more
    /// than this; Maskinporten refuses token grants beyond 10 s (1s to 1h) [default: 10s].
    #[arg(long = "clock-skew-fail", value_name = "DURATION", value_parser = duration_between(MIN_CLOCK_SKEW, MAX_CLOCK_SKEW))]
    pub clock_skew_fail: Option<Duration>,
}

impl AuditFlags {
    /// The thresholds these flags ask for, validated.
    pub fn to_options(&self) -> Result<AuditOptions, CommandError> {
        let audit = AuditOptions {
            cert_warn_days: self.cert_warn_days,
            stale_days: self.stale_days,
            sunset_warn_days: SUNSET_WARN_DAYS,
            clock_skew_warn: self.clock_skew_warn.unwrap_or(DEFAULT_CLOCK_SKEW_WARN),
            clock_skew_fail: self.clock_skew_fail.unwrap_or(DEFAULT_CLOCK_SKEW_FAIL),
        };
        audit
            .validate()
            .map_err(|err| CommandError::Usage(err.to_string()))?;
        Ok(audit)
    }
}
