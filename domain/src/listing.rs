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
            eligible(instrument)?;
            Ok(Submitted)
        }
        ListingAction::Approve => {
            if from != Submitted {
                return Err(invalid());
            }
            // The instrument may have been edited since it was submitted.
            eligible(instrument)?;
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

/// An instrument is fit to list when it is in service, shared with someone
/// and offers at least one service mode.
///
/// # Errors
/// The [`ListingError`] naming what is missing.
pub fn eligible(instrument: &InstrumentData) -> Result<(), ListingError> {
    if instrument.status == InstrumentStatus::Retired {
        return Err(ListingError::Retired);
    }
    if instrument.sharing_scope == SharingScope::None {
        return Err(ListingError::NotShared);
    }
    if instrument.service_modes.is_empty() {
        return Err(ListingError::NoServiceMode);
    }
    Ok(())
}

/// The listing state after an edit of the catalogue fields: an instrument
/// withdrawn from sharing (scope `none`, or no service mode left) leaves the
/// pool and must be submitted again. A retired instrument keeps its listing
/// as a record; it is simply no longer bookable.
pub fn listing_after_edit(listing: ListingStatus, instrument: &InstrumentData) -> ListingStatus {
    let withdrawn = instrument.sharing_scope == SharingScope::None || instrument.service_modes.is_empty();
    if withdrawn && matches!(listing, ListingStatus::Submitted | ListingStatus::Approved) {
        ListingStatus::Unlisted
    } else {
        listing
    }
}

/// Whether an instrument must be listed under the policy but is not yet approved.
pub fn is_listing_overdue(instrument: &InstrumentData, listing: ListingStatus, policy: &Policy) -> bool {
    instrument.original_value >= policy.listing_threshold
        && listing != ListingStatus::Approved
        && instrument.status != InstrumentStatus::Retired
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::{Contact, ServiceMode};
    use crate::codes::CategoryCode;
    use crate::money::Money;
    use crate::text_enum::TextEnum;
    use chrono::NaiveDate;
    use proptest::prelude::*;
    use ListingStatus::*;

    fn instrument() -> InstrumentData {
        InstrumentData {
            name_zh: "流式细胞仪".into(),
            name_en: None,
            category_code: CategoryCode::parse("031005").unwrap_or_else(|e| panic!("{e}")),
            model: "FACSCanto II".into(),
            manufacturer: "BD".into(),
            country_of_origin: "美国".into(),
            asset_number: "A-1".into(),
            original_value: Money::yuan(1_450_000),
            purchase_date: NaiveDate::from_ymd_opt(2020, 1, 1).unwrap_or_default(),
            commissioning_date: None,
            technical_specs: String::new(),
            functions: String::new(),
            service_content: String::new(),
            disciplines: vec![],
            photo_url: None,
            contact: Contact {
                name: "王".into(),
                phone: "0771-1234567".into(),
                email: None,
            },
            status: InstrumentStatus::Normal,
            sharing_scope: SharingScope::System,
            service_modes: vec![ServiceMode::Assisted],
            rated_annual_hours: 1600,
        }
    }

    fn reject() -> ListingAction {
        ListingAction::Reject {
            reason: "技术指标不全".into(),
        }
    }

    #[test]
    fn the_listing_procedure_moves_only_along_its_arrows() {
        let i = instrument();
        let table = [
            (Unlisted, ListingAction::Submit, Some(Submitted)),
            (Rejected, ListingAction::Submit, Some(Submitted)),
            (Submitted, ListingAction::Submit, None),
            (Approved, ListingAction::Submit, None),
            (Submitted, ListingAction::Approve, Some(Approved)),
            (Unlisted, ListingAction::Approve, None),
            (Rejected, ListingAction::Approve, None),
            (Approved, ListingAction::Approve, None),
            (Submitted, reject(), Some(Rejected)),
            (Unlisted, reject(), None),
            (Approved, reject(), None),
        ];
        for (from, action, to) in table {
            assert_eq!(transition(from, &action, &i).ok(), to, "{from} {action:?}");
        }
    }

    #[test]
    fn an_instrument_unfit_to_share_cannot_be_submitted() {
        let retired = InstrumentData {
            status: InstrumentStatus::Retired,
            ..instrument()
        };
        assert_eq!(
            transition(Unlisted, &ListingAction::Submit, &retired),
            Err(ListingError::Retired)
        );
        let private = InstrumentData {
            sharing_scope: SharingScope::None,
            ..instrument()
        };
        assert_eq!(
            transition(Unlisted, &ListingAction::Submit, &private),
            Err(ListingError::NotShared)
        );
        let no_modes = InstrumentData {
            service_modes: vec![],
            ..instrument()
        };
        assert_eq!(
            transition(Unlisted, &ListingAction::Submit, &no_modes),
            Err(ListingError::NoServiceMode)
        );
    }

    #[test]
    fn an_instrument_made_unfit_after_submission_cannot_be_approved() {
        let private = InstrumentData {
            sharing_scope: SharingScope::None,
            ..instrument()
        };
        assert_eq!(
            transition(Submitted, &ListingAction::Approve, &private),
            Err(ListingError::NotShared)
        );
    }

    #[test]
    fn withdrawing_an_instrument_from_sharing_unlists_it() {
        let private = InstrumentData {
            sharing_scope: SharingScope::None,
            ..instrument()
        };
        let no_modes = InstrumentData {
            service_modes: vec![],
            ..instrument()
        };
        let retired = InstrumentData {
            status: InstrumentStatus::Retired,
            ..instrument()
        };
        assert_eq!(listing_after_edit(Approved, &private), Unlisted);
        assert_eq!(listing_after_edit(Submitted, &no_modes), Unlisted);
        assert_eq!(listing_after_edit(Rejected, &private), Rejected);
        assert_eq!(listing_after_edit(Approved, &retired), Approved);
        assert_eq!(listing_after_edit(Approved, &instrument()), Approved);
    }

    #[test]
    fn a_rejection_without_a_reason_is_refused() {
        let blank = ListingAction::Reject { reason: "  ".into() };
        assert_eq!(
            transition(Submitted, &blank, &instrument()),
            Err(ListingError::ReasonRequired)
        );
        let long = ListingAction::Reject {
            reason: "长".repeat(501),
        };
        assert_eq!(
            transition(Submitted, &long, &instrument()),
            Err(ListingError::ReasonRequired)
        );
    }

    #[test]
    fn valuable_instruments_are_overdue_until_approved() {
        let policy = Policy::default();
        let cheap = InstrumentData {
            original_value: Money::yuan(499_999),
            ..instrument()
        };
        assert!(!is_listing_overdue(&cheap, Unlisted, &policy));
        let threshold = InstrumentData {
            original_value: Money::yuan(500_000),
            ..instrument()
        };
        for (status, overdue) in [(Unlisted, true), (Submitted, true), (Rejected, true), (Approved, false)] {
            assert_eq!(is_listing_overdue(&threshold, status, &policy), overdue, "{status}");
        }
        let retired = InstrumentData {
            status: InstrumentStatus::Retired,
            ..threshold
        };
        assert!(!is_listing_overdue(&retired, Unlisted, &policy));
    }

    fn any_action() -> impl Strategy<Value = ListingAction> {
        prop_oneof![
            Just(ListingAction::Submit),
            Just(ListingAction::Approve),
            Just(reject())
        ]
    }

    proptest! {
        #[test]
        fn approval_is_reached_only_through_a_submission(actions in proptest::collection::vec(any_action(), 0..20)) {
            let i = instrument();
            let mut state = Unlisted;
            for action in actions {
                if let Ok(next) = transition(state, &action, &i) {
                    if next == Approved {
                        prop_assert_eq!(state, Submitted);
                    }
                    prop_assert!(ListingStatus::ALL.contains(&next));
                    state = next;
                }
            }
        }
    }
}
