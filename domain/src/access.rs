//! Who may do what (chapter 2 of the measures): one permission function,
//! `can(actor, action, resource)`, decides every read and write by the
//! actor's roles **and** the owner of the object.

use crate::catalogue::{InstitutionKind, SharingScope};
use crate::ids::{InstitutionId, UserId};
use crate::listing::ListingStatus;
use crate::text_enum;

text_enum!(
    /// A role of chapter 2 of the measures.
    pub enum Role {
        /// 领导小组: reads everything, approves programmes, publishes results.
        Commission = "commission",
        /// 日常管理部门: manages institutions, users, policy, listings.
        PlatformAdmin = "platform_admin",
        /// 供给单位管理员: manages its own institution's labs, instruments and users.
        UnitAdmin = "unit_admin",
        /// 机组负责人: runs the instruments assigned to them.
        InstrumentManager = "instrument_manager",
        /// 使用者: browses, books and orders.
        Researcher = "researcher",
        /// 监管/审计: reads reports, exports and the audit trail.
        Regulator = "regulator",
    }
);

/// The person (or system) acting, as far as permissions are concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: UserId,
    pub institution_id: InstitutionId,
    /// Whether the actor's institution is a member unit of the commission.
    pub member: bool,
    pub roles: Vec<Role>,
}

impl Actor {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
    fn any(&self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.has(*r))
    }
    /// Reads everything in the catalogue, published or not.
    fn reads_all(&self) -> bool {
        self.any(&[Role::Commission, Role::PlatformAdmin, Role::Regulator])
    }
    /// Runs the instrument: its assigned manager, its unit's admin, or the platform office.
    fn runs(&self, i: &InstrumentAccess) -> bool {
        self.admin_of(i.institution_id) || (self.has(Role::InstrumentManager) && i.managers.contains(&self.user_id))
    }
    fn admin_of(&self, institution: InstitutionId) -> bool {
        self.has(Role::PlatformAdmin) || (self.has(Role::UnitAdmin) && self.institution_id == institution)
    }
}

/// An operation on the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    ReadInstitution,
    CreateInstitution,
    UpdateInstitution,
    ReadLab,
    CreateLab,
    UpdateLab,
    ReadInstrument,
    CreateInstrument,
    UpdateInstrument,
    /// Report the operating status (fault, repair) of an instrument.
    SetInstrumentStatus,
    AssignInstrumentManagers,
    SubmitListing,
    DecideListing,
    ReadUser,
    CreateUser,
    UpdateUser,
    /// Give or take away a role.
    GrantRole(Role),
    ReadAuditTrail,
    /// Set an instrument's booking rules, opening hours and blackouts.
    ManageSchedule,
    /// Certify or revoke users on an instrument.
    CertifyOnInstrument,
    /// Certify or revoke a user's biosafety qualification.
    CertifyBiosafety,
    /// Book time on an instrument.
    Book,
    /// Cancel a service order: its orderer or whoever runs its instruments.
    CancelOrder,
    /// Book for another account of an institution (the resource): its unit
    /// admin, such as a hospital system's service account, books for its
    /// researchers.
    BookFor,
    ReadBooking,
    /// Approve or reject a pending booking.
    DecideBooking,
    /// Check a user in or out, or record a no-show.
    OperateBooking,
    CancelBooking,
    /// Offer, change or withdraw an institution's service items (实验项目).
    ManageServiceItems,
    /// See who gave a rating (ratings are otherwise shown anonymously).
    IdentifyRater,
    /// Propose fee standards for an institution's instruments and items, and
    /// see its proposals that are not approved.
    ProposeFeeStandard,
    /// Approve or reject a proposed fee standard.
    DecideFeeStandard,
    /// Set the tags of an account that subsidy programmes select beneficiaries by.
    TagUser,
    /// Create, change, activate and close subsidy programmes.
    ManageProgrammes,
    /// Approve a draft subsidy programme.
    ApproveProgramme,
    /// Apply for a grant under a subsidy programme, for oneself.
    ApplyForGrant,
    ReadGrant,
    /// Approve a grant with an amount, or reject it.
    DecideGrant,
    ReadCharge,
    /// Correct a charge with an adjustment.
    AdjustCharge,
    /// Generate the month's statements for all pairs.
    GenerateStatements,
    ReadStatement,
    /// Issue a draft statement, resolve a dispute or confirm payment: the provider's side.
    SettleStatement,
    /// Contest an issued statement: the payer's side.
    DisputeStatement,
    /// Change the platform policy's numbers.
    UpdatePolicy,
    /// Create and compute assessments, enter management scores.
    RunAssessment,
    /// Publish an assessment's results, which freezes them.
    PublishAssessment,
    /// Read an assessment before it is published.
    ReadDraftAssessment,
    /// File a purchase review (新购查重评议) for an institution, or withdraw it before the decision.
    FileOrWithdrawPurchaseReview,
    /// Approve or reject a purchase review, with a reason.
    DecidePurchaseReview,
    /// Read an institution's purchase reviews.
    ReadPurchaseReview,
    /// Read the reports for regulators (usage, finance, the national-platform
    /// export) of the whole platform, or of one institution.
    ReadReports,
    /// Create, change, rotate the secret of and revoke service accounts.
    ManageServiceAccounts,
    /// Read an institution's service accounts (never their secrets).
    ReadServiceAccount,
    /// Subscribe webhooks to events, change them, read their deliveries:
    /// platform-wide ones (`Platform`) or an institution's.
    ManageWebhooks,
}

