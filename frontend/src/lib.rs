//! Hydrates the server-rendered admin UI in the browser.

// wasm-bindgen generates the FFI glue for `hydrate`.
#![allow(unsafe_code)]

use wasm_bindgen::prelude::wasm_bindgen;

/// Called by the hydration script Leptos puts in the page.
#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
