//! Sample services (委托检测, DESIGN.md §2–3): the service items a lab offers
//! for samples, the checks on an order and its samples, the life of an
//! order from `submitted` to `completed`, and its turnaround against the
//! item's promise.
//!
//! Free text must not carry patient identifiers: a resident identity number
//! (居民身份证号码) with a valid check digit is refused wherever a person can
//! type text. Nothing here reads the clock.

use crate::catalogue::BiosafetyLevel;
use crate::ids::InstrumentId;
use crate::text_enum;
use crate::validation::{Checks, Invalid, Violation};
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use std::collections::HashMap;

text_enum!(
    /// What the fee and the turnaround of a service item count.
    pub enum ServiceUnit {
        /// Per sample sent.
        Sample = "sample",
        /// Per test item, whatever the number of samples.
        Item = "item",
    }
);

text_enum!(
    /// Where a service order stands (委托单状态).
    pub enum OrderStatus {
        /// Sent by the user, waiting for the lab's decision.
        Submitted = "submitted",
        /// The lab will do it; samples are awaited.
        Accepted = "accepted",
        /// Samples received: the turnaround clock runs.
        InProgress = "in_progress",
        /// Report issued; instrument time recorded.
        Completed = "completed",
        /// Refused by the lab, with a reason.
        Rejected = "rejected",
        /// Withdrawn before the samples were received.
        Cancelled = "cancelled",
    }
);

text_enum!(
    /// The kind of material a sample is.
    pub enum SampleType {
        Blood = "blood",
        Serum = "serum",
        Plasma = "plasma",
        Urine = "urine",
        Swab = "swab",
        Tissue = "tissue",
        Culture = "culture",
        Water = "water",
        Food = "food",
        Environmental = "environmental",
        Other = "other",
    }
);

/// Longest name of a service item, in characters.
const ITEM_NAME_MAX: usize = 100;
/// An item runs on one to five instruments.
const ITEM_INSTRUMENTS_MAX: usize = 5;
/// Longest sample requirements text of an item, in characters.
const SAMPLE_REQUIREMENTS_MAX: usize = 500;
/// Most samples in one order.
const ORDER_SAMPLES_MAX: usize = 200;
/// Longest de-identified sample code, in characters.
const SAMPLE_CODE_MAX: usize = 40;
/// Longest ethics approval number, in characters.
const ETHICS_APPROVAL_MAX: usize = 60;
/// Longest notes of an order, in characters.
const NOTES_MAX: usize = 1000;
/// Longest rejection reason, in characters.
const REASON_MAX: usize = 500;
/// Longest report reference of a completed order, in characters.
const REPORT_REFERENCE_MAX: usize = 100;

/// A service item (实验项目) offered for samples: what a user can order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceItemData {
    /// 1 to 100 characters.
    pub name: String,
    /// The instruments the item runs on: 1 to 5, no repeats.
    pub instrument_ids: Vec<InstrumentId>,
    pub unit: ServiceUnit,
    /// The promised turnaround (receipt to completion), 1 to 90 local days.
    pub turnaround_days: i32,
    /// What to send and how (volume, container, temperature), at most 500 characters.
    pub sample_requirements: String,
    /// The biosafety level the work needs.
    pub required_biosafety: BiosafetyLevel,
}

impl ServiceItemData {
    /// Checks every field; text fields must not carry a resident identity number.
    ///
    /// # Errors
    /// [`Invalid`] naming each field that breaks a rule: `name` (`required`,
    /// `length`, `resident_id`), `instrument_ids` (`length`, `unique`),
    /// `turnaround_days` (`range`), `sample_requirements` (`length`,
    /// `resident_id`).
    pub fn check(&self) -> Result<(), Invalid> {
        let mut c = Checks::new();
        c.required_text("name", &self.name, ITEM_NAME_MAX);
        no_resident_id(&mut c, "name", &self.name);
        let n = self.instrument_ids.len();
        c.require(
            (1..=ITEM_INSTRUMENTS_MAX).contains(&n),
            "instrument_ids",
            "length",
            || format!("must name 1 to {ITEM_INSTRUMENTS_MAX} instruments"),
        );
        let mut ids = self.instrument_ids.clone();
        ids.sort();
        ids.dedup();
        c.require(ids.len() == n, "instrument_ids", "unique", || {
            "must not repeat an instrument".into()
        });
        c.require(
            (1..=90).contains(&self.turnaround_days),
            "turnaround_days",
            "range",
            || "must be between 1 and 90 days".into(),
        );
        c.length(
            "sample_requirements",
            &self.sample_requirements,
            0,
            SAMPLE_REQUIREMENTS_MAX,
        );
        no_resident_id(&mut c, "sample_requirements", &self.sample_requirements);
        c.finish()
    }
}

/// One sample of an order, as labelled on the tube: a de-identified code,
/// never a patient's name or number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// 1 to 40 characters of `A–Z a–z 0–9 - _`, unique in the order.
    pub code: String,
    pub sample_type: SampleType,
    /// The biosafety risk of the material; the lab must be rated for it.
    pub risk_level: BiosafetyLevel,
    /// Taken from a person: needs an ethics approval.
    pub human: bool,
    /// The ethics committee's approval number (伦理审批号), 1 to 60 characters.
    pub ethics_approval: Option<String>,
}

