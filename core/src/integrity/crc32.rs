//! Streaming CRC-32 (IEEE 802.3, as used by gzip and ZIP).

/// Streaming CRC-32 over any number of byte slices.
///
/// A thin wrapper over `crc32fast` (hardware-accelerated where the CPU allows)
/// so the gzip decoder and the ZIP reader share one implementation.
#[derive(Clone, Debug, Default)]
pub struct Crc32(crc32fast::Hasher);

impl Crc32 {
    /// Creates a CRC-32 of zero bytes.
    #[must_use]
    pub fn new() -> Self {
        Self(crc32fast::Hasher::new())
    }

    /// Adds `data` to the checksum; call once per chunk, in order.
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// Returns the CRC-32 of all bytes added so far; more may still be added.
    #[must_use]
    pub fn value(&self) -> u32 {
        self.0.clone().finalize()
    }

    /// Forgets all bytes added, as if freshly created.
    pub fn reset(&mut self) {
        self.0.reset();
    }

    /// Returns the CRC-32 of `data` in one call.
    #[must_use]
    pub fn checksum(data: &[u8]) -> u32 {
        crc32fast::hash(data)
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
