//! How the core reads JSON: the text into one [`Value`] ([`from_slice`],
//! refusing an object member written twice at any depth), then each type
//! from that value, a struct or tagged enum one field at a time
//! ([`Fields`], [`deserialize_struct!`], [`deserialize_tagged!`]) and a
//! fieldless enum by its name ([`deserialize_names!`]).
//!
//! Why not serde's derive: it writes a map visitor, a sequence visitor and a
//! field-name matcher for every struct, compiles each once per deserializer
//! the struct is read through, and reads a tagged enum by buffering the
//! object in its private `Content` tree and compiling every variant once
//! more against it. In the wasm module that was about 100 KB gzip of the
//! 400 KB (issue 16). Here every type is compiled against one deserializer
//! (the value's), a struct costs one call per field, and the field types'
//! own `Deserialize` impls (strings, numbers, lists) are shared by all.
//! The rules are the derive's, stated on each macro; where they differ
//! (only an object is read, not the array form; an internally tagged unit
//! variant with other members is refused) the reading is stricter, and the
//! property tests below compare both on arbitrary objects. `Serialize`
//! stays derived.

use std::fmt;

use serde::de::{DeserializeOwned, Error, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// Reads JSON text as `T`: the text into a [`Value`] (refusing an object
/// member written twice, at any depth, as serde's derive refuses a field
/// written twice), then `T` from the value. Every type is so compiled
/// against one deserializer, the value's, instead of once for the text and
/// once more for each value it is also read from (issue 16).
pub(crate) fn from_slice<T: DeserializeOwned>(text: &[u8]) -> Result<T, serde_json::Error> {
    T::deserialize(value_from_slice(text)?)
}

/// Reads JSON text as a [`Value`], refusing an object member written twice.
pub(crate) fn value_from_slice(text: &[u8]) -> Result<Value, serde_json::Error> {
    serde_json::from_slice(text).map(|StrictValue(value)| value)
}

/// How a type writes its Rust field names in JSON.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Names {
    /// `date_time_from` as `dateTimeFrom` (serde's `rename_all = "camelCase"`).
    Camel,
    /// As written in Rust (an enum's `rename_all` renames its variants only).
    Verbatim,
}

/// The fields of one JSON object not taken yet.
pub(crate) struct Fields {
    rest: Map<String, Value>,
    names: Names,
}

