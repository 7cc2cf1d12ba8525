//! Shipping options as CSV, for merchants who keep them in a spreadsheet. Import is all or
//! nothing: every line is validated first, and any error is reported by line with nothing saved.

use super::{FieldError, ShippingOption, ShippingOptionInput, validate};

/// The columns, in order; the first line of an import must name them.
pub const HEADER: [&str; 12] = [
    "title",
    "price",
    "currency",
    "delivery_estimate",
    "countries",
    "subtotal_min",
    "subtotal_max",
    "free_above",
    "weight_min",
    "weight_max",
    "weight_unit",
    "enabled",
];

/// The problems of one line of an import (lines counted from 1, the header being line 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub problems: Vec<FieldError>,
}

/// The options as CSV, header first.
pub fn export(options: &[ShippingOption]) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let text = |value: Option<rust_decimal::Decimal>| value.map(|v| v.to_string()).unwrap_or_default();
    let _ = writer.write_record(HEADER);
    for o in options {
        let _ = writer.write_record([
            o.title.clone(),
            o.price.to_string(),
            o.currency.clone(),
            o.delivery_estimate.clone(),
            o.countries.join(" "),
            text(o.subtotal_min),
            text(o.subtotal_max),
            text(o.free_above),
            text(o.weight_min),
            text(o.weight_max),
            o.weight_unit.as_str().to_owned(),
            o.enabled.to_string(),
        ]);
    }
    String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
}

fn problem(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

/// Parses and validates every line; the inputs when all are valid, else every line's problems.
pub fn parse(text: &str) -> Result<Vec<ShippingOptionInput>, Vec<LineError>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header: Vec<String> = match reader.headers() {
        Ok(header) => header.iter().map(|h| h.to_ascii_lowercase()).collect(),
        Err(error) => {
            return Err(vec![LineError {
                line: 1,
                problems: vec![problem("header", error.to_string())],
            }]);
        }
    };
    if header != HEADER {
        let message = format!("the first line must be: {}", HEADER.join(","));
        return Err(vec![LineError {
            line: 1,
            problems: vec![problem("header", message)],
        }]);
    }
    let mut inputs = Vec::new();
    let mut errors = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let line = index + 2;
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                errors.push(LineError {
                    line,
                    problems: vec![problem("line", error.to_string())],
                });
                continue;
            }
        };
        if record.len() != HEADER.len() {
            let message = format!("has {} columns; expected {}", record.len(), HEADER.len());
            errors.push(LineError {
                line,
                problems: vec![problem("line", message)],
            });
            continue;
        }
        let field = |i: usize| record.get(i).unwrap_or_default().to_owned();
        let enabled = match field(11).to_ascii_lowercase().as_str() {
            "" | "true" | "yes" | "1" => Ok(true),
            "false" | "no" | "0" => Ok(false),
            other => Err(problem("enabled", format!("`{other}` is not true or false"))),
        };
        let input = ShippingOptionInput {
            title: field(0),
            price: field(1),
            currency: field(2),
            delivery_estimate: field(3),
            countries: field(4),
            subtotal_min: field(5),
            subtotal_max: field(6),
            free_above: field(7),
            weight_min: field(8),
            weight_max: field(9),
            weight_unit: field(10),
            enabled: *enabled.as_ref().unwrap_or(&true),
        };
        let mut problems = validate(&input).err().unwrap_or_default();
        problems.extend(enabled.err());
        if problems.is_empty() {
            inputs.push(input);
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
        let input = ShippingOptionInput {
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
        };
        let valid = validate(&input).unwrap();
        let option = ShippingOption {
            id: 1,
            position: 1,
            title: valid.title,
            price: valid.price,
            currency: valid.currency,
            delivery_estimate: valid.delivery_estimate,
            countries: valid.countries,
            subtotal_min: None,
            subtotal_max: None,
            free_above: valid.free_above,
            weight_min: None,
            weight_max: valid.weight_max,
            weight_unit: valid.weight_unit,
            enabled: false,
        };
        let csv = export(std::slice::from_ref(&option));
        assert!(csv.starts_with("title,price,currency"));
        let parsed = parse(&csv).unwrap();
        assert_eq!(validate(&parsed[0]).unwrap(), validate(&input).unwrap());
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
    }
}
