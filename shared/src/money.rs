//! Money in integer minor units (cents, fen, yen, fils).
//!
//! Amounts cross the edge as exact decimal text and become `i64` minor units. No floating point
//! anywhere: a refund of 19.99 is 1999, never 1998.9999. Text that cannot be represented exactly
//! in the currency's minor unit is refused, never rounded, because a silently rounded refund is
//! a disagreement with the storefront that nobody notices.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An ISO 4217 currency code, upper case (`CNY`, `USD`, `JPY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

/// Currencies without a minor unit in use.
const NO_MINOR_UNIT: [&str; 16] = [
    "JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF", "PYG", "RWF", "KMF", "GNF", "VUV",
    "XPF", "DJF", "BIF",
];

/// Currencies with three decimal places (fils, baisa, millimes, dirhams).
const THREE_DECIMALS: [&str; 7] = ["BHD", "KWD", "OMR", "JOD", "TND", "IQD", "LYD"];

impl Currency {
    /// Three ASCII letters, either case (`"cny"` is `CNY`: some platforms send lower case).
    pub fn parse(raw: &str) -> Result<Currency, MoneyError> {
        match raw.as_bytes() {
            [a, b, c] if [a, b, c].iter().all(|byte| byte.is_ascii_alphabetic()) => Ok(Currency([
                a.to_ascii_uppercase(),
                b.to_ascii_uppercase(),
                c.to_ascii_uppercase(),
            ])),
            _ => Err(MoneyError::InvalidCurrency(raw.to_string())),
        }
    }

    pub fn as_str(&self) -> &str {
        // Only `parse` builds a Currency, and it admits ASCII letters alone.
        std::str::from_utf8(&self.0).expect("a currency code is ASCII letters")
    }

    /// Decimal places of the minor unit: 0 for JPY and friends, 3 for the dinars, else 2.
    pub fn minor_digits(self) -> u32 {
        let code = self.as_str();
        if NO_MINOR_UNIT.contains(&code) {
            0
        } else if THREE_DECIMALS.contains(&code) {
            3
        } else {
            2
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Currency::parse(raw)
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Currency::parse(&raw)
    }
}

impl From<Currency> for String {
    fn from(currency: Currency) -> Self {
        currency.as_str().to_string()
    }
}

/// Why a currency code or an amount is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("currency {0:?} is not a three-letter ISO 4217 code")]
    InvalidCurrency(String),
    #[error("amount is empty")]
    Empty,
    #[error("amount {0:?} is not a plain decimal number (digits, optionally a point and digits)")]
    NotDecimal(String),
    #[error("amount {0:?} is negative")]
    Negative(String),
    #[error(
        "amount {amount:?} has more decimal places than {currency} has ({digits}); refusing to round"
    )]
    TooPrecise {
        amount: String,
        currency: Currency,
        digits: u32,
    },
    #[error("amount {0:?} is too large")]
    Overflow(String),
    #[error("amount must be a decimal string or a number, not {0}")]
    NotAnAmount(&'static str),
}

/// Minor units as exact decimal text with the currency's minor digits, as people and
/// spreadsheets read amounts: 20000 CNY is `"200.00"`, 1980 JPY `"1980"`, 1234 KWD `"1.234"`.
pub fn format_amount(minor: i64, currency: Currency) -> String {
    let digits = currency.minor_digits();
    let sign = if minor < 0 { "-" } else { "" };
    let magnitude = minor.unsigned_abs();
    if digits == 0 {
        return format!("{sign}{magnitude}");
    }
    let scale = 10_u64.pow(digits);
    format!(
        "{sign}{}.{:0width$}",
        magnitude / scale,
        magnitude % scale,
        width = digits as usize
    )
}

/// Exact decimal text to minor units of `currency`: `"199.00"`, `"199"` and `" 199.0 "` are all
/// 19900 for CNY. Extra decimal places are accepted only when they are zeros (`"1.230"`).
pub fn parse_amount(text: &str, currency: Currency) -> Result<i64, MoneyError> {
    let amount = text.trim();
    if amount.is_empty() {
        return Err(MoneyError::Empty);
    }
    if let Some(magnitude) = amount.strip_prefix('-') {
        return Err(if split_decimal(magnitude).is_some() {
            MoneyError::Negative(amount.to_string())
        } else {
            MoneyError::NotDecimal(amount.to_string())
        });
    }
    let (whole, fraction) =
        split_decimal(amount).ok_or_else(|| MoneyError::NotDecimal(amount.to_string()))?;

    let digits = currency.minor_digits();
    let kept_len = fraction.len().min(digits as usize);
    let (kept, dropped) = fraction.split_at(kept_len);
    if dropped.bytes().any(|byte| byte != b'0') {
        return Err(MoneyError::TooPrecise {
            amount: amount.to_string(),
            currency,
            digits,
        });
    }
    let padding = std::iter::repeat_n(b'0', digits as usize - kept_len);
    whole
        .bytes()
        .chain(kept.bytes())
        .chain(padding)
        .try_fold(0_i64, |minor, digit| {
            minor
                .checked_mul(10)
                .and_then(|shifted| shifted.checked_add(i64::from(digit - b'0')))
        })
        .ok_or_else(|| MoneyError::Overflow(amount.to_string()))
}

