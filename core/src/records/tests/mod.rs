//! Unit tests for the record splitters.

use super::*;

fn split_json(data: &[u8], chunk: usize) -> Result<Vec<Vec<u8>>, RecordError> {
    let mut s = JsonArraySplitter::new();
    let mut items = Vec::new();
    for c in data.chunks(chunk.max(1)) {
        s.push(c, &mut |i: &[u8]| items.push(i.to_vec()))?;
    }
    let n = s.finish()?;
    assert_eq!(n, items.len() as u64);
    Ok(items)
}

fn split_rows(data: &[u8], delimiter: u8, chunk: usize) -> Result<Vec<Vec<u8>>, RecordError> {
    let mut s = DelimitedSplitter::new(delimiter);
    let mut rows = Vec::new();
    for c in data.chunks(chunk.max(1)) {
        s.push(c, &mut |r: &[u8]| rows.push(r.to_vec()))?;
    }
    let n = s.finish(&mut |r: &[u8]| rows.push(r.to_vec()))?;
    assert_eq!(n, rows.len() as u64);
    Ok(rows)
}

#[test]
fn json_items_exact_and_trimmed_at_any_chunking() {
    let data = "\u{feff} \n[ {\"a\":\"x,]}\\\"y\",\"b\":[1,{\"c\":null}]} ,\n\t\"s\\\\\" , 12.5e3,true,null,\
                [],{},\"caf\u{e9} \u{1f600}\" ,-7 ]\r\n"
        .as_bytes();
    let expected: Vec<&[u8]> = vec![
        b"{\"a\":\"x,]}\\\"y\",\"b\":[1,{\"c\":null}]}",
        b"\"s\\\\\"",
        b"12.5e3",
        b"true",
        b"null",
        b"[]",
        b"{}",
        "\"caf\u{e9} \u{1f600}\"".as_bytes(),
        b"-7",
    ];
    for chunk in 1..=data.len() {
        let items = split_json(data, chunk).unwrap();
        assert_eq!(items, expected, "chunk={chunk}");
    }
    for item in &expected {
        parse_item(item).unwrap();
    }
}

#[test]
fn json_empty_and_errors() {
    assert!(split_json(b"[]", 1).unwrap().is_empty());
    assert!(split_json(b" [ \n ] \n", 1).unwrap().is_empty());
    let kind = |d: &[u8]| split_json(d, 3).unwrap_err().kind();
    assert_eq!(kind(b""), "not_array");
    assert_eq!(kind(b"{\"a\":1}"), "not_array");
    assert_eq!(kind(b"\xef\xbb[]"), "not_array");
    assert_eq!(kind(b"[1,2"), "unterminated");
    assert_eq!(kind(b"[{\"a\":\"]}"), "unterminated");
    assert_eq!(kind(b"[1] x"), "trailing_garbage");
    assert_eq!(kind(b"[1][2]"), "trailing_garbage");
    assert_eq!(kind(b"[1,]"), "malformed");
    assert_eq!(kind(b"[,1]"), "malformed");
    assert_eq!(kind(b"[1 2]"), "malformed");
    assert_eq!(kind(b"[{} {}]"), "malformed");
    assert_eq!(kind(b"[tr\"ue\"]"), "malformed");
    assert_eq!(
        split_json(b"[1,2", 3).unwrap_err(),
        RecordError::Unterminated { items: 1 }
    );
    assert_eq!(
        split_json(b"[1]  x", 2).unwrap_err(),
        RecordError::TrailingGarbage { offset: 5 }
    );
}

#[test]
fn json_limits() {
    let mut s = JsonArraySplitter::new().with_max_item_bytes(10);
    let mut n = 0;
    s.push(b"[\"0123456\",", &mut |_: &[u8]| n += 1).unwrap();
    assert_eq!(n, 1);
    let e = s
        .push(b"\"0123456789\"]", &mut |_: &[u8]| n += 1)
        .unwrap_err();
    assert_eq!(e, RecordError::ItemTooLarge { limit: 10 });
    // Sticky.
    assert_eq!(s.push(b"", &mut |_: &[u8]| {}).unwrap_err(), e);

    // Over-long item spread over many chunks is caught before buffering it all.
    let mut s = JsonArraySplitter::new().with_max_item_bytes(1000);
    s.push(b"[\"", &mut |_: &[u8]| {}).unwrap();
    let mut err = None;
    for _ in 0..100 {
        if let Err(e) = s.push(&[b'x'; 100], &mut |_: &[u8]| {}) {
            err = Some(e);
            break;
        }
    }
    assert_eq!(err.unwrap().kind(), "item_too_large");

    let deep = format!("[{}{}]", "[".repeat(200), "]".repeat(200));
    assert_eq!(
        split_json(deep.as_bytes(), 7).unwrap_err(),
        RecordError::TooDeep { limit: 128 }
    );
    let ok = format!("[{}{}]", "[".repeat(128), "]".repeat(128));
    assert_eq!(split_json(ok.as_bytes(), 7).unwrap().len(), 1);
    let mut s = JsonArraySplitter::new().with_max_depth(0);
    assert_eq!(
        s.push(b"[{}]", &mut |_: &[u8]| {}).unwrap_err().kind(),
        "too_deep"
    );
}