/// An order (委托单) as the user submits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderDraft {
    /// 1 to 200 samples.
    pub samples: Vec<Sample>,
    /// At most 1000 characters.
    pub notes: String,
}

/// Checks an order against the lab that will handle it: 1 to 200 samples;
/// each code 1 to 40 characters of `A–Z a–z 0–9 - _`, unique in the order
/// (exact comparison); a risk level not above the lab's biosafety level
/// (none < BSL1 < BSL2 < BSL3); a human sample with an ethics approval
/// number of 1 to 60 characters (an approval number, when given, is
/// checked the same way for any sample); notes of at most 1000 characters.
/// No code, approval number or note may contain a resident identity number.
///
/// # Errors
/// [`Invalid`] naming each field that breaks a rule: `samples` (`length`),
/// `samples/{i}/code` (`length`, `charset`, `unique`, `resident_id`),
/// `samples/{i}/risk_level` (`biosafety`), `samples/{i}/ethics_approval`
/// (`required`, `length`, `resident_id`), `notes` (`length`, `resident_id`).
pub fn check_order(draft: &OrderDraft, lab_biosafety: BiosafetyLevel) -> Result<(), Invalid> {
    let mut c = Checks::new();
    let n = draft.samples.len();
    c.require((1..=ORDER_SAMPLES_MAX).contains(&n), "samples", "length", || {
        format!("must hold 1 to {ORDER_SAMPLES_MAX} samples")
    });
    let mut first_use: HashMap<&str, usize> = HashMap::with_capacity(n);
    for (i, sample) in draft.samples.iter().enumerate() {
        let code_field = format!("samples/{i}/code");
        c.length(&code_field, &sample.code, 1, SAMPLE_CODE_MAX);
        c.require(
            sample
                .code
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_'),
            &code_field,
            "charset",
            || "may hold only letters A-Z and a-z, digits, '-' and '_'".into(),
        );
        if !sample.code.is_empty() {
            match first_use.get(sample.code.as_str()) {
                Some(j) => c.push(Violation::new(
                    code_field.as_str(),
                    "unique",
                    format!("repeats the code of samples/{j}"),
                )),
                None => {
                    first_use.insert(sample.code.as_str(), i);
                }
            }
        }
        no_resident_id(&mut c, &code_field, &sample.code);
        c.require(
            sample.risk_level <= lab_biosafety,
            &format!("samples/{i}/risk_level"),
            "biosafety",
            || format!("exceeds the lab's biosafety level {lab_biosafety}"),
        );
        let ethics_field = format!("samples/{i}/ethics_approval");
        match &sample.ethics_approval {
            Some(number) => {
                c.required_text(&ethics_field, number, ETHICS_APPROVAL_MAX);
                no_resident_id(&mut c, &ethics_field, number);
            }
            None => c.require(!sample.human, &ethics_field, "required", || {
                "a human sample needs an ethics approval number".into()
            }),
        }
    }
    c.length("notes", &draft.notes, 0, NOTES_MAX);
    no_resident_id(&mut c, "notes", &draft.notes);
    c.finish()
}

/// Records a `resident_id` violation when `text` carries a resident identity number.
pub(crate) fn no_resident_id(c: &mut Checks, field: &str, text: &str) {
    c.require(!contains_resident_id(text), field, "resident_id", || {
        "must not contain a resident identity number (patient identifiers stay out of the platform)".into()
    });
}

/// Weights of positions 1–17 of a resident identity number (GB 11643-1999).
const RESIDENT_ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// The check character for each value of the weighted sum modulo 11.
const RESIDENT_ID_CHECK: &[u8; 11] = b"10X98765432";

/// Whether a text contains an 18-character resident identity number
/// (GB 11643-1999): 17 digits then a digit or `X`/`x`, whose check
/// character matches the weighted sum, with a real birth date between 1900
/// and 2100 at positions 7–14. A run embedded in a longer run of digits is
/// not one (so long order or instrument numbers do not trip it); letters
/// around it do not protect it. Only ASCII digits count.
pub fn contains_resident_id(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() < 18 {
        return false;
    }
    (0..=bytes.len() - 18).any(|start| {
        let before_is_digit = start > 0 && bytes.get(start - 1).is_some_and(u8::is_ascii_digit);
        let after_is_digit = bytes.get(start + 18).is_some_and(u8::is_ascii_digit);
        !before_is_digit && !after_is_digit && bytes.get(start..start + 18).is_some_and(is_resident_id)
    })
}

