//! Distillation trainer: teacher scores → student cross-encoder.
#![deny(missing_docs)]

pub mod loss;
