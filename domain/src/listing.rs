//! Listing (入网): a unit submits an instrument to the shared pool and the
//! platform office approves or rejects it.

use crate::catalogue::{InstrumentData, InstrumentStatus, SharingScope};
use crate::policy::Policy;
use crate::text_enum;

text_enum!(
    /// Where an instrument stands in the listing procedure.
    pub enum ListingStatus {
        Unlisted = "unlisted",
        Submitted = "submitted",
        Approved = "approved",
        Rejected = "rejected",
    }
);

/// A step of the listing procedure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListingAction {
    Submit,
    Approve,
    Reject { reason: String },
}

/// Why a listing step is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListingError {
    #[error("cannot {action} a listing that is {from}")]
    InvalidTransition { from: ListingStatus, action: &'static str },
    #[error("a retired instrument cannot be listed")]
    Retired,
    #[error("an instrument shared with nobody (sharing_scope none) cannot be listed")]
    NotShared,
    #[error("an instrument must offer at least one service mode to be listed")]
    NoServiceMode,
    #[error("a rejection needs a reason of 1 to 500 characters")]
    ReasonRequired,
}

impl ListingAction {
    fn name(&self) -> &'static str {
        match self {
            Self::Submit => "submit",
            Self::Approve => "approve",
            Self::Reject { .. } => "reject",
        }
    }
}

/// The listing state after `action`, checking the instrument is fit to share.
///
/// # Errors
/// [`ListingError`] when the step is not allowed from `from` or the instrument is unfit.
pub fn transition(
    from: ListingStatus,
    action: &ListingAction,
    instrument: &InstrumentData,
) -> Result<ListingStatus, ListingError> {
    use ListingStatus::*;
    let invalid = || ListingError::InvalidTransition {
        from,
        action: action.name(),
    };
    match action {
        ListingAction::Submit => {
            if !matches!(from, Unlisted | Rejected) {
                return Err(invalid());
            }
            if instrument.status == InstrumentStatus::Retired {
                return Err(ListingError::Retired);
            }
            if instrument.sharing_scope == SharingScope::None {
                return Err(ListingError::NotShared);
            }
            if instrument.service_modes.is_empty() {
                return Err(ListingError::NoServiceMode);
            }
            Ok(Submitted)
        }
        ListingAction::Approve => {
            if from != Submitted {
                return Err(invalid());
            }
            Ok(Approved)
        }
        ListingAction::Reject { reason } => {
            if from != Submitted {
                return Err(invalid());
            }
            let n = reason.trim().chars().count();
            if n == 0 || reason.chars().count() > 500 {
                return Err(ListingError::ReasonRequired);
            }
            Ok(Rejected)
        }
    }
}

/// Whether an instrument must be listed under the policy but is not yet approved.
pub fn is_listing_overdue(instrument: &InstrumentData, listing: ListingStatus, policy: &Policy) -> bool {
    instrument.original_value >= policy.listing_threshold
        && listing != ListingStatus::Approved
        && instrument.status != InstrumentStatus::Retired
}
