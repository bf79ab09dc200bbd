//! Runnable examples of the library API; see the `[[example]]` entries in Cargo.toml.
