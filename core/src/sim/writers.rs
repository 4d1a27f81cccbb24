//! Writers of the bodies the simulators serve: single-member gzip and ZIP
//! archives.
//!
//! They live here, not in [`integrity`](crate::integrity), because nothing
//! but simulators and tests writes these formats: a host only reads them
//! (with [`Decoder`](crate::integrity::Decoder),
//! [`ZipReader`](crate::integrity::ZipReader)). Outputs depend on the input
//! only (no timestamps), so simulated bodies are reproducible.

use super::fnv1a;
use crate::calendar::civil_time;
use crate::integrity::{Crc32, ZipMethod};
use crate::retry::splitmix64;
use crate::time::Millis;

const SIG_LOCAL: u32 = 0x0403_4b50;
const SIG_CENTRAL: u32 = 0x0201_4b50;
const SIG_END: u32 = 0x0605_4b50;
const SIG_DESCRIPTOR: u32 = 0x0807_4b50;
/// General-purpose flag bit 3: CRC and sizes follow the data.
const FLAG_DESCRIPTOR: u16 = 1 << 3;

/// Compresses `data` into one gzip member (RFC 1952) at `level`.
///
/// Meant for simulators and tests that must serve gzip bodies, not for
/// large production payloads: the whole output is built in memory.
/// `level` follows miniz_oxide: 0 stores, 1 is fastest, 6 is the usual
/// default, 9 is best and 10 is miniz's slowest "uber" mode; larger values
/// act as 10. The header carries no name, no timestamp (MTIME 0) and OS
/// 255 ("unknown"), so the output depends on `data` and `level` only.
#[must_use]
pub fn gzip_compress(data: &[u8], level: u8) -> Vec<u8> {
    let level = level.min(10);
    let deflated = miniz_oxide::deflate::compress_to_vec(data, level);
    let xfl = match level {
        0..=1 => 4,
        9.. => 2,
        _ => 0,
    };
    let mut out = Vec::with_capacity(deflated.len().saturating_add(18));
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255]);
    out.extend_from_slice(&deflated);
    out.extend_from_slice(&Crc32::checksum(data).to_le_bytes());
    // ISIZE is the length mod 2^32 by definition, so truncation is intended.
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// A member to write with [`zip_archive`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ZipMember<'a> {
    /// The name, written as given (even an unsafe one, so tests can build
    /// hostile archives).
    pub name: &'a str,
    /// The member's bytes.
    pub data: &'a [u8],
    /// How to store them.
    pub method: ZipMethod,
    /// Write the CRC and sizes in a data descriptor after the data (as
    /// streaming writers do) instead of in the local header.
    pub descriptor: bool,
}

impl<'a> ZipMember<'a> {
    /// A member with its sizes in the local header.
    #[must_use]
    pub const fn new(name: &'a str, data: &'a [u8], method: ZipMethod) -> Self {
        Self {
            name,
            data,
            method,
            descriptor: false,
        }
    }

    /// The same member, written with a data descriptor.
    #[must_use]
    pub const fn with_descriptor(mut self) -> Self {
        self.descriptor = true;
        self
    }
}

