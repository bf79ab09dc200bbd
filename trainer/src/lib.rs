//! Distillation trainer. Filled in by the trainer issue.
