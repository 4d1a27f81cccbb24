//! The first error of a streaming decoder, kept for every later call.
//!
//! A decoder that failed once has lost its place in the stream; resuming on
//! the next chunk could turn misread bytes into output that looks good. So
//! every streaming stage remembers its first error and answers with it from
//! then on.

/// Holds the first error a streaming stage returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StickyError<E>(Option<E>);

impl<E> Default for StickyError<E> {
    fn default() -> Self {
        Self(None)
    }
}

impl<E: Clone> StickyError<E> {
    /// `Err` with the remembered error, if there is one.
    pub(crate) fn check(&self) -> Result<(), E> {
        self.0.as_ref().map_or(Ok(()), |e| Err(e.clone()))
    }

    /// Passes `result` through, remembering its error unless one is
    /// remembered already.
    pub(crate) fn record<T>(&mut self, result: Result<T, E>) -> Result<T, E> {
        if let (None, Err(e)) = (&self.0, &result) {
            self.0 = Some(e.clone());
        }
        result
    }

    /// Consumes the holder: `Err` with the remembered error, if any.
    pub(crate) fn into_result(self) -> Result<(), E> {
        self.0.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::StickyError;

    #[test]
    fn the_first_error_is_returned_from_every_later_call() {
        let mut sticky = StickyError::<&str>::default();
        assert_eq!(sticky.check(), Ok(()));
        assert_eq!(sticky.record(Ok::<u8, _>(1)), Ok(1));
        assert_eq!(sticky.check(), Ok(()));
        assert_eq!(sticky.record(Err::<u8, _>("first")), Err("first"));
        assert_eq!(sticky.check(), Err("first"));
        assert_eq!(sticky.record(Err::<u8, _>("second")), Err("second"));
        assert_eq!(sticky.check(), Err("first"));
        assert_eq!(sticky.into_result(), Err("first"));
    }
}