/// Whether exactly these 18 bytes are a resident identity number.
fn is_resident_id(candidate: &[u8]) -> bool {
    let [body @ .., check] = candidate else {
        return false;
    };
    if body.len() != 17 || !body.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = body
        .iter()
        .zip(RESIDENT_ID_WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    let expected = RESIDENT_ID_CHECK.get((sum % 11) as usize).copied();
    expected == Some(check.to_ascii_uppercase()) && has_birth_date(body)
}

/// Whether positions 7–14 of the body are a real date in 1900–2100.
fn has_birth_date(body: &[u8]) -> bool {
    let number = |range: std::ops::Range<usize>| {
        body.get(range)
            .map(|digits| digits.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')))
    };
    let (Some(year), Some(month), Some(day)) = (number(6..10), number(10..12), number(12..14)) else {
        return false;
    };
    (1900..=2100).contains(&year)
        && i32::try_from(year)
            .ok()
            .and_then(|y| NaiveDate::from_ymd_opt(y, month, day))
            .is_some()
}

/// A step in the life of a service order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderAction {
    /// The lab takes the order on.
    Accept,
    /// The lab refuses the order; the reason is shown to the user.
    Reject { reason: String },
    /// The samples arrived at the lab: work and the turnaround begin.
    ReceiveSamples,
    /// The report is issued; the samples done and instrument minutes used
    /// feed fees and assessment.
    Complete {
        report_reference: String,
        sample_count: i32,
        instrument_minutes: i64,
    },
    /// The user (or the lab) withdraws the order before the samples arrive.
    Cancel,
}

impl OrderAction {
    fn name(&self) -> &'static str {
        match self {
            Self::Accept => "accept",
            Self::Reject { .. } => "reject",
            Self::ReceiveSamples => "receive_samples",
            Self::Complete { .. } => "complete",
            Self::Cancel => "cancel",
        }
    }
}

