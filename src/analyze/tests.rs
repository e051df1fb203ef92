//! Unit tests of the analyses.
