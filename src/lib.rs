//! kappac: compiles an application's handler.py into continuation-passing Python whose tasks can
//! be checkpointed at any pause point and resumed on another worker.
//!
//! Pipeline (one way): [`source`] → [`parse`] → [`analyze`] → diagnostics ([`codes`],
//! [`diagnostics`], [`render`]). [`check`] drives it for `kappac check`.

pub mod analyze;
pub mod build;
pub mod check;
pub mod codes;
mod compile_errors;
pub mod config;
pub mod diagnostics;
pub mod knowledge;
pub mod parse;
pub mod pipeline;
mod python_codecs;
pub mod render;
pub mod source;
pub mod suppression;
pub mod transform;
