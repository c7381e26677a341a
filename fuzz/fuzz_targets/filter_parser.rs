//! Google's `filters` grammar on arbitrary text. Must never panic, and whatever parses must print
//! back to text that parses to the same filters.
#![no_main]

use authtrail_model::filters;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(parsed) = filters::parse(text) {
        let printed = filters::to_string(&parsed);
        assert_eq!(
            filters::parse(&printed).as_ref(),
            Ok(&parsed),
            "{text:?} printed as {printed:?}"
        );
    }
});
