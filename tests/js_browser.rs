//! The suite of `tests/js.rs` in a browser: `wasm-pack test --headless --chrome` runs
//! it in headless Chromium (`wasm-pack test --node` skips this binary, as the browser
//! run skips `tests/js.rs`). Natively this file is empty.
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

#[path = "js.rs"]
mod js;
