//! Agent names: what staff may call an agent.

use thiserror::Error;

/// The longest name, in characters. Longer names would not fit a list row.
pub const MAX_NAME_CHARS: usize = 64;

/// Why a name was refused when adding or renaming an agent.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NameError {
    /// Nothing is left after trimming white space.
    #[error("the name is empty")]
    Empty,
    /// The trimmed name is longer than [`MAX_NAME_CHARS`].
    #[error("the name has {chars} characters; at most {MAX_NAME_CHARS} are allowed")]
    TooLong {
        /// How many characters the trimmed name has, for the message.
        chars: usize,
    },
    /// The name holds a line break, tab or other control character, which would break a list row.
    #[error("the name contains a control character (such as a line break or tab)")]
    ControlCharacter,
}

/// Trims surrounding white space and checks what is left.
pub fn validate_name(raw: &str) -> Result<String, NameError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(NameError::TooLong { chars });
    }
    if name.chars().any(char::is_control) {
        return Err(NameError::ControlCharacter);
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bad_ones_rejected() {
        assert_eq!(validate_name("  Support  1 "), Ok("Support  1".into()));
        assert_eq!(validate_name(""), Err(NameError::Empty));
        assert_eq!(validate_name(" \t "), Err(NameError::Empty));
        assert_eq!(validate_name(&"x".repeat(65)), Err(NameError::TooLong { chars: 65 }));
        assert_eq!(validate_name(&"é".repeat(64)).map(|n| n.chars().count()), Ok(64));
        assert_eq!(validate_name("a\nb"), Err(NameError::ControlCharacter));
        assert_eq!(validate_name("a\u{7}b"), Err(NameError::ControlCharacter));
        assert_eq!(validate_name("<img src=x onerror=alert(1)>").unwrap(), "<img src=x onerror=alert(1)>");
    }
}