/// Why a step of a service order is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error("cannot {action} an order that is {from}")]
    InvalidTransition { from: OrderStatus, action: &'static str },
    #[error("a rejection needs a reason of 1 to 500 characters")]
    ReasonRequired,
    #[error(transparent)]
    Invalid(#[from] Invalid),
}

/// The state machine of DESIGN.md §3: Accept, Reject (with a reason of 1 to
/// 500 characters, not blank) and Cancel from `submitted`; ReceiveSamples
/// and Cancel from `accepted`; Complete from `in_progress`, with a report
/// reference of 1 to 100 characters (no resident identity number), 1 to
/// 10,000 samples done and 0 to 100,000 instrument minutes.
///
/// # Errors
/// [`OrderError::InvalidTransition`] when the step is not allowed from
/// `from`; [`OrderError::ReasonRequired`] for a bad rejection reason;
/// [`OrderError::Invalid`] naming `report_reference` (`required`, `length`,
/// `resident_id`), `sample_count` or `instrument_minutes` (`range`).
pub fn transition(from: OrderStatus, action: &OrderAction) -> Result<OrderStatus, OrderError> {
    use OrderStatus::*;
    let require = |allowed: bool| {
        if allowed {
            Ok(())
        } else {
            Err(OrderError::InvalidTransition {
                from,
                action: action.name(),
            })
        }
    };
    match action {
        OrderAction::Accept => {
            require(from == Submitted)?;
            Ok(Accepted)
        }
        OrderAction::Reject { reason } => {
            require(from == Submitted)?;
            if reason.trim().is_empty() || reason.chars().count() > REASON_MAX {
                return Err(OrderError::ReasonRequired);
            }
            Ok(Rejected)
        }
        OrderAction::ReceiveSamples => {
            require(from == Accepted)?;
            Ok(InProgress)
        }
        OrderAction::Complete {
            report_reference,
            sample_count,
            instrument_minutes,
        } => {
            require(from == InProgress)?;
            let mut c = Checks::new();
            c.required_text("report_reference", report_reference, REPORT_REFERENCE_MAX);
            no_resident_id(&mut c, "report_reference", report_reference);
            c.require((1..=10_000).contains(sample_count), "sample_count", "range", || {
                "must be between 1 and 10000".into()
            });
            c.require(
                (0..=100_000).contains(instrument_minutes),
                "instrument_minutes",
                "range",
                || "must be between 0 and 100000".into(),
            );
            c.finish()?;
            Ok(Completed)
        }
        OrderAction::Cancel => {
            require(matches!(from, Submitted | Accepted))?;
            Ok(Cancelled)
        }
    }
}

/// The samples reported done on completion are billed: they cannot exceed
/// the samples submitted with the order.
///
/// # Errors
/// [`Invalid`] naming `sample_count` (`samples_submitted`).
pub fn check_samples_done(sample_count: i32, submitted: usize) -> Result<(), Invalid> {
    let mut c = Checks::new();
    c.require(
        usize::try_from(sample_count).is_ok_and(|n| n <= submitted),
        "sample_count",
        "samples_submitted",
        || format!("must not exceed the {submitted} samples submitted with the order"),
    );
    c.finish()
}

/// The turnaround of an order in local calendar days: the local date of
/// completion minus the local date the samples were received (received and
/// completed the same day is 0; negative if `completed` is before
/// `received`). Calendar days, because labs promise "N days", not N × 24 h.
pub fn turnaround_days(received: DateTime<Utc>, completed: DateTime<Utc>, offset: FixedOffset) -> i64 {
    let local_date = |t: DateTime<Utc>| t.with_timezone(&offset).date_naive();
    local_date(completed)
        .signed_duration_since(local_date(received))
        .num_days()
}

/// Whether an order was completed within the item's promised turnaround
/// (exactly the promised number of local days is on time).
pub fn on_time(received: DateTime<Utc>, completed: DateTime<Utc>, promised_days: i32, offset: FixedOffset) -> bool {
    turnaround_days(received, completed, offset) <= i64::from(promised_days)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_more_samples_are_done_than_were_submitted() {
        assert!(check_samples_done(3, 3).is_ok());
        assert!(check_samples_done(1, 3).is_ok());
        let rules = |r: Result<(), Invalid>| r.err().map(|e| e.0.into_iter().map(|v| v.rule).collect::<Vec<_>>());
        assert_eq!(rules(check_samples_done(4, 3)), Some(vec!["samples_submitted"]));
        assert_eq!(rules(check_samples_done(-1, 3)), Some(vec!["samples_submitted"]));
    }
    use crate::text_enum::TextEnum;
    use chrono::TimeDelta;
    use proptest::prelude::*;
    use OrderStatus::*;

    /// A body of 17 digits completed with its GB 11643 check character.
    fn with_check(body: &str) -> String {
        let sum: u32 = body
            .bytes()
            .zip(RESIDENT_ID_WEIGHTS)
            .map(|(d, w)| u32::from(d - b'0') * w)
            .sum();
        let check = RESIDENT_ID_CHECK[(sum % 11) as usize] as char;
        format!("{body}{check}")
    }

    /// A body whose check character is X, found by trying the last digit.
    fn body_with_x_check() -> String {
        (0..10)
            .map(|d| format!("1101051949123100{d}"))
            .find(|b| with_check(b).ends_with('X'))
            .unwrap_or_else(|| panic!("no body of this prefix checks to X"))
    }

    /// The same number with another (wrong) last character.
    fn wrong_check(id: &str) -> String {
        let (body, check) = id.split_at(17);
        let wrong = if check == "0" { '1' } else { '0' };
        format!("{body}{wrong}")
    }

    fn cst() -> FixedOffset {
        FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| panic!("UTC+8"))
    }

    /// A local (UTC+8) time as a UTC instant.
    fn local(d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        let naive = NaiveDate::from_ymd_opt(2025, 3, d)
            .and_then(|day| day.and_hms_opt(h, mi, 0))
            .unwrap_or_else(|| panic!("2025-03-{d} {h}:{mi} is not a time"));
        (naive - TimeDelta::hours(8)).and_utc()
    }

    fn item() -> ServiceItemData {
        ServiceItemData {
            name: "血清总蛋白测定".into(),
            instrument_ids: vec![InstrumentId(1), InstrumentId(7)],
            unit: ServiceUnit::Sample,
            turnaround_days: 5,
            sample_requirements: "血清 0.5 mL，2–8 ℃ 冷藏运送".into(),
            required_biosafety: BiosafetyLevel::Bsl2,
        }
    }

    fn sample(code: &str) -> Sample {
        Sample {
            code: code.into(),
            sample_type: SampleType::Water,
            risk_level: BiosafetyLevel::Bsl1,
            human: false,
            ethics_approval: None,
        }
    }

    fn human(code: &str, ethics: Option<&str>) -> Sample {
        Sample {
            code: code.into(),
            sample_type: SampleType::Serum,
            risk_level: BiosafetyLevel::Bsl2,
            human: true,
            ethics_approval: ethics.map(Into::into),
        }
    }

    fn draft(samples: Vec<Sample>) -> OrderDraft {
        OrderDraft {
            samples,
            notes: "请于一周内出具报告".into(),
        }
    }

    fn broken(result: Result<(), Invalid>) -> Vec<(String, &'static str)> {
        match result {
            Ok(()) => Vec::new(),
            Err(Invalid(v)) => v.into_iter().map(|v| (v.field, v.rule)).collect(),
        }
    }

    fn pairs(expected: &[(&str, &'static str)]) -> Vec<(String, &'static str)> {
        expected.iter().map(|(f, r)| ((*f).to_owned(), *r)).collect()
    }

    #[test]
    fn the_test_numbers_are_what_they_claim() {
        assert_eq!(with_check("11010519491231002"), "11010519491231002X");
        assert!(body_with_x_check().len() == 17);
        assert_eq!(wrong_check("11010519491231002X"), "110105194912310020");
    }

    #[test]
    fn a_resident_identity_number_is_found_by_its_check_digit_and_birth_date() {
        let valid = with_check("11010519491231002");
        let with_digit_check = with_check("44030119900307123");
        let x = body_with_x_check();
        let lower_x = with_check(&x).to_lowercase();
        let table: Vec<(String, bool)> = vec![
            (valid.clone(), true),
            (with_digit_check.clone(), true),
            (with_check(&x), true),
            (lower_x.clone(), true),
            (format!("患者{valid}，男"), true),
            (format!("ID:{lower_x}."), true),
            (format!("S-{with_digit_check}_b"), true),
            (format!("{valid} {with_digit_check}"), true),
            (wrong_check(&valid), false),
            (wrong_check(&with_digit_check), false),
            // 31 February 1949.
            (with_check("11010519490231002"), false),
            // Month 13.
            (with_check("11010519491331002"), false),
            // Year 1899 and 2101.
            (with_check("11010518991231002"), false),
            (with_check("11010521011231002"), false),
            // 29 February of a leap year is a real date.
            (with_check("11010520000229002"), true),
            (with_check("11010519000228002"), true),
            (with_check("11010521000228002"), true),
            // Embedded in a longer run of digits.
            (format!("9{valid}"), false),
            (format!("{with_digit_check}7"), false),
            (format!("订单号0{with_digit_check}0"), false),
            (valid[..17].to_owned(), false),
            (String::new(), false),
            ("样品编号 LS-2025-000123".into(), false),
            // Full-width digits are not the ASCII digits of a number.
            ("１１０１０５１９４９１２３１００２Ｘ".into(), false),
        ];
        for (text, expected) in table {
            assert_eq!(contains_resident_id(&text), expected, "{text}");
        }
    }

    #[test]
    fn a_valid_service_item_passes() {
        assert_eq!(item().check(), Ok(()));
        let one = ServiceItemData {
            instrument_ids: vec![InstrumentId(3)],
            turnaround_days: 90,
            sample_requirements: String::new(),
            name: "长".repeat(100),
            ..item()
        };
        assert_eq!(one.check(), Ok(()));
    }

    #[test]
    fn a_service_item_names_each_broken_field() {
        let id = with_check("11010519491231002");
        type Edit = fn(&mut ServiceItemData, &str);
        let table: Vec<(Edit, Vec<(&str, &'static str)>)> = vec![
            (|i, _| i.name = "  ".into(), vec![("name", "required")]),
            (|i, _| i.name = "长".repeat(101), vec![("name", "length")]),
            (|i, id| i.name = format!("复查 {id}"), vec![("name", "resident_id")]),
            (|i, _| i.instrument_ids.clear(), vec![("instrument_ids", "length")]),
            (
                |i, _| i.instrument_ids = (1..=6).map(InstrumentId).collect(),
                vec![("instrument_ids", "length")],
            ),
            (
                |i, _| i.instrument_ids = vec![InstrumentId(2), InstrumentId(5), InstrumentId(2)],
                vec![("instrument_ids", "unique")],
            ),
            (|i, _| i.turnaround_days = 0, vec![("turnaround_days", "range")]),
            (|i, _| i.turnaround_days = 91, vec![("turnaround_days", "range")]),
            (|i, _| i.turnaround_days = -3, vec![("turnaround_days", "range")]),
            (
                |i, _| i.sample_requirements = "字".repeat(501),
                vec![("sample_requirements", "length")],
            ),
            (
                |i, id| i.sample_requirements = format!("送检人身份证 {id}"),
                vec![("sample_requirements", "resident_id")],
            ),
        ];
        for (edit, expected) in table {
            let mut data = item();
            edit(&mut data, &id);
            assert_eq!(broken(data.check()), pairs(&expected), "{data:?}");
        }
    }

    #[test]
    fn a_valid_order_passes() {
        let order = draft(vec![
            sample("W-001"),
            human("S_002", Some("NNCDC-IRB-2025-017")),
            Sample {
                risk_level: BiosafetyLevel::None,
                ..sample(&"a".repeat(40))
            },
        ]);
        assert_eq!(check_order(&order, BiosafetyLevel::Bsl2), Ok(()));
        let full = draft((0..200).map(|i| sample(&format!("S{i}"))).collect());
        assert_eq!(check_order(&full, BiosafetyLevel::Bsl1), Ok(()));
    }

    #[test]
    fn an_order_names_each_broken_field() {
        let id = with_check("11010519491231002");
        let lower = with_check(&body_with_x_check()).to_lowercase();
        type Row = (OrderDraft, BiosafetyLevel, Vec<(&'static str, &'static str)>);
        let table: Vec<Row> = vec![
            (draft(vec![]), BiosafetyLevel::Bsl3, vec![("samples", "length")]),
            (
                draft((0..201).map(|i| sample(&format!("S{i}"))).collect()),
                BiosafetyLevel::Bsl3,
                vec![("samples", "length")],
            ),
            (
                draft(vec![sample("")]),
                BiosafetyLevel::Bsl3,
                vec![("samples/0/code", "length")],
            ),
            (
                draft(vec![sample(&"a".repeat(41))]),
                BiosafetyLevel::Bsl3,
                vec![("samples/0/code", "length")],
            ),
            (
                draft(vec![sample("W-1"), sample("张三")]),
                BiosafetyLevel::Bsl3,
                vec![("samples/1/code", "charset")],
            ),
            (
                draft(vec![sample("W 1")]),
                BiosafetyLevel::Bsl3,
                vec![("samples/0/code", "charset")],
            ),
            (
                draft(vec![
                    sample("A1"),
                    sample("B2"),
                    sample("A1"),
                    sample("a1"),
                    sample("A1"),
                ]),
                BiosafetyLevel::Bsl3,
                vec![("samples/2/code", "unique"), ("samples/4/code", "unique")],
            ),
            (
                draft(vec![sample(&id)]),
                BiosafetyLevel::Bsl3,
                vec![("samples/0/code", "resident_id")],
            ),
            (
                draft(vec![sample(&format!("P-{lower}"))]),
                BiosafetyLevel::Bsl3,
                vec![("samples/0/code", "resident_id")],
            ),
            (
                draft(vec![sample("W-1"), human("S-2", Some("IRB-1"))]),
                BiosafetyLevel::Bsl1,
                vec![("samples/1/risk_level", "biosafety")],
            ),
            (
                draft(vec![sample("W-1")]),
                BiosafetyLevel::None,
                vec![("samples/0/risk_level", "biosafety")],
            ),
            (
                draft(vec![Sample {
                    risk_level: BiosafetyLevel::Bsl3,
                    ..sample("W-1")
                }]),
                BiosafetyLevel::Bsl2,
                vec![("samples/0/risk_level", "biosafety")],
            ),
            (
                draft(vec![human("S-1", None)]),
                BiosafetyLevel::Bsl3,
                vec![("samples/0/ethics_approval", "required")],
            ),
            (
                draft(vec![human("S-1", Some(" "))]),
                BiosafetyLevel::Bsl3,
                vec![("samples/0/ethics_approval", "required")],
            ),
            (
                draft(vec![human("S-1", Some(&"9".repeat(61)))]),
                BiosafetyLevel::Bsl3,
                vec![("samples/0/ethics_approval", "length")],
            ),
            (
                draft(vec![human("S-1", Some(&id))]),
                BiosafetyLevel::Bsl3,
                vec![("samples/0/ethics_approval", "resident_id")],
            ),
            (
                draft(vec![Sample {
                    ethics_approval: Some(String::new()),
                    ..sample("W-1")
                }]),
                BiosafetyLevel::Bsl3,
                vec![("samples/0/ethics_approval", "required")],
            ),
            (
                OrderDraft {
                    notes: "注".repeat(1001),
                    ..draft(vec![sample("W-1")])
                },
                BiosafetyLevel::Bsl3,
                vec![("notes", "length")],
            ),
            (
                OrderDraft {
                    notes: format!("患者身份证号{id}，请加急"),
                    ..draft(vec![sample("W-1")])
                },
                BiosafetyLevel::Bsl3,
                vec![("notes", "resident_id")],
            ),
            (
                OrderDraft {
                    notes: format!("{}，{}", "注".repeat(1000), id),
                    samples: vec![human(&id, None), human(&id, Some("x".repeat(61).as_str()))],
                },
                BiosafetyLevel::Bsl1,
                vec![
                    ("samples/0/code", "resident_id"),
                    ("samples/0/risk_level", "biosafety"),
                    ("samples/0/ethics_approval", "required"),
                    ("samples/1/code", "unique"),
                    ("samples/1/code", "resident_id"),
                    ("samples/1/risk_level", "biosafety"),
                    ("samples/1/ethics_approval", "length"),
                    ("notes", "length"),
                    ("notes", "resident_id"),
                ],
            ),
        ];
        for (order, lab, expected) in table {
            assert_eq!(
                broken(check_order(&order, lab)),
                pairs(&expected),
                "{:?} in a {lab} lab",
                order.samples.iter().map(|s| &s.code).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn a_sample_may_carry_any_risk_up_to_the_labs_level() {
        for lab in BiosafetyLevel::ALL {
            for risk in BiosafetyLevel::ALL {
                let order = draft(vec![Sample {
                    risk_level: *risk,
                    ..sample("W-1")
                }]);
                assert_eq!(check_order(&order, *lab).is_ok(), risk <= lab, "{risk} in a {lab} lab");
            }
        }
    }

    #[test]
    fn a_resident_id_violation_does_not_repeat_the_number() {
        let id = with_check("11010519491231002");
        let order = OrderDraft {
            notes: id.clone(),
            ..draft(vec![sample("W-1")])
        };
        let Err(Invalid(violations)) = check_order(&order, BiosafetyLevel::Bsl3) else {
            panic!("the number is refused");
        };
        assert!(violations.iter().all(|v| !v.message.contains(&id)));
    }

    fn complete(reference: &str, samples: i32, minutes: i64) -> OrderAction {
        OrderAction::Complete {
            report_reference: reference.into(),
            sample_count: samples,
            instrument_minutes: minutes,
        }
    }

    fn reject(reason: &str) -> OrderAction {
        OrderAction::Reject { reason: reason.into() }
    }

    #[test]
    fn an_order_moves_only_along_the_arrows_of_its_state_machine() {
        use OrderAction as A;
        use OrderError as E;
        let invalid = |from, action| Err(E::InvalidTransition { from, action });
        let table: Vec<(OrderStatus, OrderAction, Result<OrderStatus, OrderError>)> = vec![
            (Submitted, A::Accept, Ok(Accepted)),
            (Accepted, A::Accept, invalid(Accepted, "accept")),
            (Rejected, A::Accept, invalid(Rejected, "accept")),
            (Submitted, reject("样品溶血，无法检测"), Ok(Rejected)),
            (Submitted, reject(" \n "), Err(E::ReasonRequired)),
            (Submitted, reject(""), Err(E::ReasonRequired)),
            (Submitted, reject(&"长".repeat(501)), Err(E::ReasonRequired)),
            (Submitted, reject(&"长".repeat(500)), Ok(Rejected)),
            (Accepted, reject("迟了"), invalid(Accepted, "reject")),
            (Accepted, reject(""), invalid(Accepted, "reject")),
            (Accepted, A::ReceiveSamples, Ok(InProgress)),
            (Submitted, A::ReceiveSamples, invalid(Submitted, "receive_samples")),
            (InProgress, A::ReceiveSamples, invalid(InProgress, "receive_samples")),
            (InProgress, complete("NNCDC-2025-0042", 12, 90), Ok(Completed)),
            (InProgress, complete("R", 1, 0), Ok(Completed)),
            (InProgress, complete(&"R".repeat(100), 10_000, 100_000), Ok(Completed)),
            (Accepted, complete("R-1", 1, 0), invalid(Accepted, "complete")),
            (Completed, complete("R-1", 1, 0), invalid(Completed, "complete")),
            (Submitted, A::Cancel, Ok(Cancelled)),
            (Accepted, A::Cancel, Ok(Cancelled)),
            (InProgress, A::Cancel, invalid(InProgress, "cancel")),
            (Completed, A::Cancel, invalid(Completed, "cancel")),
            (Cancelled, A::Cancel, invalid(Cancelled, "cancel")),
        ];
        for (from, action, expected) in table {
            assert_eq!(transition(from, &action), expected, "{from} {action:?}");
        }
    }

    #[test]
    fn completing_an_order_names_each_broken_figure() {
        let id = with_check("11010519491231002");
        let table: Vec<(OrderAction, Vec<(&str, &'static str)>)> = vec![
            (complete("", 1, 0), vec![("report_reference", "required")]),
            (complete("  ", 1, 0), vec![("report_reference", "required")]),
            (complete(&"R".repeat(101), 1, 0), vec![("report_reference", "length")]),
            (
                complete(&format!("报告-{id}"), 1, 0),
                vec![("report_reference", "resident_id")],
            ),
            (complete("R-1", 0, 0), vec![("sample_count", "range")]),
            (complete("R-1", 10_001, 0), vec![("sample_count", "range")]),
            (complete("R-1", 1, -1), vec![("instrument_minutes", "range")]),
            (complete("R-1", 1, 100_001), vec![("instrument_minutes", "range")]),
            (
                complete("", -5, i64::MAX),
                vec![
                    ("report_reference", "required"),
                    ("sample_count", "range"),
                    ("instrument_minutes", "range"),
                ],
            ),
        ];
        for (action, expected) in table {
            let result = transition(InProgress, &action).map(|_| ()).map_err(|e| match e {
                OrderError::Invalid(invalid) => invalid,
                other => panic!("{action:?} failed with {other:?}"),
            });
            assert_eq!(broken(result), pairs(&expected), "{action:?}");
        }
    }

    #[test]
    fn turnaround_counts_local_calendar_days() {
        let table = [
            // Received and completed the same local day.
            (local(3, 9, 0), local(3, 17, 0), 0),
            // Late one evening, early the next morning: one day.
            (local(3, 23, 30), local(4, 0, 30), 1),
            // 47 hours, yet only one local date apart.
            (local(3, 0, 30), local(4, 23, 30), 1),
            (local(3, 0, 0), local(5, 23, 59), 2),
            // 07:30 local is the previous UTC day: local dates count.
            (local(3, 7, 30), local(3, 9, 0), 0),
            (local(3, 9, 0), local(10, 9, 0), 7),
            (local(3, 9, 0), local(31, 9, 0), 28),
            (local(5, 9, 0), local(3, 9, 0), -2),
        ];
        for (received, completed, days) in table {
            assert_eq!(
                turnaround_days(received, completed, cst()),
                days,
                "{received} → {completed}"
            );
        }
        let utc = FixedOffset::east_opt(0).unwrap_or_else(|| panic!("UTC"));
        // 07:30 on the 3rd local is 23:30 on the 2nd UTC.
        assert_eq!(turnaround_days(local(3, 7, 30), local(3, 9, 0), utc), 1);
    }

    #[test]
    fn an_order_done_within_its_promised_days_is_on_time() {
        let received = local(3, 16, 0);
        assert!(on_time(received, local(3, 17, 0), 1, cst()));
        assert!(on_time(received, local(8, 23, 59), 5, cst()));
        assert!(!on_time(received, local(9, 0, 0), 5, cst()));
        assert!(!on_time(received, local(4, 8, 0), 0, cst()));
        assert!(on_time(received, local(3, 23, 59), 0, cst()));
    }

    fn any_action() -> impl Strategy<Value = OrderAction> {
        prop_oneof![
            Just(OrderAction::Accept),
            Just(reject("样品不合格")),
            Just(reject("")),
            Just(OrderAction::ReceiveSamples),
            Just(complete("R-2025-1", 3, 45)),
            Just(complete("", 0, -1)),
            Just(OrderAction::Cancel),
        ]
    }

    proptest! {
        #[test]
        fn no_step_leaves_a_finished_order_or_skips_an_arrow(
            from in proptest::sample::select(OrderStatus::ALL.to_vec()),
            action in any_action(),
        ) {
            let result = transition(from, &action);
            if matches!(from, Completed | Rejected | Cancelled) {
                let is_invalid = matches!(result, Err(OrderError::InvalidTransition { .. }));
                prop_assert!(is_invalid);
            }
            if let Ok(next) = result {
                let arrows = [
                    (Submitted, Accepted), (Submitted, Rejected), (Submitted, Cancelled),
                    (Accepted, InProgress), (Accepted, Cancelled), (InProgress, Completed),
                ];
                prop_assert!(arrows.contains(&(from, next)));
            }
        }

        #[test]
        fn a_number_is_found_wherever_it_stands_among_letters(
            prefix in "[a-zA-Z\\u{4e00}-\\u{9fa5} ,.:-]{0,20}",
            suffix in "[a-zA-Z\\u{4e00}-\\u{9fa5} ,.:-]{0,20}",
            region in 110_000u32..660_000,
            days in 0i64..(200 * 366),
            serial in 0u32..1000,
        ) {
            let birth = NaiveDate::from_ymd_opt(1900, 1, 1)
                .and_then(|d| d.checked_add_signed(TimeDelta::days(days)))
                .map(|d| d.format("%Y%m%d").to_string())
                .unwrap_or_else(|| panic!("a date"));
            let id = with_check(&format!("{region}{birth}{serial:03}"));
            let text = format!("{prefix}{id}{suffix}");
            let wrong = format!("{prefix}{}{suffix}", wrong_check(&id));
            let digit_after = format!("{prefix}{id}0{suffix}");
            let digit_before = format!("{prefix}5{id}{suffix}");
            prop_assert!(contains_resident_id(&text));
            prop_assert!(!contains_resident_id(&wrong));
            prop_assert!(!contains_resident_id(&digit_after));
            prop_assert!(!contains_resident_id(&digit_before));
        }

        #[test]
        fn turnaround_never_depends_on_the_time_of_day_within_a_local_date(
            received_minute in 0i64..1440,
            completed_minute in 0i64..1440,
            days in 0i64..120,
        ) {
            let midnight = local(1, 0, 0);
            let received = midnight + TimeDelta::minutes(received_minute);
            let completed = midnight + TimeDelta::days(days) + TimeDelta::minutes(completed_minute);
            prop_assert_eq!(turnaround_days(received, completed, cst()), days);
            prop_assert_eq!(on_time(received, completed, 5, cst()), days <= 5);
        }
    }
}

/// What an instrument offers to a service item, as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemInstrument {
    pub id: InstrumentId,
    pub institution_id: crate::InstitutionId,
    pub listing: crate::listing::ListingStatus,
    pub offers_samples: bool,
    pub lab_biosafety: BiosafetyLevel,
}

/// A service item runs on listed instruments of one institution that
/// accept samples, in labs rated for the biosafety level the work needs.
///
/// # Errors
/// [`Invalid`] on `instrument_ids/{i}` or `required_biosafety`.
pub fn check_item_instruments(instruments: &[ItemInstrument], required: BiosafetyLevel) -> Result<(), Invalid> {
    let mut c = Checks::new();
    let provider = instruments.first().map(|i| i.institution_id);
    for (n, i) in instruments.iter().enumerate() {
        let field = format!("instrument_ids/{n}");
        c.require(Some(i.institution_id) == provider, &field, "same_institution", || {
            "all instruments of an item belong to one institution".into()
        });
        c.require(
            i.listing == crate::listing::ListingStatus::Approved,
            &field,
            "listed",
            || "the instrument is not listed (入网)".into(),
        );
        c.require(i.offers_samples, &field, "sample_mode", || {
            "the instrument does not take samples".into()
        });
    }
    if let Some(lowest) = instruments.iter().map(|i| i.lab_biosafety).min() {
        c.require(required <= lowest, "required_biosafety", "biosafety", || {
            format!("the instruments' labs are rated only up to {lowest}")
        });
    }
    c.finish()
}

/// The biosafety level samples of an item may carry: that of its least-rated lab.
pub fn item_lab_level(instruments: &[ItemInstrument]) -> BiosafetyLevel {
    instruments
        .iter()
        .map(|i| i.lab_biosafety)
        .min()
        .unwrap_or(BiosafetyLevel::None)
}