/// Writes a ZIP archive of `members` in memory: UTF-8 names, a fixed
/// timestamp (1980-01-01), deflate level 6, no zip64.
///
/// Meant for simulators and tests (the output depends on the members only);
/// a stored member with a descriptor still carries its sizes in the local
/// header so that streaming readers can find its end.
#[must_use]
pub fn zip_archive(members: &[ZipMember<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut directory = Vec::new();
    for member in members {
        let offset = out.len() as u32;
        let crc = Crc32::checksum(member.data);
        let stored;
        let data: &[u8] = match member.method {
            ZipMethod::Stored => member.data,
            ZipMethod::Deflated => {
                stored = miniz_oxide::deflate::compress_to_vec(member.data, 6);
                &stored
            }
        };
        // Sizes beyond 4 GiB would need zip64, which this writer does not do.
        let (csize, size) = (data.len() as u32, member.data.len() as u32);
        let descriptor = member.descriptor;
        let flags: u16 = (1 << 11) | if descriptor { FLAG_DESCRIPTOR } else { 0 };
        let local_sizes = !descriptor || member.method == ZipMethod::Stored;
        let name = member.name.as_bytes();
        let name_len = name.len() as u16;
        out.extend_from_slice(&SIG_LOCAL.to_le_bytes());
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(&flags.to_le_bytes());
        out.extend_from_slice(&member.method.code().to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&0x0021u16.to_le_bytes());
        for value in [crc, csize, size] {
            out.extend_from_slice(&if local_sizes { value } else { 0 }.to_le_bytes());
        }
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(name);
        out.extend_from_slice(data);
        if descriptor {
            out.extend_from_slice(&SIG_DESCRIPTOR.to_le_bytes());
            for value in [crc, csize, size] {
                out.extend_from_slice(&value.to_le_bytes());
            }
        }
        directory.extend_from_slice(&SIG_CENTRAL.to_le_bytes());
        directory.extend_from_slice(&20u16.to_le_bytes());
        directory.extend_from_slice(&20u16.to_le_bytes());
        directory.extend_from_slice(&flags.to_le_bytes());
        directory.extend_from_slice(&member.method.code().to_le_bytes());
        directory.extend_from_slice(&0u16.to_le_bytes());
        directory.extend_from_slice(&0x0021u16.to_le_bytes());
        for value in [crc, csize, size] {
            directory.extend_from_slice(&value.to_le_bytes());
        }
        directory.extend_from_slice(&name_len.to_le_bytes());
        directory.extend_from_slice(&[0; 8]);
        directory.extend_from_slice(&0u32.to_le_bytes());
        directory.extend_from_slice(&offset.to_le_bytes());
        directory.extend_from_slice(name);
    }
    let start = out.len() as u32;
    let count = members.len() as u16;
    out.extend_from_slice(&directory);
    out.extend_from_slice(&SIG_END.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&(directory.len() as u32).to_le_bytes());
    out.extend_from_slice(&start.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// An Amazon flat file (Lingxing's exports, Amazon Pay's reports): a header line and `rows` tab-separated rows whose
/// values depend only on `seed` and `key`.
pub(crate) fn amazon_flat_file(seed: u64, key: &str, report_type: &str, rows: u32) -> Vec<u8> {
    const SKUS: [&str; 6] = [
        "TEA-GREEN-100",
        "TEA-BLACK-250",
        "MUG-CERAMIC-WHT",
        "KETTLE-1L",
        "INFUSER-STEEL",
        "GIFT-SET-ÄÖÜ",
    ];
    const STATUS: [&str; 4] = ["Shipped", "Shipped", "Pending", "Cancelled"];
    const CHANNELS: [&str; 2] = ["Amazon", "Merchant"];
    let mut state = splitmix64(seed ^ fnv1a(key) ^ fnv1a(report_type));
    let mut next = move || {
        state = splitmix64(state);
        state
    };
    let mut out = String::from(
        "amazon-order-id\tmerchant-order-id\tpurchase-date\torder-status\tfulfillment-channel\tsku\tasin\tquantity\tcurrency\titem-price\n",
    );
    for row in 0..rows {
        let r = next();
        let index = |n: usize| (r % n as u64) as usize;
        let sku = SKUS.get(index(SKUS.len())).copied().unwrap_or_default();
        let order = format!(
            "{:03}-{:07}-{:07}",
            100 + r % 900,
            next() % 10_000_000,
            next() % 10_000_000
        );
        let seconds = 1_709_251_200 + u64::from(row) * 37 + next() % 30;
        let at = civil_time(Millis(seconds.saturating_mul(1000)));
        out.push_str(&format!(
            "{order}\t\t{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+00:00\t{}\t{}\t{sku}\tB0{:08X}\t{}\tUSD\t{}.{:02}\n",
            at.year,
            at.month,
            at.day,
            at.hour,
            at.minute,
            at.second,
            STATUS.get(index(STATUS.len())).copied().unwrap_or_default(),
            CHANNELS.get((r >> 8) as usize % 2).copied().unwrap_or_default(),
            next() & 0xffff_ffff,
            1 + next() % 5,
            5 + next() % 95,
            next() % 100,
        ));
    }
    out.into_bytes()
}

/// The language of a marketplace's product names, for flat files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Language {
    /// Western Europe and the Americas (windows-1252 text).
    Latin,
    /// Japan (Windows-31J text).
    Japanese,
    /// China.
    Chinese,
}

/// A listings flat file (`_GET_MERCHANT_LISTINGS_DATA_`'s columns) of
/// `rows` rows whose values depend only on `seed` and `key`, with product
/// names in `language`.
pub(crate) fn listings_flat_file(seed: u64, key: &str, language: Language, rows: u32) -> String {
    const LATIN: [&str; 5] = [
        "Green tea – 100 bags",
        "Mug “classic” white",
        "Kettle 1 L, steel",
        "Gift set ÄÖÜ €",
        "Infuser ‘mini’",
    ];
    const JAPANESE: [&str; 5] = [
        "緑茶ティーバッグ 100個入り",
        "マグカップ（白）",
        "電気ケトル 1L",
        "ギフトセット①",
        "ステンレス茶こし ㈱サンプル",
    ];
    const CHINESE: [&str; 3] = ["绿茶 100 包", "白色马克杯", "不锈钢滤茶器"];
    let names: &[&str] = match language {
        Language::Japanese => &JAPANESE,
        Language::Chinese => &CHINESE,
        Language::Latin => &LATIN,
    };
    let mut state = splitmix64(seed ^ fnv1a(key));
    let mut next = move || {
        state = splitmix64(state);
        state
    };
    let mut out = String::from("item-name\tseller-sku\tprice\tquantity\tasin1\topen-date\n");
    for row in 0..rows {
        let r = next();
        let name = names
            .get((r % names.len() as u64) as usize)
            .copied()
            .unwrap_or_default();
        out.push_str(&format!(
            "{name}\tSKU-{row:05}-{:04X}\t{}.{:02}\t{}\tB0{:08X}\t2024-03-01\n",
            next() & 0xffff,
            1 + next() % 200,
            next() % 100,
            next() % 50,
            next() & 0xffff_ffff,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integrity::{gunzip, unzip, Limits, ZipLimits};

    #[test]
    fn gzip_round_trips_at_every_level_and_size() {
        for n in [0usize, 1, 100, 70_000, 300_000] {
            let line = b"{\"sku\":\"A-1\",\"qty\":3},\n";
            let data: Vec<u8> = (0..n)
                .map(|i| line[i % line.len()] ^ (i / 997) as u8)
                .collect();
            for level in [0u8, 1, 6, 9, 10, 200] {
                let gz = gzip_compress(&data, level);
                assert_eq!(&gz[..4], &[0x1f, 0x8b, 8, 0], "n={n} level={level}");
                assert_eq!(
                    gunzip(&gz, Limits::default()).unwrap(),
                    data,
                    "n={n} level={level}"
                );
            }
        }
    }

    #[test]
    fn zip_round_trips_with_and_without_descriptors() {
        let big = vec![b'z'; 70_000];
        let archive = zip_archive(&[
            ZipMember::new("a.csv", b"ID\n1\n", ZipMethod::Deflated),
            ZipMember::new("b.csv", &big, ZipMethod::Deflated).with_descriptor(),
            ZipMember::new("c.csv", b"C\n", ZipMethod::Stored).with_descriptor(),
            ZipMember::new("d/", b"", ZipMethod::Stored),
        ]);
        let members = unzip(&archive, ZipLimits::default()).unwrap();
        let got: Vec<(&str, &[u8])> = members
            .iter()
            .map(|(entry, data)| (entry.name.as_str(), data.as_slice()))
            .collect();
        assert_eq!(
            got,
            [
                ("a.csv", &b"ID\n1\n"[..]),
                ("b.csv", &big[..]),
                ("c.csv", &b"C\n"[..]),
                ("d/", &b""[..]),
            ]
        );
    }
}
