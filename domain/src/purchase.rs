//! Purchase review (新购查重评议, DESIGN.md §5): before a unit buys an
//! instrument worth at least the policy threshold (2,000,000 CNY), the
//! platform lists the instruments of the same category across all units
//! with their effective hours over the twelve months before the request,
//! and recommends sharing one of them instead of buying when any was used
//! less than the policy's hours (1200 h); the platform office decides, with
//! a reason, and may decide against the recommendation.

use crate::codes::CategoryCode;
use crate::policy::Policy;
use crate::service::contains_resident_id;
use crate::text_enum;
use crate::validation::{Checks, Invalid, Violation};
use crate::{InstrumentId, Money};
use chrono::{DateTime, FixedOffset, Months, Utc};

text_enum!(
    /// Where a purchase review stands.
    pub enum PurchaseReviewStatus {
        /// Filed by the unit; waiting for the platform office.
        Submitted = "submitted",
        /// The platform office agrees to the purchase.
        Approved = "approved",
        /// The platform office refuses it (typically: share an idle instrument instead).
        Rejected = "rejected",
        /// The unit took the request back before a decision.
        Withdrawn = "withdrawn",
    }
);

text_enum!(
    /// What the platform recommends from the use of similar instruments.
    pub enum Recommendation {
        /// A similar instrument is under-used: share it instead of buying.
        ShareInstead = "share_instead",
        /// Every similar instrument is well used (or there is none): buying is justified.
        Purchase = "purchase",
    }
);

/// The most instruments of one kind a request may cover.
pub const MAX_QUANTITY: i64 = 100;

/// What a unit asks to buy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchaseRequest {
    /// GB/T 32847-2016 category of the instrument to buy.
    pub category_code: CategoryCode,
    pub instrument_name: String,
    /// Main technical specifications, at most 500 characters.
    pub specs: String,
    /// The price of one instrument.
    pub price: Money,
    /// How many, 1–100.
    pub quantity: i64,
    /// Why the unit needs it, 1–1000 characters.
    pub reason: String,
}

impl PurchaseRequest {
    /// Checks every field. The review threshold applies to the price of one
    /// instrument, as the measures speak of "an instrument of value ≥ …":
    /// cheaper purchases need no review.
    ///
    /// # Errors
    /// [`Invalid`] naming each field that breaks a rule; `price` with
    /// `below_review_threshold` under the policy's threshold.
    pub fn check(&self, policy: &Policy) -> Result<(), Invalid> {
        let mut c = Checks::new();
        c.required_text("instrument_name", &self.instrument_name, 100);
        c.length("specs", &self.specs, 0, 500);
        c.required_text("reason", &self.reason, 1000);
        for (field, text) in [
            ("instrument_name", &self.instrument_name),
            ("specs", &self.specs),
            ("reason", &self.reason),
        ] {
            c.require(!contains_resident_id(text), field, "resident_id", || {
                "must not contain a resident identity number".into()
            });
        }
        c.require((1..=MAX_QUANTITY).contains(&self.quantity), "quantity", "range", || {
            format!("must be between 1 and {MAX_QUANTITY}")
        });
        if self.price == Money::ZERO {
            c.push(Violation::new("price", "positive", "must be more than 0"));
        } else {
            c.require(
                self.price >= policy.purchase_review_threshold,
                "price",
                "below_review_threshold",
                || {
                    format!(
                        "an instrument priced below {} CNY needs no purchase review",
                        policy.purchase_review_threshold
                    )
                },
            );
        }
        c.finish()
    }

    /// price × quantity, in fen (never more than 100 × the largest amount, so it cannot overflow).
    pub fn total_fen(&self) -> i64 {
        self.price.fen().saturating_mul(self.quantity)
    }
}

/// The period whose use is weighed: the twelve calendar months (local
/// time) before the filing, `[filed_at − 12 months, filed_at)`.
pub fn usage_window(filed_at: DateTime<Utc>, offset: FixedOffset) -> (DateTime<Utc>, DateTime<Utc>) {
    let local = filed_at.with_timezone(&offset);
    let from = local
        .checked_sub_months(Months::new(12))
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| filed_at - chrono::Duration::days(365));
    (from, filed_at)
}

/// The use of one similar instrument over the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimilarUse {
    pub instrument_id: InstrumentId,
    /// 有效机时 in minutes: the sum of actual use started in the window.
    pub effective_minutes: i64,
}

/// The platform's answer to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advice {
    pub recommendation: Recommendation,
    /// The similar instruments used less than the policy's hours, in the order given.
    pub candidates: Vec<InstrumentId>,
}

