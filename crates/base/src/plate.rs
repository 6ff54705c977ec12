//! Chinese licence-plate syntax (GA 36): what a plate number can look like, so that a receiver
//! can refuse impossible plate text and a recogniser can constrain its decoding.
//!
//! Accepted: ordinary plates (province + letter + 5 of letters/digits, `晋M12345`), new-energy
//! plates (province + letter + 6, `晋MD12345`), and the special suffixes 警 学 挂 港 澳 领 on a
//! plate whose last position they take (`晋M1234警`, `粤Z1234港`), and embassy plates with 使
//! (`使123456`, `123456使`). Letters never include I or O (they read as 1 and 0).

/// The 31 province abbreviations of mainland plates.
pub const PROVINCES: &str = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼";

/// What kind of plate a valid text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlateKind {
    Ordinary,
    NewEnergy,
    /// Ends in one of 警 学 挂 港 澳 领.
    Special(char),
    Embassy,
}

fn is_letter(c: char) -> bool {
    c.is_ascii_uppercase() && c != 'I' && c != 'O'
}

fn is_alnum(c: char) -> bool {
    is_letter(c) || c.is_ascii_digit()
}

/// Checks `text` against plate syntax; the error says what is wrong.
pub fn validate(text: &str) -> Result<PlateKind, String> {
    let chars: Vec<char> = text.chars().collect();
    let bad = |why: &str| Err(format!("plate {text:?}: {why}"));
    if chars.is_empty() {
        return bad("empty");
    }
    // Embassy plates: 使 then six digits, or six digits then 使.
    if chars.contains(&'使') {
        let digits = chars.iter().filter(|c| c.is_ascii_digit()).count();
        let ok = chars.len() == 7 && digits == 6 && (chars[0] == '使' || chars[6] == '使');
        return if ok {
            Ok(PlateKind::Embassy)
        } else {
            bad("embassy plates are 使 and six digits")
        };
    }
    if !PROVINCES.contains(chars[0]) {
        return bad("does not start with a province abbreviation");
    }
    if chars.len() < 2 || !is_letter(chars[1]) {
        return bad("second character must be a letter other than I and O");
    }
    let rest = &chars[2..];
    if let Some(&last) = rest.last() {
        if "警学挂港澳领".contains(last) {
            return if rest.len() == 5 && rest[..4].iter().all(|c| is_alnum(*c)) {
                Ok(PlateKind::Special(last))
            } else {
                bad("a special plate has four letters or digits before its suffix")
            };
        }
    }
    if !rest.iter().all(|c| is_alnum(*c)) {
        return bad("letters other than I and O, and digits, only");
    }
    match rest.len() {
        5 => Ok(PlateKind::Ordinary),
        6 => Ok(PlateKind::NewEnergy),
        n => bad(&format!("{} characters; plates have 7 or 8", n + 2)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_plates() {
        assert_eq!(validate("晋M12345"), Ok(PlateKind::Ordinary));
        assert_eq!(validate("京AD12345"), Ok(PlateKind::NewEnergy));
        assert_eq!(validate("晋M1234警"), Ok(PlateKind::Special('警')));
        assert_eq!(validate("粤Z1234港"), Ok(PlateKind::Special('港')));
        assert_eq!(validate("使123456"), Ok(PlateKind::Embassy));
        assert_eq!(validate("123456使"), Ok(PlateKind::Embassy));
    }

    #[test]
    fn invalid_plates_say_why() {
        for (text, why) in [
            ("", "empty"),
            ("X M12345", "province"),
            ("晋I12345", "second character"),
            ("晋M1234O", "letters other than I and O"),
            ("晋M123", "5 characters"),
            ("晋M123456789", "11 characters"),
            ("晋M12警", "special"),
            ("使12345", "embassy"),
        ] {
            let err = validate(text).unwrap_err();
            assert!(err.contains(why), "{text}: {err}");
        }
    }
}
