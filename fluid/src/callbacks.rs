//! Callback definitions in Fluid's definition format (`name`, `description`, `example_response`,
//! `request_schema`, `response_schema`), kept as JSON data in `fluid/definitions/`, plus the
//! answer the droplet sends when its handler cannot answer in time (`fallback_response`).

use serde::Deserialize;
use serde_json::Value;

/// One callback definition.
#[derive(Debug, Clone, Deserialize)]
pub struct Definition {
    pub name: String,
    pub description: String,
    pub example_response: Value,
    /// What the droplet answers when its handler overruns the deadline; fits `response_schema`.
    pub fallback_response: Value,
    pub request_schema: Value,
    pub response_schema: Value,
}

const SOURCES: &[&str] = &[
    include_str!("../definitions/test_callback_system.json"),
    include_str!("../definitions/update_cart_shipping.json"),
];

/// The definitions of the callbacks this droplet implements.
pub fn definitions() -> Vec<Definition> {
    SOURCES
        .iter()
        .map(|source| serde_json::from_str(source).expect("the embedded definitions are valid JSON (tested)"))
        .collect()
}

/// The definition named `name`, if the droplet implements it.
pub fn definition(name: &str) -> Option<Definition> {
    definitions().into_iter().find(|d| d.name == name)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_definition_parses_and_names_are_unique() {
        let definitions = super::definitions();
        let mut names: Vec<&str> = definitions.iter().map(|d| d.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names, ["test_callback_system", "update_cart_shipping"]);
    }
}
