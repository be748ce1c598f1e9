//! Any string: an error or a value, never a panic; and the milli value is the value scaled.
#![no_main]

use _core::quantity::{parse_milli_value, parse_value};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let value = parse_value(text);
    let milli = parse_milli_value(text);
    if let (Ok(v), Ok(m)) = (&value, &milli) {
        // Value() rounds up whole units: |milli|/1000 rounded up, with milli's sign.
        let magnitude = i64::try_from(m.unsigned_abs().div_ceil(1000)).expect("fits");
        let expected = if *m >= 0 { magnitude } else { -magnitude };
        assert_eq!(*v, expected, "{text:?}");
    }
    if milli.is_ok() {
        assert!(value.is_ok(), "{text:?}: milli fits but value does not");
    }
});
