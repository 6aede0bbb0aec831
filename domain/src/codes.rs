//! National codes: the unified social credit code (GB 32100) and the
//! instrument category code (GB/T 32847-2016).

use std::fmt;

/// The 31 characters of GB 32100, in the order of their values (no I, O, S, V, Z).
const CREDIT_CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Weights of positions 1–17: 3^(i) mod 31.
const CREDIT_WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/// Why a credit code is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreditCodeError {
    #[error("must have exactly 18 characters")]
    Length,
    #[error("character {position} is not allowed (digits and upper-case letters except I, O, S, V, Z)")]
    Character { position: usize },
    #[error("check digit is {found}, GB 32100 requires {expected}")]
    CheckDigit { found: char, expected: char },
}

/// A unified social credit code (统一社会信用代码) whose check digit is right.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CreditCode(String);

impl CreditCode {
    /// # Errors
    /// [`CreditCodeError`] naming the first rule the text breaks.
    pub fn parse(text: &str) -> Result<Self, CreditCodeError> {
        let bytes = text.as_bytes();
        if text.chars().count() != 18 || bytes.len() != 18 {
            return Err(CreditCodeError::Length);
        }
        let mut values = [0u32; 18];
        for (i, b) in bytes.iter().enumerate() {
            values[i] = char_value(*b).ok_or(CreditCodeError::Character { position: i + 1 })?;
        }
        let expected = check_char(&bytes[..17]).ok_or(CreditCodeError::Length)?;
        let found = bytes[17] as char;
        if found != expected {
            return Err(CreditCodeError::CheckDigit { found, expected });
        }
        Ok(Self(text.to_owned()))
    }

    /// Completes the first 17 characters with their check digit.
    ///
    /// # Errors
    /// [`CreditCodeError`] when the body is not 17 allowed characters.
    pub fn with_check_digit(body: &str) -> Result<Self, CreditCodeError> {
        let bytes = body.as_bytes();
        if bytes.len() != 17 {
            return Err(CreditCodeError::Length);
        }
        for (i, b) in bytes.iter().enumerate() {
            char_value(*b).ok_or(CreditCodeError::Character { position: i + 1 })?;
        }
        let check = check_char(bytes).ok_or(CreditCodeError::Length)?;
        Ok(Self(format!("{body}{check}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn char_value(b: u8) -> Option<u32> {
    CREDIT_CHARSET
        .iter()
        .position(|c| *c == b)
        .and_then(|p| u32::try_from(p).ok())
}

fn check_char(body: &[u8]) -> Option<char> {
    let mut sum = 0;
    for (b, w) in body.iter().zip(CREDIT_WEIGHTS) {
        sum += char_value(*b)? * w;
    }
    let check = (31 - sum % 31) % 31;
    CREDIT_CHARSET.get(check as usize).map(|c| *c as char)
}

/// Why a category code is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CategoryCodeError {
    #[error("must be exactly 6 digits (GB/T 32847-2016)")]
    Format,
    #[error("a category prefix is 1 to 6 digits")]
    Prefix,
}

/// A 6-digit instrument category code (GB/T 32847-2016), e.g. `030201`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CategoryCode(String);

impl CategoryCode {
    /// # Errors
    /// [`CategoryCodeError::Format`] unless the text is exactly six ASCII digits.
    pub fn parse(text: &str) -> Result<Self, CategoryCodeError> {
        if text.len() == 6 && text.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(text.to_owned()))
        } else {
            Err(CategoryCodeError::Format)
        }
    }

    /// Checks a prefix used to filter the catalogue by class (`03`, `0302`).
    ///
    /// # Errors
    /// [`CategoryCodeError::Prefix`] unless the text is 1–6 ASCII digits.
    pub fn parse_prefix(text: &str) -> Result<&str, CategoryCodeError> {
        if (1..=6).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit()) {
            Ok(text)
        } else {
            Err(CategoryCodeError::Prefix)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CategoryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn published_credit_codes_pass_the_check() {
        // Codes printed on public business licences.
        for code in ["91350100M000100Y43", "91110000802100433B", "91440300708461136T"] {
            assert!(CreditCode::parse(code).is_ok(), "{code}");
        }
    }

    #[test]
    fn credit_code_with_a_wrong_check_digit_is_refused() {
        assert_eq!(
            CreditCode::parse("91350100M000100Y44"),
            Err(CreditCodeError::CheckDigit {
                found: '4',
                expected: '3'
            })
        );
    }

    #[test]
    fn credit_code_with_a_forbidden_letter_or_length_is_refused() {
        assert_eq!(
            CreditCode::parse("91350100M000100YI3"),
            Err(CreditCodeError::Character { position: 17 })
        );
        assert_eq!(CreditCode::parse("9135010"), Err(CreditCodeError::Length));
        assert_eq!(
            CreditCode::parse("91350100m000100Y43"),
            Err(CreditCodeError::Character { position: 9 })
        );
    }

    #[test]
    fn category_code_is_six_digits() {
        assert!(CategoryCode::parse("030201").is_ok());
        for bad in ["03020", "0302011", "03O201", "", "０３０２０１"] {
            assert_eq!(CategoryCode::parse(bad), Err(CategoryCodeError::Format), "{bad}");
        }
        assert!(CategoryCode::parse_prefix("03").is_ok());
        assert!(CategoryCode::parse_prefix("0a").is_err());
        assert!(CategoryCode::parse_prefix("").is_err());
    }

    proptest! {
        #[test]
        fn completing_any_body_yields_a_code_that_parses(body in "[0-9A-HJ-NPQRTUWXY]{17}") {
            let code = CreditCode::with_check_digit(&body).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(CreditCode::parse(code.as_str()).is_ok());
        }

        #[test]
        fn changing_one_character_breaks_the_check(body in "[0-9A-HJ-NPQRTUWXY]{17}", pos in 0usize..17, shift in 1u32..31) {
            let code = CreditCode::with_check_digit(&body).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mut bytes = code.as_str().as_bytes().to_vec();
            let v = char_value(bytes[pos]).unwrap_or(0);
            bytes[pos] = CREDIT_CHARSET[((v + shift) % 31) as usize];
            let changed = String::from_utf8(bytes).unwrap_or_default();
            prop_assert!(CreditCode::parse(&changed).is_err());
        }
    }
}
