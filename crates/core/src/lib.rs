//! promptops core: the prompt file format, validation, canonical hashing, rendering and
//! diff. No network, no database, no terminal: the CLI, server and tests all use this.

pub mod canonical;
pub mod config;
pub mod diagnostic;
pub mod diff;
pub mod discover;
pub mod glob;
pub mod prompt;
pub mod render;
pub mod secrets;
pub mod template;
pub mod validate;
pub mod yaml;
