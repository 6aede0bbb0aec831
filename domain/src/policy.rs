//! The platform policy: the default numbers of the measures that an
//! administrator may change.

use crate::Money;

/// Policy values the catalogue rules use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Instruments worth at least this much must be listed (入网), 500,000 CNY.
    pub listing_threshold: Money,
    /// Rated annual hours (定额机时) of a new instrument, 1600 h.
    pub default_rated_annual_hours: i32,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            listing_threshold: Money::yuan(500_000),
            default_rated_annual_hours: 1600,
        }
    }
}
