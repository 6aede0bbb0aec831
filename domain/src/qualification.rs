//! Qualifications (上机资格): an instrument manager certifies a user on an
//! instrument after training, until an expiry date; a biosafety
//! qualification with a level is needed to use anything in a BSL2+ lab.

use crate::catalogue::BiosafetyLevel;
use crate::text_enum;
use crate::validation::{Checks, Invalid};
use crate::{InstrumentId, UserId};
use chrono::{NaiveDate, NaiveDateTime};

text_enum!(
    /// What a qualification is for.
    pub enum QualificationKind {
        /// Operating one instrument on one's own (自主上机).
        Instrument = "instrument",
        /// Working in labs up to a biosafety level.
        Biosafety = "biosafety",
    }
);

/// The longest a qualification may run before retraining: five years.
pub const MAX_VALIDITY_DAYS: i64 = 5 * 366;

/// A qualification as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qualification {
    pub id: i64,
    pub user_id: UserId,
    pub kind: QualificationKind,
    pub instrument_id: Option<InstrumentId>,
    pub biosafety_level: Option<BiosafetyLevel>,
    pub certified_by: UserId,
    pub certified_at: NaiveDateTime,
    /// Valid through this local date.
    pub expires_on: NaiveDate,
    pub note: String,
    pub revoked_at: Option<NaiveDateTime>,
}

impl Qualification {
    /// Valid on a local date: not revoked and not expired.
    pub fn is_valid_on(&self, date: NaiveDate) -> bool {
        self.revoked_at.is_none() && date <= self.expires_on
    }
}

/// A certification to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewQualification {
    pub user_id: UserId,
    pub kind: QualificationKind,
    pub instrument_id: Option<InstrumentId>,
    pub biosafety_level: Option<BiosafetyLevel>,
    pub expires_on: NaiveDate,
    pub note: String,
}

impl NewQualification {
    /// An instrument qualification names an instrument and no level; a
    /// biosafety one names a level (BSL1–BSL3) and no instrument. It expires
    /// after today and within five years.
    ///
    /// # Errors
    /// [`Invalid`] naming each field that breaks a rule.
    pub fn check(&self, today: NaiveDate) -> Result<(), Invalid> {
        let mut c = Checks::new();
        match self.kind {
            QualificationKind::Instrument => {
                c.require(self.instrument_id.is_some(), "instrument_id", "required", || {
                    "an instrument qualification names its instrument".into()
                });
                c.require(self.biosafety_level.is_none(), "biosafety_level", "not_allowed", || {
                    "only a biosafety qualification has a level".into()
                });
            }
            QualificationKind::Biosafety => {
                c.require(self.instrument_id.is_none(), "instrument_id", "not_allowed", || {
                    "a biosafety qualification is not tied to an instrument".into()
                });
                c.require(
                    matches!(
                        self.biosafety_level,
                        Some(BiosafetyLevel::Bsl1 | BiosafetyLevel::Bsl2 | BiosafetyLevel::Bsl3)
                    ),
                    "biosafety_level",
                    "required",
                    || "a biosafety qualification needs a level BSL1, BSL2 or BSL3".into(),
                );
            }
        }
        c.require(self.expires_on > today, "expires_on", "future", || {
            "must be after today".into()
        });
        c.require(
            self.expires_on <= today + chrono::Duration::days(MAX_VALIDITY_DAYS),
            "expires_on",
            "range",
            || "must be within five years".into(),
        );
        c.length("note", &self.note, 0, 200);
        c.require(
            !crate::service::contains_resident_id(&self.note),
            "note",
            "resident_id",
            || "must not contain a resident identity number".into(),
        );
        c.finish()
    }
}

/// The highest biosafety level among a user's qualifications valid on `date`.
pub fn biosafety_level_on(qualifications: &[Qualification], date: NaiveDate) -> Option<BiosafetyLevel> {
    qualifications
        .iter()
        .filter(|q| q.kind == QualificationKind::Biosafety && q.is_valid_on(date))
        .filter_map(|q| q.biosafety_level)
        .max()
}

