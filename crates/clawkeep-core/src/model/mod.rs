//! The inventory's model: plain data and pure rules, no I/O. [`domain`] holds the serialisable
//! types (instances, keys, audit events) both front ends receive, [`keyfmt`] the key formats
//! (lint, hint, fingerprint), [`naming`] the slug and key-name rules, and [`validate`] the field
//! rules an instance must pass before it is stored.

pub mod domain;
pub mod keyfmt;
pub mod naming;
pub mod validate;
