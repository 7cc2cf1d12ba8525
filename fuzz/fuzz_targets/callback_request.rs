//! Callback request validation against each definition's JSON Schema: any JSON is judged without
//! a panic, and a valid `update_cart_shipping` request gets a schema-valid answer even with no
//! options.
#![no_main]

use std::sync::OnceLock;

use domain::callbacks::Callbacks;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn callbacks() -> &'static Callbacks {
    static CALLBACKS: OnceLock<Callbacks> = OnceLock::new();
    CALLBACKS.get_or_init(|| Callbacks::compile().expect("definitions compile"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(request) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    for definition in fluid::callbacks::definitions() {
        let compiled = callbacks().get(&definition.name).expect("compiled");
        let _ = compiled.request_violations(&request);
    }
    let shipping = callbacks().get("update_cart_shipping").expect("compiled");
    if shipping.request_violations(&request).is_empty() {
        let answer = domain::shipping::answer(&[], &request);
        assert_eq!(shipping.response_violations(&answer), Vec::<String>::new());
    }
});
