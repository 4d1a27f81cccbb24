//! The integrity decoder (MD5, sniff, gunzip, CRC-32/ISIZE, limits) and the
//! streaming ZIP reader on arbitrary bytes in arbitrary chunks, with small
//! limits. Never a panic, never a byte past a limit.

#![no_main]

use libfuzzer_sys::fuzz_target;
use reportflow::integrity::{Decoder, Limits, ZipLimits, ZipReader};
use reportflow_fuzz::Bytes;

const LIMIT: u64 = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let mut bytes = Bytes(data);
    let step = usize::from(bytes.byte()) + 1;
    let body = bytes.0;

    let mut decoder = Decoder::new(Limits::new(LIMIT, LIMIT), None);
    let mut out = vec![0u8; 4_096];
    let mut produced = 0u64;
    'decode: for chunk in body.chunks(step) {
        let mut input = chunk;
        loop {
            match decoder.pull(input, &mut out) {
                Ok(progress) if progress.consumed == 0 && progress.produced == 0 => break,
                Ok(progress) => {
                    produced += progress.produced as u64;
                    input = &input[progress.consumed..];
                }
                Err(_) => break 'decode,
            }
        }
    }
    assert!(produced <= LIMIT);
    let _ = decoder.finish();

    let mut zip = ZipReader::new(ZipLimits::default());
    let mut decoded = 0u64;
    'unzip: for chunk in body.chunks(step) {
        let mut input = chunk;
        loop {
            match zip.pull(input, &mut out) {
                Ok(progress) if progress.is_stalled() => break,
                Ok(progress) => {
                    decoded += progress.produced as u64;
                    input = &input[progress.consumed..];
                }
                Err(_) => break 'unzip,
            }
        }
    }
    let _ = decoded;
    let _ = zip.finish();
});
