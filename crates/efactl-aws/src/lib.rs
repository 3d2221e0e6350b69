//! efactl's AWS backend: the one crate that links the AWS SDK for Rust.
//!
//! It implements efactl-core's [`efactl_core::cloud::CloudBackend`] and does nothing else:
//! every method is one or a few SDK calls (paged to the end, split and run concurrently
//! where a request holds many ids) and a field-by-field copy into efactl's records
//! ([`convert`]); every SDK failure becomes one of efactl's [`efactl_core::cloud::CloudError`]
//! classes ([`error`]). What the records mean, and the deploy / wait orchestration, are
//! efactl-core's, tested there without the SDK.

mod backend;
mod convert;
mod error;

pub use backend::{
    AwsBackend, AwsOptions, Identity, DEFAULT_CONCURRENCY, IDS_PER_REQUEST, TYPES_PER_REQUEST,
};
