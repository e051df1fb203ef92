//! kappac: compiles an application's handler.py into continuation-passing Python whose tasks can
//! be checkpointed at any pause point and resumed on another worker.
//!
//! Pipeline (one way, `pipeline`): [`source`] → [`parse`] → [`analyze`] → [`transform`] →
//! [`build`]; every stage's findings are diagnostics ([`codes`], [`diagnostics`], rendered by
//! [`render`]), filtered by [`suppression`] comments and [`config`]. [`check`] drives it over
//! apps and files for `kappac check`; [`knowledge`] is what kappac knows about Python itself.
//! docs/ARCHITECTURE.md has the map.

pub mod analyze;
pub mod build;
pub mod check;
pub mod codes;
mod compile_errors;
pub mod config;
pub mod diagnostics;
pub mod knowledge;
pub mod parse;
mod parser_stack;
pub mod pipeline;
mod python_codecs;
pub mod render;
pub mod source;
pub mod suppression;
pub mod transform;
