//! ISO 3166-2 subdivisions: the codes and names of the countries whose carts most often name a
//! state or province (United States, Canada, Australia). Elsewhere a region code is checked for
//! shape only, and a cart's region is matched by its code.

/// (ISO 3166-2 code, English name), by country.
const SUBDIVISIONS: &[(&str, &str)] = &[
    ("US-AL", "Alabama"),
    ("US-AK", "Alaska"),
    ("US-AZ", "Arizona"),
    ("US-AR", "Arkansas"),
    ("US-CA", "California"),
    ("US-CO", "Colorado"),
    ("US-CT", "Connecticut"),
    ("US-DE", "Delaware"),
    ("US-DC", "District of Columbia"),
    ("US-FL", "Florida"),
    ("US-GA", "Georgia"),
    ("US-HI", "Hawaii"),
    ("US-ID", "Idaho"),
    ("US-IL", "Illinois"),
    ("US-IN", "Indiana"),
    ("US-IA", "Iowa"),
    ("US-KS", "Kansas"),
    ("US-KY", "Kentucky"),
    ("US-LA", "Louisiana"),
    ("US-ME", "Maine"),
    ("US-MD", "Maryland"),
    ("US-MA", "Massachusetts"),
    ("US-MI", "Michigan"),
    ("US-MN", "Minnesota"),
    ("US-MS", "Mississippi"),
    ("US-MO", "Missouri"),
    ("US-MT", "Montana"),
    ("US-NE", "Nebraska"),
    ("US-NV", "Nevada"),
    ("US-NH", "New Hampshire"),
    ("US-NJ", "New Jersey"),
    ("US-NM", "New Mexico"),
    ("US-NY", "New York"),
    ("US-NC", "North Carolina"),
    ("US-ND", "North Dakota"),
    ("US-OH", "Ohio"),
    ("US-OK", "Oklahoma"),
    ("US-OR", "Oregon"),
    ("US-PA", "Pennsylvania"),
    ("US-RI", "Rhode Island"),
    ("US-SC", "South Carolina"),
    ("US-SD", "South Dakota"),
    ("US-TN", "Tennessee"),
    ("US-TX", "Texas"),
    ("US-UT", "Utah"),
    ("US-VT", "Vermont"),
    ("US-VA", "Virginia"),
    ("US-WA", "Washington"),
    ("US-WV", "West Virginia"),
    ("US-WI", "Wisconsin"),
    ("US-WY", "Wyoming"),
    ("US-AS", "American Samoa"),
    ("US-GU", "Guam"),
    ("US-MP", "Northern Mariana Islands"),
    ("US-PR", "Puerto Rico"),
    ("US-UM", "United States Minor Outlying Islands"),
    ("US-VI", "Virgin Islands, U.S."),
    ("CA-AB", "Alberta"),
    ("CA-BC", "British Columbia"),
    ("CA-MB", "Manitoba"),
    ("CA-NB", "New Brunswick"),
    ("CA-NL", "Newfoundland and Labrador"),
    ("CA-NS", "Nova Scotia"),
    ("CA-NT", "Northwest Territories"),
    ("CA-NU", "Nunavut"),
    ("CA-ON", "Ontario"),
    ("CA-PE", "Prince Edward Island"),
    ("CA-QC", "Quebec"),
    ("CA-SK", "Saskatchewan"),
    ("CA-YT", "Yukon"),
    ("AU-ACT", "Australian Capital Territory"),
    ("AU-NSW", "New South Wales"),
    ("AU-NT", "Northern Territory"),
    ("AU-QLD", "Queensland"),
    ("AU-SA", "South Australia"),
    ("AU-TAS", "Tasmania"),
    ("AU-VIC", "Victoria"),
    ("AU-WA", "Western Australia"),
];

/// Other names carts use: (code, name).
const ALIASES: &[(&str, &str)] = &[
    ("US-DC", "Washington DC"),
    ("US-DC", "Washington, D.C."),
    ("US-VI", "Virgin Islands"),
    ("US-VI", "U.S. Virgin Islands"),
    ("US-VI", "US Virgin Islands"),
    ("US-MP", "Northern Marianas"),
    ("CA-NL", "Newfoundland"),
    ("CA-NL", "Labrador"),
    ("CA-YT", "Yukon Territory"),
    ("CA-PE", "PEI"),
];

