//! Ratings (DESIGN.md §3): a user rates a completed booking or service
//! order of their own, once, 1 to 5 with a comment. The ratings feed the
//! service-quality part of the assessment, so only those who used the
//! service may give one. That a booking or order is rated at most once is
//! kept by the store (one rating per rated object).

use crate::service::no_resident_id;
use crate::text_enum;
use crate::validation::{Checks, Invalid};

/// Longest comment, in characters.
const COMMENT_MAX: usize = 500;

/// A rating as the user gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatingDraft {
    /// 1 (poor) to 5 (excellent).
    pub score: i32,
    /// At most 500 characters; may be empty.
    pub comment: String,
}

impl RatingDraft {
    /// Checks the score and the comment; a comment must not carry a resident
    /// identity number (it is shown to the lab).
    ///
    /// # Errors
    /// [`Invalid`] naming `score` (`range`) and `comment` (`length`,
    /// `resident_id`).
    pub fn check(&self) -> Result<(), Invalid> {
        let mut c = Checks::new();
        c.require((1..=5).contains(&self.score), "score", "range", || {
            "must be between 1 and 5".into()
        });
        c.length("comment", &self.comment, 0, COMMENT_MAX);
        no_resident_id(&mut c, "comment", &self.comment);
        c.finish()
    }
}

text_enum!(
    /// What a rating is about.
    pub enum RatedKind {
        /// A booking of an instrument.
        Booking = "booking",
        /// A sample service order.
        Order = "order",
    }
);

/// Why a user may not rate a booking or order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RatingError {
    #[error("only a completed booking or order can be rated")]
    NotCompleted,
    #[error("only the user who booked or ordered can rate it")]
    NotYours,
}

/// Whether the actor may rate: they booked or ordered it, and it is
/// completed. Ownership is checked first, so that nobody learns the state
/// of another user's booking or order by trying to rate it.
///
/// # Errors
/// [`RatingError::NotYours`] when the actor is not the booker or orderer;
/// [`RatingError::NotCompleted`] when it is not completed.
pub fn may_rate(is_owner: bool, completed: bool) -> Result<(), RatingError> {
    if !is_owner {
        return Err(RatingError::NotYours);
    }
    if !completed {
        return Err(RatingError::NotCompleted);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text_enum::TextEnum;

    fn broken(draft: &RatingDraft) -> Vec<(String, &'static str)> {
        match draft.check() {
            Ok(()) => Vec::new(),
            Err(Invalid(v)) => v.into_iter().map(|v| (v.field, v.rule)).collect(),
        }
    }

    fn rating(score: i32, comment: &str) -> RatingDraft {
        RatingDraft {
            score,
            comment: comment.into(),
        }
    }

    #[test]
    fn a_rating_has_a_score_from_one_to_five_and_a_short_clean_comment() {
        // 11010519491231002X is a valid resident identity number.
        let id = "11010519491231002X";
        let table: Vec<(RatingDraft, Vec<(&str, &'static str)>)> = vec![
            (rating(1, ""), vec![]),
            (rating(5, "出报告很快，服务周到"), vec![]),
            (rating(3, &"好".repeat(500)), vec![]),
            (rating(4, "订单号 2025031100000000123 已完成"), vec![]),
            (rating(0, ""), vec![("score", "range")]),
            (rating(6, ""), vec![("score", "range")]),
            (rating(-1, ""), vec![("score", "range")]),
            (rating(i32::MAX, ""), vec![("score", "range")]),
            (rating(4, &"好".repeat(501)), vec![("comment", "length")]),
            (
                rating(4, &format!("操作员身份证{id}")),
                vec![("comment", "resident_id")],
            ),
            (rating(4, &format!("{}x", &id[..17])), vec![("comment", "resident_id")]),
            (rating(4, &format!("{}0", &id[..17])), vec![]),
            (
                rating(0, &format!("{}{id}", "好".repeat(500))),
                vec![("score", "range"), ("comment", "length"), ("comment", "resident_id")],
            ),
        ];
        for (draft, expected) in table {
            let expected: Vec<(String, &'static str)> = expected.into_iter().map(|(f, r)| (f.to_owned(), r)).collect();
            assert_eq!(broken(&draft), expected, "{draft:?}");
        }
    }

    #[test]
    fn only_the_owner_rates_and_only_once_completed() {
        let table = [
            (true, true, Ok(())),
            (true, false, Err(RatingError::NotCompleted)),
            (false, true, Err(RatingError::NotYours)),
            (false, false, Err(RatingError::NotYours)),
        ];
        for (is_owner, completed, expected) in table {
            assert_eq!(
                may_rate(is_owner, completed),
                expected,
                "owner {is_owner}, completed {completed}"
            );
        }
    }

    #[test]
    fn rated_kinds_have_a_stable_text_form() {
        let texts: Vec<_> = RatedKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(texts, ["booking", "order"]);
        assert_eq!("order".parse::<RatedKind>(), Ok(RatedKind::Order));
        assert!("bookings".parse::<RatedKind>().is_err());
    }
}
