//! Subsidy programmes (专项资助) and grants: who is eligible, and how much
//! of a charge the special funds pay.
//!
//! The subsidy of a charge is min(charge × ratio, grant left, programme
//! left, per-charge cap), rounded half-up to the fen before the caps; an
//! adjustment of the charge recomputes it and gives back what is no longer
//! due.

use crate::catalogue::Membership;
use crate::fees::round_fen;
use crate::money::Money;
use crate::text_enum;
use crate::validation::{Checks, Invalid};
use chrono::NaiveDate;
use rust_decimal::Decimal;

text_enum!(
    /// Where a subsidy programme is in its life.
    pub enum ProgrammeStatus {
        /// Being prepared by the platform office; may still change.
        Draft = "draft",
        /// Approved by the commission; not yet paying.
        Approved = "approved",
        /// Paying subsidy on eligible charges within its validity.
        Active = "active",
        /// Finished: pays nothing more.
        Closed = "closed",
    }
);

text_enum!(
    /// Where a researcher's grant under a programme is.
    pub enum GrantStatus {
        Pending = "pending",
        /// Approved with an amount; subsidy is drawn from it.
        Approved = "approved",
        Rejected = "rejected",
    }
);

/// A step in the life of a programme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgrammeAction {
    /// The commission approves the draft.
    Approve,
    /// The platform office opens an approved programme.
    Activate,
    /// The programme stops paying.
    Close,
}

impl ProgrammeAction {
    pub fn name(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Activate => "activate",
            Self::Close => "close",
        }
    }
}

/// A step not allowed from the current state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} a programme that is {from}")]
pub struct ProgrammeTransitionError {
    pub from: ProgrammeStatus,
    pub action: &'static str,
}

/// Draft → approved (by the commission) → active → closed; a draft or an
/// approved programme may also be closed without ever paying.
///
/// # Errors
/// [`ProgrammeTransitionError`] when the step is not allowed from `from`.
pub fn transition(from: ProgrammeStatus, action: ProgrammeAction) -> Result<ProgrammeStatus, ProgrammeTransitionError> {
    use ProgrammeStatus::*;
    match (from, action) {
        (Draft, ProgrammeAction::Approve) => Ok(Approved),
        (Approved, ProgrammeAction::Activate) => Ok(Active),
        (Draft | Approved | Active, ProgrammeAction::Close) => Ok(Closed),
        _ => Err(ProgrammeTransitionError {
            from,
            action: action.name(),
        }),
    }
}

/// Only a draft programme changes: once the commission approved it, its
/// terms are what was approved.
///
/// # Errors
/// [`ProgrammeTransitionError`] unless `status` is draft.
pub fn check_editable(status: ProgrammeStatus) -> Result<(), ProgrammeTransitionError> {
    match status {
        ProgrammeStatus::Draft => Ok(()),
        ProgrammeStatus::Approved | ProgrammeStatus::Active | ProgrammeStatus::Closed => {
            Err(ProgrammeTransitionError {
                from: status,
                action: "change",
            })
        }
    }
}

/// Who and what a programme pays for. Empty lists admit everyone.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Eligibility {
    /// Member units, external organisations or both.
    pub memberships: Vec<Membership>,
    /// The beneficiary must carry one of these tags (`high_level_talent`).
    pub user_tags: Vec<String>,
    /// Only users of institutions without a mature lab.
    pub without_mature_lab_only: bool,
    /// Only use of another institution's instruments.
    pub cross_unit_only: bool,
    /// Only instruments whose GB/T 32847 category code starts with one of these.
    pub category_prefixes: Vec<String>,
}

/// The fields of a programme the platform office sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgrammeData {
    pub name: String,
    pub funder: String,
    pub budget: Money,
    pub valid_from: NaiveDate,
    pub valid_until: NaiveDate,
    /// The share of a charge paid, in basis points (5000 = 50 %).
    pub ratio_bp: i64,
    pub cap_per_beneficiary: Option<Money>,
    pub cap_per_charge: Option<Money>,
    pub eligibility: Eligibility,
}

