//! Shipping options as CSV, for merchants who keep them in a spreadsheet: one column per field of
//! [`ShippingOptionInput`] (see [`HEADER`]; the README documents each). An import's header names
//! its columns in any order, and a column left out is blank (`enabled`: true), so files of earlier
//! versions still import. Import is all or nothing: every line is validated first, and any error is
//! reported by line with nothing saved (see [`super::import`] for what an import changes). An
//! export imports back to the same options.

use super::{FieldError, ShippingOption, ShippingOptionInput, input_of, validate};

/// Every column, in the order exports write them.
pub const HEADER: [&str; 33] = [
    "title",
    "enabled",
    "currency",
    "rate_type",
    "price",
    "per_unit",
    "per_unit_above",
    "round_up",
    "percent",
    "tiers",
    "handling_fee",
    "min_charge",
    "max_charge",
    "free_above",
    "delivery_estimate",
    "delivery_min_days",
    "delivery_max_days",
    "zone",
    "countries",
    "regions",
    "postal_codes",
    "excluded_regions",
    "excluded_postal_codes",
    "subtotal_min",
    "subtotal_max",
    "weight_min",
    "weight_max",
    "weight_unit",
    "items_min",
    "items_max",
    "item_rule",
    "item_variant_ids",
    "item_name_pattern",
];

/// The columns an import must have.
const REQUIRED: [&str; 2] = ["title", "currency"];

/// The problems of one line of an import (lines counted from 1, the header being line 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub problems: Vec<FieldError>,
}

/// Column `name` of `input`, as text.
pub(super) fn get(input: &ShippingOptionInput, name: &str) -> String {
    match name {
        "title" => input.title.clone(),
        "enabled" => input.enabled.to_string(),
        "currency" => input.currency.clone(),
        "rate_type" => input.rate_type.clone(),
        "price" => input.price.clone(),
        "per_unit" => input.per_unit.clone(),
        "per_unit_above" => input.per_unit_above.clone(),
        "round_up" => input.round_up.to_string(),
        "percent" => input.percent.clone(),
        "tiers" => input.tiers.clone(),
        "handling_fee" => input.handling_fee.clone(),
        "min_charge" => input.min_charge.clone(),
        "max_charge" => input.max_charge.clone(),
        "free_above" => input.free_above.clone(),
        "delivery_estimate" => input.delivery_estimate.clone(),
        "delivery_min_days" => input.delivery_min_days.clone(),
        "delivery_max_days" => input.delivery_max_days.clone(),
        "zone" => input.zone.clone(),
        "countries" => input.countries.clone(),
        "regions" => input.regions.clone(),
        "postal_codes" => input.postal_codes.clone(),
        "excluded_regions" => input.excluded_regions.clone(),
        "excluded_postal_codes" => input.excluded_postal_codes.clone(),
        "subtotal_min" => input.subtotal_min.clone(),
        "subtotal_max" => input.subtotal_max.clone(),
        "weight_min" => input.weight_min.clone(),
        "weight_max" => input.weight_max.clone(),
        "weight_unit" => input.weight_unit.clone(),
        "items_min" => input.items_min.clone(),
        "items_max" => input.items_max.clone(),
        "item_rule" => input.item_rule.clone(),
        "item_variant_ids" => input.item_variant_ids.clone(),
        "item_name_pattern" => input.item_name_pattern.clone(),
        _ => String::new(),
    }
}

/// Sets column `name` of `input` from its text.
fn set(input: &mut ShippingOptionInput, name: &str, value: String) -> Result<(), FieldError> {
    let flag = |value: &str| match value.to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "true" | "yes" | "1" => Ok(Some(true)),
        "false" | "no" | "0" => Ok(Some(false)),
        other => Err(problem(name, format!("`{other}` is not true or false"))),
    };
    match name {
        "enabled" => input.enabled = flag(&value)?.unwrap_or(true),
        "round_up" => input.round_up = flag(&value)?.unwrap_or(false),
        "title" => input.title = value,
        "currency" => input.currency = value,
        "rate_type" => input.rate_type = value,
        "price" => input.price = value,
        "per_unit" => input.per_unit = value,
        "per_unit_above" => input.per_unit_above = value,
        "percent" => input.percent = value,
        "tiers" => input.tiers = value,
        "handling_fee" => input.handling_fee = value,
        "min_charge" => input.min_charge = value,
        "max_charge" => input.max_charge = value,
        "free_above" => input.free_above = value,
        "delivery_estimate" => input.delivery_estimate = value,
        "delivery_min_days" => input.delivery_min_days = value,
        "delivery_max_days" => input.delivery_max_days = value,
        "zone" => input.zone = value,
        "countries" => input.countries = value,
        "regions" => input.regions = value,
        "postal_codes" => input.postal_codes = value,
        "excluded_regions" => input.excluded_regions = value,
        "excluded_postal_codes" => input.excluded_postal_codes = value,
        "subtotal_min" => input.subtotal_min = value,
        "subtotal_max" => input.subtotal_max = value,
        "weight_min" => input.weight_min = value,
        "weight_max" => input.weight_max = value,
        "weight_unit" => input.weight_unit = value,
        "items_min" => input.items_min = value,
        "items_max" => input.items_max = value,
        "item_rule" => input.item_rule = value,
        "item_variant_ids" => input.item_variant_ids = value,
        "item_name_pattern" => input.item_name_pattern = value,
        _ => return Err(problem(name, "is not a column")),
    }
    Ok(())
}

