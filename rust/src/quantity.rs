//! Strict Kubernetes resource quantities (`resource.Quantity`), as the apiserver writes them.
//!
//! Grammar: `[+-] digits [. digits] suffix`, where the suffix is a decimal SI prefix
//! (`n u m "" k M G T P E`), a binary one (`Ki Mi Gi Ti Pi Ei`) or a decimal exponent
//! (`e3`, `E-2`). Values are converted the way kube-scheduler reads them: cpu with
//! `MilliValue()`, everything else with `Value()`, both rounding up. The arithmetic is exact on
//! integers and every step is overflow-checked, so a hostile string yields an error, never a
//! wrong number or a panic.

use std::fmt;

use crate::bounded::quoted;

/// Longer strings are rejected before parsing: no real quantity comes close.
pub const MAX_LEN: usize = 64;
/// Significant digits kept exactly (u128 holds 38).
const MAX_DIGITS: usize = 38;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuantityError {
    pub text: String,
    pub why: &'static str,
}

impl fmt::Display for QuantityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid quantity {}: {}", quoted(&self.text), self.why)
    }
}

impl std::error::Error for QuantityError {}

/// A parsed quantity: `sign * digits * 10^exp10 * 2^exp2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Parsed {
    negative: bool,
    digits: u128,
    exp10: i32,
    exp2: u32,
}

fn fail(text: &str, why: &'static str) -> QuantityError {
    QuantityError {
        text: text.chars().take(MAX_LEN + 8).collect(),
        why,
    }
}

fn parse(text: &str) -> Result<Parsed, QuantityError> {
    if text.is_empty() {
        return Err(fail(text, "empty"));
    }
    if text.len() > MAX_LEN {
        return Err(fail(text, "too long"));
    }
    let bytes = text.as_bytes();
    let mut pos = 0;
    let negative = match bytes.first() {
        Some(b'-') => {
            pos += 1;
            true
        }
        Some(b'+') => {
            pos += 1;
            false
        }
        _ => false,
    };
    let int_start = pos;
    while pos < bytes.len() && bytes[pos].is_ascii_digit() {
        pos += 1;
    }
    let int_part = &text[int_start..pos];
    let mut frac_part = "";
    if pos < bytes.len() && bytes[pos] == b'.' {
        pos += 1;
        let frac_start = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_digit() {
            pos += 1;
        }
        frac_part = &text[frac_start..pos];
    }
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(fail(text, "no digits"));
    }
    let (exp10_suffix, exp2) = suffix(&text[pos..]).ok_or_else(|| fail(text, "unknown suffix"))?;

    // Exact mantissa: leading zeros add nothing, trailing fractional zeros neither.
    let frac_trimmed = frac_part.trim_end_matches('0');
    let all_digits = int_part.bytes().chain(frac_trimmed.bytes());
    let mut digits: u128 = 0;
    let mut significant = 0usize;
    for d in all_digits {
        if significant == 0 && d == b'0' {
            continue;
        }
        significant += 1;
        if significant > MAX_DIGITS {
            return Err(fail(text, "too many significant digits"));
        }
        digits = digits * 10 + u128::from(d - b'0');
    }
    let frac_len = i32::try_from(frac_trimmed.len()).map_err(|_| fail(text, "too long"))?;
    Ok(Parsed {
        negative,
        digits,
        exp10: exp10_suffix - frac_len,
        exp2,
    })
}

/// The suffix's power of ten and power of two, or None when it is not a valid suffix.
fn suffix(s: &str) -> Option<(i32, u32)> {
    let known = match s {
        "" => Some((0, 0)),
        "n" => Some((-9, 0)),
        "u" => Some((-6, 0)),
        "m" => Some((-3, 0)),
        "k" => Some((3, 0)),
        "M" => Some((6, 0)),
        "G" => Some((9, 0)),
        "T" => Some((12, 0)),
        "P" => Some((15, 0)),
        "E" => Some((18, 0)),
        "Ki" => Some((0, 10)),
        "Mi" => Some((0, 20)),
        "Gi" => Some((0, 30)),
        "Ti" => Some((0, 40)),
        "Pi" => Some((0, 50)),
        "Ei" => Some((0, 60)),
        _ => None,
    };
    if known.is_some() {
        return known;
    }
    // Decimal exponent: e or E followed by a signed integer.
    let rest = s.strip_prefix('e').or_else(|| s.strip_prefix('E'))?;
    let unsigned = rest.strip_prefix(['+', '-']).unwrap_or(rest);
    if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) || unsigned.len() > 4 {
        return None;
    }
    rest.parse::<i32>().ok().map(|e| (e, 0))
}

/// `ceil(parsed * 10^scale10)` as i64, exact, or an error when it does not fit.
fn scaled(text: &str, p: Parsed, scale10: i32) -> Result<i64, QuantityError> {
    let overflow = || fail(text, "out of range");
    if p.digits == 0 {
        return Ok(0);
    }
    let exp10 = p.exp10.checked_add(scale10).ok_or_else(overflow)?;
    let pow2 = 1u128.checked_shl(p.exp2).ok_or_else(overflow)?;
    let mut value = p.digits.checked_mul(pow2).ok_or_else(overflow)?;
    if exp10 >= 0 {
        let pow10 = 10u128
            .checked_pow(u32::try_from(exp10).map_err(|_| overflow())?)
            .ok_or_else(overflow)?;
        value = value.checked_mul(pow10).ok_or_else(overflow)?;
    } else {
        let divisor = u32::try_from(-exp10)
            .ok()
            .and_then(|e| 10u128.checked_pow(e));
        value = match divisor {
            // Below one unit but not zero: rounds up to one.
            None => 1,
            Some(d) => value.div_ceil(d),
        };
    }
    let magnitude = i64::try_from(value).map_err(|_| overflow())?;
    // Rounding up a negative number moves it away from zero, as resource.Quantity does.
    Ok(if p.negative { -magnitude } else { magnitude })
}