impl Fields {
    /// Reads an object (anything else is an error), its fields named in
    /// camelCase. A field written twice, at any depth, is an error too, as
    /// with serde's derive, rather than the last one silently winning.
    pub(crate) fn read<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ObjectVisitor)
    }

    /// The same fields, named `names`.
    pub(crate) fn names(self, names: Names) -> Self {
        Self {
            rest: self.rest,
            names,
        }
    }

    /// The fields of `value`, which must be an object (a struct variant's
    /// body).
    pub(crate) fn of<E: Error>(value: Value, names: Names) -> Result<Self, E> {
        match value {
            Value::Object(rest) => Ok(Self { rest, names }),
            other => Err(E::custom(format_args!(
                "invalid type: {}, expected an object",
                kind(&other)
            ))),
        }
    }

    /// Takes the field that the Rust field `rust_name` is written as.
    /// Generic only where it must be: each field type's instance is its
    /// `Deserialize` call and nothing else.
    pub(crate) fn take<T: DeserializeOwned, E: Error>(&mut self, rust_name: &str) -> Result<T, E> {
        let value = self.remove(rust_name);
        let present = value.is_some();
        // Only an `Option` reads from a missing field (as `None`).
        T::deserialize(value.unwrap_or(Value::Null))
            .map_err(|e| self.field_failure(rust_name, present, &e))
    }

    /// [`Self::take`] for a field with serde's `default`: a missing field is
    /// `T::default()`.
    pub(crate) fn take_or_default<T: DeserializeOwned + Default, E: Error>(
        &mut self,
        rust_name: &str,
    ) -> Result<T, E> {
        // Not `take_or(…, T::default())`: that would build and drop a
        // default for every present field, in every field type's instance.
        match self.remove(rust_name) {
            None => Ok(T::default()),
            Some(value) => {
                T::deserialize(value).map_err(|e| self.field_failure(rust_name, true, &e))
            }
        }
    }

    /// [`Self::take`] for a field of a struct with serde's container
    /// `default`: a missing field is `fallback`, the default struct's.
    pub(crate) fn take_or<T: DeserializeOwned, E: Error>(
        &mut self,
        rust_name: &str,
        fallback: T,
    ) -> Result<T, E> {
        match self.remove(rust_name) {
            None => Ok(fallback),
            Some(value) => {
                T::deserialize(value).map_err(|e| self.field_failure(rust_name, true, &e))
            }
        }
    }

    /// What went wrong with a field, named as written. Kept out of the
    /// generic `take`s: each field type's instance is its `Deserialize` call
    /// and a branch.
    #[cold]
    fn field_failure<E: Error>(
        &self,
        rust_name: &str,
        present: bool,
        error: &serde_json::Error,
    ) -> E {
        let name = self.name(rust_name);
        E::custom(if present {
            format!("field `{name}`: {error}")
        } else {
            format!("missing field `{name}`")
        })
    }

    /// Takes an enum's tag (a string field named exactly `tag`).
    pub(crate) fn take_tag<E: Error>(&mut self, tag: &str) -> Result<String, E> {
        match self.rest.remove(tag) {
            Some(Value::String(variant)) => Ok(variant),
            Some(other) => Err(E::custom(format_args!(
                "field `{tag}`: invalid type: {}, expected a variant name",
                kind(&other)
            ))),
            None => Err(E::custom(format_args!("missing field `{tag}`"))),
        }
    }

    /// What follows an enum's tag (taken): the field `content` of an
    /// adjacently tagged enum (`null` when missing, as for a unit variant),
    /// the only other field there may be; or, internally tagged (`content`
    /// `None`), the object's other fields.
    pub(crate) fn body<E: Error>(mut self, tag: &str, content: Option<&str>) -> Result<Value, E> {
        match content {
            Some(content) => {
                let body = self.rest.remove(content).unwrap_or(Value::Null);
                self.names(Names::Verbatim).finish(&[tag, content])?;
                Ok(body)
            }
            None => Ok(Value::Object(self.rest)),
        }
    }

    /// A unit variant's body: nothing. Adjacently tagged, a missing or
    /// `null` content; internally tagged, no other field (where serde's
    /// derive ignores them even with `deny_unknown_fields`: here nothing
    /// is dropped unseen).
    pub(crate) fn unit<E: Error>(body: Value, adjacent: bool) -> Result<(), E> {
        match body {
            Value::Null if adjacent => Ok(()),
            Value::Object(rest) if !adjacent => Self {
                rest,
                names: Names::Verbatim,
            }
            .finish(&[]),
            other => Err(E::custom(format_args!(
                "invalid type: {}, expected nothing for a unit variant",
                kind(&other)
            ))),
        }
    }

    fn remove(&mut self, rust_name: &str) -> Option<Value> {
        let name = self.name(rust_name);
        self.rest.remove(&name)
    }

    fn name(&self, rust_name: &str) -> String {
        match self.names {
            Names::Camel => camel_case(rust_name),
            Names::Verbatim => rust_name.to_owned(),
        }
    }

    /// Fails when a field was not taken; `expected` are the Rust names of
    /// the fields there are.
    pub(crate) fn finish<E: Error>(self, expected: &[&str]) -> Result<(), E> {
        match self.rest.keys().next() {
            None => Ok(()),
            Some(unknown) => {
                let expected: Vec<String> = expected
                    .iter()
                    .map(|n| format!("`{}`", self.name(n)))
                    .collect();
                Err(E::custom(format_args!(
                    "unknown field `{unknown}`, expected {}",
                    match expected.len() {
                        0 => "none".to_owned(),
                        _ => format!("one of {}", expected.join(", ")),
                    }
                )))
            }
        }
    }
}