/// What an instrument looks like to the permission rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstrumentAccess {
    pub institution_id: InstitutionId,
    pub listing: ListingStatus,
    pub sharing_scope: SharingScope,
    pub managers: Vec<UserId>,
}

/// What a booking looks like to the permission rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingAccess {
    pub user_id: UserId,
    /// The booker's institution.
    pub institution_id: InstitutionId,
    pub instrument: InstrumentAccess,
}

/// The object an action is applied to; `Platform` for actions on no object
/// (creating an institution, reading the audit trail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource<'a> {
    Platform,
    Institution(InstitutionId),
    /// A lab, or the creation of one, in an institution.
    Lab {
        institution_id: InstitutionId,
    },
    /// An instrument, or the creation of one, in an institution.
    Instrument(&'a InstrumentAccess),
    Booking(&'a BookingAccess),
    /// A rating of a booking or service order, given by `rater`.
    Rating {
        rater: UserId,
    },
    /// A grant of subsidy to a user of an institution.
    Grant {
        user_id: UserId,
        institution_id: InstitutionId,
    },
    /// A charge to a user of a payer institution, for use at a provider.
    Charge {
        user_id: UserId,
        payer: InstitutionId,
        provider: InstitutionId,
    },
    /// A statement to a payer institution (`None`: a programme's funder) from a provider.
    Statement {
        payer: Option<InstitutionId>,
        provider: InstitutionId,
        /// Still a draft: the provider's working copy, not yet sent to the payer.
        draft: bool,
    },
    /// A user account, or the creation of one, in an institution.
    User {
        institution_id: InstitutionId,
        /// `None` for an account not created yet.
        user_id: Option<UserId>,
        /// The kind of the institution the account belongs to.
        institution_kind: InstitutionKind,
        /// The roles the account holds now (none for a new account).
        roles: &'a [Role],
    },
}

/// Whether `actor` may apply `action` to `resource`.
pub fn can(actor: &Actor, action: Action, resource: &Resource<'_>) -> bool {
    use Action as A;
    use Resource as R;
    match (action, resource) {
        (A::ReadInstitution, R::Institution(_)) | (A::ReadLab, R::Lab { .. }) => true,
        (A::CreateInstitution, R::Platform) | (A::UpdateInstitution, R::Institution(_)) => {
            actor.has(Role::PlatformAdmin)
        }
        (A::CreateLab | A::UpdateLab, R::Lab { institution_id }) => actor.admin_of(*institution_id),
        (A::ReadInstrument, R::Instrument(i)) => {
            instrument_visibility(actor).admits(i.institution_id, i.listing, i.sharing_scope)
        }
        (
            A::CreateInstrument | A::UpdateInstrument | A::AssignInstrumentManagers | A::SubmitListing,
            R::Instrument(i),
        ) => actor.admin_of(i.institution_id),
        (A::SetInstrumentStatus, R::Instrument(i)) => actor.runs(i),
        (A::DecideListing, R::Instrument(_)) => actor.has(Role::PlatformAdmin),
        (
            A::ReadUser,
            R::User {
                institution_id,
                user_id,
                ..
            },
        ) => {
            *user_id == Some(actor.user_id)
                || actor.any(&[Role::PlatformAdmin, Role::Commission])
                || actor.admin_of(*institution_id)
        }
        (A::CreateUser, R::User { institution_id, .. }) => actor.admin_of(*institution_id),
        // A unit admin manages only accounts whose every role it could grant itself:
        // it cannot reset the password of a regulator or of the platform office.
        (
            A::UpdateUser,
            R::User {
                institution_id, roles, ..
            },
        ) => {
            actor.has(Role::PlatformAdmin)
                || (actor.admin_of(*institution_id) && roles.iter().all(|r| unit_admin_may_grant(*r)))
        }
        (
            A::GrantRole(role),
            R::User {
                institution_id,
                institution_kind,
                ..
            },
        ) => {
            role_fits_institution(role, *institution_kind)
                && (actor.has(Role::PlatformAdmin) || (actor.admin_of(*institution_id) && unit_admin_may_grant(role)))
        }
        (A::ReadAuditTrail, R::Platform) => actor.reads_all(),
        (A::ManageSchedule | A::CertifyOnInstrument, R::Instrument(i)) => actor.runs(i),
        (A::CertifyBiosafety, R::User { institution_id, .. }) => actor.admin_of(*institution_id),
        (A::Book, R::Instrument(i)) => {
            actor.any(&[Role::Researcher, Role::InstrumentManager, Role::UnitAdmin])
                && instrument_visibility(actor).admits(i.institution_id, i.listing, i.sharing_scope)
        }
        (A::ReadBooking, R::Booking(b)) => {
            b.user_id == actor.user_id
                || actor.reads_all()
                || actor.runs(&b.instrument)
                || actor.admin_of(b.institution_id)
        }
        (A::DecideBooking | A::OperateBooking, R::Booking(b)) => actor.runs(&b.instrument),
        (A::ManageServiceItems, R::Institution(i)) => actor.admin_of(*i),
        (A::CancelBooking, R::Booking(b)) => acts_for_booker(actor, b) || actor.runs(&b.instrument),
        (A::BookFor, R::Institution(i)) => actor.admin_of(*i),
        (A::CancelOrder, R::Booking(b)) => b.user_id == actor.user_id || actor.runs(&b.instrument),
        // Ratings are published without the rater, so that users rate freely;
        // the platform office, commission and regulators may follow one up.
        (A::IdentifyRater, R::Rating { rater }) => *rater == actor.user_id || actor.reads_all(),
        (A::ProposeFeeStandard, R::Institution(i)) => actor.admin_of(*i),
        (A::DecideFeeStandard | A::ManageProgrammes | A::DecideGrant | A::GenerateStatements, R::Platform) => {
            actor.has(Role::PlatformAdmin)
        }
        (A::ApproveProgramme | A::PublishAssessment, R::Platform) => actor.has(Role::Commission),
        (A::UpdatePolicy | A::RunAssessment, R::Platform) => actor.has(Role::PlatformAdmin),
        (A::ReadDraftAssessment, R::Platform) => actor.reads_all(),
        // Tags decide who may receive public subsidy: the platform office alone sets them.
        (A::TagUser, R::User { .. }) => actor.has(Role::PlatformAdmin),
        (A::ApplyForGrant, R::Platform) => actor.any(&[Role::Researcher, Role::InstrumentManager, Role::UnitAdmin]),
        (
            A::ReadGrant,
            R::Grant {
                user_id,
                institution_id,
            },
        ) => *user_id == actor.user_id || actor.reads_all() || actor.admin_of(*institution_id),
        (
            A::ReadCharge,
            R::Charge {
                user_id,
                payer,
                provider,
            },
        ) => *user_id == actor.user_id || actor.reads_all() || actor.admin_of(*payer) || actor.admin_of(*provider),
        // The provider corrects its own bill; the platform office any.
        (A::AdjustCharge, R::Charge { provider, .. }) => actor.admin_of(*provider),
        (A::ReadStatement, R::Statement { payer, provider, draft }) => {
            actor.reads_all() || actor.admin_of(*provider) || (!draft && payer.is_some_and(|p| actor.admin_of(p)))
        }
        (A::SettleStatement, R::Statement { provider, .. }) => actor.admin_of(*provider),
        // A programme's statement is contested by the platform office on the funder's behalf.
        (A::DisputeStatement, R::Statement { payer, .. }) => match payer {
            Some(p) => actor.admin_of(*p),
            None => actor.has(Role::PlatformAdmin),
        },
        // A unit asks to buy for itself; the platform office may file on a unit's behalf.
        (A::FileOrWithdrawPurchaseReview, R::Institution(owner)) => actor.admin_of(*owner),
        (A::DecidePurchaseReview, R::Platform) => actor.has(Role::PlatformAdmin),
        (A::ReadPurchaseReview, R::Institution(owner)) => actor.reads_all() || actor.admin_of(*owner),
        (A::ReadReports, R::Platform) => report_scope(actor) == Some(Scope::All),
        (A::ReadReports, R::Institution(i)) => match report_scope(actor) {
            Some(Scope::All) => true,
            Some(Scope::Institution(own)) => own == *i,
            None => false,
        },
        // Machines get access from the platform office alone; a unit sees its own.
        (A::ManageServiceAccounts, R::Platform) => actor.has(Role::PlatformAdmin),
        (A::ReadServiceAccount, R::Institution(i)) => actor.reads_all() || actor.admin_of(*i),
        (A::ManageWebhooks, R::Platform) => actor.has(Role::PlatformAdmin),
        (A::ManageWebhooks, R::Institution(i)) => actor.admin_of(*i),
        _ => false,
    }
}

/// Which service accounts an actor may list: all for the platform office,
/// the commission and regulators; its own unit's for a unit admin.
pub fn service_account_scope(actor: &Actor) -> Option<Scope> {
    listing_overdue_scope(actor)
}

/// Which webhooks an actor may list: all for the platform office, its own
/// unit's for a unit admin; `None`: none.
pub fn webhook_scope(actor: &Actor) -> Option<Scope> {
    if actor.has(Role::PlatformAdmin) {
        Some(Scope::All)
    } else if actor.has(Role::UnitAdmin) {
        Some(Scope::Institution(actor.institution_id))
    } else {
        None
    }
}

/// Whether the actor acts as the booker of `b`: the booker, or the unit
/// admin of the booker's institution (who may have booked for them) when
/// it does not run the instrument. A cancellation by one of them is the
/// booker's own and may cost the booked fee.
pub fn acts_for_booker(actor: &Actor, b: &BookingAccess) -> bool {
    b.user_id == actor.user_id
        || (actor.has(Role::UnitAdmin) && actor.institution_id == b.institution_id && !actor.runs(&b.instrument))
}

/// Roles a unit administrator may hand out within its own institution.
pub fn unit_admin_may_grant(role: Role) -> bool {
    matches!(role, Role::UnitAdmin | Role::InstrumentManager | Role::Researcher)
}

/// The commission's roles belong to accounts of the commission's own institution.
pub fn role_fits_institution(role: Role, kind: InstitutionKind) -> bool {
    !matches!(role, Role::Commission | Role::PlatformAdmin) || kind == InstitutionKind::Commission
}

/// Which requests (bookings, service orders, usage records) an actor reads
/// besides its own and those of the instruments it runs: all of them, or
/// also those of its unit's members and instruments (a unit admin).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestScope {
    All,
    Limited { unit: Option<InstitutionId> },
}

