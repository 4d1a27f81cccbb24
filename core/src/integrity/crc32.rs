//! Streaming CRC-32 (IEEE 802.3, as used by gzip and ZIP).

/// Streaming CRC-32 over any number of byte slices.
///
/// A thin wrapper over zlib-rs's CRC-32 (folded with carry-less multiply
/// where the CPU has it), so the gzip decoder and the ZIP reader share one
/// implementation with the inflate backend.
#[derive(Clone, Debug, Default)]
pub struct Crc32(u32);

impl Crc32 {
    /// Creates a CRC-32 of zero bytes.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `data` to the checksum; call once per chunk, in order.
    pub fn update(&mut self, data: &[u8]) {
        self.0 = zlib_rs::crc32::crc32(self.0, data);
    }

    /// Returns the CRC-32 of all bytes added so far; more may still be added.
    #[must_use]
    pub fn value(&self) -> u32 {
        self.0
    }

    /// Forgets all bytes added, as if freshly created.
    pub fn reset(&mut self) {
        self.0 = 0;
    }

    /// Returns the CRC-32 of `data` in one call.
    #[must_use]
    pub fn checksum(data: &[u8]) -> u32 {
        zlib_rs::crc32::crc32(0, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector_and_streaming() {
        assert_eq!(Crc32::checksum(b"123456789"), 0xcbf4_3926);
        let mut c = Crc32::new();
        c.update(b"1234");
        assert_eq!(c.value(), Crc32::checksum(b"1234"));
        c.update(b"56789");
        assert_eq!(c.value(), 0xcbf4_3926);
        c.reset();
        assert_eq!(c.value(), 0);
    }
}
