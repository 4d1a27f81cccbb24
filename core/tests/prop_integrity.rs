//! Property tests for `reportflow::integrity`: gzip decoding is independent
//! of chunking, never panics, and never reports success with wrong bytes.
//!
//! Case count follows `PROPTEST_CASES` (proptest's default config).

use std::io::Read;

use proptest::prelude::*;
use reportflow::integrity::{Compression, Decoder, Gunzip, IntegrityError, Limits, Md5};
use reportflow::sim::gzip_compress;

/// Data that compresses in interesting ways: runs, repeats and noise.
fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..2_000),
        (prop::collection::vec(any::<u8>(), 1..40), 1usize..3_000).prop_map(|(unit, reps)| unit
            .iter()
            .copied()
            .cycle()
            .take(unit.len() * reps)
            .collect()),
        prop::collection::vec(
            prop::sample::select(b"{}\"sku\":,[]0123 \n".to_vec()),
            0..20_000
        ),
    ]
}

fn chunks<'a>(data: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    points.push(0);
    points.push(data.len());
    points.sort_unstable();
    points.dedup();
    points.windows(2).map(|w| &data[w[0]..w[1]]).collect()
}

/// Decodes through `Decoder::pull` with the given chunking and output size.
fn decode_pull(
    body: &[u8],
    cuts: &[usize],
    out_len: usize,
    expected: Option<reportflow::integrity::Md5Digest>,
) -> Result<Vec<u8>, IntegrityError> {
    let mut d = Decoder::new(Limits::default(), expected);
    let mut out = vec![0u8; out_len.max(1)];
    let mut got = Vec::new();
    for c in chunks(body, cuts) {
        let mut rest = c;
        loop {
            let p = d.pull(rest, &mut out)?;
            got.extend_from_slice(&out[..p.produced]);
            rest = &rest[p.consumed..];
            if p.is_stalled() {
                break;
            }
        }
        assert!(rest.is_empty());
    }
    d.finish()?;
    Ok(got)
}

fn gunzip_push(body: &[u8], cuts: &[usize]) -> Result<Vec<u8>, IntegrityError> {
    let mut g = Gunzip::new(Limits::default());
    let mut got = Vec::new();
    for c in chunks(body, cuts) {
        g.push(c, &mut |b: &[u8]| got.extend_from_slice(b))?;
    }
    let stats = g.finish()?;
    assert_eq!(stats.decompressed_bytes, got.len() as u64);
    Ok(got)
}

/// flate2 (zlib-rs) as the independent reference decoder.
fn reference(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(body)
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}

proptest! {
    #[test]
    fn round_trip_any_chunking(
        data in payload(),
        level in 0u8..=10,
        cuts in prop::collection::vec(any::<usize>(), 0..30),
        out_len in 1usize..100_000,
    ) {
        let gz = gzip_compress(&data, level);
        prop_assert_eq!(reference(&gz), Some(data.clone()));
        prop_assert_eq!(&decode_pull(&gz, &cuts, out_len, Some(Md5::digest(&gz))).unwrap(), &data);
        prop_assert_eq!(&gunzip_push(&gz, &cuts).unwrap(), &data);
        // Two members concatenated decode as one stream.
        let mut two = gz.clone();
        two.extend_from_slice(&gz);
        let mut twice = data.clone();
        twice.extend_from_slice(&data);
        prop_assert_eq!(gunzip_push(&two, &cuts).unwrap(), twice);
    }

    #[test]
    fn arbitrary_bytes_never_panic_nor_lie(
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..400),
            (any::<u8>(), prop::collection::vec(any::<u8>(), 0..400)).prop_map(|(flags, tail)| {
                let mut v = vec![0x1f, 0x8b, 8, flags & 0x1f, 0, 0, 0, 0, 0, 3];
                v.extend(tail);
                v
            }),
        ],
        cuts in prop::collection::vec(any::<usize>(), 0..10),
        out_len in 1usize..300,
    ) {
        let pulled = decode_pull(&body, &cuts, out_len, None);
        if body.starts_with(&[0x1f, 0x8b]) {
            if let Ok(out) = &pulled {
                prop_assert_eq!(Some(out.clone()), reference(&body));
            }
        } else if body != [0x1f] {
            prop_assert_eq!(pulled.as_deref(), Ok(&body[..]));
        }
        if let Ok(out) = gunzip_push(&body, &cuts) {
            prop_assert_eq!(Some(out), reference(&body));
        }
        let _ = Decoder::new(Limits::default(), None).with_compression(Compression::Gzip)
            .push(&body, &mut |_: &[u8]| {});
    }

    #[test]
    fn corruption_is_never_accepted_with_different_output(
        data in payload(),
        level in 0u8..=9,
        at in any::<prop::sample::Index>(),
        mask in 1u8..=255,
        cut in any::<prop::sample::Index>(),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let gz = gzip_compress(&data, level);
        let mut flipped = gz.clone();
        let i = at.index(flipped.len());
        flipped[i] ^= mask;
        match gunzip_push(&flipped, &cuts) {
            // Only bytes nobody checks may change: MTIME/XFL/OS, FTEXT, or
            // unused bits of the last deflate byte; the output is the same.
            Ok(out) => prop_assert_eq!(out, data.clone(), "flip at {} mask {:#x} accepted", i, mask),
            Err(e) => prop_assert!(!(4..10).contains(&i), "ignorable header byte {} rejected: {}", i, e),
        }
        let len = cut.index(gz.len());
        let e = gunzip_push(&gz[..len], &cuts).unwrap_err();
        prop_assert_eq!(e.kind(), "truncated");
        // (An empty body is a valid, empty uncompressed download.)
        prop_assert!(len == 0 || decode_pull(&gz[..len], &cuts, 4096, None).is_err());
    }

    #[test]
    fn wrong_md5_is_md5_mismatch(data in payload(), other in any::<u8>(), gzip in any::<bool>()) {
        let body = if gzip { gzip_compress(&data, 6) } else { data.clone() };
        let mut wrong_body = body.clone();
        wrong_body.push(other);
        let wrong = Md5::digest(&wrong_body);
        let e = decode_pull(&body, &[7, 100], 1000, Some(wrong)).unwrap_err();
        prop_assert_eq!(e, IntegrityError::Md5Mismatch { expected: wrong.to_hex(), actual: Md5::digest(&body).to_hex() });
    }
}