/// Implements `Deserialize` for a struct with named fields, through
/// [`Fields`]: what serde's derive reads, at a fraction of the code (the
/// derive writes a map visitor, a sequence visitor and a field-name matcher
/// per struct, compiled once per deserializer; issue 16).
///
/// ```text
/// deserialize_struct! {
///     Summary, fields = Camel, unknown = Ignore;   // Camel | Verbatim; Ignore | Deny
///     provider, report_id, warnings = default, link = skip,
/// }
/// deserialize_struct! {
///     JobConfig, fields = Camel, unknown = Deny, default;   // serde's container `default`
///     seed, retry,
/// }
/// ```
///
/// The rules are the derive's: `unknown = Deny` is `deny_unknown_fields`
/// (else unknown fields are ignored); `= default` is a field's
/// `#[serde(default)]`, `= skip` its `#[serde(skip)]` (not read,
/// `Default::default()`); with the container's `default`, a missing field is
/// the default struct's. A missing field reads as `null` (an `Option` as
/// `None`); a field written twice is refused. Only an object is read, not
/// the array form the derive also accepts. A struct literal names every
/// field, so the list cannot leave one out.
macro_rules! deserialize_struct {
    (@build $fields:ident $base:tt $( $field:ident $(= $how:ident)? ),*) => {
        Self {
            $( $field: $crate::json_fields::deserialize_struct!(@field $fields $base $field $($how)?), )*
        }
    };
    (@field $fields:ident [$($base:ident)?] $field:ident) => {
        $crate::json_fields::deserialize_struct!(@required $fields [$($base)?] $field)
    };
    (@field $fields:ident [$($base:ident)?] $field:ident default) => {
        $fields.take_or_default(stringify!($field))?
    };
    (@field $fields:ident [$($base:ident)?] $field:ident skip) => {
        ::core::default::Default::default()
    };
    (@required $fields:ident [] $field:ident) => {
        $fields.take(stringify!($field))?
    };
    (@required $fields:ident [$base:ident] $field:ident) => {
        $fields.take_or(stringify!($field), $base.$field)?
    };
    (@unknown Deny $fields:ident [$($name:expr),*]) => {
        $fields.finish(&[$($name),*])?
    };
    (@unknown Ignore $fields:ident [$($name:expr),*]) => {
        drop($fields)
    };
    (
        $ty:ident $(<$($generic:ident $(: $bound:path)?),*>)?,
        fields = $names:ident, unknown = $unknown:ident $(, $default:ident)?;
        $( $field:ident $(= $how:ident)? ),* $(,)?
    ) => {
        impl<'de $($(, $generic $(: $bound)?)*)?> ::serde::Deserialize<'de> for $ty $(<$($generic),*>)? {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let mut fields = $crate::json_fields::Fields::read(deserializer)?
                    .names($crate::json_fields::Names::$names);
                $( let $default = <Self as ::core::default::Default>::default(); )?
                let value = $crate::json_fields::deserialize_struct!(
                    @build fields [$($default)?] $( $field $(= $how)? ),*
                );
                $crate::json_fields::deserialize_struct!(
                    @unknown $unknown fields [$(stringify!($field)),*]
                );
                Ok(value)
            }
        }
    };
}
pub(crate) use deserialize_struct;