/// The options as CSV, header first.
pub fn export(options: &[ShippingOption]) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let _ = writer.write_record(HEADER);
    for option in options {
        let input = input_of(option);
        let _ = writer.write_record(HEADER.iter().map(|name| get(&input, name)));
    }
    String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// Line numbers of byte offsets of one text, asked in increasing order.
struct LineCounter<'a> {
    text: &'a [u8],
    byte: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text: text.as_bytes(),
            byte: 0,
            line: 1,
        }
    }

    /// The line of the first character at or after `byte` that is not a line break (the reader
    /// reports a record from where it started looking, blank lines included).
    fn at(&mut self, byte: u64) -> usize {
        let mut start = usize::try_from(byte).unwrap_or(usize::MAX).min(self.text.len());
        while self.text.get(start).is_some_and(|b| *b == b'\n' || *b == b'\r') {
            start += 1;
        }
        if start >= self.byte {
            self.line += self.text[self.byte..start]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            self.byte = start;
        }
        self.line
    }
}

fn problem(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

/// Reads the header: known columns, each once, the required ones present.
fn columns(header: &csv::StringRecord) -> Result<Vec<String>, String> {
    let names: Vec<String> = header.iter().map(|h| h.trim().to_ascii_lowercase()).collect();
    for (i, name) in names.iter().enumerate() {
        if !HEADER.contains(&name.as_str()) {
            return Err(format!(
                "`{name}` is not a column; the columns are: {}",
                HEADER.join(",")
            ));
        }
        if names[..i].contains(name) {
            return Err(format!("`{name}` appears twice"));
        }
    }
    if let Some(missing) = REQUIRED.iter().find(|r| !names.iter().any(|n| n == *r)) {
        return Err(format!(
            "the `{missing}` column is missing; the columns are: {}",
            HEADER.join(",")
        ));
    }
    Ok(names)
}

/// Parses and validates every line; the inputs when all are valid, else every line's problems.
/// A byte-order mark (as spreadsheets write) is skipped.
pub fn parse(text: &str) -> Result<Vec<ShippingOptionInput>, Vec<LineError>> {
    Ok(lines(text)?.into_iter().map(|(_, input)| input).collect())
}

/// As [`parse`], each input with the number of the line it starts on.
pub fn lines(text: &str) -> Result<Vec<(usize, ShippingOptionInput)>, Vec<LineError>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header_error = |message: String| {
        vec![LineError {
            line: 1,
            problems: vec![problem("header", message)],
        }]
    };
    let names = match reader.headers() {
        Ok(header) => columns(header).map_err(header_error)?,
        Err(error) => return Err(header_error(error.to_string())),
    };
    let mut inputs = Vec::new();
    let mut errors = Vec::new();
    let mut lines = LineCounter::new(text);
    for (index, record) in reader.records().enumerate() {
        // Blank lines are skipped and a quoted field may span lines: the record's place in the
        // text says which line it starts on.
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                let line = error.position().map_or(index + 2, |p| lines.at(p.byte()));
                errors.push(LineError {
                    line,
                    problems: vec![problem("line", error.to_string())],
                });
                continue;
            }
        };
        let line = record.position().map_or(index + 2, |p| lines.at(p.byte()));
        if record.len() != names.len() {
            let message = format!("has {} columns; expected {}", record.len(), names.len());
            errors.push(LineError {
                line,
                problems: vec![problem("line", message)],
            });
            continue;
        }
        let mut input = ShippingOptionInput {
            enabled: true,
            ..ShippingOptionInput::default()
        };
        let mut problems: Vec<FieldError> = names
            .iter()
            .zip(record.iter())
            .filter_map(|(name, value)| set(&mut input, name, value.to_owned()).err())
            .collect();
        let flags: Vec<String> = problems.iter().map(|p| p.field.clone()).collect();
        problems.extend(
            validate(&input)
                .err()
                .unwrap_or_default()
                .into_iter()
                .filter(|p| !flags.contains(&p.field)),
        );
        problems.sort_by_key(|p| names.iter().position(|n| *n == p.field).unwrap_or(usize::MAX));
        if problems.is_empty() {
            inputs.push((line, input));
        } else {
            errors.push(LineError { line, problems });
        }
    }
    if errors.is_empty() {
        Ok(inputs)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_export_imports_back_to_the_same_options() {
        let inputs = [
            ShippingOptionInput {
                title: "Standard, tracked".into(),
                price: "5.99".into(),
                currency: "USD".into(),
                delivery_estimate: "3-5 days".into(),
                countries: "US CA".into(),
                free_above: "50".into(),
                weight_max: "2.5".into(),
                weight_unit: "lb".into(),
                enabled: false,
                ..Default::default()
            },
            ShippingOptionInput {
                title: "Heavy goods".into(),
                rate_type: "per_weight".into(),
                price: "5".into(),
                per_unit: "1.2".into(),
                per_unit_above: "1".into(),
                round_up: true,
                currency: "EUR".into(),
                delivery_min_days: "2".into(),
                delivery_max_days: "4".into(),
                regions: "US-CA, us-or".into(),
                postal_codes: "902*, 90000-96199, SW1A 1AA".into(),
                excluded_postal_codes: "90210".into(),
                excluded_regions: "US-AK".into(),
                items_max: "10".into(),
                item_rule: "none".into(),
                item_name_pattern: "*oversized*".into(),
                item_variant_ids: "v1 v2".into(),
                handling_fee: "1.5".into(),
                min_charge: "6".into(),
                max_charge: "40".into(),
                enabled: true,
                ..Default::default()
            },
            ShippingOptionInput {
                title: "Tiers".into(),
                rate_type: "tiered_weight".into(),
                tiers: "1:5, 5:9, 20:15, *:25".into(),
                currency: "USD".into(),
                enabled: true,
                ..Default::default()
            },
            ShippingOptionInput {
                title: "West coast express".into(),
                price: "12".into(),
                currency: "USD".into(),
                zone: "West Coast".into(),
                enabled: true,
                ..Default::default()
            },
        ];
        let options: Vec<ShippingOption> = inputs
            .iter()
            .enumerate()
            .map(|(i, input)| {
                let valid = validate(input).unwrap();
                valid.with_id(i as i64, i as i64)
            })
            .collect();
        let csv = export(&options);
        assert!(csv.starts_with("title,enabled,currency,rate_type"));
        let parsed = parse(&csv).unwrap();
        for (parsed, option) in parsed.iter().zip(&options) {
            assert_eq!(validate(parsed).unwrap().rules, option.rules);
        }
        let again: Vec<ShippingOption> = parsed
            .iter()
            .zip(&options)
            .map(|(input, o)| ShippingOption {
                rules: validate(input).unwrap().rules,
                ..o.clone()
            })
            .collect();
        assert_eq!(export(&again), csv, "exactly the same file");
        // A spreadsheet's byte-order mark is skipped.
        assert_eq!(parse(&format!("\u{feff}{csv}")).unwrap(), parsed);
    }

    #[test]
    fn a_file_of_the_earlier_columns_still_imports() {
        let csv = "title,price,currency,delivery_estimate,countries,subtotal_min,subtotal_max,free_above,weight_min,weight_max,weight_unit,enabled\n\
                   Standard,5.99,USD,3-5 days,US CA,,,50,,,kg,true\n";
        let parsed = parse(csv).unwrap();
        let valid = validate(&parsed[0]).unwrap();
        assert_eq!(valid.rules.zone.countries, ["US", "CA"]);
        assert_eq!(
            valid.rules.rate.kind,
            crate::shipping::RateKind::Flat {
                price: "5.99".parse().unwrap()
            }
        );
        let header = parse("title,currency,colour\nx,USD,red\n").unwrap_err();
        assert!(
            header[0].problems[0].message.contains("`colour` is not a column"),
            "{header:?}"
        );
        assert!(
            parse("title,price\nx,1\n").unwrap_err()[0].problems[0]
                .message
                .contains("`currency`")
        );
    }

    #[test]
    fn every_bad_line_is_reported_by_number() {
        let csv = "title,price,currency,delivery_estimate,countries,subtotal_min,subtotal_max,free_above,weight_min,weight_max,weight_unit,enabled\n\
                   Good,1,USD,,,,,,,,kg,true\n\
                   Bad,-1,USD,,ZZ,,,,,,kg,maybe\n\
                   Short,1\n";
        let errors = parse(csv).unwrap_err();
        assert_eq!(errors.iter().map(|e| e.line).collect::<Vec<_>>(), [3, 4]);
        let fields: Vec<&str> = errors[0].problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["price", "countries", "enabled"]);
        assert!(errors[1].problems[0].message.contains("has 2 columns"));
        assert_eq!(parse("name,price\nx,1\n").unwrap_err()[0].line, 1);
        let tiers = "title,currency,rate_type,tiers\nT,USD,tiered_subtotal,50:5; 20:9\n";
        assert_eq!(parse(tiers).unwrap_err()[0].problems[0].field, "tiers");
    }

    #[test]
    fn a_line_is_numbered_where_it_is_in_the_file_past_blank_lines_and_quoted_line_breaks() {
        let csv = "title,currency,delivery_estimate,price\n\
                   \n\
                   Good,USD,\"two\nlines\",1\n\
                   Bad,USD,,-1\n";
        let errors = parse(csv).unwrap_err();
        assert_eq!(errors[0].line, 5, "{errors:?}");
        let good = lines("title,currency,price\n\nA,USD,1\n").unwrap();
        assert_eq!(good[0].0, 3);
    }
}
