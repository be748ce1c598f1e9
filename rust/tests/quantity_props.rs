//! Property tests of quantity parsing: exact on what the apiserver writes, an error (never a
//! panic, a wrong number or a long computation) on anything else.

use _core::quantity::{MAX_LEN, parse_milli_value, parse_value};
use proptest::prelude::*;

const DECIMAL: [(&str, u32); 7] = [
    ("", 0),
    ("k", 3),
    ("M", 6),
    ("G", 9),
    ("T", 12),
    ("P", 15),
    ("E", 18),
];
const BINARY: [(&str, u32); 6] = [
    ("Ki", 10),
    ("Mi", 20),
    ("Gi", 30),
    ("Ti", 40),
    ("Pi", 50),
    ("Ei", 60),
];

/// `ceil(|x|)` with x's sign, from the milli value (Value() from MilliValue()).
fn value_from_milli(milli: i64) -> i64 {
    // Magnitudes: -i64::MIN does not exist, but |milli| <= i64::MAX here (a parsed quantity
    // is symmetric around zero).
    let magnitude = milli.unsigned_abs().div_ceil(1000);
    let magnitude = i64::try_from(magnitude).expect("fits");
    if milli >= 0 { magnitude } else { -magnitude }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_text_is_an_error_or_a_consistent_value(text in "\\PC{0,80}") {
        let value = parse_value(&text);
        let milli = parse_milli_value(&text);
        if let Ok(m) = milli {
            prop_assert_eq!(value.clone(), Ok(value_from_milli(m)));
        }
        if let Err(e) = &value {
            prop_assert!(e.to_string().starts_with("invalid quantity"));
        }
        if text.len() > MAX_LEN {
            prop_assert!(value.is_err());
        }
    }

    #[test]
    fn grammar_shaped_text_is_an_error_or_a_consistent_value(
        text in "[+-]?[0-9]{0,25}(\\.[0-9]{0,25})?([numkMGTPE]|[KMGTPE]i|[eE][+-]?[0-9]{1,6})?"
    ) {
        let value = parse_value(&text);
        if let Ok(m) = parse_milli_value(&text) {
            prop_assert_eq!(value, Ok(value_from_milli(m)));
        }
    }

    #[test]
    fn integers_round_trip(n in 0i64..=i64::MAX) {
        prop_assert_eq!(parse_value(&n.to_string()), Ok(n));
        prop_assert_eq!(parse_value(&format!("+{n}")), Ok(n));
        prop_assert_eq!(parse_value(&format!("-{n}")), Ok(-n));
    }

    #[test]
    fn decimal_suffixes_scale_exactly_or_fail(n in 0i64..=i64::MAX, i in 0usize..DECIMAL.len()) {
        let (suffix, power) = DECIMAL[i];
        let expected = 10i64.checked_pow(power).and_then(|f| n.checked_mul(f));
        let parsed = parse_value(&format!("{n}{suffix}"));
        match expected {
            Some(v) => prop_assert_eq!(parsed, Ok(v)),
            None => prop_assert!(parsed.is_err()),
        }
    }

    #[test]
    fn binary_suffixes_scale_exactly_or_fail(n in 0i64..=i64::MAX, i in 0usize..BINARY.len()) {
        let (suffix, shift) = BINARY[i];
        let expected = n.checked_mul(1i64 << shift);
        let parsed = parse_value(&format!("{n}{suffix}"));
        match expected {
            Some(v) => prop_assert_eq!(parsed, Ok(v)),
            None => prop_assert!(parsed.is_err()),
        }
    }

    #[test]
    fn millicores_of_decimals_round_up(whole in 0i64..1_000_000, frac in "[0-9]{1,12}") {
        // whole.frac cores in millicores: the first three fraction digits, plus one if any
        // later digit is not zero.
        let padded = format!("{frac:0<3}");
        let (head, tail) = padded.split_at(3);
        let mut expected = whole * 1000 + head.parse::<i64>().unwrap();
        if tail.bytes().any(|d| d != b'0') {
            expected += 1;
        }
        prop_assert_eq!(parse_milli_value(&format!("{whole}.{frac}")), Ok(expected));
    }
}

#[test]
fn hostile_quantities_are_errors_naming_the_text() {
    for text in [
        "2E6024865272343",
        "1e9223372036854775807",
        "1e4294967297",
        "1.5.3Gi",
        "",
        "١٢٣",
        "１２",
        "9223372036854775808",
        "99999999999999999999999999999999999999999Ki",
    ] {
        let error = parse_value(text).expect_err(text);
        assert_eq!(error.text, text);
    }
    assert_eq!(parse_value("9223372036854775807"), Ok(i64::MAX));
    assert!(parse_milli_value("9223372036854775807").is_err());
}

#[test]
fn long_text_is_rejected_before_parsing() {
    let long = "9".repeat(10_000_000);
    assert_eq!(parse_value(&long).unwrap_err().why, "too long");
}
