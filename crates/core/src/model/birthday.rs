//! The greeter's domain: who a user is, when they were born, and how far away their next birthday is.
//!
//! Rules (the greeter's OpenAPI document states the same):
//! - a username is 1 to 64 Unicode letters (General_Category L, the OpenAPI pattern's `\p{L}`: not `Ⅰ` or
//!   `〇`, which are alphabetic numbers, nor a combining mark), compared after NFC normalisation, so `Zoë`
//!   typed with a combining diaeresis is the same user as `Zoë` typed with the precomposed letter;
//! - a date of birth is written strictly `YYYY-MM-DD`, is a real calendar date, and is strictly before today;
//! - days are UTC calendar days; people born on 29 February celebrate on 28 February in non-leap years.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use icu_properties::CodePointMapData;
use icu_properties::props::{GeneralCategory, GeneralCategoryGroup};
use sha2::{Digest, Sha256};
use thiserror::Error;
use unicode_normalization::UnicodeNormalization;

/// The longest username, in letters.
pub const MAX_USERNAME_LETTERS: usize = 64;

/// A valid username: 1 to 64 Unicode letters (`\p{L}`), NFC-normalised.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

/// Why a username was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UsernameError {
    #[error("username must not be empty")]
    Empty,
    #[error("username must be at most {MAX_USERNAME_LETTERS} letters, got {0}")]
    TooLong(usize),
    #[error("username must contain only letters, found {0:?}")]
    NotALetter(char),
    #[error("username is not valid percent-encoded UTF-8")]
    BadEncoding,
}

/// Whether `c` is a letter: General_Category L (Lu, Ll, Lt, Lm, Lo), what `\p{L}` matches. Not
/// `char::is_alphabetic`, which is the wider Alphabetic property: it also holds letter numbers (`Ⅰ`, `〇`)
/// and many combining marks.
fn is_letter(c: char) -> bool {
    GeneralCategoryGroup::Letter.contains(CodePointMapData::<GeneralCategory>::new().get(c))
}

impl Username {
    /// Validates an already-decoded username.
    pub fn parse(raw: &str) -> Result<Self, UsernameError> {
        let normalised: String = raw.nfc().collect();
        if normalised.is_empty() {
            return Err(UsernameError::Empty);
        }
        if let Some(bad) = normalised.chars().find(|c| !is_letter(*c)) {
            return Err(UsernameError::NotALetter(bad));
        }
        let letters = normalised.chars().count();
        if letters > MAX_USERNAME_LETTERS {
            return Err(UsernameError::TooLong(letters));
        }
        Ok(Self(normalised))
    }

