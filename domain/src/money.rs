//! Money: exact, in fen, exchanged as a decimal string of CNY.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use std::fmt;
use std::str::FromStr;

/// The largest amount accepted: 99,999,999,999.99 CNY.
pub const MAX_FEN: i64 = 9_999_999_999_999;

/// A non-negative amount of money in fen (分), the unit it is stored in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i64);

/// Why an amount is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("must be a decimal string of CNY such as \"1234.50\"")]
    Format,
    #[error("must not be negative")]
    Negative,
    #[error("must have at most two decimals (fen)")]
    TooPrecise,
    #[error("must not exceed 99999999999.99")]
    TooLarge,
}

impl Money {
    pub const ZERO: Money = Money(0);

    /// # Errors
    /// [`MoneyError::Negative`] or [`MoneyError::TooLarge`] out of range.
    pub fn from_fen(fen: i64) -> Result<Self, MoneyError> {
        if fen < 0 {
            Err(MoneyError::Negative)
        } else if fen > MAX_FEN {
            Err(MoneyError::TooLarge)
        } else {
            Ok(Self(fen))
        }
    }

    /// Whole yuan, for seeds and thresholds.
    pub const fn yuan(yuan: i64) -> Self {
        Self(yuan * 100)
    }

    pub fn fen(self) -> i64 {
        self.0
    }

    pub fn to_decimal(self) -> Decimal {
        Decimal::new(self.0, 2)
    }

    /// Parses `"1234.50"`: plain decimal notation, at most two decimals.
    ///
    /// # Errors
    /// [`MoneyError`] naming the rule broken.
    pub fn parse(text: &str) -> Result<Self, MoneyError> {
        let t = text.trim();
        if t != text || t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'-') {
            return Err(MoneyError::Format);
        }
        let d = Decimal::from_str(t).map_err(|_| MoneyError::Format)?;
        if d.is_sign_negative() && !d.is_zero() {
            return Err(MoneyError::Negative);
        }
        if d.scale() > 2 {
            return Err(MoneyError::TooPrecise);
        }
        let fen = d
            .checked_mul(Decimal::ONE_HUNDRED)
            .and_then(|f| f.to_i64())
            .ok_or(MoneyError::TooLarge)?;
        Self::from_fen(fen)
    }
}

/// Formats a signed amount of fen as a decimal string of CNY (`"-30.00"`):
/// adjustments and statement balances may be negative.
pub fn format_fen(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// Parses a signed decimal string of CNY (`"-30.00"`, `"12.5"`) into fen.
///
/// # Errors
/// [`MoneyError`] naming the rule broken; the magnitude is bounded like [`Money`].
pub fn parse_signed_fen(text: &str) -> Result<i64, MoneyError> {
    match text.strip_prefix('-') {
        Some(rest) if !rest.starts_with('-') => {
            let m = Money::parse(rest)?;
            Ok(-m.fen())
        }
        Some(_) => Err(MoneyError::Format),
        None => Money::parse(text).map(Money::fen),
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl FromStr for Money {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decimal_strings_parse_to_fen() {
        assert_eq!(Money::parse("1234.50").map(Money::fen), Ok(123_450));
        assert_eq!(Money::parse("0").map(Money::fen), Ok(0));
        assert_eq!(Money::parse("7.5").map(Money::fen), Ok(750));
        assert_eq!(Money::parse("3800000").map(Money::fen), Ok(380_000_000));
    }

    #[test]
    fn malformed_negative_or_too_precise_amounts_are_refused() {
        assert_eq!(Money::parse("-1.00"), Err(MoneyError::Negative));
        assert_eq!(Money::parse("1.005"), Err(MoneyError::TooPrecise));
        for bad in ["", "abc", "1e5", " 1", "1,000.00", "NaN", "1.2.3"] {
            assert_eq!(Money::parse(bad), Err(MoneyError::Format), "{bad:?}");
        }
        assert_eq!(Money::parse("100000000000.00"), Err(MoneyError::TooLarge));
        assert_eq!(Money::parse("1000000000000000000000000000"), Err(MoneyError::TooLarge));
        assert_eq!(Money::parse("79228162514264337593543950335"), Err(MoneyError::TooLarge));
        assert_eq!(Money::parse("+1.00"), Err(MoneyError::Format));
    }

    #[test]
    fn amounts_print_with_two_decimals() {
        assert_eq!(Money::yuan(500_000).to_string(), "500000.00");
        assert_eq!(Money::parse("0.05").map(|m| m.to_string()), Ok("0.05".into()));
    }

    #[test]
    fn signed_amounts_print_and_parse_with_their_sign() {
        assert_eq!(format_fen(-3_005), "-30.05");
        assert_eq!(format_fen(-5), "-0.05");
        assert_eq!(format_fen(0), "0.00");
        assert_eq!(parse_signed_fen("-30.05"), Ok(-3_005));
        assert_eq!(parse_signed_fen("12.5"), Ok(1_250));
        assert_eq!(parse_signed_fen("--1"), Err(MoneyError::Format));
        assert_eq!(parse_signed_fen("-1.005"), Err(MoneyError::TooPrecise));
    }

    proptest! {
        #[test]
        fn signed_printing_then_parsing_gives_the_same_amount(fen in -MAX_FEN..=MAX_FEN) {
            prop_assert_eq!(parse_signed_fen(&format_fen(fen)), Ok(fen));
        }

        #[test]
        fn printing_then_parsing_gives_the_same_amount(fen in 0i64..=MAX_FEN) {
            let m = Money::from_fen(fen).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(Money::parse(&m.to_string()), Ok(m));
        }
    }
}
