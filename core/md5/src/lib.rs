//! Streaming MD5 (md-5's portable implementation) behind one non-inline
//! `update`, so that the block function is compiled at this crate's
//! opt-level.
//!
//! Why a crate of its own: md-5's block function is `#[inline]`, so rustc
//! compiles it in the crate that calls it, at *that* crate's opt-level. The
//! wasm modules are built at opt-level "z" (size first; root `Cargo.toml`,
//! profile `wasm-release`), which left MD5 in Node about 40% slower than
//! md-5 at opt-level 3 (README, "Performance"): the per-package opt-level 3
//! for md-5 did not reach it. `update` below is `#[inline(never)]`, so the
//! whole hashing loop is compiled here, and the profile gives this crate
//! opt-level 3. Natively every profile is opt-level 3 anyway; nothing
//! changes there. `reportflow::integrity::Md5` is the API; use that.

#![no_std]
#![forbid(unsafe_code)]

use md5::Digest as _;

/// Streaming MD5 state.
#[derive(Clone, Default)]
pub struct Md5(md5::Md5);

impl Md5 {
    /// Adds `data`; call once per chunk, in order.
    ///
    /// Never inlined: the hashing loop must be compiled in this crate (see
    /// the crate docs).
    #[inline(never)]
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// Returns the 16-byte digest of all bytes added.
    #[must_use]
    pub fn finalize(self) -> [u8; 16] {
        self.0.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::Md5;

    #[test]
    fn rfc_1321_vectors_in_one_and_many_updates() {
        let mut one = Md5::default();
        one.update(b"message digest");
        assert_eq!(
            one.finalize(),
            *b"\xf9\x6b\x69\x7d\x7c\xb7\x93\x8d\x52\x5a\x2f\x31\xaa\xf1\x61\xd0"
        );
        let text =
            b"12345678901234567890123456789012345678901234567890123456789012345678901234567890";
        let mut many = Md5::default();
        for piece in text.chunks(7) {
            many.update(piece);
        }
        assert_eq!(
            many.finalize(),
            *b"\x57\xed\xf4\xa2\x2b\xe3\xc9\x55\xac\x49\xda\x2e\x21\x07\xb6\x7a"
        );
    }
}