/// `Quantity.Value()`: whole units, rounded up.
pub fn parse_value(text: &str) -> Result<i64, QuantityError> {
    scaled(text, parse(text)?, 0)
}

/// `Quantity.MilliValue()`: thousandths, rounded up (cpu millicores).
pub fn parse_milli_value(text: &str) -> Result<i64, QuantityError> {
    scaled(text, parse(text)?, 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_decimal_si() {
        assert_eq!(parse_value("0"), Ok(0));
        assert_eq!(parse_value("42"), Ok(42));
        assert_eq!(parse_value("+7"), Ok(7));
        assert_eq!(parse_value("1k"), Ok(1_000));
        assert_eq!(parse_value("3M"), Ok(3_000_000));
        assert_eq!(parse_value("2G"), Ok(2_000_000_000));
        assert_eq!(parse_value("1T"), Ok(1_000_000_000_000));
        assert_eq!(parse_value("1P"), Ok(1_000_000_000_000_000));
        assert_eq!(parse_value("1E"), Ok(1_000_000_000_000_000_000));
    }

    #[test]
    fn binary_suffixes() {
        assert_eq!(parse_value("1Ki"), Ok(1024));
        assert_eq!(parse_value("200Mi"), Ok(200 * 1024 * 1024));
        assert_eq!(parse_value("1.5Gi"), Ok(3 * 512 * 1024 * 1024));
        assert_eq!(parse_value("1Ti"), Ok(1 << 40));
        assert_eq!(parse_value("1Pi"), Ok(1 << 50));
        assert_eq!(parse_value("1Ei"), Ok(1 << 60));
        assert!(parse_value("8Ei").is_err(), "2^63 does not fit in i64");
    }

    #[test]
    fn cpu_millicores_round_up() {
        assert_eq!(parse_milli_value("1"), Ok(1000));
        assert_eq!(parse_milli_value("0.5"), Ok(500));
        assert_eq!(parse_milli_value(".5"), Ok(500));
        assert_eq!(parse_milli_value("250m"), Ok(250));
        assert_eq!(parse_milli_value("0.1m"), Ok(1));
        assert_eq!(parse_milli_value("1n"), Ok(1));
        assert_eq!(parse_milli_value("1500u"), Ok(2));
        assert_eq!(parse_milli_value("1.0001"), Ok(1001));
        assert_eq!(parse_milli_value("2.000"), Ok(2000));
    }

    #[test]
    fn units_round_up() {
        assert_eq!(parse_value("1.5"), Ok(2));
        assert_eq!(parse_value("100m"), Ok(1));
        assert_eq!(parse_value("1000m"), Ok(1));
        assert_eq!(parse_value("1001m"), Ok(2));
        assert_eq!(parse_value("0.000000000000000000000000000001"), Ok(1));
    }

    #[test]
    fn exponents() {
        assert_eq!(parse_value("1e3"), Ok(1000));
        assert_eq!(parse_value("1E3"), Ok(1000));
        assert_eq!(parse_value("12e+2"), Ok(1200));
        assert_eq!(parse_value("15e-1"), Ok(2));
        assert_eq!(parse_milli_value("5e-3"), Ok(5));
        assert!(parse_value("1e").is_err());
        assert!(parse_value("1e+").is_err());
        assert!(parse_value("1e99999").is_err());
    }

    #[test]
    fn signs() {
        assert_eq!(parse_value("-1"), Ok(-1));
        assert_eq!(parse_value("-1.5"), Ok(-2));
        assert_eq!(parse_milli_value("-0.1"), Ok(-100));
        assert_eq!(parse_value("-0"), Ok(0));
    }

    #[test]
    fn leading_zeros_do_not_count_as_digits() {
        assert_eq!(
            parse_value("000000000000000000000000000000000000000000000012"),
            Ok(12)
        );
    }

    #[test]
    fn malformed_are_errors_naming_the_text() {
        for bad in [
            "", "x", "1x", "1.2.3", "--1", "1Kb", "1 ", " 1", "+", "-", ".", "1mi", "ki",
        ] {
            let err = parse_value(bad).expect_err(bad);
            assert_eq!(err.text, bad);
            assert!(err.to_string().contains(&format!("{bad:?}")));
        }
    }

    #[test]
    fn overflow_and_length_are_bounded() {
        assert!(parse_value("9223372036854775807").is_ok());
        assert!(parse_value("9223372036854775808").is_err());
        assert!(parse_milli_value("9223372036854776").is_err());
        assert!(parse_value("99999999999999999999999999999999999999999").is_err());
        let long = "1".repeat(MAX_LEN + 1);
        assert_eq!(parse_value(&long).unwrap_err().why, "too long");
        assert!(parse_value("1000000000000E").is_err());
    }
}
