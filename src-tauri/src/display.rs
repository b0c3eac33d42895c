//! How engine values are shown to people, where that differs from how they are stored.

/// A linked phone number as the window shows it: the country code's first
/// two digits and the last two, the rest hidden, so staff can tell numbers
/// apart without the screen giving them away. Other characters (a leading
/// `+`) stay.
pub fn mask_phone(phone: &str) -> String {
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    let mut seen = 0;
    phone
        .chars()
        .map(|c| {
            if !c.is_ascii_digit() {
                return c;
            }
            seen += 1;
            // Too short to show any digit without showing most of it.
            let shown = digits > 4 && (seen <= 2 || seen > digits - 2);
            if shown { c } else { '•' }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phone_shows_its_first_two_and_last_two_digits_only() {
        assert_eq!(mask_phone("+4915112345678"), "+49•••••••••78");
        assert_eq!(mask_phone("4915112345678"), "49•••••••••78");
        assert_eq!(mask_phone("12345"), "12•45");
        assert_eq!(mask_phone("1234"), "••••");
        assert_eq!(mask_phone(""), "");
    }
}