/// Whether a tag is well formed: lower-case snake case, 2–40 characters.
pub fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    (2..=40).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

/// Checks a programme's fields.
///
/// # Errors
/// [`Invalid`] naming each field and rule broken: `name`, `funder`
/// (`required`, `length`), `budget` (`positive`), `valid_until`
/// (`date_order`), `ratio_percent` (`range`), `cap_per_beneficiary`,
/// `cap_per_charge` (`positive`), `eligibility/user_tags` (`tag_format`),
/// `eligibility/category_prefixes` (`category_prefix`),
/// `eligibility/memberships` (`duplicate`).
pub fn check_programme(p: &ProgrammeData) -> Result<(), Invalid> {
    let mut c = Checks::new();
    c.required_text("name", &p.name, 200);
    c.required_text("funder", &p.funder, 200);
    c.require(p.budget > Money::ZERO, "budget", "positive", || {
        "must be more than 0".into()
    });
    c.require(p.valid_from <= p.valid_until, "valid_until", "date_order", || {
        "must not be before valid_from".into()
    });
    c.require((1..=10_000).contains(&p.ratio_bp), "ratio_percent", "range", || {
        "must be more than 0 and at most 100".into()
    });
    for (field, cap) in [
        ("cap_per_beneficiary", p.cap_per_beneficiary),
        ("cap_per_charge", p.cap_per_charge),
    ] {
        c.require(cap.is_none_or(|m| m > Money::ZERO), field, "positive", || {
            "must be more than 0 when given".into()
        });
    }
    let e = &p.eligibility;
    c.require(
        e.user_tags.iter().all(|t| valid_tag(t)) && e.user_tags.len() <= 20,
        "eligibility/user_tags",
        "tag_format",
        || "at most 20 tags of 2 to 40 lower-case letters, digits or underscores".into(),
    );
    c.require(
        e.category_prefixes.len() <= 50
            && e.category_prefixes
                .iter()
                .all(|p| (1..=6).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())),
        "eligibility/category_prefixes",
        "category_prefix",
        || "at most 50 prefixes of 1 to 6 digits of a GB/T 32847 category code".into(),
    );
    let mut memberships = e.memberships.clone();
    memberships.sort_unstable();
    memberships.dedup();
    c.require(
        memberships.len() == e.memberships.len(),
        "eligibility/memberships",
        "duplicate",
        || "must not repeat a value".into(),
    );
    c.finish()
}

/// What a beneficiary looks like to the eligibility rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Beneficiary<'a> {
    pub membership: Membership,
    pub has_mature_lab: bool,
    pub tags: &'a [String],
}

/// Why a beneficiary or a charge is not covered by a programme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Ineligible {
    #[error("the programme does not cover users of this kind of institution")]
    Membership,
    #[error("the programme covers only users with one of its tags")]
    Tags,
    #[error("the programme covers only institutions without a mature lab")]
    MatureLab,
    #[error("the programme covers only use of another institution's instruments")]
    CrossUnit,
    #[error("the programme does not cover this instrument category")]
    Category,
    #[error("the programme is not active")]
    NotActive,
    #[error("the use falls outside the programme's validity")]
    OutsideValidity,
}

/// Whether a user may hold a grant under a programme.
///
/// # Errors
/// The first [`Ineligible`] reason.
pub fn beneficiary_eligible(e: &Eligibility, b: &Beneficiary<'_>) -> Result<(), Ineligible> {
    if !e.memberships.is_empty() && !e.memberships.contains(&b.membership) {
        return Err(Ineligible::Membership);
    }
    if !e.user_tags.is_empty() && !e.user_tags.iter().any(|t| b.tags.contains(t)) {
        return Err(Ineligible::Tags);
    }
    if e.without_mature_lab_only && b.has_mature_lab {
        return Err(Ineligible::MatureLab);
    }
    Ok(())
}

