//! The holder's basic four attributes (基本4情報) as they appear on the card
//! and in the signature certificate (jpki-profiles.md §1.4).

use serde::{Deserialize, Serialize};

/// 性別, JIS X 0303 code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    /// `1`.
    Male,
    /// `2`.
    Female,
    /// `9`: not applicable.
    NotApplicable,
}

impl Sex {
    /// The one-digit code.
    pub fn code(self) -> char {
        match self {
            Sex::Male => '1',
            Sex::Female => '2',
            Sex::NotApplicable => '9',
        }
    }

    /// Parses `1`, `2`, `9`, `male`, `female` or `na`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "1" | "male" | "m" => Ok(Sex::Male),
            "2" | "female" | "f" => Ok(Sex::Female),
            "9" | "na" | "not-applicable" => Ok(Sex::NotApplicable),
            _ => Err(format!("sex {s:?}: use 1 (male), 2 (female) or 9 (not applicable)")),
        }
    }
}

/// A card holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Holder {
    /// 氏名, as on the resident register.
    pub name: String,
    /// 住所.
    pub address: String,
    /// 生年月日, Gregorian `YYYYMMDD`.
    pub birth: String,
    /// 性別.
    pub sex: Sex,
    /// Prefecture, romanised, for the signature certificate's subject (`Tokyo`).
    pub prefecture: String,
    /// Municipality, romanised (`Chiyoda-ku`).
    pub municipality: String,
}

impl Holder {
    /// A fictitious holder for demonstrations and benchmarks (公的 個人, born
    /// 1985-04-01, Chiyoda-ku).
    pub fn example() -> Self {
        Self {
            name: "公的 個人".into(),
            address: "東京都千代田区霞が関二丁目1番2号".into(),
            birth: "19850401".into(),
            sex: Sex::Female,
            prefecture: "Tokyo".into(),
            municipality: "Chiyoda-ku".into(),
        }
    }

    /// Checks the attribute formats; the error names the field to fix.
    pub fn validate(&self) -> Result<(), String> {
        if self.name.trim().is_empty() || self.address.trim().is_empty() {
            return Err("name and address must not be empty".into());
        }
        self.birth_date()?;
        for (what, v) in [("prefecture", &self.prefecture), ("municipality", &self.municipality)] {
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b" -'.".contains(&b)) {
                return Err(format!("{what} {v:?} must be romanised (ASCII letters, digits, '-')"));
            }
        }
        Ok(())
    }

    /// The birth date as (year, month, day).
    pub fn birth_date(&self) -> Result<time::Date, String> {
        let b = self.birth.as_bytes();
        let bad = || format!("birth date {:?} must be YYYYMMDD", self.birth);
        if b.len() != 8 || !b.iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        let num = |r: std::ops::Range<usize>| self.birth[r].parse::<i32>().map_err(|_| bad());
        let month = time::Month::try_from(num(4..6)? as u8).map_err(|_| bad())?;
        time::Date::from_calendar_date(num(0..4)?, month, num(6..8)? as u8).map_err(|_| bad())
    }

    /// 生年月日 as JPKI writes it in the certificate: `EYYYYMMDD`, E the era
    /// digit (1 明治, 2 大正, 3 昭和, 4 平成, 5 令和; 0 before 明治), then the
    /// Gregorian date (jpki-profiles.md §1.4).
    pub fn birth_with_era(&self) -> Result<String, String> {
        let d = self.birth_date()?;
        let key = (d.year(), d.month() as u8, d.day());
        let era = match key {
            k if k >= (2019, 5, 1) => '5',
            k if k >= (1989, 1, 8) => '4',
            k if k >= (1926, 12, 25) => '3',
            k if k >= (1912, 7, 30) => '2',
            k if k >= (1868, 10, 23) => '1',
            _ => '0',
        };
        Ok(format!("{era}{}", self.birth))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(birth: &str) -> Holder {
        Holder {
            name: "公的 個人".into(),
            address: "東京都千代田区".into(),
            birth: birth.into(),
            sex: Sex::Female,
            prefecture: "Tokyo".into(),
            municipality: "Chiyoda-ku".into(),
        }
    }

    #[test]
    fn era_digits() {
        assert_eq!(holder("19890107").birth_with_era().unwrap(), "319890107");
        assert_eq!(holder("19890108").birth_with_era().unwrap(), "419890108");
        assert_eq!(holder("20190501").birth_with_era().unwrap(), "520190501");
        assert_eq!(holder("19200101").birth_with_era().unwrap(), "219200101");
        assert!(holder("19891332").birth_with_era().is_err());
        assert!(holder("1989").validate().is_err());
        assert!(holder("19800101").validate().is_ok());
        assert_eq!(Sex::parse("female").unwrap().code(), '2');
    }
}