#[test]
fn parse_item_keeps_integers_exact() {
    let v =
        parse_item(b"{\"id\":1234567890123456789,\"neg\":-1234567890123456789,\"amount\":19.99}")
            .unwrap();
    assert_eq!(v["id"].as_u64(), Some(1_234_567_890_123_456_789));
    assert_eq!(v["neg"].as_i64(), Some(-1_234_567_890_123_456_789));
    assert_eq!(
        serde_json::to_string(&v["id"]).unwrap(),
        "1234567890123456789"
    );
    assert_eq!(parse_item(b"{\"a\":]").unwrap_err().kind(), "invalid_json");
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    assert_eq!(
        parse_item(deep.as_bytes()).unwrap_err().kind(),
        "invalid_json"
    );
    #[derive(serde::Deserialize)]
    struct Row {
        id: u64,
    }
    let r: Row = parse_item_as(b"{\"id\":18446744073709551615}").unwrap();
    assert_eq!(r.id, u64::MAX);
}

#[test]
fn tsv_rows_quotes_and_terminators() {
    let data = b"sku\tname\tqty\r\nA-1\t\"Mug\tlarge\r\nline2 \"\"q\"\"\"\t3\n\nB-2\t12\" tablet\t4\r\nC-3\t\"x\"y\t5";
    let expected: Vec<&[u8]> = vec![
        b"sku\tname\tqty",
        b"A-1\t\"Mug\tlarge\r\nline2 \"\"q\"\"\"\t3",
        b"B-2\t12\" tablet\t4",
        b"C-3\t\"x\"y\t5",
    ];
    for chunk in 1..=data.len() {
        assert_eq!(
            split_rows(data, b'\t', chunk).unwrap(),
            expected,
            "chunk={chunk}"
        );
    }
    let f: Vec<Vec<u8>> = fields(expected[1], b'\t').map(|c| c.into_owned()).collect();
    assert_eq!(
        f,
        vec![
            b"A-1".to_vec(),
            b"Mug\tlarge\r\nline2 \"q\"".to_vec(),
            b"3".to_vec()
        ]
    );
    let f: Vec<Vec<u8>> = fields(expected[3], b'\t').map(|c| c.into_owned()).collect();
    assert_eq!(f, vec![b"C-3".to_vec(), b"xy".to_vec(), b"5".to_vec()]);
    assert!(matches!(
        fields(b"\"plain\",x", b',').next(),
        Some(std::borrow::Cow::Borrowed(b"plain"))
    ));
    assert_eq!(fields(b"", b',').count(), 1);
    assert_eq!(fields(b"a,,", b',').count(), 3);
}

#[test]
fn csv_and_limits() {
    let rows = split_rows(b"a,\"b,c\"\n1,2\n", b',', 2).unwrap();
    assert_eq!(rows, vec![b"a,\"b,c\"".to_vec(), b"1,2".to_vec()]);
    assert_eq!(
        split_rows(b"a\t\"open\nb\n", b'\t', 4).unwrap_err(),
        RecordError::UnterminatedQuote { row: 1 }
    );
    let mut s = DelimitedSplitter::tsv().with_max_row_bytes(8);
    s.push(b"1234567\n", &mut |_: &[u8]| {}).unwrap();
    assert_eq!(
        s.push(b"12345678\n", &mut |_: &[u8]| {}).unwrap_err(),
        RecordError::RowTooLarge { limit: 8 }
    );
    let mut s = DelimitedSplitter::tsv().with_max_row_bytes(8);
    assert_eq!(s.push(b"123", &mut |_: &[u8]| {}), Ok(()));
    assert_eq!(
        s.push(b"45678", &mut |_: &[u8]| {}).unwrap_err().kind(),
        "row_too_large"
    );
}

#[test]
fn row_counter_formats() {
    let mut c = RowCounter::new(RecordFormat::JsonArray);
    c.push(b"[1,{\"a\":[2]},").unwrap();
    assert_eq!(c.records(), 2);
    c.push(b"3]").unwrap();
    assert_eq!(c.finish().unwrap(), Some(3));

    let mut c = RowCounter::new(RecordFormat::Tsv);
    c.push(b"h1\th2\nx\ty").unwrap();
    let mut last = Vec::new();
    assert_eq!(
        c.finish_with(&mut |r: &[u8]| last = r.to_vec()).unwrap(),
        Some(2)
    );
    assert_eq!(last, b"x\ty");

    let mut c = RowCounter::new(RecordFormat::Csv).with_max_record_bytes(4);
    assert_eq!(c.push(b"abcdef\n").unwrap_err().kind(), "row_too_large");

    let mut c = RowCounter::new(RecordFormat::Opaque);
    c.push(b"<xml/>").unwrap();
    assert_eq!(c.finish().unwrap(), None);
    assert_eq!(
        serde_json::to_string(&RecordFormat::JsonArray).unwrap(),
        "\"json_array\""
    );
}