/// The request scope of an actor.
pub fn request_scope(actor: &Actor) -> RequestScope {
    if actor.reads_all() {
        RequestScope::All
    } else {
        RequestScope::Limited {
            unit: actor.has(Role::UnitAdmin).then_some(actor.institution_id),
        }
    }
}

/// How much of a list an actor may see: everything, or what one institution owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    All,
    Institution(InstitutionId),
}

/// Which users an actor may list; `None` when it may list none but itself.
pub fn user_list_scope(actor: &Actor) -> Option<Scope> {
    if actor.any(&[Role::PlatformAdmin, Role::Commission]) {
        Some(Scope::All)
    } else if actor.has(Role::UnitAdmin) {
        Some(Scope::Institution(actor.institution_id))
    } else {
        None
    }
}

/// Which statements an actor may list: all, those of its unit (as payer or
/// provider) for a unit admin; `None`: none.
pub fn statement_scope(actor: &Actor) -> Option<Scope> {
    listing_overdue_scope(actor)
}

/// Which figures an actor reads in the reports for regulators: the whole
/// platform for the commission, the platform office and regulators; its own
/// institution's instruments and charges for a unit admin; `None`: no report
/// (researchers and instrument managers).
pub fn report_scope(actor: &Actor) -> Option<Scope> {
    if actor.reads_all() {
        Some(Scope::All)
    } else if actor.has(Role::UnitAdmin) {
        Some(Scope::Institution(actor.institution_id))
    } else {
        None
    }
}

