//! Minimal Kubernetes quantity parsing for NRT resource amounts.
//!
//! Stand-in until the crate's strict `quantity.rs` is wired in: `nrt::resource_amount` is the
//! only caller, so switching parsers is a one-line change there.

/// Longest quantity text accepted; real quantities are a few characters long.
const MAX_LEN: usize = 64;

/// Parses `text` and returns its value rounded up to whole units, or to whole thousandths
/// when `milli` is set (cpu), as Kubernetes' `Value()` / `MilliValue()` do.
pub(crate) fn parse(text: &str, milli: bool) -> Result<i64, String> {
    let invalid = || format!("invalid quantity {text:?}");
    if text.is_empty() || text.len() > MAX_LEN {
        return Err(invalid());
    }
    let (negative, body) = match text.as_bytes()[0] {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let number_end = body
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(body.len());
    let (number, suffix) = body.split_at(number_end);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
        return Err(invalid());
    }
    let mut mantissa: i128 = 0;
    for digit in whole.bytes().chain(fraction.bytes()) {
        mantissa = mantissa
            .checked_mul(10)
            .and_then(|m| m.checked_add(i128::from(digit - b'0')))
            .ok_or_else(invalid)?;
    }
    let (decimal_exponent, binary_exponent) = suffix_exponents(suffix).ok_or_else(invalid)?;
    if negative && mantissa != 0 {
        return Err(format!("negative quantity {text:?}"));
    }
    let fraction_digits = i32::try_from(fraction.len()).map_err(|_| invalid())?;
    let exponent = decimal_exponent - fraction_digits + if milli { 3 } else { 0 };
    scale(mantissa, exponent, binary_exponent)
        .ok_or_else(|| format!("quantity {text:?} out of range"))
}

/// (power of ten, power of two) a suffix multiplies by; `None` for an unknown suffix.
fn suffix_exponents(suffix: &str) -> Option<(i32, u32)> {
    let binary = |power| Some((0, power));
    match suffix {
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
        "Ki" => binary(10),
        "Mi" => binary(20),
        "Gi" => binary(30),
        "Ti" => binary(40),
        "Pi" => binary(50),
        "Ei" => binary(60),
        _ => {
            let exponent = suffix.strip_prefix(['e', 'E'])?;
            let digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return None;
            }
            Some((exponent.parse().ok()?, 0))
        }
    }
}

/// `ceil(mantissa * 10^decimal * 2^binary)` as an i64, `None` on overflow.
fn scale(mantissa: i128, decimal: i32, binary: u32) -> Option<i64> {
    let mut value = mantissa.checked_mul(1i128.checked_shl(binary)?)?;
    if decimal >= 0 {
        value = value.checked_mul(10i128.checked_pow(decimal.unsigned_abs())?)?;
    } else {
        let divisor = 10i128.checked_pow(decimal.unsigned_abs());
        value = match divisor {
            Some(divisor) => (value + divisor - 1) / divisor,
            // Smaller than any representable unit: rounds up to one unless zero.
            None => i128::from(value > 0),
        };
    }
    i64::try_from(value).ok()
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn parses_plain_and_suffixed_values() {
        assert_eq!(parse("4", false), Ok(4));
        assert_eq!(parse("+4", false), Ok(4));
        assert_eq!(parse("2", true), Ok(2000));
        assert_eq!(parse("1500m", true), Ok(1500));
        assert_eq!(parse("1.5", true), Ok(1500));
        assert_eq!(parse("16Gi", false), Ok(16 << 30));
        assert_eq!(parse("1k", false), Ok(1000));
        assert_eq!(parse("1e3", false), Ok(1000));
        assert_eq!(parse("0", false), Ok(0));
        assert_eq!(parse("-0", false), Ok(0));
        assert_eq!(parse(".5", false), Ok(1));
    }

    #[test]
    fn rounds_fractions_up() {
        assert_eq!(parse("100m", false), Ok(1));
        assert_eq!(parse("1n", true), Ok(1));
        assert_eq!(parse("2.0001", false), Ok(3));
    }

    #[test]
    fn rejects_malformed_negative_and_huge() {
        for text in [
            "", "x", "1x", "1.2.3", ".", "1Ki2", "1e", "1e1234", "--1", "1 ",
        ] {
            assert!(parse(text, false).is_err(), "{text:?} should be rejected");
        }
        assert_eq!(
            parse("-1", false),
            Err("negative quantity \"-1\"".to_string())
        );
        assert!(parse("9999999999999999999", false).is_err());
        assert!(parse("16Ei", false).is_err());
        assert!(parse(&"1".repeat(65), false).is_err());
    }
}
