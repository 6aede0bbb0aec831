//! The supply side (chapter 3): institutions, labs and instruments with the
//! fields of the national large-instrument platform.

use crate::codes::{CategoryCode, CreditCode};
use crate::ids::{InstitutionId, LabId};
use crate::listing::ListingStatus;
use crate::money::Money;
use crate::text_enum;
use crate::validation::{Checks, Invalid};
use chrono::NaiveDate;

text_enum!(
    /// What kind of body an institution is.
    pub enum InstitutionKind {
        /// The commission itself: home of the platform office and the leading group.
        Commission = "commission",
        Hospital = "hospital",
        Cdc = "cdc",
        BloodCenter = "blood_center",
        Other = "other",
    }
);

text_enum!(
    /// Whether an institution is a unit of the commission (委属单位) or a social user.
    pub enum Membership {
        Member = "member",
        External = "external",
    }
);

text_enum!(
    /// Biosafety level of a lab.
    pub enum BiosafetyLevel {
        None = "none",
        Bsl1 = "BSL1",
        Bsl2 = "BSL2",
        Bsl3 = "BSL3",
    }
);

text_enum!(
    /// Accreditation of a lab.
    pub enum Accreditation {
        None = "none",
        Cnas = "cnas",
        Provincial = "provincial",
    }
);

text_enum!(
    /// Operating status of an instrument.
    pub enum InstrumentStatus {
        Normal = "normal",
        Standby = "standby",
        Faulty = "faulty",
        UnderRepair = "under_repair",
        Retired = "retired",
    }
);

text_enum!(
    /// Who an instrument is shared with.
    pub enum SharingScope {
        /// Not shared.
        None = "none",
        /// The owning institution only.
        Internal = "internal",
        /// Member units of the commission.
        System = "system",
        /// Anyone, social users included.
        Public = "public",
    }
);

text_enum!(
    /// How an instrument is offered.
    pub enum ServiceMode {
        /// 自主上机: the user operates it, after qualification.
        SelfOperated = "self_operated",
        /// 技术共享: staff operate it with the user.
        Assisted = "assisted",
        /// 委托/送样: samples sent for testing.
        Sample = "sample",
        Remote = "remote",
    }
);

/// The fields of an institution a user can set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstitutionData {
    pub name: String,
    pub credit_code: CreditCode,
    pub kind: InstitutionKind,
    pub membership: Membership,
    pub has_mature_lab: bool,
}

impl InstitutionData {
    /// # Errors
    /// [`Invalid`] naming each field that breaks a rule.
    pub fn check(&self) -> Result<(), Invalid> {
        let mut c = Checks::new();
        c.required_text("name", &self.name, 100);
        c.require(
            self.kind != InstitutionKind::Commission || self.membership == Membership::Member,
            "membership",
            "commission_is_member",
            || "the commission's own institution is a member unit".into(),
        );
        c.finish()
    }
}

/// The commission's own institution exists once: no other institution is
/// created as, turned into, or turned away from the commission (its
/// accounts hold the platform office's and leading group's roles).
///
/// # Errors
/// [`Invalid`] on `kind`.
pub fn check_commission_kind(
    before: Option<InstitutionKind>,
    after: InstitutionKind,
    commission_exists: bool,
) -> Result<(), Invalid> {
    let mut c = Checks::new();
    match before {
        Some(b) => c.require(
            (b == InstitutionKind::Commission) == (after == InstitutionKind::Commission),
            "kind",
            "commission_fixed",
            || "no institution becomes or stops being the commission".into(),
        ),
        None => c.require(
            after != InstitutionKind::Commission || !commission_exists,
            "kind",
            "commission_unique",
            || "the commission's own institution already exists".into(),
        ),
    }
    c.finish()
}

/// A stored institution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Institution {
    pub id: InstitutionId,
    pub data: InstitutionData,
}

impl Institution {
    pub fn is_member(&self) -> bool {
        self.data.membership == Membership::Member
    }
}

/// A contact person of a lab or instrument.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Contact {
    pub name: String,
    pub phone: String,
    pub email: Option<String>,
}

impl Contact {
    fn check(&self, c: &mut Checks, prefix: &str) {
        c.required_text(&format!("{prefix}_name"), &self.name, 50);
        let phone_ok = (5..=20).contains(&self.phone.len())
            && self.phone.bytes().filter(u8::is_ascii_digit).count() >= 5
            && self
                .phone
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'-' || b == b'+' || b == b' ');
        c.require(phone_ok, &format!("{prefix}_phone"), "phone", || {
            "must be 5 to 20 digits, spaces, '-' or '+'".into()
        });
        if let Some(email) = &self.email {
            c.require(is_email(email), &format!("{prefix}_email"), "email", || {
                "must be an e-mail address".into()
            });
        }
    }
}

/// The earliest date the catalogue accepts (no instrument in the pool is older).
pub const EARLIEST_DATE: NaiveDate = match NaiveDate::from_ymd_opt(1900, 1, 1) {
    Some(d) => d,
    None => panic!("1900-01-01 is a date"),
};

