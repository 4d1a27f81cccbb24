//! A small validator of the OpenAPI 3.0 schema keywords the official specs
//! use ($refs resolved beforehand), shared by the spec-conformance tests.

use serde_json::{json, Map, Value};

/// A small validator of the OpenAPI 3.0 schema keywords the spec uses.
pub(crate) fn validate(schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    check(schema, value, at, errors, true);
}

/// `strict`: fields the schema (with its `allOf` parts) does not declare
/// are errors; parts of an `allOf` are checked without it.
fn check(schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>, strict: bool) {
    if value.is_null() {
        if schema["nullable"] != json!(true) {
            errors.push(format!("{at}: null where the schema is not nullable"));
        }
        return;
    }
    if let Some(all) = schema["allOf"].as_array() {
        for part in all {
            check(part, value, at, errors, false);
        }
    }
    if let Some(options) = schema["enum"].as_array() {
        if !options.contains(value) {
            errors.push(format!("{at}: {value} is not one of {options:?}"));
        }
    }
    match schema["type"].as_str() {
        Some("object") | None
            if schema["properties"].is_object()
                || schema["required"].is_array()
                || schema["allOf"].is_array() =>
        {
            let Some(object) = value.as_object() else {
                return errors.push(format!("{at}: {value} is not an object"));
            };
            for required in schema["required"].as_array().into_iter().flatten() {
                let name = required.as_str().unwrap_or_default();
                if !object.contains_key(name) {
                    errors.push(format!("{at}: required field {name} is missing"));
                }
            }
            let own = schema["properties"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            let declared = declared_properties(schema);
            for (name, field) in object {
                if let Some(field_schema) = own.get(name) {
                    check(field_schema, field, &format!("{at}.{name}"), errors, true);
                } else if strict && !declared.contains_key(name) {
                    errors.push(format!("{at}: field {name} is not in the schema"));
                }
            }
        }
        Some("array") => {
            let Some(items) = value.as_array() else {
                return errors.push(format!("{at}: {value} is not an array"));
            };
            if let Some(min) = schema["minItems"].as_u64() {
                if (items.len() as u64) < min {
                    errors.push(format!("{at}: {} items, minItems {min}", items.len()));
                }
            }
            if let Some(max) = schema["maxItems"].as_u64() {
                if items.len() as u64 > max {
                    errors.push(format!("{at}: {} items, maxItems {max}", items.len()));
                }
            }
            if schema["uniqueItems"] == json!(true) {
                for (i, item) in items.iter().enumerate() {
                    if items.iter().skip(i + 1).any(|other| other == item) {
                        errors.push(format!("{at}: items are not unique"));
                    }
                }
            }
            for (i, item) in items.iter().enumerate() {
                check(&schema["items"], item, &format!("{at}[{i}]"), errors, true);
            }
        }
        Some("string") => {
            let Some(text) = value.as_str() else {
                return errors.push(format!("{at}: {value} is not a string"));
            };
            let chars = text.chars().count() as u64;
            if schema["minLength"].as_u64().is_some_and(|min| chars < min)
                || schema["maxLength"].as_u64().is_some_and(|max| chars > max)
            {
                errors.push(format!("{at}: length {chars} out of bounds"));
            }
            match schema["format"].as_str() {
                Some("date") if !is_date(text) => {
                    errors.push(format!("{at}: {text} is not a date"))
                }
                Some("date-time") if !is_date_time(text) => {
                    errors.push(format!("{at}: {text} is not a date-time"))
                }
                _ => {}
            }
            if schema["pattern"].is_string()
                && (text.trim().is_empty() || text.chars().any(|c| c.is_control() && c != '\t'))
            {
                errors.push(format!("{at}: {text:?} does not match the SKU pattern"));
            }
        }
        Some("integer") => {
            let Some(number) = value.as_i64() else {
                return errors.push(format!("{at}: {value} is not an integer"));
            };
            if schema["format"] == json!("int32") && i32::try_from(number).is_err() {
                errors.push(format!("{at}: {number} is not an int32"));
            }
            if let Some(min) = schema["minimum"].as_i64() {
                let exclusive = schema["exclusiveMinimum"] == json!(true);
                if number < min || (exclusive && number == min) {
                    errors.push(format!("{at}: {number} below the minimum {min}"));
                }
            }
            if schema["maximum"].as_i64().is_some_and(|max| number > max) {
                errors.push(format!("{at}: {number} above the maximum"));
            }
        }
        Some("number") if !value.is_number() => {
            errors.push(format!("{at}: {value} is not a number"))
        }
        Some("boolean") if !value.is_boolean() => {
            errors.push(format!("{at}: {value} is not a boolean"))
        }
        _ => {}
    }
}

pub(crate) fn declared_properties(schema: &Value) -> Map<String, Value> {
    let mut out = schema["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for part in schema["allOf"].as_array().into_iter().flatten() {
        out.extend(declared_properties(part));
    }
    out
}

pub(crate) fn is_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && text
            .chars()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && (1..=12).contains(&text[5..7].parse::<u32>().unwrap_or(0))
        && (1..=31).contains(&text[8..10].parse::<u32>().unwrap_or(0))
}

pub(crate) fn is_date_time(text: &str) -> bool {
    text.len() >= 20 && is_date(&text[..10]) && matches!(&text[10..11], "T" | "t")
}
