//! Statements (结算单): the monthly settlement between a paying and a
//! providing institution, and the subsidy a programme's funder owes a
//! provider.
//!
//! A statement collects charges not yet settled up to the end of its month
//! (local time), so a charge made after its month's statement was issued
//! falls into the next one: nothing is counted twice, nothing is lost, and
//! an issued statement never changes.

use crate::text_enum;
use crate::validation::{Checks, Invalid};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeZone, Utc};

text_enum!(
    /// Who a statement is between.
    pub enum StatementKind {
        /// A payer institution and a provider: gross, subsidy, net payable.
        Settlement = "settlement",
        /// A subsidy programme's funder and a provider: the subsidy owed.
        Subsidy = "subsidy",
    }
);

text_enum!(
    /// Where a statement is in its settlement.
    pub enum StatementStatus {
        /// Still collecting charges; regenerating adds new ones.
        Draft = "draft",
        /// Sent to the payer; frozen.
        Issued = "issued",
        Paid = "paid",
        /// The payer contests it; settled by adjustments and resolution.
        Disputed = "disputed",
    }
);

/// A step in the life of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatementAction {
    Issue,
    Pay,
    Dispute {
        reason: String,
    },
    /// The dispute is settled (by adjustment charges on the next statement):
    /// the statement stands as issued.
    Resolve {
        note: String,
    },
}

impl StatementAction {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Issue => "issue",
            Self::Pay => "pay",
            Self::Dispute { .. } => "dispute",
            Self::Resolve { .. } => "resolve",
        }
    }
}

/// Why a statement step is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    #[error("cannot {action} a statement that is {from}")]
    InvalidTransition {
        from: StatementStatus,
        action: &'static str,
    },
    #[error(transparent)]
    Invalid(#[from] Invalid),
}

/// draft → issued → paid, issued → disputed (with a reason) → issued
/// (resolved, with a note) or paid.
///
/// # Errors
/// [`StatementError::InvalidTransition`] when the step is not allowed from
/// `from`; [`StatementError::Invalid`] naming `reason` or `note`.
pub fn transition(from: StatementStatus, action: &StatementAction) -> Result<StatementStatus, StatementError> {
    use StatementStatus::*;
    let refuse = || StatementError::InvalidTransition {
        from,
        action: action.name(),
    };
    match (from, action) {
        (Draft, StatementAction::Issue) => Ok(Issued),
        (Issued | Disputed, StatementAction::Pay) => Ok(Paid),
        (Issued, StatementAction::Dispute { reason }) => {
            let mut c = Checks::new();
            c.required_text("reason", reason, 500);
            c.finish()?;
            Ok(Disputed)
        }
        (Disputed, StatementAction::Resolve { note }) => {
            let mut c = Checks::new();
            c.required_text("note", note, 500);
            c.finish()?;
            Ok(Issued)
        }
        _ => Err(refuse()),
    }
}

/// A calendar month of the platform's local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    month: u32,
}

impl Month {
    /// Parses `YYYY-MM` (years 2000–9999).
    ///
    /// # Errors
    /// A message for a person when the text is not such a month.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || "must be a month written YYYY-MM, between 2000-01 and 9999-12".to_owned();
        let (y, m) = text.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 || !y.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u32 = m.parse().map_err(|_| bad())?;
        if !(2000..=9999).contains(&year) || !(1..=12).contains(&month) {
            return Err(bad());
        }
        Ok(Self { year, month })
    }

    /// The month containing a local date.
    pub fn of(date: NaiveDate) -> Self {
        Self {
            year: date.year(),
            month: date.month(),
        }
    }

    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or(NaiveDate::MIN)
    }

    pub fn next(self) -> Self {
        if self.month == 12 {
            Self {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Self {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// The instant the month begins, local midnight of its first day.
    pub fn start(self, offset: FixedOffset) -> DateTime<Utc> {
        let midnight = self.first_day().and_hms_opt(0, 0, 0).unwrap_or_default();
        offset
            .from_local_datetime(&midnight)
            .single()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| midnight.and_utc())
    }

    /// The instant the month ends (the next month's start).
    pub fn end(self, offset: FixedOffset) -> DateTime<Utc> {
        self.next().start(offset)
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_is_issued_then_paid_or_disputed() {
        use StatementStatus::*;
        assert_eq!(transition(Draft, &StatementAction::Issue), Ok(Issued));
        assert_eq!(transition(Issued, &StatementAction::Pay), Ok(Paid));
        let dispute = StatementAction::Dispute {
            reason: "机时与记录不符".into(),
        };
        assert_eq!(transition(Issued, &dispute), Ok(Disputed));
        let resolve = StatementAction::Resolve {
            note: "已开调整单".into(),
        };
        assert_eq!(transition(Disputed, &resolve), Ok(Issued));
        assert!(matches!(
            transition(Draft, &StatementAction::Pay),
            Err(StatementError::InvalidTransition { .. })
        ));
        assert!(matches!(
            transition(Paid, &dispute),
            Err(StatementError::InvalidTransition { .. })
        ));
        assert!(matches!(
            transition(Issued, &StatementAction::Dispute { reason: " ".into() }),
            Err(StatementError::Invalid(_))
        ));
        assert!(matches!(
            transition(Issued, &StatementAction::Issue),
            Err(StatementError::InvalidTransition { .. })
        ));
    }

    #[test]
    fn a_month_is_bounded_by_local_midnights() {
        let cst = FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| unreachable!());
        let m = Month::parse("2026-12").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.to_string(), "2026-12");
        assert_eq!(m.start(cst).to_rfc3339(), "2026-11-30T16:00:00+00:00");
        assert_eq!(m.end(cst).to_rfc3339(), "2026-12-31T16:00:00+00:00");
        for bad in [
            "2026-13", "2026-1", "26-12", "1999-12", "2026/12", "", "2026-00", "+026-12",
        ] {
            assert!(Month::parse(bad).is_err(), "{bad}");
        }
    }
}