/// Whose fee proposals (proposed or rejected standards) an actor sees
/// besides the approved standards everyone sees: all, its own unit's for a
/// unit admin; `None`: none.
pub fn fee_proposal_scope(actor: &Actor) -> Option<Scope> {
    listing_overdue_scope(actor)
}

/// Which purchase reviews an actor may list: all, its own unit's for a
/// unit admin; `None`: none.
pub fn purchase_review_scope(actor: &Actor) -> Option<Scope> {
    listing_overdue_scope(actor)
}

/// Whether an actor sees subsidy programmes still in draft: those who
/// prepare, approve or oversee them, not the researchers they will serve.
pub fn sees_draft_programmes(actor: &Actor) -> bool {
    actor.reads_all()
}

/// Which instruments overdue for listing an actor may see; `None`: none.
pub fn listing_overdue_scope(actor: &Actor) -> Option<Scope> {
    if actor.reads_all() {
        Some(Scope::All)
    } else if actor.has(Role::UnitAdmin) {
        Some(Scope::Institution(actor.institution_id))
    } else {
        None
    }
}

/// Which instruments an actor may read. Another unit's instrument is visible
/// only once its listing is approved and its sharing scope admits the actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstrumentVisibility {
    All,
    Restricted {
        own_institution: InstitutionId,
        /// The actor's institution is a member unit (sees `system` scope).
        member: bool,
    },
}

impl InstrumentVisibility {
    pub fn admits(self, institution: InstitutionId, listing: ListingStatus, scope: SharingScope) -> bool {
        match self {
            Self::All => true,
            Self::Restricted {
                own_institution,
                member,
            } => {
                institution == own_institution
                    || (listing == ListingStatus::Approved
                        && (scope == SharingScope::Public || (member && scope == SharingScope::System)))
            }
        }
    }

    /// The sharing scopes of other units' approved instruments this actor sees.
    pub fn foreign_scopes(self) -> &'static [SharingScope] {
        match self {
            Self::All => &[
                SharingScope::None,
                SharingScope::Internal,
                SharingScope::System,
                SharingScope::Public,
            ],
            Self::Restricted { member: true, .. } => &[SharingScope::System, SharingScope::Public],
            Self::Restricted { member: false, .. } => &[SharingScope::Public],
        }
    }
}