/// Implements `Deserialize` for an enum serde writes with a tag
/// (`#[serde(tag = …)]`, with `content = …` when adjacently tagged),
/// through [`Fields`] and the [`Value`] they hold.
///
/// serde's derive reads a tagged enum by buffering the object in its
/// private `Content` tree and compiling every variant's body once more
/// against that tree: for the error enums, the machines and the specs,
/// hundreds of KB of the wasm module (issue 16). Here a variant costs a
/// match arm, and its fields one call each. The rules are the derive's with
/// `deny_unknown_fields` (a snapshot or config is refused rather than
/// partly read): the tag must be a known variant name; a missing `Option`
/// field is `None`; other missing fields, unknown fields and fields written
/// twice are errors. The variants are listed with their JSON names, since
/// a macro cannot rename them:
///
/// ```text
/// deserialize_tagged! {
///     ZipError, tag = "kind", fields = Verbatim;
///     "not_zip" => NotZip,                          // unit
///     "truncated" => Truncated { part },            // struct
///     "zip" => Zip(ZipError),                       // newtype: the inner value is the body
///     "find" => Find { created_since, delivered = default }, // serde's `default`
/// }
/// ```
///
/// A struct literal names every field, so a field left out of the list does
/// not compile; a variant left out is refused when read, which each enum's
/// round-trip test over all its variants catches.
macro_rules! deserialize_tagged {
    (@variant $body:ident, $content:ident, $names:ident, $variant:ident) => {{
        $crate::json_fields::Fields::unit($body, $content.is_some())?;
        Self::$variant
    }};
    (@variant $body:ident, $content:ident, $names:ident, $variant:ident { $( $field:ident $(= $default:ident)? ),* }) => {{
        let mut fields = $crate::json_fields::Fields::of($body, $crate::json_fields::Names::$names)?;
        let value = Self::$variant {
            $( $field: $crate::json_fields::deserialize_tagged!(@take fields $field $($default)?), )*
        };
        fields.finish(&[$(stringify!($field)),*])?;
        value
    }};
    (@variant $body:ident, $content:ident, $names:ident, $variant:ident ($inner:ty)) => {
        Self::$variant(
            <$inner as ::serde::Deserialize>::deserialize($body).map_err(::serde::de::Error::custom)?,
        )
    };
    (@take $fields:ident $field:ident) => {
        $fields.take(stringify!($field))?
    };
    (@take $fields:ident $field:ident default) => {
        $fields.take_or_default(stringify!($field))?
    };
    (
        $ty:ident, tag = $tag:literal, $(content = $content:literal,)? fields = $names:ident;
        $( $(#[$attr:meta])* $name:literal => $variant:ident
            $( { $( $field:ident $(= $default:ident)? ),* $(,)? } )?
            $( ( $inner:ty ) )?
        ),* $(,)?
    ) => {
        impl<'de> ::serde::Deserialize<'de> for $ty {
            // The known names are pushed one by one: a variant's `cfg` can
            // mark a statement, not an array element.
            #[allow(clippy::vec_init_then_push)]
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let mut fields = $crate::json_fields::Fields::read(deserializer)?;
                let tag = fields.take_tag($tag)?;
                let content: Option<&str> = None $(.or(Some($content)))?;
                let body = fields.body($tag, content)?;
                Ok(match tag.as_str() {
                    $(
                        $(#[$attr])*
                        $name => $crate::json_fields::deserialize_tagged!(
                            @variant body, content, $names, $variant
                            $({ $( $field $(= $default)? ),* })?
                            $(($inner))?
                        ),
                    )*
                    _ => {
                        let mut known: Vec<&str> = Vec::new();
                        $( $(#[$attr])* known.push($name); )*
                        return Err($crate::json_fields::unknown_variant(&tag, &known));
                    }
                })
            }
        }
    };
}
pub(crate) use deserialize_tagged;

/// Implements `Deserialize` for an enum of unit variants written as their
/// names (serde's derive with `rename_all` or `rename`), listed with their
/// JSON names: a string and a match, where the derive compiles an enum
/// visitor, a variant visitor and its byte-string and index forms for each
/// enum (issue 16). Only the string form is read.
///
/// ```text
/// deserialize_names! {
///     Phase;
///     "authorizing" => Authorizing,
///     "creating" => Creating,
/// }
/// ```
macro_rules! deserialize_names {
    ($ty:ident; $( $name:literal => $variant:ident ),* $(,)?) => {
        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let name = <String as ::serde::Deserialize>::deserialize(deserializer)?;
                Ok(match name.as_str() {
                    $( $name => Self::$variant, )*
                    _ => return Err($crate::json_fields::unknown_variant(&name, &[$($name),*])),
                })
            }
        }
    };
}
pub(crate) use deserialize_names;

/// serde's message for a tag that names no variant.
pub(crate) fn unknown_variant<E: Error>(tag: &str, known: &[&str]) -> E {
    let known: Vec<String> = known.iter().map(|name| format!("`{name}`")).collect();
    E::custom(format_args!(
        "unknown variant `{tag}`, expected one of {}",
        known.join(", ")
    ))
}

/// The JSON type of `value`, for messages.
const fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

struct ObjectVisitor;

impl<'de> Visitor<'de> for ObjectVisitor {
    type Value = Fields;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Fields, A::Error> {
        Ok(Fields {
            rest: read_members(map)?,
            names: Names::Camel,
        })
    }
}

/// An object's members, refusing a name written twice.
fn read_members<'de, A: MapAccess<'de>>(mut map: A) -> Result<Map<String, Value>, A::Error> {
    let mut members = Map::new();
    while let Some(name) = map.next_key::<String>()? {
        let StrictValue(value) = map.next_value()?;
        if members.contains_key(&name) {
            return Err(A::Error::custom(format_args!("duplicate field `{name}`")));
        }
        members.insert(name, value);
    }
    Ok(members)
}

/// A [`Value`] read refusing duplicate object members at every depth
/// (serde_json's own keeps the last one): the fields of a struct nested in
/// a tagged enum are read from this value, and must be refused as the
/// derive refuses them when reading the text.
struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(StrictValueVisitor)
            .map(StrictValue)
    }
}