/// What a charge looks like to the eligibility rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChargeScope<'a> {
    /// The payer is not the provider.
    pub cross_unit: bool,
    /// The instrument's category code (the primary instrument of a service item).
    pub category_code: Option<&'a str>,
    /// The local date of the use.
    pub used_on: NaiveDate,
}

/// Whether a programme pays towards a charge of an eligible beneficiary.
///
/// # Errors
/// The first [`Ineligible`] reason.
pub fn charge_eligible(
    status: ProgrammeStatus,
    p: &ProgrammeData,
    beneficiary: &Beneficiary<'_>,
    charge: &ChargeScope<'_>,
) -> Result<(), Ineligible> {
    if status != ProgrammeStatus::Active {
        return Err(Ineligible::NotActive);
    }
    if charge.used_on < p.valid_from || charge.used_on > p.valid_until {
        return Err(Ineligible::OutsideValidity);
    }
    beneficiary_eligible(&p.eligibility, beneficiary)?;
    let e = &p.eligibility;
    if e.cross_unit_only && !charge.cross_unit {
        return Err(Ineligible::CrossUnit);
    }
    if !e.category_prefixes.is_empty()
        && !charge
            .category_code
            .is_some_and(|code| e.category_prefixes.iter().any(|p| code.starts_with(p.as_str())))
    {
        return Err(Ineligible::Category);
    }
    Ok(())
}

/// The limits on the subsidy of one charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubsidyLimits {
    pub ratio_bp: i64,
    pub cap_per_charge: Option<Money>,
    /// What the beneficiary's grant has left.
    pub grant_left: Money,
    /// What the programme's budget has left.
    pub programme_left: Money,
}

/// The subsidy due on `gross` before the grant and budget caps:
/// gross × ratio rounded half-up, at most the per-charge cap.
pub fn due(gross: Money, ratio_bp: i64, cap_per_charge: Option<Money>) -> Money {
    let share =
        round_fen(Decimal::from(gross.fen()) * Decimal::from(ratio_bp.clamp(0, 10_000)) / Decimal::from(10_000))
            .unwrap_or(gross);
    cap_per_charge.map_or(share, |cap| share.min(cap))
}

/// The subsidy of a new charge: min(charge × ratio, grant left, programme
/// left, per-charge cap).
pub fn subsidy(gross: Money, limits: &SubsidyLimits) -> Money {
    due(gross, limits.ratio_bp, limits.cap_per_charge)
        .min(limits.grant_left)
        .min(limits.programme_left)
}

/// The subsidy of a charge after an adjustment brought its gross to
/// `corrected_gross`, given it received `current` so far: what is no longer
/// due (the corrected gross × ratio, at most the per-charge cap) is given
/// back. An adjustment never draws more: the provider corrects its own
/// bill, and a correction upwards must not become a way to spend a
/// beneficiary's grant.
pub fn subsidy_after_adjustment(
    current: Money,
    corrected_gross: Money,
    ratio_bp: i64,
    cap_per_charge: Option<Money>,
) -> Money {
    due(corrected_gross, ratio_bp, cap_per_charge).min(current)
}