/// A plausible e-mail address: one `@`, a dotted domain, no spaces, ≤ 254 characters.
pub fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && text.len() <= 254
        && !text.chars().any(char::is_whitespace)
}

/// The fields of a lab a user can set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabData {
    pub name: String,
    pub address: String,
    pub biosafety_level: BiosafetyLevel,
    pub accreditation: Accreditation,
    pub contact: Contact,
}

impl LabData {
    /// # Errors
    /// [`Invalid`] naming each field that breaks a rule.
    pub fn check(&self) -> Result<(), Invalid> {
        let mut c = Checks::new();
        c.required_text("name", &self.name, 100);
        c.required_text("address", &self.address, 200);
        self.contact.check(&mut c, "contact");
        c.finish()
    }
}

/// A stored lab; its institution never changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lab {
    pub id: LabId,
    pub institution_id: InstitutionId,
    pub data: LabData,
}

/// The fields of an instrument its unit can set, as the national platform records them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstrumentData {
    pub name_zh: String,
    pub name_en: Option<String>,
    pub category_code: CategoryCode,
    pub model: String,
    pub manufacturer: String,
    pub country_of_origin: String,
    pub asset_number: String,
    pub original_value: Money,
    pub purchase_date: NaiveDate,
    pub commissioning_date: Option<NaiveDate>,
    /// 主要技术指标, at most 500 characters.
    pub technical_specs: String,
    /// 主要功能, at most 300 characters.
    pub functions: String,
    /// 服务内容, at most 200 characters.
    pub service_content: String,
    pub disciplines: Vec<String>,
    pub photo_url: Option<String>,
    pub contact: Contact,
    pub status: InstrumentStatus,
    pub sharing_scope: SharingScope,
    /// Sorted, without repeats.
    pub service_modes: Vec<ServiceMode>,
    /// 定额机时 per year.
    pub rated_annual_hours: i32,
}

impl InstrumentData {
    /// Checks every field and the rules between fields; `today` is the local date.
    ///
    /// # Errors
    /// [`Invalid`] naming each field that breaks a rule.
    pub fn check(&self, today: NaiveDate) -> Result<(), Invalid> {
        let mut c = Checks::new();
        c.required_text("name_zh", &self.name_zh, 100);
        if let Some(en) = &self.name_en {
            c.required_text("name_en", en, 200);
        }
        c.required_text("model", &self.model, 100);
        c.required_text("manufacturer", &self.manufacturer, 100);
        c.required_text("country_of_origin", &self.country_of_origin, 50);
        c.required_text("asset_number", &self.asset_number, 50);
        c.length("technical_specs", &self.technical_specs, 0, 500);
        c.length("functions", &self.functions, 0, 300);
        c.length("service_content", &self.service_content, 0, 200);
        c.require(self.disciplines.len() <= 10, "disciplines", "length", || {
            "at most 10 disciplines".into()
        });
        for (i, d) in self.disciplines.iter().enumerate() {
            c.required_text(&format!("disciplines/{i}"), d, 50);
        }
        if let Some(url) = &self.photo_url {
            c.require(
                (url.starts_with("https://") || url.starts_with("http://"))
                    && url.len() <= 500
                    && !url.chars().any(char::is_whitespace),
                "photo_url",
                "url",
                || "must be an http(s) URL of at most 500 characters".into(),
            );
        }
        self.contact.check(&mut c, "contact");
        c.require(self.purchase_date >= EARLIEST_DATE, "purchase_date", "range", || {
            format!("must not be before {EARLIEST_DATE}")
        });
        c.require(self.purchase_date <= today, "purchase_date", "not_in_future", || {
            "must not be in the future".into()
        });
        if let Some(commissioned) = self.commissioning_date {
            c.require(
                commissioned >= self.purchase_date,
                "commissioning_date",
                "date_order",
                || "must not be before purchase_date".into(),
            );
            c.require(
                commissioned <= today + chrono::Duration::days(366),
                "commissioning_date",
                "range",
                || "must not be more than a year ahead".into(),
            );
        }
        c.require(
            (1..=8784).contains(&self.rated_annual_hours),
            "rated_annual_hours",
            "range",
            || "must be between 1 and 8784 (hours in a leap year)".into(),
        );
        let mut modes = self.service_modes.clone();
        modes.sort();
        modes.dedup();
        c.require(
            modes.len() == self.service_modes.len(),
            "service_modes",
            "unique",
            || "must not repeat a mode".into(),
        );
        c.finish()
    }
}

/// A stored instrument with its place and listing state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instrument {
    pub id: crate::InstrumentId,
    pub lab_id: LabId,
    pub institution_id: InstitutionId,
    pub data: InstrumentData,
    pub listing_status: ListingStatus,
}

/// Sorts service modes and drops repeats, the form they are stored in.
pub fn normalise_modes(mut modes: Vec<ServiceMode>) -> Vec<ServiceMode> {
    modes.sort();
    modes.dedup();
    modes
}