    /// Validates a username as it appears in a URL path segment (percent-encoded).
    pub fn from_path_segment(segment: &str) -> Result<Self, UsernameError> {
        let decoded = percent_encoding::percent_decode_str(segment)
            .decode_utf8()
            .map_err(|_| UsernameError::BadEncoding)?;
        Self::parse(&decoded)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Hex SHA-256 of the username: the storage key, which spreads users evenly over partitions.
    pub fn key_hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a date of birth was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DateOfBirthError {
    #[error("dateOfBirth must be written YYYY-MM-DD, got {0:?}")]
    Format(String),
    #[error("dateOfBirth {0:?} is not a real calendar date")]
    NotADate(String),
    #[error("dateOfBirth {born} must be before today ({today}, UTC)")]
    NotInThePast { born: NaiveDate, today: NaiveDate },
}

/// Parses a date of birth written strictly `YYYY-MM-DD` and checks it is before `today`.
pub fn parse_date_of_birth(text: &str, today: NaiveDate) -> Result<NaiveDate, DateOfBirthError> {
    let bytes = text.as_bytes();
    let well_formed = bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !well_formed {
        return Err(DateOfBirthError::Format(text.to_owned()));
    }
    let number = |range: std::ops::Range<usize>| text[range].parse::<u32>().ok();
    let date = match (number(0..4), number(5..7), number(8..10)) {
        (Some(y), Some(m), Some(d)) => i32::try_from(y).ok().and_then(|y| NaiveDate::from_ymd_opt(y, m, d)),
        _ => None,
    }
    .ok_or_else(|| DateOfBirthError::NotADate(text.to_owned()))?;
    if date >= today {
        return Err(DateOfBirthError::NotInThePast { born: date, today });
    }
    Ok(date)
}

/// The day someone born on `born` celebrates in `year`: 29 February falls on 28 February in non-leap years.
fn birthday_in(year: i32, born: NaiveDate) -> NaiveDate {
    born.with_year(year)
        .or_else(|| NaiveDate::from_ymd_opt(year, 2, 28))
        .unwrap_or(NaiveDate::MAX)
}

/// Whole days from `today` until the next birthday of someone born on `born`; 0 on the day itself.
pub fn days_until_birthday(born: NaiveDate, today: NaiveDate) -> u32 {
    let this_year = birthday_in(today.year(), born);
    let next = if this_year >= today {
        this_year
    } else {
        birthday_in(today.year().saturating_add(1), born)
    };
    u32::try_from((next - today).num_days()).unwrap_or(0)
}

/// The greeting the API answers for a known user.
pub fn greeting(user: &Username, born: NaiveDate, today: NaiveDate) -> String {
    match days_until_birthday(born, today) {
        0 => format!("Hello, {user}! Happy birthday!"),
        1 => format!("Hello, {user}! Your birthday is in 1 day"),
        n => format!("Hello, {user}! Your birthday is in {n} days"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default()
    }

    #[test]
    fn usernames_of_letters_are_accepted_including_unicode() {
        for ok in [
            "a",
            "Alice",
            "Zoë",
            "Ørjan",
            "Łukasz",
            "李雷",
            "Σωκράτης",
            &"a".repeat(64),
        ] {
            assert_eq!(Username::parse(ok).map(|u| u.0), Ok(ok.nfc().collect()), "{ok}");
        }
    }

    #[test]
    fn usernames_with_anything_but_letters_are_refused() {
        assert_eq!(Username::parse(""), Err(UsernameError::Empty));
        assert_eq!(Username::parse(&"a".repeat(65)), Err(UsernameError::TooLong(65)));
        for (bad, c) in [
            ("al1ce", '1'),
            ("al ice", ' '),
            ("al-ice", '-'),
            ("bob_", '_'),
            ("x😀", '😀'),
            ("a/b", '/'),
            // Alphabetic but not letters: letter numbers (Nl) and combining marks (Mn, Mc) that NFC leaves alone.
            ("\u{2160}", '\u{2160}'),
            ("a\u{3007}", '\u{3007}'),
            ("\u{0345}", '\u{0345}'),
            ("q\u{0308}", '\u{0308}'),
            ("\u{0903}", '\u{0903}'),
        ] {
            assert_eq!(Username::parse(bad), Err(UsernameError::NotALetter(c)), "{bad}");
        }
    }

    #[test]
    fn length_is_counted_in_letters_not_bytes() {
        assert!(Username::parse(&"ë".repeat(64)).is_ok());
        assert_eq!(Username::parse(&"ë".repeat(65)), Err(UsernameError::TooLong(65)));
    }

    #[test]
    fn decomposed_and_precomposed_spellings_are_one_user() {
        let precomposed = Username::parse("Zo\u{00eb}").unwrap_or_else(|e| panic!("{e}"));
        let decomposed = Username::parse("Zoe\u{0308}").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(precomposed, decomposed);
        assert_eq!(precomposed.key_hash(), decomposed.key_hash());
    }

    #[test]
    fn path_segments_are_percent_decoded_before_validation() {
        assert_eq!(Username::from_path_segment("Zo%C3%AB").map(|u| u.0), Ok("Zoë".into()));
        assert_eq!(
            Username::from_path_segment("a%20b"),
            Err(UsernameError::NotALetter(' '))
        );
        assert_eq!(
            Username::from_path_segment("a%2Fb"),
            Err(UsernameError::NotALetter('/'))
        );
        assert_eq!(Username::from_path_segment("%FF"), Err(UsernameError::BadEncoding));
    }

    #[test]
    fn key_hash_is_hex_sha256_of_the_username() {
        let u = Username::parse("alice").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            u.key_hash(),
            "2bd806c97f0e00af1a1fc3328fa763a9269723c8db8fac4f93af71db186d6e90"
        );
    }

    #[test]
    fn dates_must_be_strictly_yyyy_mm_dd() {
        let today = d(2026, 11, 23);
        assert_eq!(parse_date_of_birth("1990-01-05", today), Ok(d(1990, 1, 5)));
        for bad in [
            "1990-1-5",
            "90-01-05",
            "1990/01/05",
            "19900105",
            " 1990-01-05",
            "1990-01-05T00:00:00Z",
            "+1990-01-05",
            "１９９０-01-05",
            "",
        ] {
            assert_eq!(
                parse_date_of_birth(bad, today),
                Err(DateOfBirthError::Format(bad.into())),
                "{bad}"
            );
        }
        for bad in ["1990-02-30", "1990-13-01", "1990-00-10", "1990-01-00", "2023-02-29"] {
            assert_eq!(
                parse_date_of_birth(bad, today),
                Err(DateOfBirthError::NotADate(bad.into())),
                "{bad}"
            );
        }
        assert_eq!(parse_date_of_birth("2024-02-29", today), Ok(d(2024, 2, 29)));
    }

    #[test]
    fn dates_must_be_before_today() {
        let today = d(2026, 11, 23);
        assert_eq!(parse_date_of_birth("2026-11-22", today), Ok(d(2026, 11, 22)));
        for bad in ["2026-11-23", "2026-11-24", "2999-01-01"] {
            assert!(
                matches!(
                    parse_date_of_birth(bad, today),
                    Err(DateOfBirthError::NotInThePast { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn days_until_counts_to_the_next_birthday() {
        assert_eq!(days_until_birthday(d(1990, 11, 24), d(2026, 11, 23)), 1);
        assert_eq!(days_until_birthday(d(1990, 12, 25), d(2026, 11, 23)), 32);
        // already passed this year: next year's
        assert_eq!(days_until_birthday(d(1990, 11, 22), d(2026, 11, 23)), 364);
        assert_eq!(days_until_birthday(d(1990, 11, 22), d(2027, 11, 23)), 365); // 2028 is leap
    }

    #[test]
    fn the_day_itself_is_zero_days_away() {
        assert_eq!(days_until_birthday(d(1990, 11, 23), d(2026, 11, 23)), 0);
        assert_eq!(days_until_birthday(d(2000, 1, 1), d(2026, 1, 1)), 0);
    }

    #[test]
    fn new_year_wraps_from_31_december_to_1_january() {
        assert_eq!(days_until_birthday(d(1990, 1, 1), d(2026, 12, 31)), 1);
        assert_eq!(days_until_birthday(d(1990, 12, 31), d(2026, 12, 31)), 0);
        assert_eq!(days_until_birthday(d(1990, 12, 31), d(2027, 1, 1)), 364);
    }

    #[test]
    fn leap_day_birthdays_fall_on_28_february_in_common_years() {
        let leapling = d(2000, 2, 29);
        assert_eq!(days_until_birthday(leapling, d(2026, 2, 28)), 0);
        assert_eq!(days_until_birthday(leapling, d(2026, 2, 27)), 1);
        assert_eq!(days_until_birthday(leapling, d(2028, 2, 28)), 1); // 2028 is leap: the 29th
        assert_eq!(days_until_birthday(leapling, d(2028, 2, 29)), 0);
        assert_eq!(days_until_birthday(leapling, d(2026, 3, 1)), 364); // to 2027-02-28
        assert_eq!(days_until_birthday(leapling, d(2027, 3, 1)), 365); // to 2028-02-29
    }

    #[test]
    fn leap_years_lengthen_the_wait_across_february() {
        assert_eq!(days_until_birthday(d(1990, 3, 1), d(2028, 2, 1)), 29);
        assert_eq!(days_until_birthday(d(1990, 3, 1), d(2027, 2, 1)), 28);
    }

    #[test]
    fn greeting_says_happy_birthday_on_the_day_and_counts_otherwise() {
        let u = Username::parse("Zoë").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            greeting(&u, d(1990, 11, 23), d(2026, 11, 23)),
            "Hello, Zoë! Happy birthday!"
        );
        assert_eq!(
            greeting(&u, d(1990, 11, 24), d(2026, 11, 23)),
            "Hello, Zoë! Your birthday is in 1 day"
        );
        assert_eq!(
            greeting(&u, d(1990, 11, 28), d(2026, 11, 23)),
            "Hello, Zoë! Your birthday is in 5 days"
        );
    }
}