/// A name as names compare: lower case, common accents folded (`Québec` is `quebec`), spaces
/// collapsed.
fn folded(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        let plain = match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
            'ç' => 'c',
            'è' | 'é' | 'ê' | 'ë' => 'e',
            'ì' | 'í' | 'î' | 'ï' => 'i',
            'ñ' => 'n',
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' => 'o',
            'ù' | 'ú' | 'û' | 'ü' => 'u',
            other => other,
        };
        if plain.is_whitespace() {
            if !out.ends_with(' ') && !out.is_empty() {
                out.push(' ');
            }
        } else {
            out.push(plain);
        }
    }
    out.trim_end().to_owned()
}

/// Whether this table lists every subdivision of `country` (then a code must be one of them, and
/// a state it cannot read is unknown rather than taken as a code).
pub fn listed(country: &str) -> bool {
    matches!(country, "US" | "CA" | "AU")
}

/// A subdivision's part after the country: one to three letters or digits.
fn is_subdivision(part: &str) -> bool {
    (1..=3).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Checks a region code a merchant typed (`US-CA`, any case) and returns it upper-case.
pub fn parse_code(value: &str) -> Result<String, String> {
    let code = value.trim().to_ascii_uppercase();
    let Some((country, part)) = code.split_once('-') else {
        return Err(format!("{code} is not a region code such as US-CA"));
    };
    if !super::countries::is_known(country) || !is_subdivision(part) {
        return Err(format!("{code} is not an ISO 3166-2 region code such as US-CA"));
    }
    if listed(country) && !SUBDIVISIONS.iter().any(|(known, _)| *known == code) {
        return Err(format!("{code} is not a region of {country}"));
    }
    Ok(code)
}

/// The ISO 3166-2 code of the region a cart names in `ship_to.state` for `country`: a code
/// (`CA`), a full code (`US-CA`) or, where this table lists them, a name (`California`, any case).
pub fn resolve(country: &str, state: &str) -> Option<String> {
    let state = state.trim();
    if country.is_empty() || state.is_empty() {
        return None;
    }
    let upper = state.to_ascii_uppercase();
    if let Some((prefix, part)) = upper.split_once('-')
        && prefix == country
        && is_subdivision(part)
    {
        return Some(upper);
    }
    if is_subdivision(&upper) {
        let code = format!("{country}-{upper}");
        if !listed(country) || SUBDIVISIONS.iter().any(|(known, _)| *known == code) {
            return Some(code);
        }
    }
    let name = folded(state);
    SUBDIVISIONS
        .iter()
        .chain(ALIASES)
        .find(|(code, known)| {
            code.strip_prefix(country)
                .is_some_and(|rest| rest.starts_with('-'))
                && folded(known) == name
        })
        .map(|(code, _)| (*code).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cart_names_its_region_by_code_full_code_or_name() {
        for state in ["CA", "ca", "US-CA", "California", " california "] {
            assert_eq!(resolve("US", state).as_deref(), Some("US-CA"), "{state}");
        }
        assert_eq!(resolve("CA", "QC").as_deref(), Some("CA-QC"));
        assert_eq!(resolve("AU", "New South Wales").as_deref(), Some("AU-NSW"));
        assert_eq!(resolve("CA", "Québec").as_deref(), Some("CA-QC"));
        assert_eq!(resolve("CA", "Newfoundland").as_deref(), Some("CA-NL"));
        assert_eq!(resolve("US", "u.s. virgin  islands").as_deref(), Some("US-VI"));
        // Elsewhere a code is taken as given; a name is not known.
        assert_eq!(resolve("DE", "BY").as_deref(), Some("DE-BY"));
        assert_eq!(resolve("DE", "Bayern"), None);
        assert_eq!(resolve("US", "Atlantis"), None);
        assert_eq!(resolve("US", ""), None);
        assert_eq!(resolve("", "CA"), None);
    }

    #[test]
    fn a_merchant_types_known_region_codes() {
        assert_eq!(parse_code(" us-ak ").unwrap(), "US-AK");
        assert_eq!(parse_code("DE-BY").unwrap(), "DE-BY");
        assert!(parse_code("US-ZZ").unwrap_err().contains("not a region of US"));
        assert!(parse_code("California").is_err());
        assert!(parse_code("ZZ-AB").is_err());
        assert!(parse_code("DE-ABCD").is_err());
    }
}
