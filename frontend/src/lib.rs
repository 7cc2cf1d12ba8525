//! Hydrates the interactive islands of the server-rendered admin UI in the browser.

// wasm-bindgen generates the FFI glue for `hydrate`.
#![allow(unsafe_code)]

// Links the app, whose islands register themselves with wasm-bindgen.
extern crate app;

use wasm_bindgen::prelude::wasm_bindgen;

/// Called by the hydration script Leptos puts in the page.
#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
