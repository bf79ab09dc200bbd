//! A missing ONNX Runtime library is an error naming the path, not a panic. Its own test
//! binary: the runtime loads once per process, so no other test may load it first.

use std::path::Path;

use reranker::{OnnxCrossEncoder, RerankerOptions};

#[test]
fn a_missing_runtime_library_is_an_error_not_a_panic() {
    if test_support::skip_unless(
        "a_missing_runtime_library_is_an_error_not_a_panic",
        &[test_support::Need::Models],
    ) {
        return;
    }
    let err = reranker::init_runtime(Some(Path::new("/no/such/libonnxruntime.so"))).unwrap_err();
    assert!(
        err.to_string().contains("/no/such/libonnxruntime.so"),
        "{err}"
    );
    // A model load that needs the runtime reports the same, naming the library.
    let options = RerankerOptions {
        runtime_library: Some("/no/such/libonnxruntime.so".into()),
        ..Default::default()
    };
    let teacher = reranker::models_dir().join("teacher");
    if teacher.join("model.onnx").exists() {
        let err = OnnxCrossEncoder::load(&teacher, &options).unwrap_err();
        assert!(err.to_string().contains("ONNX Runtime library"), "{err}");
    }
}
