//! Secrets that cannot leak through `Debug`, `Display` or serialization.

use serde::{Deserialize, Deserializer};

/// A value that must never be printed, logged or snapshotted: tokens, keys,
/// signatures, request bodies that carry them.
///
/// `Debug` and `Display` print `** redacted **`. `Secret` implements
/// `Deserialize` (credentials come in from configuration) but deliberately not
/// `Serialize`, so no snapshot or event can contain one. The only way to the
/// value is [`Secret::expose`], called at the transport edge where the bytes
/// must go on the wire.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a secret value.
    pub const fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself. Call it only where the value must leave the
    /// process (an HTTP header, a signature input), never to print it.
    pub const fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> std::fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("** redacted **")
    }
}

impl<T> std::fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("** redacted **")
    }
}

impl From<String> for Secret<String> {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret<String> {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Secret<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let secret = Secret::from("Atza|canary");
        assert_eq!(format!("{secret:?}"), "** redacted **");
        assert_eq!(format!("{secret}"), "** redacted **");
        assert_eq!(secret.expose(), "Atza|canary");
    }
}
