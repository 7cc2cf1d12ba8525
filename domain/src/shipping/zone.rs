//! Where an option ships: countries, regions (ISO 3166-2), postal codes, and exclusions.

use serde::{Deserialize, Serialize};

use super::{countries, regions};

/// The destinations of an option. Empty country and region lists mean everywhere.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Zone {
    /// ISO 3166-1 alpha-2 codes.
    pub countries: Vec<String>,
    /// ISO 3166-2 codes (`US-CA`).
    pub regions: Vec<String>,
    /// When not empty, the destination's postal code must match one.
    pub postal_codes: Vec<PostalCode>,
    pub excluded_regions: Vec<String>,
    pub excluded_postal_codes: Vec<PostalCode>,
}

/// A destination as a cart gives it, normalised for matching.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Destination {
    /// ISO 3166-1 alpha-2, upper case; empty when unknown.
    pub country: String,
    /// ISO 3166-2, when `ship_to.state` names one.
    pub region: Option<String>,
    /// `ship_to.state` as given, when it names no region of a country whose regions are all
    /// known (US, CA, AU): an exclusion there cannot be told to hold or not.
    pub unknown_region: Option<String>,
    /// Normalised (see [`normalise_postal_code`]); empty when unknown.
    pub postal_code: String,
}

impl Destination {
    /// Reads `ship_to`'s country, state and zip.
    pub fn new(country: &str, state: &str, zip: &str) -> Self {
        let country = country.trim().to_ascii_uppercase();
        let region = regions::resolve(&country, state);
        let unknown_region = (region.is_none() && !state.trim().is_empty() && regions::listed(&country))
            .then(|| state.trim().chars().take(60).collect());
        Self {
            region,
            unknown_region,
            postal_code: normalise_postal_code(&country, zip),
            country,
        }
    }
}

/// A postal code as matching compares it: upper case, without spaces or dashes (`SW1A 1AA` is
/// `SW1A1AA`); a US ZIP+4 keeps its five-digit ZIP.
pub fn normalise_postal_code(country: &str, code: &str) -> String {
    let mut normal: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if country == "US" && normal.len() > 5 && normal.bytes().all(|b| b.is_ascii_digit()) {
        normal.truncate(5);
    }
    normal
}

/// One postal-code pattern of a zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum PostalCode {
    /// `90210`, `SW1A 1AA`.
    Exact(String),
    /// `902*`: every code starting so.
    Prefix(String),
    /// `90000–96199` (or `90000-96199`, `90000..96199`): codes of the same length between the
    /// bounds, inclusive.
    Range(String, String),
}

impl PostalCode {
    /// Reads a pattern a merchant typed.
    pub fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim();
        let shown = if value.is_empty() {
            "an empty pattern"
        } else {
            value
        };
        let bad = || {
            format!("`{shown}` is not a postal code, a prefix such as 902* or a range such as 90000-96199")
        };
        let allowed =
            |s: &str| !s.is_empty() && s.len() <= 12 && s.bytes().all(|b| b.is_ascii_alphanumeric());
        if let Some(prefix) = value.strip_suffix('*') {
            let prefix = normalise_postal_code("", prefix);
            return if allowed(&prefix) {
                Ok(Self::Prefix(prefix))
            } else {
                Err(bad())
            };
        }
        let split = value
            .split_once('–')
            .or_else(|| value.split_once(".."))
            .or_else(|| value.split_once('-'));
        if let Some((low, high)) = split {
            let (low, high) = (normalise_postal_code("", low), normalise_postal_code("", high));
            // A dash inside a code (Japan's 100-0001) is part of it, not a range.
            if allowed(&low) && allowed(&high) && low.len() == high.len() {
                return if low <= high {
                    Ok(Self::Range(low, high))
                } else {
                    Err(format!("`{value}`: the range must start with the lower code"))
                };
            }
        }
        // A US cart's ZIP+4 is matched by its ZIP, so a ZIP+4 pattern would never match.
        if let Some((zip, plus)) = value.split_once('-')
            && zip.len() == 5
            && plus.len() == 4
            && zip.bytes().chain(plus.bytes()).all(|b| b.is_ascii_digit())
        {
            return Err(format!(
                "`{value}`: US codes match by their five-digit ZIP; write {zip}"
            ));
        }
        let exact = normalise_postal_code("", value);
        if allowed(&exact) {
            Ok(Self::Exact(exact))
        } else {
            Err(bad())
        }
    }

    /// Whether the normalised postal `code` matches.
    pub fn matches(&self, code: &str) -> bool {
        match self {
            Self::Exact(exact) => code == exact,
            Self::Prefix(prefix) => code.starts_with(prefix.as_str()),
            Self::Range(low, high) => {
                code.len() == low.len() && code >= low.as_str() && code <= high.as_str()
            }
        }
    }
}