/// Whether a user holds a valid qualification on an instrument on `date`.
pub fn qualified_on(qualifications: &[Qualification], instrument: InstrumentId, date: NaiveDate) -> bool {
    qualifications
        .iter()
        .any(|q| q.kind == QualificationKind::Instrument && q.instrument_id == Some(instrument) && q.is_valid_on(date))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    fn qualification(kind: QualificationKind, level: Option<BiosafetyLevel>, expires: NaiveDate) -> Qualification {
        Qualification {
            id: 1,
            user_id: UserId(1),
            kind,
            instrument_id: (kind == QualificationKind::Instrument).then_some(InstrumentId(7)),
            biosafety_level: level,
            certified_by: UserId(2),
            certified_at: date(2026, 1, 1).and_hms_opt(0, 0, 0).unwrap_or_default(),
            expires_on: expires,
            note: String::new(),
            revoked_at: None,
        }
    }

    #[test]
    fn a_qualification_is_valid_through_its_expiry_day_unless_revoked() {
        let q = qualification(QualificationKind::Instrument, None, date(2026, 12, 31));
        assert!(qualified_on(
            std::slice::from_ref(&q),
            InstrumentId(7),
            date(2026, 12, 31)
        ));
        assert!(!qualified_on(
            std::slice::from_ref(&q),
            InstrumentId(7),
            date(2027, 1, 1)
        ));
        assert!(!qualified_on(
            std::slice::from_ref(&q),
            InstrumentId(8),
            date(2026, 6, 1)
        ));
        let revoked = Qualification {
            revoked_at: Some(q.certified_at),
            ..q
        };
        assert!(!qualified_on(&[revoked], InstrumentId(7), date(2026, 6, 1)));
    }

    #[test]
    fn the_highest_valid_biosafety_level_counts() {
        let qs = [
            qualification(
                QualificationKind::Biosafety,
                Some(BiosafetyLevel::Bsl3),
                date(2026, 3, 1),
            ),
            qualification(
                QualificationKind::Biosafety,
                Some(BiosafetyLevel::Bsl2),
                date(2027, 3, 1),
            ),
        ];
        assert_eq!(biosafety_level_on(&qs, date(2026, 2, 1)), Some(BiosafetyLevel::Bsl3));
        assert_eq!(biosafety_level_on(&qs, date(2026, 6, 1)), Some(BiosafetyLevel::Bsl2));
        assert_eq!(biosafety_level_on(&qs, date(2028, 1, 1)), None);
    }

    #[test]
    fn a_certification_names_what_it_is_for_and_expires_in_the_future() {
        let today = date(2026, 11, 26);
        let ok = NewQualification {
            user_id: UserId(1),
            kind: QualificationKind::Instrument,
            instrument_id: Some(InstrumentId(7)),
            biosafety_level: None,
            expires_on: date(2027, 11, 26),
            note: "完成上机培训".into(),
        };
        assert_eq!(ok.check(today), Ok(()));
        let fields = |q: NewQualification| -> Vec<String> {
            q.check(today)
                .err()
                .map(|e| e.0.into_iter().map(|v| v.field).collect())
                .unwrap_or_default()
        };
        assert_eq!(
            fields(NewQualification {
                instrument_id: None,
                ..ok.clone()
            }),
            vec!["instrument_id"]
        );
        assert_eq!(
            fields(NewQualification {
                expires_on: today,
                ..ok.clone()
            }),
            vec!["expires_on"]
        );
        assert_eq!(
            fields(NewQualification {
                expires_on: date(2035, 1, 1),
                ..ok.clone()
            }),
            vec!["expires_on"]
        );
        let bio = NewQualification {
            kind: QualificationKind::Biosafety,
            instrument_id: None,
            biosafety_level: Some(BiosafetyLevel::None),
            ..ok.clone()
        };
        assert_eq!(fields(bio), vec!["biosafety_level"]);
    }
}
