//! The reranker with the fetched models (run `python3 scripts/fetch_models.py` first) and with
//! tiny models built here.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};
use reranker::bert::Activation;
use reranker::{
    export_onnx_dir, load_cross_encoder, models_dir, BertConfig, BertCrossEncoder,
    CandleCrossEncoder, CrossEncoder, LoadError, OnnxCrossEncoder, PairTokenizer, Precision,
    RerankerOptions,
};

fn model(name: &str) -> PathBuf {
    let p = models_dir().join(name);
    assert!(
        p.is_dir(),
        "{} is missing: run `python3 scripts/fetch_models.py`",
        p.display()
    );
    p
}

fn opts() -> RerankerOptions {
    RerankerOptions {
        num_threads: Some(2),
        ..Default::default()
    }
}

const BERLIN: [&str; 3] = [
    "Berlin had a population of 3,520,031 registered inhabitants in an area of 891.82 square kilometers.",
    "Berlin is well known for its museums.",
    "New York City is famous for the Metropolitan Museum of Art.",
];

#[test]
fn teacher_ranks_as_its_model_card_says() {
    if test_support::skip_unless(
        "teacher_ranks_as_its_model_card_says",
        &[test_support::Need::Models],
    ) {
        return;
    }
    let teacher = load_cross_encoder("teacher", &opts()).unwrap();
    let scores = teacher
        .score("How many people live in Berlin?", &BERLIN)
        .unwrap();
    assert!(scores[0] > scores[1] && scores[1] > scores[2], "{scores:?}");
    assert!(scores[0] > 5.0 && scores[2] < -5.0, "{scores:?}");
}

#[test]
fn truncation_keeps_the_query_whole() {
    if test_support::skip_unless(
        "truncation_keeps_the_query_whole",
        &[test_support::Need::Models],
    ) {
        return;
    }
    let tok = PairTokenizer::from_file(model("teacher").join("tokenizer.json"), 32).unwrap();
    let query = "what is the population of berlin";
    let long = "word ".repeat(500);
    let pairs = tok
        .encode_pairs(&[(query, long.as_str()), (query, "short")])
        .unwrap();
    let q_only = tok.encode_pairs(&[(query, "")]).unwrap();
    let q_len = q_only[0].ids.len() - 1; // [CLS] q [SEP] ... [SEP]
    assert_eq!(pairs[0].ids.len(), 32);
    // The query part is intact: the first q_len ids are the same with any passage.
    assert_eq!(pairs[0].ids[..q_len], q_only[0].ids[..q_len]);
    assert_eq!(pairs[1].ids[..q_len], q_only[0].ids[..q_len]);
    // Segment ids: 0 over [CLS] q [SEP], 1 over the passage and its [SEP].
    assert!(pairs[0].type_ids[..q_len].iter().all(|&t| t == 0));
    assert!(pairs[0].type_ids[q_len..].iter().all(|&t| t == 1));
    assert_eq!(
        *pairs[0].ids.last().unwrap(),
        *q_only[0].ids.last().unwrap()
    ); // [SEP]
       // A query longer than the room is cut to half of it, leaving room for the passage.
    let huge_q = "berlin ".repeat(100);
    let p = tok
        .encode_pairs(&[(huge_q.as_str(), long.as_str())])
        .unwrap();
    assert_eq!(p[0].ids.len(), 32);
    assert!(p[0].type_ids.iter().filter(|&&t| t == 1).count() >= 14);
}

#[test]
fn odd_inputs_and_many_candidates_work() {
    if test_support::skip_unless(
        "odd_inputs_and_many_candidates_work",
        &[test_support::Need::Models],
    ) {
        return;
    }
    let teacher = OnnxCrossEncoder::load(model("teacher"), &opts()).unwrap();
    let long = "Berlin population statistics. ".repeat(400);
    let inputs = [
        "",
        "Berlin",
        long.as_str(),
        "Berlín hat 3,5 Millionen Einwohner — 柏林 🐻",
    ];
    for q in [
        "",
        "How many people live in Berlin?",
        "Wie viele Menschen leben in Berlin? ü",
    ] {
        let s = teacher.score(q, &inputs).unwrap();
        assert_eq!(s.len(), inputs.len());
        assert!(s.iter().all(|x| x.is_finite()), "{q:?}: {s:?}");
    }
    // 5,000 candidates in one call: scores come back in input order.
    let splade = tiny_student(&tempfile::tempdir().unwrap().keep());
    let many: Vec<String> = (0..5000)
        .map(|i| format!("passage number {i} about berlin {}", "x ".repeat(i % 50)))
        .collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let all = splade.score("berlin", &refs).unwrap();
    assert_eq!(all.len(), 5000);
    let some = splade.score("berlin", &[refs[4321], refs[7]]).unwrap();
    assert!((all[4321] - some[0]).abs() < 1e-4 && (all[7] - some[1]).abs() < 1e-4);
}