/// Why a grant decision is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    #[error("cannot {action} a grant that is {from}")]
    InvalidTransition { from: GrantStatus, action: &'static str },
    #[error(transparent)]
    Invalid(#[from] Invalid),
}

/// The platform office approves a pending grant with an amount of more
/// than 0 and at most the programme's cap per beneficiary.
///
/// # Errors
/// [`GrantError::InvalidTransition`] unless pending; [`GrantError::Invalid`]
/// naming `amount` (`positive`, `cap_per_beneficiary`).
pub fn approve_grant(
    from: GrantStatus,
    amount: Money,
    cap_per_beneficiary: Option<Money>,
) -> Result<GrantStatus, GrantError> {
    if from != GrantStatus::Pending {
        return Err(GrantError::InvalidTransition {
            from,
            action: "approve",
        });
    }
    let mut c = Checks::new();
    c.require(amount > Money::ZERO, "amount", "positive", || {
        "must be more than 0".into()
    });
    if let Some(cap) = cap_per_beneficiary {
        c.require(amount <= cap, "amount", "cap_per_beneficiary", || {
            format!("must not exceed the programme's cap per beneficiary of {cap}")
        });
    }
    c.finish()?;
    Ok(GrantStatus::Approved)
}

/// The platform office rejects a pending grant with a reason of 1 to 500 characters.
///
/// # Errors
/// [`GrantError::InvalidTransition`] unless pending; [`GrantError::Invalid`]
/// naming `reason`.
pub fn reject_grant(from: GrantStatus, reason: &str) -> Result<GrantStatus, GrantError> {
    if from != GrantStatus::Pending {
        return Err(GrantError::InvalidTransition { from, action: "reject" });
    }
    let mut c = Checks::new();
    c.required_text("reason", reason, 500);
    c.finish()?;
    Ok(GrantStatus::Rejected)
}

/// Why a programme takes no applications and no grant decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotOpen {
    #[error("the programme is still a draft: the commission has not approved it")]
    Draft,
    #[error("the programme is closed")]
    Closed,
    #[error("the programme's validity ended on {valid_until}")]
    Ended { valid_until: NaiveDate },
}

/// A programme takes applications, and its grants are decided, once the
/// commission has approved it, until it is closed or its validity ends
/// (`today` is the platform's local date).
///
/// # Errors
/// The [`NotOpen`] reason.
pub fn open_for_grants(status: ProgrammeStatus, p: &ProgrammeData, today: NaiveDate) -> Result<(), NotOpen> {
    match status {
        ProgrammeStatus::Draft => Err(NotOpen::Draft),
        ProgrammeStatus::Closed => Err(NotOpen::Closed),
        ProgrammeStatus::Approved | ProgrammeStatus::Active if today > p.valid_until => Err(NotOpen::Ended {
            valid_until: p.valid_until,
        }),
        ProgrammeStatus::Approved | ProgrammeStatus::Active => Ok(()),
    }
}

/// Checks an application for a grant: an amount of more than 0 and at
/// most the programme's cap per beneficiary, and a purpose.
///
/// # Errors
/// [`Invalid`] naming `requested_amount` (`positive`,
/// `cap_per_beneficiary`) or `purpose` (`required`, `length`).
pub fn check_application(requested: Money, purpose: &str, cap_per_beneficiary: Option<Money>) -> Result<(), Invalid> {
    let mut c = Checks::new();
    c.require(requested > Money::ZERO, "requested_amount", "positive", || {
        "must be more than 0".into()
    });
    if let Some(cap) = cap_per_beneficiary {
        c.require(requested <= cap, "requested_amount", "cap_per_beneficiary", || {
            format!("must not exceed the programme's cap per beneficiary of {cap}")
        });
    }
    c.required_text("purpose", purpose, 500);
    c.finish()
}

/// The most tags a user carries.
pub const MAX_TAGS: usize = 20;

