//! Pure simulators of every provider, with seeded fault plans.
//!
//! A simulator is a function of `(now, request)` to a response: no sockets,
//! no clock, no randomness beyond its seed. The same simulators serve the
//! property tests (through [`Harness`]), the crate's doctests, the CLI's
//! `demo` and `sim` commands and the loopback HTTP server of the end-to-end
//! tests.
//!
//! [`Sandbox`] puts every provider behind one origin, each under its own path
//! prefix (`/amazon-ads/…`), and records every request it sees.