/// A splade-tiny-shaped cross-encoder with its real encoder weights and a fresh head, saved
/// as a candle model folder in `dir`.
fn tiny_student(dir: &Path) -> CandleCrossEncoder {
    let src = model("splade-tiny");
    let cfg = reranker::read_config(src.join("config.json")).unwrap();
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    BertCrossEncoder::load(&cfg, vb, true).unwrap();
    // Take the checkpoint's encoder; the pooler and classifier stay freshly initialized.
    let st = candle_core::safetensors::load(src.join("model.safetensors"), &Device::Cpu).unwrap();
    for (name, var) in varmap.data().lock().unwrap().iter() {
        let theirs = st
            .get(name)
            .or_else(|| st.get(&name.replace("LayerNorm.weight", "LayerNorm.gamma")))
            .or_else(|| st.get(&name.replace("LayerNorm.bias", "LayerNorm.beta")));
        if let Some(t) = theirs {
            var.set(t).unwrap();
        }
    }
    save_candle_dir(&varmap, &cfg, &src.join("tokenizer.json"), dir);
    CandleCrossEncoder::load(dir, &opts()).unwrap()
}

fn save_candle_dir(varmap: &VarMap, cfg: &BertConfig, tokenizer: &Path, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    varmap.save(dir.join("model.safetensors")).unwrap();
    std::fs::write(
        dir.join("config.json"),
        serde_json::to_string_pretty(&cfg.to_hf_json()).unwrap(),
    )
    .unwrap();
    std::fs::copy(tokenizer, dir.join("tokenizer.json")).unwrap();
}