/// Checks the tags of a user: at most [`MAX_TAGS`], each well formed
/// ([`valid_tag`]) and none repeated.
///
/// # Errors
/// [`Invalid`] naming `tags` (`length`) or `tags/<index>` (`tag_format`,
/// `duplicate`).
pub fn check_tags(tags: &[String]) -> Result<(), Invalid> {
    let mut c = Checks::new();
    c.require(tags.len() <= MAX_TAGS, "tags", "length", || {
        format!("at most {MAX_TAGS} tags")
    });
    for (i, tag) in tags.iter().enumerate() {
        let field = format!("tags/{i}");
        c.require(valid_tag(tag), &field, "tag_format", || {
            "2 to 40 lower-case letters, digits or underscores, starting with a letter".into()
        });
        c.require(!tags[..i].contains(tag), &field, "duplicate", || {
            "repeats an earlier tag".into()
        });
    }
    c.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap_or_default()
    }

    fn programme() -> ProgrammeData {
        ProgrammeData {
            name: "2026年度大型仪器共享补贴".into(),
            funder: "南宁市卫生健康委员会".into(),
            budget: Money::yuan(100_000),
            valid_from: d("2026-01-01"),
            valid_until: d("2026-12-31"),
            ratio_bp: 5000,
            cap_per_beneficiary: Some(Money::yuan(20_000)),
            cap_per_charge: Some(Money::yuan(2_000)),
            eligibility: Eligibility {
                memberships: vec![Membership::Member],
                user_tags: vec![],
                without_mature_lab_only: true,
                cross_unit_only: true,
                category_prefixes: vec!["0303".into()],
            },
        }
    }

    fn limits(grant: i64, budget: i64) -> SubsidyLimits {
        SubsidyLimits {
            ratio_bp: 5000,
            cap_per_charge: Some(Money::yuan(2_000)),
            grant_left: Money::yuan(grant),
            programme_left: Money::yuan(budget),
        }
    }

    #[test]
    fn the_programme_life_is_draft_approved_active_closed() {
        use ProgrammeAction::*;
        use ProgrammeStatus::*;
        assert_eq!(transition(Draft, Approve), Ok(Approved));
        assert_eq!(transition(Approved, Activate), Ok(Active));
        assert_eq!(transition(Active, Close), Ok(Closed));
        assert_eq!(transition(Draft, Close), Ok(Closed));
        assert!(transition(Draft, Activate).is_err());
        assert!(transition(Active, Approve).is_err());
        assert!(transition(Closed, Close).is_err());
        assert_eq!(check_editable(Draft), Ok(()));
        assert!(check_editable(Approved).is_err());
    }

    #[test]
    fn a_programme_with_broken_fields_names_each() {
        let mut p = programme();
        p.budget = Money::ZERO;
        p.valid_until = d("2025-12-31");
        p.ratio_bp = 0;
        p.cap_per_charge = Some(Money::ZERO);
        p.eligibility.user_tags = vec!["High Level".into()];
        p.eligibility.category_prefixes = vec!["03a".into()];
        p.eligibility.memberships = vec![Membership::Member, Membership::Member];
        let rules = check_programme(&p)
            .err()
            .map(|e| e.0.into_iter().map(|v| (v.field, v.rule)).collect::<Vec<_>>())
            .unwrap_or_default();
        assert_eq!(
            rules,
            vec![
                ("budget".into(), "positive"),
                ("valid_until".into(), "date_order"),
                ("ratio_percent".into(), "range"),
                ("cap_per_charge".into(), "positive"),
                ("eligibility/user_tags".into(), "tag_format"),
                ("eligibility/category_prefixes".into(), "category_prefix"),
                ("eligibility/memberships".into(), "duplicate"),
            ]
        );
        assert!(check_programme(&programme()).is_ok());
    }

    #[test]
    fn eligibility_follows_each_rule_of_the_programme() {
        let p = programme();
        let tags = vec!["high_level_talent".to_owned()];
        let ok = Beneficiary {
            membership: Membership::Member,
            has_mature_lab: false,
            tags: &tags,
        };
        let charge = ChargeScope {
            cross_unit: true,
            category_code: Some("030301"),
            used_on: d("2026-06-01"),
        };
        let active = ProgrammeStatus::Active;
        assert_eq!(charge_eligible(active, &p, &ok, &charge), Ok(()));
        assert_eq!(
            charge_eligible(ProgrammeStatus::Approved, &p, &ok, &charge),
            Err(Ineligible::NotActive)
        );
        let late = ChargeScope {
            used_on: d("2027-01-01"),
            ..charge
        };
        assert_eq!(
            charge_eligible(active, &p, &ok, &late),
            Err(Ineligible::OutsideValidity)
        );
        let external = Beneficiary {
            membership: Membership::External,
            ..ok
        };
        assert_eq!(
            charge_eligible(active, &p, &external, &charge),
            Err(Ineligible::Membership)
        );
        let mature = Beneficiary {
            has_mature_lab: true,
            ..ok
        };
        assert_eq!(
            charge_eligible(active, &p, &mature, &charge),
            Err(Ineligible::MatureLab)
        );
        let own = ChargeScope {
            cross_unit: false,
            ..charge
        };
        assert_eq!(charge_eligible(active, &p, &ok, &own), Err(Ineligible::CrossUnit));
        let other = ChargeScope {
            category_code: Some("040101"),
            ..charge
        };
        assert_eq!(charge_eligible(active, &p, &ok, &other), Err(Ineligible::Category));
        let mut tagged = programme();
        tagged.eligibility.user_tags = vec!["high_level_talent".into()];
        assert_eq!(charge_eligible(active, &tagged, &ok, &charge), Ok(()));
        let untagged = Beneficiary { tags: &[], ..ok };
        assert_eq!(
            charge_eligible(active, &tagged, &untagged, &charge),
            Err(Ineligible::Tags)
        );
    }

    #[test]
    fn the_subsidy_is_the_smallest_of_share_grant_budget_and_cap() {
        assert_eq!(subsidy(Money::yuan(1_000), &limits(20_000, 100_000)), Money::yuan(500));
        assert_eq!(
            subsidy(Money::yuan(10_000), &limits(20_000, 100_000)),
            Money::yuan(2_000)
        );
        assert_eq!(subsidy(Money::yuan(1_000), &limits(300, 100_000)), Money::yuan(300));
        assert_eq!(subsidy(Money::yuan(1_000), &limits(20_000, 120)), Money::yuan(120));
        assert_eq!(
            subsidy(Money::from_fen(1).unwrap_or_default(), &limits(1, 1)).fen(),
            1,
            "0.005 rounds up"
        );
    }

    #[test]
    fn an_adjustment_gives_back_what_is_no_longer_due() {
        let cap = Some(Money::yuan(2_000));
        assert_eq!(
            subsidy_after_adjustment(Money::yuan(500), Money::yuan(600), 5000, cap),
            Money::yuan(300)
        );
        assert_eq!(
            subsidy_after_adjustment(Money::yuan(500), Money::ZERO, 5000, cap),
            Money::ZERO
        );
        assert_eq!(
            subsidy_after_adjustment(Money::yuan(2_000), Money::yuan(4_100), 5000, cap),
            Money::yuan(2_000),
            "the cap still binds"
        );
        // A correction upwards draws nothing more.
        assert_eq!(
            subsidy_after_adjustment(Money::yuan(500), Money::yuan(1_400), 5000, cap),
            Money::yuan(500)
        );
    }

    #[test]
    fn grants_are_approved_within_the_cap_or_rejected_with_a_reason() {
        let cap = Some(Money::yuan(20_000));
        assert_eq!(
            approve_grant(GrantStatus::Pending, Money::yuan(5_000), cap),
            Ok(GrantStatus::Approved)
        );
        assert!(matches!(
            approve_grant(GrantStatus::Pending, Money::yuan(20_001), cap),
            Err(GrantError::Invalid(_))
        ));
        assert!(matches!(
            approve_grant(GrantStatus::Pending, Money::ZERO, None),
            Err(GrantError::Invalid(_))
        ));
        assert!(matches!(
            approve_grant(GrantStatus::Approved, Money::yuan(1), None),
            Err(GrantError::InvalidTransition { .. })
        ));
        assert_eq!(
            reject_grant(GrantStatus::Pending, "超出范围"),
            Ok(GrantStatus::Rejected)
        );
        assert!(reject_grant(GrantStatus::Pending, "  ").is_err());
    }

    #[test]
    fn a_programme_takes_applications_from_approval_until_it_closes_or_ends() {
        let p = programme();
        let today = d("2026-06-01");
        assert_eq!(open_for_grants(ProgrammeStatus::Draft, &p, today), Err(NotOpen::Draft));
        assert_eq!(open_for_grants(ProgrammeStatus::Approved, &p, today), Ok(()));
        assert_eq!(open_for_grants(ProgrammeStatus::Active, &p, today), Ok(()));
        assert_eq!(
            open_for_grants(ProgrammeStatus::Closed, &p, today),
            Err(NotOpen::Closed)
        );
        assert_eq!(
            open_for_grants(ProgrammeStatus::Active, &p, d("2027-01-01")),
            Err(NotOpen::Ended {
                valid_until: d("2026-12-31")
            })
        );
    }

    #[test]
    fn an_application_asks_for_an_amount_within_the_cap_with_a_purpose() {
        let cap = Some(Money::yuan(20_000));
        assert!(check_application(Money::yuan(5_000), "质谱检测补贴", cap).is_ok());
        let rules = |r: Result<(), Invalid>| {
            r.err()
                .map(|e| e.0.into_iter().map(|v| (v.field, v.rule)).collect::<Vec<_>>())
                .unwrap_or_default()
        };
        assert_eq!(
            rules(check_application(Money::yuan(20_001), " ", cap)),
            vec![
                ("requested_amount".to_owned(), "cap_per_beneficiary"),
                ("purpose".to_owned(), "required")
            ]
        );
        assert_eq!(
            rules(check_application(Money::ZERO, "x", None)),
            vec![("requested_amount".to_owned(), "positive")]
        );
    }

    #[test]
    fn tags_are_well_formed_unique_and_few() {
        let tags = |t: &[&str]| t.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(check_tags(&tags(&["high_level_talent", "youth_2026"])).is_ok());
        let fields = |r: Result<(), Invalid>| {
            r.err()
                .map(|e| e.0.into_iter().map(|v| (v.field, v.rule)).collect::<Vec<_>>())
                .unwrap_or_default()
        };
        assert_eq!(
            fields(check_tags(&tags(&["high_level_talent", "High", "high_level_talent"]))),
            vec![("tags/1".to_owned(), "tag_format"), ("tags/2".to_owned(), "duplicate")]
        );
        let many: Vec<String> = (0..21).map(|i| format!("tag_{i}")).collect();
        assert_eq!(fields(check_tags(&many)), vec![("tags".to_owned(), "length")]);
    }

    proptest! {
        #[test]
        fn a_subsidy_never_exceeds_any_of_its_limits(
            gross in 0i64..10_000_000, ratio in 0i64..=10_000, cap in proptest::option::of(1i64..1_000_000),
            grant in 0i64..1_000_000, budget in 0i64..1_000_000
        ) {
            let m = |f| Money::from_fen(f).unwrap_or_default();
            let l = SubsidyLimits { ratio_bp: ratio, cap_per_charge: cap.map(m), grant_left: m(grant), programme_left: m(budget) };
            let s = subsidy(m(gross), &l).fen();
            prop_assert!(s >= 0);
            prop_assert!(s <= gross && s <= grant && s <= budget);
            prop_assert!(cap.is_none_or(|c| s <= c));
            // gross × ratio, rounded half-up, when no cap binds
            let share = (i128::from(gross) * i128::from(ratio) * 2 + 10_000) / 20_000;
            prop_assert!(i128::from(s) <= share);
        }

        #[test]
        fn an_adjustment_only_ever_gives_subsidy_back(current in 0i64..1_000_000, corrected in 0i64..10_000_000) {
            let m = |f| Money::from_fen(f).unwrap_or_default();
            let after = subsidy_after_adjustment(m(current), m(corrected), 5000, None).fen();
            prop_assert!(after <= current);
            prop_assert!(after <= (corrected + 1) / 2);
            prop_assert!(after >= 0);
        }
    }
}
