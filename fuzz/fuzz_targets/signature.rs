//! Signature headers and verification: any header values and body are refused or accepted without
//! a panic, and a request signed with the key at a fresh timestamp always verifies.
//! Input: `timestamp \n signature \n body`.
#![no_main]

use libfuzzer_sys::fuzz_target;

const KEY: &[u8] = b"dws_fuzz_secret";
const NOW: i64 = 1_800_000_000;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |b| *b == b'\n');
    let timestamp = parts.next().and_then(|p| std::str::from_utf8(p).ok());
    let signature = parts.next().and_then(|p| std::str::from_utf8(p).ok());
    let body = parts.next().unwrap_or_default();
    let _ = fluid::signature::verify(&[KEY], timestamp, signature, body, NOW);

    if let Some(timestamp) = timestamp {
        let signed = fluid::signature::sign(KEY, timestamp, body);
        let verified = fluid::signature::verify(&[KEY], Some(timestamp), Some(&signed), body, NOW);
        let fresh = !timestamp.is_empty()
            && timestamp.len() <= 12
            && timestamp.bytes().all(|b| b.is_ascii_digit())
            && timestamp.parse::<i64>().is_ok_and(|t| (t - NOW).abs() <= 300);
        if fresh {
            assert_eq!(verified.ok(), timestamp.parse().ok(), "a correctly signed request was refused");
        }
        // Another key never verifies it.
        assert!(fluid::signature::verify(&[b"dws_other"], Some(timestamp), Some(&signed), body, NOW).is_err());
    }
});