/// `digits` or `digits.digits`, nothing else (no sign, exponent, separators or bare points).
fn split_decimal(text: &str) -> Option<(&str, &str)> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let all_digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    let fraction_ok = if text.contains('.') {
        !fraction.is_empty() && all_digits(fraction)
    } else {
        true
    };
    (!whole.is_empty() && all_digits(whole) && fraction_ok).then_some((whole, fraction))
}

/// A JSON string or number to minor units. WooCommerce sends some prices as JSON numbers
/// (`19.99`); those are read through the number's own decimal text (serde_json's shortest
/// representation), so `19.99` is 1999 and an inexact float such as `16.666666666666668` is
/// refused rather than rounded.
pub fn parse_json_amount(value: &Value, currency: Currency) -> Result<i64, MoneyError> {
    match value {
        Value::String(text) => parse_amount(text, currency),
        Value::Number(number) => parse_amount(&number.to_string(), currency),
        Value::Null => Err(MoneyError::NotAnAmount("null")),
        Value::Bool(_) => Err(MoneyError::NotAnAmount("a boolean")),
        Value::Array(_) => Err(MoneyError::NotAnAmount("an array")),
        Value::Object(_) => Err(MoneyError::NotAnAmount("an object")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn currency(code: &str) -> Currency {
        Currency::parse(code).unwrap()
    }

    #[test]
    fn currency_codes_are_three_letters_in_either_case() {
        assert_eq!(currency("cny").as_str(), "CNY");
        assert_eq!(currency("Usd"), currency("USD"));
        assert_eq!("eur".parse::<Currency>().unwrap().to_string(), "EUR");
        for bad in ["", "US", "USDT", "U5D", "€UR", " USD"] {
            assert_eq!(
                Currency::parse(bad),
                Err(MoneyError::InvalidCurrency(bad.to_string())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn currency_serialises_as_its_code() {
        assert_eq!(serde_json::to_string(&currency("jpy")).unwrap(), "\"JPY\"");
        assert_eq!(
            serde_json::from_str::<Currency>("\"krw\"").unwrap(),
            currency("KRW")
        );
        assert!(serde_json::from_str::<Currency>("\"KRWX\"").is_err());
    }

    #[test]
    fn minor_digits_follow_iso_4217() {
        for code in ["JPY", "KRW", "VND", "CLP", "ISK", "XOF", "BIF"] {
            assert_eq!(currency(code).minor_digits(), 0, "{code}");
        }
        for code in ["BHD", "KWD", "OMR", "JOD", "TND", "IQD", "LYD"] {
            assert_eq!(currency(code).minor_digits(), 3, "{code}");
        }
        for code in ["CNY", "USD", "EUR", "GBP", "HKD", "SGD"] {
            assert_eq!(currency(code).minor_digits(), 2, "{code}");
        }
    }

    #[test]
    fn two_decimal_currencies() {
        let cny = currency("CNY");
        assert_eq!(parse_amount("199.00", cny), Ok(19900));
        assert_eq!(parse_amount("199", cny), Ok(19900));
        assert_eq!(parse_amount("199.5", cny), Ok(19950));
        assert_eq!(parse_amount("0.01", cny), Ok(1));
        assert_eq!(parse_amount("0", cny), Ok(0));
        assert_eq!(parse_amount("007.50", cny), Ok(750));
        assert_eq!(parse_amount("1.230", cny), Ok(123));
    }

    #[test]
    fn zero_decimal_currencies() {
        let jpy = currency("JPY");
        assert_eq!(parse_amount("1980", jpy), Ok(1980));
        assert_eq!(parse_amount("1980.00", jpy), Ok(1980));
        assert!(matches!(
            parse_amount("1980.5", jpy),
            Err(MoneyError::TooPrecise { digits: 0, .. })
        ));
    }

    #[test]
    fn three_decimal_currencies() {
        let kwd = currency("KWD");
        assert_eq!(parse_amount("1.234", kwd), Ok(1234));
        assert_eq!(parse_amount("1.2", kwd), Ok(1200));
        assert_eq!(parse_amount("12", kwd), Ok(12000));
        assert_eq!(parse_amount("1.2340", kwd), Ok(1234));
        assert!(matches!(
            parse_amount("1.2345", kwd),
            Err(MoneyError::TooPrecise { digits: 3, .. })
        ));
    }

    #[test]
    fn refuses_to_round() {
        let usd = currency("USD");
        assert_eq!(
            parse_amount("0.001", usd),
            Err(MoneyError::TooPrecise {
                amount: "0.001".into(),
                currency: usd,
                digits: 2
            })
        );
        assert!(parse_amount("19.995", usd).is_err());
    }

    #[test]
    fn surrounding_whitespace_is_ignored_inner_is_not() {
        let usd = currency("USD");
        assert_eq!(parse_amount(" 12.30 ", usd), Ok(1230));
        assert_eq!(parse_amount("\t12.30\n", usd), Ok(1230));
        assert!(matches!(
            parse_amount("12 .30", usd),
            Err(MoneyError::NotDecimal(_))
        ));
        assert_eq!(parse_amount("   ", usd), Err(MoneyError::Empty));
    }

    #[test]
    fn negative_amounts_are_refused() {
        let usd = currency("USD");
        assert_eq!(
            parse_amount("-5.00", usd),
            Err(MoneyError::Negative("-5.00".into()))
        );
        assert_eq!(
            parse_amount(" -1 ", usd),
            Err(MoneyError::Negative("-1".into()))
        );
        assert!(matches!(
            parse_amount("-abc", usd),
            Err(MoneyError::NotDecimal(_))
        ));
    }

    #[test]
    fn anything_but_plain_decimals_is_refused() {
        let usd = currency("USD");
        for bad in [
            "1e5", "abc", "1.2.3", "+5", "1,000.00", ".5", "5.", "$5", "0x10", "١٢", "NaN",
        ] {
            assert!(
                matches!(parse_amount(bad, usd), Err(MoneyError::NotDecimal(_))),
                "{bad:?} -> {:?}",
                parse_amount(bad, usd)
            );
        }
        assert_eq!(parse_amount("", usd), Err(MoneyError::Empty));
    }

    #[test]
    fn overflow_is_an_error_at_the_exact_edge() {
        let usd = currency("USD");
        assert_eq!(parse_amount("92233720368547758.07", usd), Ok(i64::MAX));
        assert_eq!(
            parse_amount("92233720368547758.08", usd),
            Err(MoneyError::Overflow("92233720368547758.08".into()))
        );
        let jpy = currency("JPY");
        assert_eq!(parse_amount("9223372036854775807", jpy), Ok(i64::MAX));
        assert!(matches!(
            parse_amount("99999999999999999999999", jpy),
            Err(MoneyError::Overflow(_))
        ));
        // Leading zeros do not count towards overflow.
        assert_eq!(parse_amount("000000000000000000000001.00", usd), Ok(100));
    }

    #[test]
    fn json_strings_and_numbers() {
        let usd = currency("USD");
        assert_eq!(parse_json_amount(&json!("19.99"), usd), Ok(1999));
        assert_eq!(parse_json_amount(&json!(19.99), usd), Ok(1999));
        assert_eq!(parse_json_amount(&json!(35), usd), Ok(3500));
        assert_eq!(parse_json_amount(&json!(35.0), usd), Ok(3500));
        assert_eq!(parse_json_amount(&json!(0.1), usd), Ok(10));
        let woo_price: Value = serde_json::from_str("195.67").unwrap();
        assert_eq!(parse_json_amount(&woo_price, usd), Ok(19567));
        // An inexact float (50.00 / 3 in PHP) is refused, not rounded.
        assert!(matches!(
            parse_json_amount(&json!(50.0 / 3.0), usd),
            Err(MoneyError::TooPrecise { .. })
        ));
        assert!(matches!(
            parse_json_amount(&json!(-2), usd),
            Err(MoneyError::Negative(_))
        ));
        assert!(matches!(
            parse_json_amount(&json!(1e21), usd),
            Err(MoneyError::NotDecimal(_))
        ));
        assert_eq!(
            parse_json_amount(&Value::Null, usd),
            Err(MoneyError::NotAnAmount("null"))
        );
        assert_eq!(
            parse_json_amount(&json!(true), usd),
            Err(MoneyError::NotAnAmount("a boolean"))
        );
        assert_eq!(
            parse_json_amount(&json!({"amount": "1.00"}), usd),
            Err(MoneyError::NotAnAmount("an object"))
        );
    }

    #[test]
    fn errors_read_clearly() {
        let err = parse_amount("1.005", currency("USD")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "amount \"1.005\" has more decimal places than USD has (2); refusing to round"
        );
    }
}