fn parity(candle_dir: &Path, pairs: &[(&str, &str)]) -> f32 {
    let onnx_dir = candle_dir.with_extension("onnx");
    export_onnx_dir(candle_dir, &onnx_dir, Precision::F32).unwrap();
    let c = CandleCrossEncoder::load(candle_dir, &opts()).unwrap();
    let o = OnnxCrossEncoder::load(&onnx_dir, &opts()).unwrap();
    let a = c.score_pairs(pairs).unwrap();
    let b = o.score_pairs(pairs).unwrap();
    a.iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

const PAIRS: [(&str, &str); 4] = [
    (
        "how many people live in berlin",
        "Berlin has 3.5 million inhabitants.",
    ),
    (
        "how many people live in berlin",
        "New York is a city in the United States of America, with many boroughs.",
    ),
    ("what is rust", "Rust is a systems programming language."),
    ("", "An empty query still scores."),
];

#[test]
fn export_matches_candle_on_a_tiny_random_model() {
    if test_support::skip_unless(
        "export_matches_candle_on_a_tiny_random_model",
        &[test_support::Need::Models],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for act in [Activation::Gelu, Activation::GeluTanh, Activation::Relu] {
        let cfg = BertConfig {
            vocab_size: 30522,
            hidden_size: 32,
            num_hidden_layers: 2,
            num_attention_heads: 4,
            intermediate_size: 64,
            hidden_act: act,
            hidden_dropout_prob: 0.1,
            attention_probs_dropout_prob: 0.1,
            max_position_embeddings: 512,
            type_vocab_size: 2,
            layer_norm_eps: 1e-12,
        };
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        BertCrossEncoder::load(&cfg, vb, true).unwrap();
        let d = dir.path().join(format!("tiny-{act:?}"));
        save_candle_dir(
            &varmap,
            &cfg,
            &model("splade-tiny").join("tokenizer.json"),
            &d,
        );
        let diff = parity(&d, &PAIRS);
        assert!(diff < 1e-4, "{act:?}: max |candle - ort| = {diff}");
    }
}

#[test]
fn export_matches_candle_on_splade_tiny() {
    if test_support::skip_unless(
        "export_matches_candle_on_splade_tiny",
        &[test_support::Need::Models],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("splade");
    tiny_student(&d);
    let diff = parity(&d, &PAIRS);
    assert!(diff < 1e-4, "max |candle - ort| = {diff}");
}

#[test]
fn exported_weights_read_back_exactly() {
    if test_support::skip_unless(
        "exported_weights_read_back_exactly",
        &[test_support::Need::Models],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("splade");
    tiny_student(&d);
    let onnx = dir.path().join("onnx");
    export_onnx_dir(&d, &onnx, Precision::F32).unwrap();
    let back = reranker::read_onnx_weights(onnx.join("model.onnx")).unwrap();
    let orig = candle_core::safetensors::load(d.join("model.safetensors"), &Device::Cpu).unwrap();
    assert_eq!(back.len(), orig.len(), "every tensor comes back");
    for (name, t) in &orig {
        let b = back.get(name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(b.dims(), t.dims(), "{name}");
        let diff = (b - t).unwrap().abs().unwrap().max_all().unwrap();
        assert_eq!(diff.to_scalar::<f32>().unwrap(), 0.0, "{name}");
    }
    // Another producer's model is refused with a clear error.
    let e = reranker::read_onnx_weights(model("teacher").join("model.onnx"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("not by this project's exporter"), "{e}");
}

#[test]
fn missing_and_corrupt_files_are_named() {
    if test_support::skip_unless(
        "missing_and_corrupt_files_are_named",
        &[test_support::Need::Models],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let err = load_cross_encoder(dir.path().to_str().unwrap(), &opts()).unwrap_err();
    assert!(matches!(err, LoadError::MissingFile { .. }), "{err}");
    assert!(err.to_string().contains("model.onnx"), "{err}");
    let err = load_cross_encoder("no-such-model", &opts()).unwrap_err();
    assert!(
        err.to_string().contains("no model `no-such-model`"),
        "{err}"
    );

    // A corrupt model.onnx.
    let bad = dir.path().join("bad-onnx");
    std::fs::create_dir(&bad).unwrap();
    std::fs::copy(
        model("teacher").join("tokenizer.json"),
        bad.join("tokenizer.json"),
    )
    .unwrap();
    std::fs::write(bad.join("model.onnx"), b"not a model").unwrap();
    let err = OnnxCrossEncoder::load(&bad, &opts()).unwrap_err();
    assert!(matches!(err, LoadError::Unreadable { .. }), "{err}");
    assert!(err.to_string().contains("model.onnx"), "{err}");

    // A missing tokenizer.
    std::fs::remove_file(bad.join("tokenizer.json")).unwrap();
    let err = OnnxCrossEncoder::load(&bad, &opts()).unwrap_err();
    assert!(err.to_string().contains("tokenizer.json: missing"), "{err}");

    // A candle folder: corrupt weights, then a checkpoint without a classifier head.
    let c = dir.path().join("bad-candle");
    std::fs::create_dir(&c).unwrap();
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(model("splade-tiny").join(f), c.join(f)).unwrap();
    }
    std::fs::write(c.join("model.safetensors"), b"garbage").unwrap();
    let err = CandleCrossEncoder::load(&c, &opts()).unwrap_err();
    assert!(err.to_string().contains("model.safetensors"), "{err}");
    std::fs::copy(
        model("splade-tiny").join("model.safetensors"),
        c.join("model.safetensors"),
    )
    .unwrap();
    let err = CandleCrossEncoder::load(&c, &opts()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("model.safetensors") && msg.contains("pooler"),
        "{msg}"
    );
    std::fs::write(c.join("config.json"), b"{\"hidden_size\": 3}").unwrap();
    let err = CandleCrossEncoder::load(&c, &opts()).unwrap_err();
    assert!(err.to_string().contains("config.json"), "{err}");
}

#[test]
fn test_support_looks_where_the_library_looks() {
    assert_eq!(test_support::models_dir(), reranker::models_dir());
}

#[test]
fn huge_passages_are_cut_before_tokenizing_without_changing_the_tokens() {
    if test_support::skip_unless(
        "huge_passages_are_cut_before_tokenizing_without_changing_the_tokens",
        &[test_support::Need::Models],
    ) {
        return;
    }
    let tokenizer = model("teacher").join("tokenizer.json");
    let small = PairTokenizer::from_file(&tokenizer, 32).unwrap();
    let large = PairTokenizer::from_file(&tokenizer, 512).unwrap();
    // Longer than the small tokenizer's budget (4 KiB), within the large one's; words of
    // every length, one past BERT's 100-character word limit.
    let text: String = (0..400)
        .map(|i| "x".repeat(1 + (i * 37) % 120) + " ")
        .collect();
    assert!(text.len() > small.char_budget() && text.len() < large.char_budget());
    let a = small.encode_pairs(&[("q", text.as_str())]).unwrap();
    let b = large.encode_pairs(&[("q", text.as_str())]).unwrap();
    // Without its final [SEP], the small pair is a prefix of the large one.
    let n = a[0].ids.len() - 1;
    assert_eq!(a[0].ids[..n], b[0].ids[..n]);
    // A 50 MB passage scores: its tokens are those of its first budget's worth of text.
    let huge = "vitamin deficiency and multiple sclerosis ".repeat(1_250_000);
    let scored = small.encode_pairs(&[("q", huge.as_str())]).unwrap();
    let prefix = small
        .encode_pairs(&[("q", &huge[..small.char_budget()])])
        .unwrap();
    assert_eq!(scored, prefix);
}

#[test]
fn int8_export_keeps_the_students_scores_and_ranking() {
    if test_support::skip_unless(
        "int8_export_keeps_the_students_scores_and_ranking",
        &[test_support::Need::Models],
    ) {
        return;
    }
    let student = reranker::resolve_model("student").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (f32_dir, int8_dir) = (dir.path().join("f32"), dir.path().join("int8"));
    // From the bundled ONNX student itself: once again as f32, once as int8.
    export_onnx_dir(&student, &f32_dir, Precision::F32).unwrap();
    export_onnx_dir(&student, &int8_dir, Precision::Int8).unwrap();
    assert!(int8_dir.join("fusion.json").exists(), "fusion.json travels");
    let size = |d: &Path| std::fs::metadata(d.join("model.onnx")).unwrap().len() as f64;
    assert!(
        size(&int8_dir) < 0.35 * size(&student),
        "int8 {} bytes against f32 {}",
        size(&int8_dir),
        size(&student)
    );

    let queries = [
        "How many people live in Berlin?",
        "what is a systems programming language",
        "does vitamin d reduce the risk of fractures",
    ];
    let passages = [
        BERLIN[0],
        BERLIN[1],
        BERLIN[2],
        "Rust is a systems programming language focused on safety and speed.",
        "Python is an interpreted language popular for scripting.",
        "Vitamin D supplementation did not reduce hip fractures in older adults.",
        "Calcium and vitamin D intake and bone density in postmenopausal women.",
        "The weather in Berlin is mild in spring.",
    ];
    let original = OnnxCrossEncoder::load(&student, &opts()).unwrap();
    let again = OnnxCrossEncoder::load(&f32_dir, &opts()).unwrap();
    let int8 = OnnxCrossEncoder::load(&int8_dir, &opts()).unwrap();
    let mut worst = 0f32;
    let mut range = (f32::MAX, f32::MIN);
    for q in queries {
        let a = original.score(q, &passages).unwrap();
        let b = again.score(q, &passages).unwrap();
        let c = int8.score(q, &passages).unwrap();
        for ((x, y), z) in a.iter().zip(&b).zip(&c) {
            assert!((x - y).abs() < 1e-4, "{q}: f32 re-export {y} against {x}");
            worst = worst.max((x - z).abs());
            range = (range.0.min(*x), range.1.max(*x));
        }
        let top = |s: &[f32]| (0..s.len()).max_by(|&i, &j| s[i].total_cmp(&s[j])).unwrap();
        assert_eq!(top(&a), top(&c), "{q}: f32 {a:?} int8 {c:?}");
    }
    let spread = range.1 - range.0;
    assert!(
        worst < 0.02 * spread,
        "int8 differs by up to {worst} over an f32 score range of {spread}"
    );

    // Quantized weights are not read back as trainable ones.
    let e = reranker::read_onnx_weights(int8_dir.join("model.onnx"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("int8 export"), "{e}");
}