/// `share_instead` when any similar instrument was used less than
/// `share_instead_below_hours` effective hours over the window, naming
/// those as the candidates; else `purchase` (also when there is none).
pub fn recommend(similar: &[SimilarUse], policy: &Policy) -> Advice {
    let below = policy.share_instead_below_hours.saturating_mul(60);
    let candidates: Vec<InstrumentId> = similar
        .iter()
        .filter(|s| s.effective_minutes < below)
        .map(|s| s.instrument_id)
        .collect();
    let recommendation = if candidates.is_empty() {
        Recommendation::Purchase
    } else {
        Recommendation::ShareInstead
    };
    Advice {
        recommendation,
        candidates,
    }
}

/// A step in the life of a purchase review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PurchaseReviewAction {
    /// The platform office agrees, with a reason (1–500 characters).
    Approve { reason: String },
    /// The platform office refuses, with a reason (1–500 characters).
    Reject { reason: String },
    /// The unit takes its request back.
    Withdraw,
}

impl PurchaseReviewAction {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Approve { .. } => "approve",
            Self::Reject { .. } => "reject",
            Self::Withdraw => "withdraw",
        }
    }
}

/// Why a step of a purchase review is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PurchaseReviewError {
    #[error("cannot {action} a purchase review that is {from}")]
    InvalidTransition {
        from: PurchaseReviewStatus,
        action: &'static str,
    },
    #[error(transparent)]
    Invalid(#[from] Invalid),
}

