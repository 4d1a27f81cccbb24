//! Property tests for `reportflow::records`: chunking never changes what the
//! splitters see, and no input makes them panic.
//!
//! Case count follows `PROPTEST_CASES` (proptest's default config).

use proptest::prelude::*;
use reportflow::records::{
    fields, parse_item, DelimitedSplitter, JsonArraySplitter, RecordFormat, RowCounter,
};
use serde_json::Value;

/// JSON values whose text form round-trips exactly (floats are multiples of
/// 1/4, so no decimal rounding is involved).
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1_000_000i32..1_000_000).prop_map(|q| Value::from(f64::from(q) / 4.0)),
        any::<String>().prop_map(Value::String),
        "[\"\\\\\\[\\]{},: \t\n\u{e9}\u{1f600}a]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z\"\\\\ ]{0,6}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Splits `data` at the given cut points (taken modulo its length).
fn chunks<'a>(data: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts
        .iter()
        .map(|c| {
            if data.is_empty() {
                0
            } else {
                c % (data.len() + 1)
            }
        })
        .collect();
    points.push(0);
    points.push(data.len());
    points.sort_unstable();
    points.dedup();
    points.windows(2).map(|w| &data[w[0]..w[1]]).collect()
}

proptest! {
    #[test]
    fn json_array_items_survive_any_chunking(
        values in prop::collection::vec(json_value(), 0..12),
        pretty in any::<bool>(),
        cuts in prop::collection::vec(any::<usize>(), 0..40),
    ) {
        let array = Value::Array(values.clone());
        let body = if pretty { serde_json::to_vec_pretty(&array).unwrap() } else { serde_json::to_vec(&array).unwrap() };
        let mut split = JsonArraySplitter::new();
        let mut got = Vec::new();
        for c in chunks(&body, &cuts) {
            split.push(c, &mut |item: &[u8]| got.push(parse_item(item).unwrap())).unwrap();
        }
        prop_assert_eq!(split.finish().unwrap(), values.len() as u64);
        prop_assert_eq!(got, values);
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        data in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..300),
            prop::collection::vec(prop::sample::select(b"[]{}\",:\\ \t\r\n1a\x00\xef\xbb\xbf".to_vec()), 0..300),
        ],
        cuts in prop::collection::vec(any::<usize>(), 0..20),
        max in 1usize..64,
    ) {
        let mut j = JsonArraySplitter::new().with_max_item_bytes(max).with_max_depth(8);
        let mut t = DelimitedSplitter::csv().with_max_row_bytes(max);
        let mut c = RowCounter::new(RecordFormat::Tsv);
        let mut n_rows = 0u64;
        for chunk in chunks(&data, &cuts) {
            let _ = j.push(chunk, &mut |item: &[u8]| { let _ = parse_item(item); });
            let _ = t.push(chunk, &mut |row: &[u8]| { n_rows += 1; let _ = fields(row, b',').count(); });
            let _ = c.push(chunk);
        }
        let _ = j.finish();
        let _ = t.finish(&mut |row: &[u8]| { let _ = fields(row, b',').count(); });
        let _ = c.finish();
        let _ = fields(&data, b'"').count();
        let _ = fields(&data, b'\t').count();
    }

    #[test]
    fn tsv_rows_split_identically_regardless_of_chunking(
        rows in prop::collection::vec(
            prop::collection::vec((any::<bool>(), "[a \"\t\n\r\u{e9}]{0,8}", any::<bool>()), 2..5),
            0..8,
        ),
        crlf in any::<bool>(),
        cuts in prop::collection::vec(any::<usize>(), 0..30),
    ) {
        // Render: quoted fields double their quotes; plain fields drop the
        // characters a plain field cannot hold and may carry stray quotes
        // after their first byte.
        let mut body = Vec::new();
        let mut expected_fields: Vec<Vec<Vec<u8>>> = Vec::new();
        for row in &rows {
            let mut rendered = Vec::new();
            for (quoted, text, stray) in row {
                let mut value: Vec<u8>;
                if *quoted {
                    value = text.as_bytes().to_vec();
                    if !rendered.is_empty() { body.push(b'\t'); }
                    body.push(b'"');
                    for &b in &value {
                        if b == b'"' { body.push(b'"'); }
                        body.push(b);
                    }
                    body.push(b'"');
                } else {
                    value = text.bytes().filter(|b| !matches!(b, b'\t' | b'\n' | b'\r' | b'"')).collect();
                    if *stray && !value.is_empty() {
                        value.insert(1, b'"');
                    }
                    if !rendered.is_empty() { body.push(b'\t'); }
                    body.extend_from_slice(&value);
                }
                rendered.push(value);
            }
            body.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
            expected_fields.push(rendered);
        }
        let split = |parts: Vec<&[u8]>| {
            let mut s = DelimitedSplitter::tsv();
            let mut out: Vec<Vec<u8>> = Vec::new();
            for p in parts {
                s.push(p, &mut |r: &[u8]| out.push(r.to_vec())).unwrap();
            }
            let n = s.finish(&mut |r: &[u8]| out.push(r.to_vec())).unwrap();
            assert_eq!(n, out.len() as u64);
            out
        };
        let whole = split(vec![&body[..]]);
        let chunked = split(chunks(&body, &cuts));
        prop_assert_eq!(&whole, &chunked);
        prop_assert_eq!(whole.len(), rows.len());
        for (row, want) in whole.iter().zip(&expected_fields) {
            let got: Vec<Vec<u8>> = fields(row, b'\t').map(|f| f.into_owned()).collect();
            prop_assert_eq!(&got, want);
        }
    }
}
