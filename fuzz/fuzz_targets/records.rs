//! The row splitters (JSON array items, quote-tolerant TSV and CSV) on
//! arbitrary bytes in arbitrary chunks. Never a panic; items are parsed.

#![no_main]

use libfuzzer_sys::fuzz_target;
use reportflow::records::{fields, parse_item, DelimitedSplitter, JsonArraySplitter};
use reportflow_fuzz::Bytes;

fuzz_target!(|data: &[u8]| {
    let mut bytes = Bytes(data);
    let step = usize::from(bytes.byte()) + 1;
    let body = bytes.0;

    let mut json = JsonArraySplitter::new().with_max_item_bytes(1 << 16);
    for chunk in body.chunks(step) {
        if json
            .push(chunk, &mut |item| {
                let _ = parse_item(item);
            })
            .is_err()
        {
            break;
        }
    }
    let _ = json.finish();

    for mut rows in [DelimitedSplitter::tsv(), DelimitedSplitter::csv()] {
        let delimiter = rows.delimiter();
        let mut on_row = |row: &[u8]| {
            let _ = fields(row, delimiter).count();
        };
        let mut failed = false;
        for chunk in body.chunks(step) {
            if rows.push(chunk, &mut on_row).is_err() {
                failed = true;
                break;
            }
        }
        if !failed {
            let _ = rows.finish(&mut on_row);
        }
    }
});