/// submitted → approved or rejected (each with a reason, whatever the
/// recommendation was), or withdrawn; every other state is final.
///
/// # Errors
/// [`PurchaseReviewError::InvalidTransition`] unless submitted;
/// [`PurchaseReviewError::Invalid`] naming `reason` for a decision without one.
pub fn transition(
    from: PurchaseReviewStatus,
    action: &PurchaseReviewAction,
) -> Result<PurchaseReviewStatus, PurchaseReviewError> {
    if from != PurchaseReviewStatus::Submitted {
        return Err(PurchaseReviewError::InvalidTransition {
            from,
            action: action.name(),
        });
    }
    let decided = |reason: &str, to| {
        let mut c = Checks::new();
        c.required_text("reason", reason, 500);
        c.require(!contains_resident_id(reason), "reason", "resident_id", || {
            "must not contain a resident identity number".into()
        });
        c.finish()?;
        Ok(to)
    };
    match action {
        PurchaseReviewAction::Approve { reason } => decided(reason, PurchaseReviewStatus::Approved),
        PurchaseReviewAction::Reject { reason } => decided(reason, PurchaseReviewStatus::Rejected),
        PurchaseReviewAction::Withdraw => Ok(PurchaseReviewStatus::Withdrawn),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text_enum::TextEnum;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn request(price: Money, quantity: i64) -> PurchaseRequest {
        PurchaseRequest {
            category_code: CategoryCode::parse("030201").unwrap_or_else(|e| panic!("{e}")),
            instrument_name: "液相色谱-串联质谱仪".into(),
            specs: "质量范围 5–2000 m/z".into(),
            price,
            quantity,
            reason: "新生儿遗传代谢病筛查量增加".into(),
        }
    }

    fn rules_of(r: Result<(), Invalid>) -> Vec<(String, &'static str)> {
        r.err()
            .map(|i| i.0.into_iter().map(|v| (v.field, v.rule)).collect())
            .unwrap_or_default()
    }

    fn uses(minutes: &[i64]) -> Vec<SimilarUse> {
        minutes
            .iter()
            .enumerate()
            .map(|(i, m)| SimilarUse {
                instrument_id: InstrumentId(i as i64 + 1),
                effective_minutes: *m,
            })
            .collect()
    }

    #[test]
    fn a_request_at_the_threshold_is_reviewed_and_a_cheaper_one_is_refused() {
        let policy = Policy::default();
        assert_eq!(request(Money::yuan(2_000_000), 1).check(&policy), Ok(()));
        assert_eq!(
            rules_of(request(Money::yuan(1_999_999), 3).check(&policy)),
            vec![("price".to_owned(), "below_review_threshold")],
            "the threshold applies to one instrument, not to price × quantity"
        );
        assert_eq!(
            rules_of(request(Money::ZERO, 1).check(&policy)),
            vec![("price".to_owned(), "positive")]
        );
    }

    #[test]
    fn every_broken_field_of_a_request_is_named() {
        let policy = Policy::default();
        let bad = PurchaseRequest {
            instrument_name: " ".into(),
            specs: "规".repeat(501),
            reason: String::new(),
            ..request(Money::yuan(3_000_000), 0)
        };
        assert_eq!(
            rules_of(bad.check(&policy)),
            vec![
                ("instrument_name".to_owned(), "required"),
                ("specs".to_owned(), "length"),
                ("reason".to_owned(), "required"),
                ("quantity".to_owned(), "range"),
            ]
        );
        assert_eq!(
            rules_of(request(Money::yuan(3_000_000), MAX_QUANTITY + 1).check(&policy)),
            vec![("quantity".to_owned(), "range")]
        );
        let with_id = PurchaseRequest {
            reason: "患者11010519491231002X的检测需要".into(),
            ..request(Money::yuan(3_000_000), 1)
        };
        assert_eq!(
            rules_of(with_id.check(&policy)),
            vec![("reason".to_owned(), "resident_id")]
        );
    }

    #[test]
    fn an_instrument_used_less_than_the_policy_hours_is_a_candidate_for_sharing() {
        let policy = Policy::default();
        let advice = recommend(&uses(&[1300 * 60, 300 * 60]), &policy);
        assert_eq!(advice.recommendation, Recommendation::ShareInstead);
        assert_eq!(advice.candidates, vec![InstrumentId(2)]);
        // Exactly 1200 h is enough use; one minute less is not.
        let advice = recommend(&uses(&[1200 * 60, 1200 * 60 - 1]), &policy);
        assert_eq!(advice.candidates, vec![InstrumentId(2)]);
    }

    #[test]
    fn well_used_or_no_similar_instruments_justify_the_purchase() {
        let policy = Policy::default();
        let advice = recommend(&uses(&[1200 * 60, 2000 * 60]), &policy);
        assert_eq!(advice.recommendation, Recommendation::Purchase);
        assert!(advice.candidates.is_empty());
        let none = recommend(&[], &policy);
        assert_eq!(none.recommendation, Recommendation::Purchase);
        assert!(none.candidates.is_empty());
    }

    #[test]
    fn the_window_is_the_twelve_local_months_before_the_filing() {
        let cst = FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| unreachable!());
        let filed = Utc
            .with_ymd_and_hms(2026, 12, 1, 2, 0, 0)
            .single()
            .unwrap_or_else(|| unreachable!());
        let (from, to) = usage_window(filed, cst);
        assert_eq!(to, filed);
        assert_eq!(from.to_rfc3339(), "2025-12-01T02:00:00+00:00");
        // 1 March 2028 07:00 local is 29 Feb 23:00 UTC; a year back in local
        // time is 1 March 2027 07:00 local.
        let leap = Utc
            .with_ymd_and_hms(2028, 2, 29, 23, 0, 0)
            .single()
            .unwrap_or_else(|| unreachable!());
        assert_eq!(usage_window(leap, cst).0.to_rfc3339(), "2027-02-28T23:00:00+00:00");
    }

    #[test]
    fn only_a_submitted_review_is_decided_or_withdrawn() {
        use PurchaseReviewStatus::*;
        let approve = PurchaseReviewAction::Approve {
            reason: "现有设备已满负荷".into(),
        };
        let reject = PurchaseReviewAction::Reject {
            reason: "四院同类设备机时不足，请共享使用".into(),
        };
        assert_eq!(transition(Submitted, &approve), Ok(Approved));
        assert_eq!(transition(Submitted, &reject), Ok(Rejected));
        assert_eq!(transition(Submitted, &PurchaseReviewAction::Withdraw), Ok(Withdrawn));
        for from in [Approved, Rejected, Withdrawn] {
            for action in [&approve, &reject, &PurchaseReviewAction::Withdraw] {
                assert_eq!(
                    transition(from, action),
                    Err(PurchaseReviewError::InvalidTransition {
                        from,
                        action: action.name()
                    }),
                    "{from} {}",
                    action.name()
                );
            }
        }
    }

    #[test]
    fn a_decision_needs_a_reason_either_way() {
        for action in [
            PurchaseReviewAction::Approve { reason: "  ".into() },
            PurchaseReviewAction::Reject { reason: String::new() },
            PurchaseReviewAction::Approve {
                reason: "理".repeat(501),
            },
        ] {
            assert!(
                matches!(
                    transition(PurchaseReviewStatus::Submitted, &action),
                    Err(PurchaseReviewError::Invalid(_))
                ),
                "{action:?}"
            );
        }
    }

    #[test]
    fn statuses_and_recommendations_have_stable_text() {
        assert_eq!(
            PurchaseReviewStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            ["submitted", "approved", "rejected", "withdrawn"]
        );
        assert_eq!(Recommendation::ShareInstead.as_str(), "share_instead");
    }

    proptest! {
        #[test]
        fn share_instead_exactly_when_some_instrument_is_under_used(minutes in proptest::collection::vec(0i64..200_000, 0..8)) {
            let policy = Policy::default();
            let advice = recommend(&uses(&minutes), &policy);
            let under = minutes.iter().filter(|m| **m < 1200 * 60).count();
            prop_assert_eq!(advice.candidates.len(), under);
            prop_assert_eq!(advice.recommendation == Recommendation::ShareInstead, under > 0);
        }
    }
}
