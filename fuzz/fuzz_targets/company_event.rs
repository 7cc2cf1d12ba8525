//! Company webhook bodies: any bytes parse or are refused; a parsed event always has a
//! non-empty dedupe key (it is what stores an event once).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = fluid::company_events::parse(data) {
        assert!(!event.dedupe_key.is_empty());
    }
});
