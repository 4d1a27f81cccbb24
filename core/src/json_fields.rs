//! A JSON object read one field at a time: how request bodies with many
//! optional fields deserialize without serde's generated visitors.
//!
//! serde's derive writes a map visitor, a sequence visitor and a field-name
//! matcher for every struct, and compiles each once per deserializer the
//! struct is read through. For Yandex Market's two dozen request bodies that
//! was about 100 KB of the wasm module (issue 16). Read through [`Fields`],
//! a body costs one call per field instead; the field types' own
//! `Deserialize` impls (strings, numbers, lists, enums) are shared by all
//! bodies. The rules are serde's with `rename_all = "camelCase"` and
//! `deny_unknown_fields`: a missing `Option` field is `None`, `null` is
//! `None`, any other missing field or an unknown one is an error.

use std::fmt;

use serde::de::{DeserializeOwned, Error, MapAccess, Visitor};
use serde::Deserializer;
use serde_json::{Map, Value};

/// The fields of one JSON object not taken yet.
pub(crate) struct Fields {
    rest: Map<String, Value>,
}

impl Fields {
    /// Reads an object (anything else is an error). A field written twice
    /// is an error too, as with serde's derive, rather than the last one
    /// silently winning.
    pub(crate) fn read<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ObjectVisitor)
    }

    /// Takes the field that the Rust field `snake_name` is written as
    /// (camelCase). Generic only where it must be: each field type's
    /// instance is its `Deserialize` call and nothing else.
    pub(crate) fn take<T: DeserializeOwned, E: Error>(&mut self, snake_name: &str) -> Result<T, E> {
        let (name, value) = self.remove(snake_name);
        let present = value.is_some();
        // Only an `Option` reads from a missing field (as `None`).
        T::deserialize(value.unwrap_or(Value::Null))
            .map_err(|e| E::custom(field_error(&name, present, &e)))
    }

    fn remove(&mut self, snake_name: &str) -> (String, Option<Value>) {
        let name = camel_case(snake_name);
        let value = self.rest.remove(&name);
        (name, value)
    }

    /// Fails when a field was not taken; `expected` are the Rust names of
    /// the fields there are.
    pub(crate) fn finish<E: Error>(self, expected: &[&str]) -> Result<(), E> {
        match self.rest.keys().next() {
            None => Ok(()),
            Some(unknown) => {
                let expected: Vec<String> = expected
                    .iter()
                    .map(|n| format!("`{}`", camel_case(n)))
                    .collect();
                Err(E::custom(format_args!(
                    "unknown field `{unknown}`, expected one of {}",
                    expected.join(", ")
                )))
            }
        }
    }
}

struct ObjectVisitor;

impl<'de> Visitor<'de> for ObjectVisitor {
    type Value = Fields;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
        let mut rest = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            let value = map.next_value::<Value>()?;
            if rest.contains_key(&name) {
                return Err(A::Error::custom(format_args!("duplicate field `{name}`")));
            }
            rest.insert(name, value);
        }
        Ok(Fields { rest })
    }
}

fn field_error(name: &str, present: bool, error: &serde_json::Error) -> String {
    if present {
        format!("field `{name}`: {error}")
    } else {
        format!("missing field `{name}`")
    }
}

