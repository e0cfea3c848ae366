//! The AWS kinds and the value store against a private moto server.