/// The instrument visibility of an actor.
pub fn instrument_visibility(actor: &Actor) -> InstrumentVisibility {
    if actor.reads_all() {
        InstrumentVisibility::All
    } else {
        InstrumentVisibility::Restricted {
            own_institution: actor.institution_id,
            member: actor.member,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: InstitutionId = InstitutionId(1);
    const OTHER: InstitutionId = InstitutionId(2);

    #[test]
    fn only_the_platform_office_manages_service_accounts_and_a_unit_reads_its_own() {
        assert!(can(
            &actor(Role::PlatformAdmin),
            Action::ManageServiceAccounts,
            &Resource::Platform
        ));
        for role in [Role::UnitAdmin, Role::Commission, Role::Regulator, Role::Researcher] {
            assert!(
                !can(&actor(role), Action::ManageServiceAccounts, &Resource::Platform),
                "{role}"
            );
        }
        let unit = actor(Role::UnitAdmin);
        assert!(can(&unit, Action::ReadServiceAccount, &Resource::Institution(OWN)));
        assert!(!can(&unit, Action::ReadServiceAccount, &Resource::Institution(OTHER)));
        assert!(!can(
            &actor(Role::Researcher),
            Action::ReadServiceAccount,
            &Resource::Institution(OWN)
        ));
        assert_eq!(service_account_scope(&unit), Some(Scope::Institution(OWN)));
        assert_eq!(service_account_scope(&actor(Role::Regulator)), Some(Scope::All));
        assert_eq!(service_account_scope(&actor(Role::InstrumentManager)), None);
    }

    fn actor(role: Role) -> Actor {
        Actor {
            user_id: UserId(10),
            institution_id: OWN,
            member: true,
            roles: vec![role],
        }
    }

    fn instrument(
        institution_id: InstitutionId,
        listing: ListingStatus,
        scope: SharingScope,
        managers: Vec<UserId>,
    ) -> InstrumentAccess {
        InstrumentAccess {
            institution_id,
            listing,
            sharing_scope: scope,
            managers,
        }
    }

    #[test]
    fn a_unit_admin_books_for_its_own_people_and_cancels_as_their_booker() {
        let unit = actor(Role::UnitAdmin);
        assert!(can(&unit, Action::BookFor, &Resource::Institution(OWN)));
        assert!(!can(&unit, Action::BookFor, &Resource::Institution(OTHER)));
        assert!(!can(
            &actor(Role::Researcher),
            Action::BookFor,
            &Resource::Institution(OWN)
        ));
        assert!(can(
            &actor(Role::PlatformAdmin),
            Action::BookFor,
            &Resource::Institution(OTHER)
        ));

        // A booking of one of its researchers on another unit's instrument.
        let elsewhere = instrument(OTHER, ListingStatus::Approved, SharingScope::Public, vec![]);
        let theirs = BookingAccess {
            user_id: UserId(77),
            institution_id: OWN,
            instrument: elsewhere,
        };
        assert!(acts_for_booker(&unit, &theirs));
        assert!(can(&unit, Action::CancelBooking, &Resource::Booking(&theirs)));
        // Service orders are not placed for others: their cancel rule is the orderer's or the runner's.
        assert!(!can(&unit, Action::CancelOrder, &Resource::Booking(&theirs)));
        // Not for another unit's people; its own instrument it cancels as the runner, not the booker.
        let foreign = BookingAccess {
            institution_id: OTHER,
            ..theirs.clone()
        };
        assert!(!acts_for_booker(&unit, &foreign));
        let on_own = BookingAccess {
            instrument: instrument(OWN, ListingStatus::Approved, SharingScope::Public, vec![]),
            ..theirs
        };
        assert!(!acts_for_booker(&unit, &on_own));
        assert!(can(&unit, Action::CancelBooking, &Resource::Booking(&on_own)));
        assert!(!acts_for_booker(&actor(Role::Researcher), &foreign));
    }

    #[test]
    fn charges_are_read_by_their_user_both_units_and_overseers_and_adjusted_by_the_provider() {
        let charge = Resource::Charge {
            user_id: UserId(77),
            payer: OTHER,
            provider: OWN,
        };
        let own_charge = Resource::Charge {
            user_id: UserId(10),
            payer: InstitutionId(3),
            provider: InstitutionId(4),
        };
        let cases = [
            (Role::UnitAdmin, true, true),
            (Role::PlatformAdmin, true, true),
            (Role::Commission, true, false),
            (Role::Regulator, true, false),
            (Role::InstrumentManager, false, false),
            (Role::Researcher, false, false),
        ];
        for (role, read, adjust) in cases {
            let a = actor(role);
            assert_eq!(can(&a, Action::ReadCharge, &charge), read, "{role}");
            assert_eq!(can(&a, Action::AdjustCharge, &charge), adjust, "{role}");
            assert!(can(&a, Action::ReadCharge, &own_charge), "{role} reads its own charges");
        }
        // The payer's admin reads but does not correct the provider's bill.
        let paying = Resource::Charge {
            user_id: UserId(77),
            payer: OWN,
            provider: OTHER,
        };
        assert!(can(&actor(Role::UnitAdmin), Action::ReadCharge, &paying));
        assert!(!can(&actor(Role::UnitAdmin), Action::AdjustCharge, &paying));
    }

    #[test]
    fn the_payer_sees_a_statement_once_issued_and_only_the_payer_disputes_it() {
        let statement = |draft| Resource::Statement {
            payer: Some(OWN),
            provider: OTHER,
            draft,
        };
        let payer = actor(Role::UnitAdmin);
        assert!(!can(&payer, Action::ReadStatement, &statement(true)));
        assert!(can(&payer, Action::ReadStatement, &statement(false)));
        assert!(can(&payer, Action::DisputeStatement, &statement(false)));
        assert!(!can(&payer, Action::SettleStatement, &statement(false)));
        let provided = Resource::Statement {
            payer: Some(OTHER),
            provider: OWN,
            draft: true,
        };
        assert!(can(&payer, Action::ReadStatement, &provided));
        assert!(can(&payer, Action::SettleStatement, &provided));
        assert!(!can(&payer, Action::DisputeStatement, &provided));
        let funder = Resource::Statement {
            payer: None,
            provider: OTHER,
            draft: false,
        };
        assert!(can(&actor(Role::PlatformAdmin), Action::DisputeStatement, &funder));
        assert!(!can(&payer, Action::DisputeStatement, &funder));
        assert!(can(&actor(Role::Regulator), Action::ReadStatement, &statement(true)));
        assert!(!can(&actor(Role::Researcher), Action::ReadStatement, &statement(false)));
    }

    #[test]
    fn unit_admin_manages_its_own_labs_and_instruments_only() {
        let a = actor(Role::UnitAdmin);
        assert!(can(&a, Action::CreateLab, &Resource::Lab { institution_id: OWN }));
        assert!(!can(&a, Action::CreateLab, &Resource::Lab { institution_id: OTHER }));
        let own = instrument(OWN, ListingStatus::Unlisted, SharingScope::Public, vec![]);
        let other = instrument(OTHER, ListingStatus::Approved, SharingScope::Public, vec![]);
        assert!(can(&a, Action::UpdateInstrument, &Resource::Instrument(&own)));
        assert!(can(&a, Action::SubmitListing, &Resource::Instrument(&own)));
        assert!(!can(&a, Action::UpdateInstrument, &Resource::Instrument(&other)));
        assert!(!can(&a, Action::DecideListing, &Resource::Instrument(&own)));
    }

    #[test]
    fn only_the_platform_office_decides_listings_and_manages_institutions() {
        let i = instrument(OTHER, ListingStatus::Submitted, SharingScope::System, vec![]);
        for role in <Role as crate::text_enum::TextEnum>::ALL {
            let a = actor(*role);
            let expected = *role == Role::PlatformAdmin;
            assert_eq!(
                can(&a, Action::DecideListing, &Resource::Instrument(&i)),
                expected,
                "{role}"
            );
            assert_eq!(
                can(&a, Action::CreateInstitution, &Resource::Platform),
                expected,
                "{role}"
            );
        }
    }

    #[test]
    fn another_units_unpublished_instrument_is_invisible_to_its_researchers() {
        let a = actor(Role::Researcher);
        let cases = [
            (OWN, ListingStatus::Unlisted, SharingScope::None, true),
            (OTHER, ListingStatus::Unlisted, SharingScope::Public, false),
            (OTHER, ListingStatus::Submitted, SharingScope::Public, false),
            (OTHER, ListingStatus::Approved, SharingScope::Internal, false),
            (OTHER, ListingStatus::Approved, SharingScope::System, true),
            (OTHER, ListingStatus::Approved, SharingScope::Public, true),
        ];
        for (inst, listing, scope, visible) in cases {
            let i = instrument(inst, listing, scope, vec![]);
            assert_eq!(
                can(&a, Action::ReadInstrument, &Resource::Instrument(&i)),
                visible,
                "{inst} {listing} {scope}"
            );
        }
        let external = Actor { member: false, ..a };
        let system = instrument(OTHER, ListingStatus::Approved, SharingScope::System, vec![]);
        assert!(!can(&external, Action::ReadInstrument, &Resource::Instrument(&system)));
    }

    #[test]
    fn regulators_and_the_commission_read_everything_but_change_nothing() {
        for role in [Role::Regulator, Role::Commission] {
            let a = actor(role);
            let hidden = instrument(OTHER, ListingStatus::Unlisted, SharingScope::None, vec![]);
            assert!(can(&a, Action::ReadInstrument, &Resource::Instrument(&hidden)));
            assert!(can(&a, Action::ReadAuditTrail, &Resource::Platform));
            assert!(!can(&a, Action::UpdateInstrument, &Resource::Instrument(&hidden)));
            assert!(!can(&a, Action::CreateLab, &Resource::Lab { institution_id: OTHER }));
        }
    }

    #[test]
    fn an_instrument_manager_sets_status_of_assigned_instruments_only() {
        let a = actor(Role::InstrumentManager);
        let mine = instrument(OTHER, ListingStatus::Approved, SharingScope::Public, vec![UserId(10)]);
        let not_mine = instrument(OWN, ListingStatus::Approved, SharingScope::Public, vec![UserId(11)]);
        assert!(can(&a, Action::SetInstrumentStatus, &Resource::Instrument(&mine)));
        assert!(!can(&a, Action::SetInstrumentStatus, &Resource::Instrument(&not_mine)));
        assert!(!can(&a, Action::UpdateInstrument, &Resource::Instrument(&mine)));
    }

    #[test]
    fn unit_admin_grants_unit_roles_in_its_own_institution_only() {
        let a = actor(Role::UnitAdmin);
        let own_user = Resource::User {
            institution_id: OWN,
            user_id: Some(UserId(3)),
            institution_kind: InstitutionKind::Hospital,
            roles: &[],
        };
        let other_user = Resource::User {
            institution_id: OTHER,
            user_id: Some(UserId(4)),
            institution_kind: InstitutionKind::Hospital,
            roles: &[],
        };
        assert!(can(&a, Action::GrantRole(Role::InstrumentManager), &own_user));
        assert!(!can(&a, Action::GrantRole(Role::Regulator), &own_user));
        assert!(!can(&a, Action::GrantRole(Role::PlatformAdmin), &own_user));
        assert!(!can(&a, Action::GrantRole(Role::Researcher), &other_user));
    }

    #[test]
    fn a_unit_admin_cannot_take_over_an_account_holding_a_role_it_cannot_grant() {
        let a = actor(Role::UnitAdmin);
        let researcher = Resource::User {
            institution_id: OWN,
            user_id: Some(UserId(3)),
            institution_kind: InstitutionKind::Hospital,
            roles: &[Role::Researcher],
        };
        let regulator = Resource::User {
            institution_id: OWN,
            user_id: Some(UserId(4)),
            institution_kind: InstitutionKind::Hospital,
            roles: &[Role::Researcher, Role::Regulator],
        };
        assert!(can(&a, Action::UpdateUser, &researcher));
        assert!(!can(&a, Action::UpdateUser, &regulator));
        assert!(can(&actor(Role::PlatformAdmin), Action::UpdateUser, &regulator));
    }

    #[test]
    fn commission_roles_only_fit_the_commissions_own_accounts() {
        let a = actor(Role::PlatformAdmin);
        let hospital_user = Resource::User {
            institution_id: OTHER,
            user_id: Some(UserId(4)),
            institution_kind: InstitutionKind::Hospital,
            roles: &[],
        };
        let commission_user = Resource::User {
            institution_id: OWN,
            user_id: Some(UserId(5)),
            institution_kind: InstitutionKind::Commission,
            roles: &[],
        };
        assert!(!can(&a, Action::GrantRole(Role::PlatformAdmin), &hospital_user));
        assert!(can(&a, Action::GrantRole(Role::PlatformAdmin), &commission_user));
        assert!(can(&a, Action::GrantRole(Role::Regulator), &hospital_user));
    }

    #[test]
    fn only_the_rater_and_the_platform_overseers_see_who_rated() {
        let mine = Resource::Rating { rater: UserId(10) };
        let other = Resource::Rating { rater: UserId(11) };
        for role in <Role as crate::text_enum::TextEnum>::ALL {
            let a = actor(*role);
            assert!(can(&a, Action::IdentifyRater, &mine), "{role}");
            let expected = matches!(role, Role::PlatformAdmin | Role::Commission | Role::Regulator);
            assert_eq!(can(&a, Action::IdentifyRater, &other), expected, "{role}");
        }
    }

    #[test]
    fn fees_and_subsidies_are_decided_by_the_platform_office_and_programmes_approved_by_the_commission() {
        let own = Resource::Institution(OWN);
        let other = Resource::Institution(OTHER);
        let user = Resource::User {
            institution_id: OWN,
            user_id: Some(UserId(3)),
            institution_kind: InstitutionKind::Hospital,
            roles: &[Role::Researcher],
        };
        for role in <Role as crate::text_enum::TextEnum>::ALL {
            let a = actor(*role);
            let office = *role == Role::PlatformAdmin;
            assert_eq!(
                can(&a, Action::ProposeFeeStandard, &own),
                office || *role == Role::UnitAdmin,
                "{role}"
            );
            assert_eq!(can(&a, Action::ProposeFeeStandard, &other), office, "{role}");
            assert_eq!(
                can(&a, Action::DecideFeeStandard, &Resource::Platform),
                office,
                "{role}"
            );
            assert_eq!(can(&a, Action::TagUser, &user), office, "{role}");
            assert_eq!(
                can(&a, Action::ApproveProgramme, &Resource::Platform),
                *role == Role::Commission,
                "{role}"
            );
            let overseer = matches!(role, Role::PlatformAdmin | Role::Commission | Role::Regulator);
            assert_eq!(sees_draft_programmes(&a), overseer, "{role}");
        }
        assert_eq!(
            fee_proposal_scope(&actor(Role::UnitAdmin)),
            Some(Scope::Institution(OWN))
        );
        assert_eq!(fee_proposal_scope(&actor(Role::Regulator)), Some(Scope::All));
        assert_eq!(fee_proposal_scope(&actor(Role::Researcher)), None);
    }

    #[test]
    fn a_unit_files_purchase_reviews_for_itself_and_only_the_platform_office_decides() {
        let own = Resource::Institution(OWN);
        let other = Resource::Institution(OTHER);
        for role in <Role as crate::text_enum::TextEnum>::ALL {
            let a = actor(*role);
            let office = *role == Role::PlatformAdmin;
            let unit = *role == Role::UnitAdmin;
            let overseer = matches!(role, Role::PlatformAdmin | Role::Commission | Role::Regulator);
            assert_eq!(
                can(&a, Action::FileOrWithdrawPurchaseReview, &own),
                office || unit,
                "{role}"
            );
            assert_eq!(can(&a, Action::FileOrWithdrawPurchaseReview, &other), office, "{role}");
            assert_eq!(
                can(&a, Action::DecidePurchaseReview, &Resource::Platform),
                office,
                "{role}"
            );
            assert_eq!(can(&a, Action::ReadPurchaseReview, &own), overseer || unit, "{role}");
            assert_eq!(can(&a, Action::ReadPurchaseReview, &other), overseer, "{role}");
            let scope = purchase_review_scope(&a);
            let expected = if overseer {
                Some(Scope::All)
            } else if unit {
                Some(Scope::Institution(OWN))
            } else {
                None
            };
            assert_eq!(scope, expected, "{role}");
        }
        // A decision is no one's but the platform office's, whatever the object.
        assert!(!can(&actor(Role::UnitAdmin), Action::DecidePurchaseReview, &own));
    }

    #[test]
    fn reports_are_read_by_the_overseers_and_by_a_unit_admin_for_its_own_unit_only() {
        let cases = [
            (Role::Commission, Some(Scope::All)),
            (Role::PlatformAdmin, Some(Scope::All)),
            (Role::Regulator, Some(Scope::All)),
            (Role::UnitAdmin, Some(Scope::Institution(OWN))),
            (Role::InstrumentManager, None),
            (Role::Researcher, None),
        ];
        for (role, scope) in cases {
            let a = actor(role);
            assert_eq!(report_scope(&a), scope, "{role}");
            assert_eq!(
                can(&a, Action::ReadReports, &Resource::Platform),
                scope == Some(Scope::All),
                "{role}"
            );
            assert_eq!(
                can(&a, Action::ReadReports, &Resource::Institution(OWN)),
                scope.is_some(),
                "{role}"
            );
            assert_eq!(
                can(&a, Action::ReadReports, &Resource::Institution(OTHER)),
                scope == Some(Scope::All),
                "{role}"
            );
        }
        // A unit admin who is also a researcher still reads its own unit's reports.
        let both = Actor {
            roles: vec![Role::Researcher, Role::UnitAdmin],
            ..actor(Role::Researcher)
        };
        assert_eq!(report_scope(&both), Some(Scope::Institution(OWN)));
        let lab = Resource::Lab { institution_id: OWN };
        assert!(!can(&actor(Role::Regulator), Action::ReadReports, &lab));
    }

    #[test]
    fn users_read_themselves_and_admins_read_their_unit() {
        let me = Resource::User {
            institution_id: OWN,
            user_id: Some(UserId(10)),
            institution_kind: InstitutionKind::Hospital,
            roles: &[],
        };
        let colleague = Resource::User {
            institution_id: OWN,
            user_id: Some(UserId(11)),
            institution_kind: InstitutionKind::Hospital,
            roles: &[],
        };
        assert!(can(&actor(Role::Researcher), Action::ReadUser, &me));
        assert!(!can(&actor(Role::Researcher), Action::ReadUser, &colleague));
        assert!(can(&actor(Role::UnitAdmin), Action::ReadUser, &colleague));
        assert_eq!(user_list_scope(&actor(Role::Researcher)), None);
        assert_eq!(user_list_scope(&actor(Role::UnitAdmin)), Some(Scope::Institution(OWN)));
    }
}

/// An account proposed as manager (机组负责人) of an instrument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagerCandidate {
    pub user_id: UserId,
    pub institution_id: InstitutionId,
    pub active: bool,
    pub roles: Vec<Role>,
}

/// Managers of an instrument are active staff of its institution holding
/// the `instrument_manager` role.
///
/// # Errors
/// [`crate::Invalid`] naming each unfit candidate (`user_ids/<index>`).
pub fn check_managers(
    instrument_institution: InstitutionId,
    candidates: &[ManagerCandidate],
) -> Result<(), crate::Invalid> {
    let mut c = crate::validation::Checks::new();
    for (i, m) in candidates.iter().enumerate() {
        let field = format!("user_ids/{i}");
        c.require(
            m.institution_id == instrument_institution,
            &field,
            "same_institution",
            || "a manager must belong to the instrument's institution".into(),
        );
        c.require(m.active, &field, "active", || "the account is deactivated".into());
        c.require(m.roles.contains(&Role::InstrumentManager), &field, "role", || {
            "the account must hold the instrument_manager role".into()
        });
    }
    c.finish()
}