/// `date_time_from` → `dateTimeFrom`, as serde's `rename_all = "camelCase"`
/// writes a field.
fn camel_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        match c {
            '_' => upper = true,
            _ if upper => {
                out.push(c.to_ascii_uppercase());
                upper = false;
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    /// What serde's derive reads, with the same attributes: the reference
    /// [`Fields`] must agree with.
    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Derived {
        business_id: i64,
        date_time_from: Option<String>,
        campaign_ids: Option<Vec<i64>>,
    }

    #[derive(Debug, PartialEq)]
    struct Read {
        business_id: i64,
        date_time_from: Option<String>,
        campaign_ids: Option<Vec<i64>>,
    }

    /// The `Read` body through [`Fields`], as `body!` writes it.
    fn read_body<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Read, D::Error> {
        let mut fields = Fields::read(deserializer)?;
        let body = Read {
            business_id: fields.take("business_id")?,
            date_time_from: fields.take("date_time_from")?,
            campaign_ids: fields.take("campaign_ids")?,
        };
        fields.finish(&["business_id", "date_time_from", "campaign_ids"])?;
        Ok(body)
    }

    fn read(value: Value) -> Result<Read, serde_json::Error> {
        read_body(value)
    }

    #[test]
    fn reads_what_serde_derive_reads_and_refuses_what_it_refuses() {
        let cases = [
            json!({"businessId": 1}),
            json!({"businessId": 1, "dateTimeFrom": "2026-01-01T00:00:00Z", "campaignIds": [2, 3]}),
            json!({"campaignIds": null, "businessId": 7, "dateTimeFrom": null}),
            json!({"businessId": "1"}),
            json!({"dateTimeFrom": "x"}),
            json!({"businessId": 1, "campaignIds": [1, "2"]}),
            json!({"businessId": 1, "business_id": 2}),
            json!({"businessId": 1, "extra": true}),
            json!({"businessId": null}),
            json!([1, "x", [2]]),
            json!("businessId"),
        ];
        for case in cases {
            let derived = serde_json::from_value::<Derived>(case.clone());
            let read = read(case.clone());
            match (derived, read) {
                (Ok(d), Ok(r)) => {
                    assert_eq!(
                        (d.business_id, d.date_time_from, d.campaign_ids),
                        (r.business_id, r.date_time_from, r.campaign_ids),
                        "{case}"
                    );
                }
                (Err(_), Err(_)) => {}
                // serde's derive also reads a struct from an array; bodies
                // are objects, and Fields refuses the array form.
                (Ok(_), Err(_)) if case.is_array() => {}
                (d, r) => panic!("{case}: derive {d:?}, fields {r:?}"),
            }
        }
    }

    fn read_text(text: &[u8]) -> Result<Read, serde_json::Error> {
        let mut deserializer = serde_json::Deserializer::from_slice(text);
        let body = read_body(&mut deserializer)?;
        deserializer.end()?;
        Ok(body)
    }

    fn any_member() -> impl Strategy<Value = String> {
        let key = prop_oneof![
            Just("businessId"),
            Just("dateTimeFrom"),
            Just("campaignIds"),
            Just("business_id"),
            Just("extra"),
        ];
        let value = prop_oneof![
            Just("null".to_owned()),
            any::<i64>().prop_map(|n| n.to_string()),
            Just("1.5".to_owned()),
            Just("true".to_owned()),
            "[a-z0-9 ]{0,8}".prop_map(|s| format!("\"{s}\"")),
            proptest::collection::vec(any::<i32>(), 0..4).prop_map(|v| format!("{v:?}")),
            Just(r#"[1, "2"]"#.to_owned()),
            Just(r#"{"businessId": 1}"#.to_owned()),
        ];
        (key, value).prop_map(|(key, value)| format!("\"{key}\": {value}"))
    }

    proptest! {
        /// On any object over the body's field names and some others, with
        /// values of every JSON type and fields written twice, Fields and
        /// serde's derive agree: the same body, or both refuse.
        #[test]
        fn agrees_with_the_derive_on_any_object(members in proptest::collection::vec(any_member(), 0..6)) {
            let text = format!("{{{}}}", members.join(", "));
            let derived = serde_json::from_slice::<Derived>(text.as_bytes());
            let read = read_text(text.as_bytes());
            match (derived, read) {
                (Ok(d), Ok(r)) => prop_assert_eq!(
                    (d.business_id, d.date_time_from, d.campaign_ids),
                    (r.business_id, r.date_time_from, r.campaign_ids),
                    "{}", text
                ),
                (Err(_), Err(_)) => {}
                (d, r) => prop_assert!(false, "{}: derive {:?}, fields {:?}", text, d, r.map(|_| ())),
            }
        }
    }

    #[test]
    fn a_field_written_twice_is_refused() {
        let text = br#"{"businessId": 1, "businessId": 2}"#;
        let error = serde_json::from_slice::<Derived>(text)
            .map(|_| ())
            .unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("duplicate field `businessId`"),
            "{error}"
        );
        let mut deserializer = serde_json::Deserializer::from_slice(text);
        let error = Fields::read(&mut deserializer).map(|_| ()).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("duplicate field `businessId`"),
            "{error}"
        );
    }

    #[test]
    fn errors_name_the_field() {
        let message = |value: Value| read(value).map(|_| ()).unwrap_err().to_string();
        assert_eq!(message(json!({})), "missing field `businessId`");
        assert!(message(json!({"businessId": "x"})).starts_with("field `businessId`: invalid type"));
        assert_eq!(
            message(json!({"businessId": 1, "campaign": []})),
            "unknown field `campaign`, expected one of `businessId`, `dateTimeFrom`, `campaignIds`"
        );
    }

    #[test]
    fn camel_case_is_serdes() {
        for (snake, camel) in [
            ("business_id", "businessId"),
            ("inns", "inns"),
            ("date_time_from", "dateTimeFrom"),
            ("barcode_offer_infos", "barcodeOfferInfos"),
        ] {
            assert_eq!(camel_case(snake), camel);
        }
    }
}