impl PostalCode {
    /// Patterns as a merchant types a list of them: `902*, 90000-96199`.
    pub fn list(codes: &[PostalCode]) -> String {
        codes
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl std::fmt::Display for PostalCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exact(code) => f.write_str(code),
            Self::Prefix(prefix) => write!(f, "{prefix}*"),
            Self::Range(low, high) => write!(f, "{low}-{high}"),
        }
    }
}

impl From<PostalCode> for String {
    fn from(code: PostalCode) -> Self {
        code.to_string()
    }
}

impl TryFrom<String> for PostalCode {
    type Error = String;

    fn try_from(value: String) -> Result<Self, String> {
        Self::parse(&value)
    }
}

/// Why a destination is outside a zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outside {
    /// Neither its country nor its region is listed.
    NotListed,
    /// The option lists postal codes and the cart has none.
    NoPostalCode,
    /// Its postal code matches none of the option's.
    PostalCodeNotListed,
    /// Its region is excluded.
    RegionExcluded(String),
    /// The option excludes regions of its country, and its state names none: never offered on
    /// a guess.
    RegionUnknown(String),
    /// Its postal code matches an excluded pattern.
    PostalCodeExcluded(PostalCode),
}

impl Zone {
    /// Whether `to` lies in the zone, and if not, the first rule that keeps it out (in the order
    /// of the rule table in [`super::matching`]).
    pub fn admits(&self, to: &Destination) -> Result<(), Outside> {
        let everywhere = self.countries.is_empty() && self.regions.is_empty();
        let listed = everywhere
            || self.countries.contains(&to.country)
            || to.region.as_ref().is_some_and(|r| self.regions.contains(r));
        if !listed {
            return Err(Outside::NotListed);
        }
        if !self.postal_codes.is_empty() {
            if to.postal_code.is_empty() {
                return Err(Outside::NoPostalCode);
            }
            if !self.postal_codes.iter().any(|p| p.matches(&to.postal_code)) {
                return Err(Outside::PostalCodeNotListed);
            }
        }
        if let Some(region) = to.region.as_ref().filter(|r| self.excluded_regions.contains(r)) {
            return Err(Outside::RegionExcluded(region.clone()));
        }
        if let Some(state) = &to.unknown_region {
            let excludes_there = self.excluded_regions.iter().any(|r| {
                r.strip_prefix(to.country.as_str())
                    .is_some_and(|rest| rest.starts_with('-'))
            });
            if excludes_there {
                return Err(Outside::RegionUnknown(state.clone()));
            }
        }
        if let Some(pattern) = self
            .excluded_postal_codes
            .iter()
            .find(|p| !to.postal_code.is_empty() && p.matches(&to.postal_code))
        {
            return Err(Outside::PostalCodeExcluded(pattern.clone()));
        }
        Ok(())
    }

    /// The zone in words, e.g. `US, CA-QC; postal codes 902*; except US-AK, US-HI`.
    pub fn describe(&self) -> String {
        let join = |codes: &[String]| codes.join(", ");
        let patterns = PostalCode::list;
        let mut places: Vec<String> = self.countries.clone();
        places.extend(self.regions.iter().cloned());
        let mut text = if places.is_empty() {
            "Everywhere".to_owned()
        } else {
            join(&places)
        };
        if !self.postal_codes.is_empty() {
            text.push_str(&format!("; postal codes {}", patterns(&self.postal_codes)));
        }
        let mut except: Vec<String> = self.excluded_regions.clone();
        except.extend(self.excluded_postal_codes.iter().map(ToString::to_string));
        if !except.is_empty() {
            text.push_str(&format!("; except {}", except.join(", ")));
        }
        text
    }
}

/// Reads a list of codes separated by commas, semicolons or spaces, each checked by `parse`;
/// duplicates are dropped.
pub fn parse_list<T: PartialEq>(
    value: &str,
    separators: &[char],
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    let mut items = Vec::new();
    for part in value.split(separators).map(str::trim).filter(|p| !p.is_empty()) {
        let item = parse(part)?;
        if !items.contains(&item) {
            items.push(item);
        }
    }
    Ok(items)
}

/// Checks a country code a merchant typed.
pub fn parse_country(value: &str) -> Result<String, String> {
    let code = value.trim().to_ascii_uppercase();
    if countries::is_known(&code) {
        Ok(code)
    } else {
        Err(format!("{code} is not an ISO 3166-1 alpha-2 country code"))
    }
}