struct StrictValueVisitor;

impl<'de> Visitor<'de> for StrictValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E: Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: Error>(self, v: f64) -> Result<Value, E> {
        // Infinite or NaN cannot come from JSON text; null as serde_json's own.
        Ok(Value::from(v))
    }

    fn visit_str<E: Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Value, A::Error> {
        read_members(map).map(Value::Object)
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
    use serde::{Deserialize, Serialize};
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

    deserialize_struct! {
        Read, fields = Camel, unknown = Deny;
        business_id, date_time_from, campaign_ids
    }

    fn read(value: Value) -> Result<Read, serde_json::Error> {
        Read::deserialize(value)
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
        from_slice(text)
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

    /// A field written twice is refused at any depth, where serde_json's
    /// own `Value` keeps the last one.
    #[test]
    fn a_member_written_twice_is_refused_at_any_depth() {
        for text in [
            r#"{"a": {"b": 1, "b": 2}}"#,
            r#"[{"x": [], "x": []}]"#,
            r#"{"a": [1, {"c": {"d": null, "d": null}}]}"#,
        ] {
            let error = value_from_slice(text.as_bytes()).unwrap_err();
            assert!(
                error.to_string().starts_with("duplicate field"),
                "{text}: {error}"
            );
            assert!(serde_json::from_str::<Value>(text).is_ok());
        }
        let text = r#"{"a": [1, 2.5, -3, "x", true, null, {"b": {}}]}"#;
        assert_eq!(
            value_from_slice(text.as_bytes()).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
    }

    // The references: serde's derive with the same attributes, written to
    // the same JSON by the same derived `Serialize`, so that a value read
    // each way compares as its JSON.

    #[derive(Debug, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct DerivedInner {
        value_ms: u64,
        #[serde(default)]
        tags: Vec<String>,
    }

    #[derive(Debug, Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Inner {
        value_ms: u64,
        tags: Vec<String>,
    }

    deserialize_struct! {
        Inner, fields = Camel, unknown = Ignore;
        value_ms, tags = default
    }

    #[derive(Debug, Serialize, Deserialize)]
    #[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
    enum DerivedInternal {
        Unit,
        Pair {
            first_name: String,
            count: Option<u32>,
        },
        Inner(DerivedInner),
    }

    #[derive(Debug, Serialize)]
    #[serde(tag = "type", rename_all = "camelCase")]
    enum Internal {
        Unit,
        Pair {
            first_name: String,
            count: Option<u32>,
        },
        Inner(Inner),
    }

    deserialize_tagged! {
        Internal, tag = "type", fields = Verbatim;
        "unit" => Unit,
        "pair" => Pair { first_name, count },
        "inner" => Inner(Inner),
    }

    #[derive(Debug, Serialize, Deserialize)]
    #[serde(
        tag = "t",
        content = "c",
        rename_all = "camelCase",
        deny_unknown_fields
    )]
    enum DerivedAdjacent {
        Unit,
        Pair {
            first_name: String,
            count: Option<u32>,
        },
        Inner(DerivedInner),
    }

    #[derive(Debug, Serialize)]
    #[serde(tag = "t", content = "c", rename_all = "camelCase")]
    enum Adjacent {
        Unit,
        Pair {
            first_name: String,
            count: Option<u32>,
        },
        Inner(Inner),
    }

    deserialize_tagged! {
        Adjacent, tag = "t", content = "c", fields = Verbatim;
        "unit" => Unit,
        "pair" => Pair { first_name, count },
        "inner" => Inner(Inner),
    }

    /// What `from_slice` reads as `T`, and what serde's derive reads as
    /// `R`, both as their JSON (`Err` for a refusal).
    fn both<T: DeserializeOwned + Serialize, R: DeserializeOwned + Serialize>(
        text: &str,
    ) -> (Result<Value, String>, Result<Value, String>) {
        let ours = from_slice::<T>(text.as_bytes())
            .map(|v| serde_json::to_value(v).unwrap_or_default())
            .map_err(|e| e.to_string());
        let derived = serde_json::from_str::<R>(text)
            .map(|v| serde_json::to_value(v).unwrap_or_default())
            .map_err(|e| e.to_string());
        (ours, derived)
    }

    fn member_value() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("null".to_owned()),
            Just("\"unit\"".to_owned()),
            Just("\"pair\"".to_owned()),
            Just("\"inner\"".to_owned()),
            Just("\"other\"".to_owned()),
            any::<u32>().prop_map(|n| n.to_string()),
            Just("-1".to_owned()),
            Just("true".to_owned()),
            Just(r#"["a", "b"]"#.to_owned()),
            Just("[1]".to_owned()),
            Just("{}".to_owned()),
        ]
    }

    /// An object over `keys` with values of every kind; `nested` may also
    /// be an object over `nested_keys`.
    fn object(keys: &'static [&'static str], depth: u32) -> BoxedStrategy<String> {
        let value = if depth == 0 {
            member_value().boxed()
        } else {
            prop_oneof![3 => member_value(), 1 => object(MEMBERS, depth - 1)].boxed()
        };
        proptest::collection::vec((proptest::sample::select(keys), value), 0..5)
            .prop_map(|members| {
                let members: Vec<String> = members
                    .iter()
                    .map(|(k, v)| format!("\"{k}\": {v}"))
                    .collect();
                format!("{{{}}}", members.join(", "))
            })
            .boxed()
    }

    const MEMBERS: &[&str] = &[
        "type",
        "first_name",
        "firstName",
        "count",
        "valueMs",
        "tags",
        "extra",
    ];
    const ADJACENT: &[&str] = &["t", "c", "extra"];

    /// Where the derive and [`deserialize_tagged!`] may differ: the derive
    /// also takes a variant's index as its tag and a struct as an array,
    /// and ignores the other members of an internally tagged unit variant
    /// (even with `deny_unknown_fields`); a snapshot or config never holds
    /// any of them, and [`deserialize_tagged!`] refuses them.
    fn only_derive_reads(text: &str) -> bool {
        let value: Value = serde_json::from_str(text).unwrap_or_default();
        let numeric_tag = ["type", "t"]
            .iter()
            .any(|t| value.get(t).is_some_and(Value::is_number));
        let arrays = |v: &Value| {
            v.as_object()
                .is_some_and(|o| o.values().any(Value::is_array))
        };
        let unit_with_members = value.get("type") == Some(&json!("unit"))
            && value.as_object().is_some_and(|o| o.len() > 1);
        numeric_tag
            || arrays(&value)
            || value.get("c").is_some_and(|c| c.is_array() || arrays(c))
            || unit_with_members
    }

    /// `T` reads `text` as serde's derive reads it as `R`: the same value,
    /// or both refuse (or only the derive reads it, where it is laxer).
    fn agrees<T: DeserializeOwned + Serialize, R: DeserializeOwned + Serialize>(
        text: &str,
    ) -> Result<(), TestCaseError> {
        let (ours, derived) = both::<T, R>(text);
        match (&ours, &derived) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b, "{}", text),
            (Err(_), Err(_)) => {}
            (Err(_), Ok(_)) if only_derive_reads(text) => {}
            _ => prop_assert!(false, "{}: ours {:?}, derive {:?}", text, ours, derived),
        }
        Ok(())
    }

    proptest! {
        /// An internally tagged enum reads as serde's derive reads it.
        #[test]
        fn internally_tagged_agrees_with_the_derive(text in object(MEMBERS, 1)) {
            agrees::<Internal, DerivedInternal>(&text)?;
        }

        /// An adjacently tagged enum reads as serde's derive reads it.
        #[test]
        fn adjacently_tagged_agrees_with_the_derive(text in object(ADJACENT, 1)) {
            agrees::<Adjacent, DerivedAdjacent>(&text)?;
        }
    }

    #[test]
    fn tagged_enums_read_every_variant_in_any_member_order() {
        for (text, expected) in [
            (r#"{"type": "unit"}"#, json!({"type": "unit"})),
            (
                r#"{"count": 2, "first_name": "a", "type": "pair"}"#,
                json!({"type": "pair", "first_name": "a", "count": 2}),
            ),
            (
                r#"{"type": "pair", "first_name": "a"}"#,
                json!({"type": "pair", "first_name": "a", "count": null}),
            ),
            (
                r#"{"valueMs": 5, "type": "inner"}"#,
                json!({"type": "inner", "valueMs": 5, "tags": []}),
            ),
        ] {
            let read = from_slice::<Internal>(text.as_bytes()).unwrap();
            assert_eq!(serde_json::to_value(read).unwrap(), expected, "{text}");
        }
        for (text, expected) in [
            (r#"{"t": "unit"}"#, json!({"t": "unit"})),
            (r#"{"c": null, "t": "unit"}"#, json!({"t": "unit"})),
            (
                r#"{"c": {"first_name": "a", "count": 1}, "t": "pair"}"#,
                json!({"t": "pair", "c": {"first_name": "a", "count": 1}}),
            ),
            (
                r#"{"t": "inner", "c": {"valueMs": 1, "tags": ["x"]}}"#,
                json!({"t": "inner", "c": {"valueMs": 1, "tags": ["x"]}}),
            ),
        ] {
            let read = from_slice::<Adjacent>(text.as_bytes()).unwrap();
            assert_eq!(serde_json::to_value(read).unwrap(), expected, "{text}");
        }
    }

    #[test]
    fn tagged_enum_errors_say_what_is_wrong() {
        let message = |text: &str| {
            from_slice::<Internal>(text.as_bytes())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(message(r#"{"first_name": "a"}"#), "missing field `type`");
        assert_eq!(
            message(r#"{"type": "triple"}"#),
            "unknown variant `triple`, expected one of `unit`, `pair`, `inner`"
        );
        assert_eq!(message(r#"{"type": "pair"}"#), "missing field `first_name`");
        assert_eq!(
            message(r#"{"type": "unit", "count": 1}"#),
            "unknown field `count`, expected none"
        );
        assert_eq!(
            message(r#"{"type": "pair", "first_name": "a", "extra": 1}"#),
            "unknown field `extra`, expected one of `first_name`, `count`"
        );
        assert!(message(r#"{"type": 1}"#).starts_with("field `type`: invalid type: number"));
        let adjacent = |text: &str| {
            from_slice::<Adjacent>(text.as_bytes())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            adjacent(r#"{"t": "unit", "x": 1}"#),
            "unknown field `x`, expected one of `t`, `c`"
        );
        assert!(adjacent(r#"{"t": "unit", "c": {}}"#).starts_with("invalid type: object"));
        assert_eq!(
            adjacent(r#"{"t": "pair", "c": {}}"#),
            "missing field `first_name`"
        );
    }

    #[derive(Debug, PartialEq, Serialize)]
    struct WithDefaults {
        kept: u32,
        defaulted: u32,
        skipped: u32,
    }

    impl Default for WithDefaults {
        fn default() -> Self {
            Self {
                kept: 7,
                defaulted: 8,
                skipped: 9,
            }
        }
    }

    deserialize_struct! {
        WithDefaults, fields = Verbatim, unknown = Deny, default;
        kept, defaulted = default, skipped = skip
    }

    /// serde's container `default` (a missing field is the default
    /// struct's), a field's `default` (the field type's) and `skip`.
    #[test]
    fn struct_defaults_are_serdes() {
        let read = |text: &str| from_slice::<WithDefaults>(text.as_bytes());
        assert_eq!(
            read("{}").unwrap(),
            WithDefaults {
                kept: 7,
                defaulted: 0,
                skipped: 0
            }
        );
        assert_eq!(
            read(r#"{"kept": 1, "defaulted": 2}"#).unwrap(),
            WithDefaults {
                kept: 1,
                defaulted: 2,
                skipped: 0
            }
        );
        assert!(read(r#"{"kept": null}"#).is_err());
        assert!(read(r#"{"other": 1}"#).is_err());
        // An unknown field is ignored with `unknown = Ignore`.
        assert_eq!(
            from_slice::<Inner>(br#"{"valueMs": 1, "extra": [1]}"#)
                .map(|i| i.value_ms)
                .unwrap(),
            1
        );
    }
}
