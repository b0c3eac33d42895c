//! Phone numbers for linking by pairing code.

use thiserror::Error;

/// Why a phone number cannot be used to ask WhatsApp for a pairing code.
/// The message shows the number exactly as it was typed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid phone number “{typed}”: {problem}")]
pub struct PhoneError {
    /// The number exactly as the person typed it, for the message.
    pub typed: String,
    /// What is wrong with it.
    pub problem: PhoneProblem,
}

/// What is wrong with a typed phone number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PhoneProblem {
    /// A character other than a digit, space, dash, bracket or leading `+`.
    #[error("only digits, spaces, dashes, brackets and a leading + are allowed")]
    NotADigit,
    /// Fewer than 7 or more than 15 digits.
    #[error("give the full number with country code, 7 to 15 digits")]
    Length,
    /// The digits start with 0, a local prefix instead of the country code.
    #[error("start with the country code, not a 0")]
    LeadingZero,
}

/// Checks a phone number: an optional `+`, then 7–15 digits, the country
/// code first; spaces, dashes and brackets are allowed and dropped.
/// Returns the digits, as WhatsApp expects them.
pub fn validate_phone(raw: &str) -> Result<String, PhoneError> {
    let fail = |problem| PhoneError { typed: raw.to_owned(), problem };
    let trimmed = raw.trim();
    let body = trimmed.strip_prefix('+').unwrap_or(trimmed);
    let mut digits = String::new();
    for c in body.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '(' | ')' => {}
            _ => return Err(fail(PhoneProblem::NotADigit)),
        }
    }
    if !(7..=15).contains(&digits.len()) {
        return Err(fail(PhoneProblem::Length));
    }
    if digits.starts_with('0') {
        return Err(fail(PhoneProblem::LeadingZero));
    }
    Ok(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    ///
    #[test]
    fn q4_phone_numbers_are_normalised_or_rejected_with_what_is_wrong() {
        assert_eq!(validate_phone("+49 151 1234-5678").unwrap(), "4915112345678");
        assert_eq!(validate_phone("(49) 151 12345678").unwrap(), "4915112345678");
        let problem = |raw: &str| validate_phone(raw).unwrap_err().problem;
        assert_eq!(problem(""), PhoneProblem::Length);
        assert_eq!(problem("12345"), PhoneProblem::Length);
        assert_eq!(problem("1234567890123456"), PhoneProblem::Length);
        assert_eq!(problem("+49abc1234567"), PhoneProblem::NotADigit);
        assert_eq!(problem("0151123456789"), PhoneProblem::LeadingZero);
        let err = validate_phone("+49 15x").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid phone number “+49 15x”: only digits, spaces, dashes, brackets and a leading + are allowed"
        );
    }
}
