//! Lifecycle webhook bodies (flat or enveloped, v1 or v2): any bytes parse or are refused with an
//! error, never a panic.
#![no_main]

use fluid::lifecycle::{LifecycleKind, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse(LifecycleKind::Installed, data);
    let _ = parse(LifecycleKind::Uninstalled, data);
});
