//! A student's fresh head is drawn from the training seed: same seed, same student.

mod common;

use std::path::Path;

use candle_core::{Device, Tensor};
use trainer::student_from_checkpoint;

/// A tiny encoder checkpoint without pooler and classifier, like an MLM checkpoint.
fn headless_init(dir: &Path) {
    common::tiny_model(dir);
    let path = dir.join("model.safetensors");
    let tensors = candle_core::safetensors::load(&path, &Device::Cpu).unwrap();
    let encoder: std::collections::HashMap<String, Tensor> = tensors
        .into_iter()
        .filter(|(k, _)| !k.contains("pooler") && !k.contains("classifier"))
        .collect();
    candle_core::safetensors::save(&encoder, &path).unwrap();
}

fn head(dir: &Path, seed: u64) -> (Vec<String>, Vec<f32>) {
    let s = student_from_checkpoint(dir, None, seed).unwrap();
    let data = s.varmap.data().lock().unwrap();
    let mut values = Vec::new();
    for name in &s.fresh {
        values.extend(
            data[name]
                .as_tensor()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap(),
        );
    }
    (s.fresh.clone(), values)
}

#[test]
fn the_fresh_head_depends_on_the_seed_alone() {
    if test_support::skip_unless(
        "the_fresh_head_depends_on_the_seed_alone",
        &[test_support::Need::Models],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    headless_init(dir.path());
    let (names, a) = head(dir.path(), 7);
    assert!(
        names.iter().any(|n| n.contains("classifier.weight")),
        "{names:?}"
    );
    assert!(names.iter().any(|n| n.contains("pooler")), "{names:?}");
    let (_, b) = head(dir.path(), 7);
    let (_, c) = head(dir.path(), 8);
    assert_eq!(a, b, "the same seed gave another head");
    assert_ne!(a, c, "another seed gave the same head");
    // Weights ~ N(0, 0.02), biases 0.
    let nonzero: Vec<f32> = a.iter().copied().filter(|v| *v != 0.0).collect();
    let var = nonzero.iter().map(|v| v * v).sum::<f32>() / nonzero.len() as f32;
    assert!((var.sqrt() - 0.02).abs() < 0.004, "std {}", var.sqrt());
}
