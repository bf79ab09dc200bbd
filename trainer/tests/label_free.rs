//! Label-free retraining on a tiny corpus and tiny models: each pseudo-query generator, the
//! groups they make, `retrain` with no judgments end to end (fusion.json written), and a
//! retrain killed in each stage resuming to the same student.

mod common;

use common::TOPICS;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use engine::{Analysis, Engine, IndexOptions};
use index_data::Document;
use trainer::{
    build_groups, pseudo_queries, ConsistencyFilter, DevKind, PseudoKind, PseudoMix, PseudoOptions,
    RetrainOptions, Stage, TrainConfig,
};

/// 60 documents with titles and bodies of four sentences each.
fn corpus(dir: &Path) -> Engine {
    let engine = Engine::create(dir, Analysis::default()).unwrap();
    let mut docs = Vec::new();
    for (t, topic) in TOPICS.iter().enumerate() {
        for i in 0..10 {
            let other = TOPICS[(t + i) % 6];
            docs.push(Ok(Document {
                id: format!("d{t}-{i}"),
                title: format!("All about {topic} number {i}"),
                body: format!(
                    "The {topic} report {i} describes many careful observations today. \
                     Does the {topic} matter for the {other} people at all? \
                     Readers of item {i} learned a great deal about {topic} recently. \
                     Some {other} notes close the text with a short summary here."
                ),
            }));
        }
    }
    engine
        .index_documents(docs, &IndexOptions::default(), &mut |_| {})
        .unwrap();
    engine
}

fn mix(kind: &str) -> PseudoMix {
    kind.parse().unwrap()
}

#[test]
fn sentence_queries_are_taken_out_of_their_positive() {
    let dir = tempfile::tempdir().unwrap();
    let engine = corpus(dir.path());
    let qs = pseudo_queries(&engine, 60, &mix("sentence"), 7).unwrap();
    assert_eq!(qs.len(), 60);
    for q in &qs {
        assert_eq!(q.kind, Some(PseudoKind::Sentence));
        let doc = engine.get(&q.positives[0]).unwrap().unwrap();
        let shown = q.positive_text.as_deref().unwrap();
        assert!(doc.body.contains(&q.text), "{} not in its document", q.text);
        assert!(!shown.contains(&q.text), "{} left in its positive", q.text);
        assert!(shown.starts_with(&doc.title), "the title stays: {shown}");
        assert!(q.text.split_whitespace().count() >= 6);
        assert_eq!(q.id, format!("pseudo:sentence:{}", doc.id));
    }
    // Questions are drawn more often than their share (1 in 4 sentences).
    let questions = qs.iter().filter(|q| q.text.ends_with('?')).count();
    assert!(questions > 15, "{questions} questions of 60");
}

#[test]
fn generators_are_seeded_and_make_their_kind() {
    let dir = tempfile::tempdir().unwrap();
    let engine = corpus(dir.path());
    let a = pseudo_queries(&engine, 30, &PseudoMix::default(), 1).unwrap();
    let b = pseudo_queries(&engine, 30, &PseudoMix::default(), 1).unwrap();
    let c = pseudo_queries(&engine, 30, &PseudoMix::default(), 2).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
    let kinds: std::collections::HashSet<_> = a.iter().filter_map(|q| q.kind).collect();
    assert_eq!(kinds.len(), 3, "a mix of all three kinds: {kinds:?}");
    // A document's query of one kind does not depend on the mix (so mixes share scores).
    let alone = pseudo_queries(&engine, 30, &mix("sentence"), 1).unwrap();
    for q in a.iter().filter(|q| q.kind == Some(PseudoKind::Sentence)) {
        assert!(alone.contains(q), "{} differs alone", q.id);
    }

    for q in pseudo_queries(&engine, 60, &mix("keywords"), 3).unwrap() {
        let doc = engine.get(&q.positives[0]).unwrap().unwrap();
        let words = q.text.split_whitespace().count();
        assert!((2..=4).contains(&words), "{}", q.text);
        let text = format!("{} {}", doc.title, doc.body).to_lowercase();
        for w in q.text.split_whitespace() {
            assert!(text.contains(w), "{w} is not in {}", doc.id);
        }
        // Keywords stay in the positive: the document as it is.
        assert!(q.positive_text.unwrap().contains(&doc.body));
    }
    for q in pseudo_queries(&engine, 60, &mix("title"), 3).unwrap() {
        let doc = engine.get(&q.positives[0]).unwrap().unwrap();
        assert_eq!(q.text, doc.title);
        assert_eq!(q.positive_text.as_deref(), Some(doc.body.as_str()));
    }
    // Weights steer the mix.
    let heavy = pseudo_queries(&engine, 60, &mix("keywords:20,title:1"), 4).unwrap();
    let kw = heavy
        .iter()
        .filter(|q| q.kind == Some(PseudoKind::Keywords))
        .count();
    assert!(kw > 45, "{kw} keyword queries of 60");
}

#[test]
fn groups_show_and_score_the_positive_without_the_query() {
    let dir = tempfile::tempdir().unwrap();
    let engine = corpus(dir.path());
    let qs = pseudo_queries(&engine, 10, &mix("sentence"), 5).unwrap();
    let teacher = common::OverlapTeacher::new(usize::MAX);
    let (groups, stats) = build_groups(&engine, &teacher, &qs, 8, &mut |_, _| {}).unwrap();
    assert_eq!(stats.groups, groups.len());
    assert!(!groups.is_empty());
    for (g, q) in groups.iter().zip(&qs) {
        assert_eq!(g.kind, Some(PseudoKind::Sentence));
        let pos = g.candidates.iter().find(|c| c.positive).unwrap();
        let shown = q.positive_text.as_deref().unwrap();
        assert_eq!(pos.text, shown);
        let expected = engine.score_text(&q.text, "", shown).unwrap();
        assert_eq!(pos.bm25, expected);
        // Other candidates keep their search score.
        for c in g.candidates.iter().filter(|c| !c.positive) {
            let d = engine.get(&c.doc_id).unwrap().unwrap();
            let s = engine.score_text(&q.text, &d.title, &d.body).unwrap();
            assert!((c.bm25 - s).abs() < 1e-4);
        }
    }
}

fn options(root: &Path, index: &Path, teacher: &Path, init: &Path, out: PathBuf) -> RetrainOptions {
    RetrainOptions {
        index: index.to_path_buf(),
        labeled: None,
        pseudo: PseudoOptions {
            queries: Some(30),
            mix: PseudoMix::default(),
            filter: ConsistencyFilter {
                top: 5,
                ..Default::default()
            },
            dev: Some(10),
        },
        dev_fraction: 0.2,
        split_seed: 0,
        teacher: teacher.display().to_string(),
        teacher_options: reranker::RerankerOptions {
            max_len: 64,
            ..Default::default()
        },
        depth: 10,
        score_cache: Some(root.join("cache.tsv")),
        rebuild_groups: false,
        extra_groups: Vec::new(),
        train: TrainConfig {
            epochs: 2,
            batch: 4,
            group_size: 4,
            max_len: 64,
            dev_depth: 8,
            init: init.to_path_buf(),
            select: trainer::Select::Fused,
            ..Default::default()
        },
        fusion_depth: 10,
        passages: search::Passages::first_only(),
        out,
    }
}

#[test]
fn label_free_retrain_writes_a_student_with_its_fusion_weight_and_resumes_in_every_stage() {
    if test_support::skip_unless(
        "label_free_retrain_writes_a_student_with_its_fusion_weight_and_resumes_in_every_stage",
        &[test_support::Need::Models],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let index = root.join("idx");
    corpus(&index);
    let teacher = root.join("teacher");
    common::tiny_model(&teacher);
    let init = root.join("init");
    common::tiny_model(&init);

    let whole = root.join("whole");
    let report = trainer::retrain(
        &options(root, &index, &teacher, &init, whole.clone()),
        &mut |_, _, _| {},
    )
    .unwrap();
    assert_eq!(report.data.labeled_train_queries, 0);
    assert_eq!(report.data.dev_kind, Some(DevKind::Pseudo));
    assert_eq!(report.data.dev_queries, 10);
    assert!(report.data.pseudo_queries > 0);
    let (all, kept) = report.data.filter.totals();
    assert_eq!(all, report.data.pseudo_queries);
    assert!(kept <= all && kept == report.data.groups);
    // Dev documents make no training query.
    let dev_docs: Vec<String> = report
        .data
        .dev_query_ids
        .iter()
        .map(|id| id.rsplit(':').next().unwrap().to_owned())
        .collect();
    let groups = trainer::load_groups(&whole.join("groups.jsonl")).unwrap();
    for g in &groups {
        assert!(!dev_docs
            .iter()
            .any(|d| g.query_id.ends_with(&format!(":{d}"))));
    }
    let fusion: trainer::Fusion =
        serde_json::from_str(&std::fs::read_to_string(whole.join("fusion.json")).unwrap()).unwrap();
    assert_eq!(fusion.alpha, report.fusion.alpha);
    assert_eq!(fusion.chosen_on, report.fusion.chosen_on);
    assert_eq!(fusion.dev_kind, Some(DevKind::Pseudo));
    assert!((0.0..=1.0).contains(&fusion.alpha));
    assert_eq!(fusion.beats_bm25, fusion.alpha < 1.0 || fusion.gain > 0.0);
    assert_eq!(
        reranker::recommended_alpha(&whole),
        Some(fusion.alpha),
        "query and eval read the weight from fusion.json"
    );
    // The reranker in use (here the bundled student) was measured on the same dev queries,
    // and install follows both comparisons.
    let current = fusion
        .current
        .clone()
        .expect("the reranker in use is measured too");
    assert_eq!(current.name, "student");
    let other = root.join("other-index");
    std::fs::create_dir_all(&other).unwrap();
    match trainer::install(&whole, &other).unwrap() {
        Ok(p) => {
            assert!(fusion.beats_bm25 && current.beaten);
            assert!(p.join("model.onnx").exists() && p.join("fusion.json").exists());
        }
        Err(trainer::NotInstalled::NoGain(_)) => assert!(!fusion.beats_bm25),
        Err(trainer::NotInstalled::NotBetter(_)) => {
            assert!(fusion.beats_bm25 && !current.beaten)
        }
    }
    // A student that beats BM25 but not the reranker in use is refused, whatever this run gave.
    let copy = root.join("not-better");
    std::fs::create_dir_all(&copy).unwrap();
    for f in [
        "model.onnx",
        "tokenizer.json",
        "config.json",
        "training.json",
    ] {
        std::fs::copy(whole.join(f), copy.join(f)).unwrap();
    }
    let mut worse = fusion.clone();
    worse.beats_bm25 = true;
    worse.current = Some(trainer::Current {
        beaten: false,
        ..current.clone()
    });
    std::fs::write(
        copy.join("fusion.json"),
        serde_json::to_string(&worse).unwrap(),
    )
    .unwrap();
    assert!(matches!(
        trainer::install(&copy, &other).unwrap(),
        Err(trainer::NotInstalled::NotBetter(_))
    ));

    // The folder is an ONNX reranker now.
    assert!(whole.join("model.onnx").exists());
    let student = reranker::load_cross_encoder(
        whole.to_str().unwrap(),
        &reranker::RerankerOptions::default(),
    )
    .unwrap();
    assert_eq!(student.info().backend, reranker::Backend::Onnx);

    // Killed in each stage in turn, then resumed: the same student and weight.
    for (stage, at) in [
        (Stage::Scoring, 3),
        (Stage::Training, 3),
        (Stage::Selection, 2),
    ] {
        let cut = root.join(format!("cut-{}", stage.name().replace(' ', "-")));
        // A fresh cache, so the scoring stage really is cut half-way.
        let mut opts = options(root, &index, &teacher, &init, cut.clone());
        opts.score_cache = Some(cut.with_extension("cache.tsv"));
        let died = catch_unwind(AssertUnwindSafe(|| {
            trainer::retrain(&opts, &mut |s, done, _| {
                if s == stage && done == at {
                    panic!("killed");
                }
            })
        }));
        assert!(died.is_err(), "{stage:?}");
        let resumed = trainer::retrain(&opts, &mut |_, _, _| {}).unwrap();
        assert_eq!(resumed.fusion.alpha, report.fusion.alpha, "{stage:?}");
        // ONNX Runtime's threads may sum in another order: equal to float noise.
        let (x, y) = (
            resumed.fusion.dev.unwrap(),
            report.fusion.dev.clone().unwrap(),
        );
        for ((a1, v1), (a2, v2)) in x.fused.iter().zip(&y.fused) {
            assert!(
                a1 == a2 && (v1 - v2).abs() < 1e-9,
                "{stage:?}: {v1} vs {v2}"
            );
        }
        let (rb, b) = (resumed.state.best.unwrap(), report.state.best.unwrap());
        assert!(
            rb.1 == b.1 && (rb.0 - b.0).abs() < 1e-9,
            "{stage:?}: {rb:?} vs {b:?}"
        );
        let a = std::fs::read(whole.join("model.safetensors")).unwrap();
        let b = std::fs::read(cut.join("model.safetensors")).unwrap();
        assert!(a == b, "{stage:?}: another student");
    }
}

#[test]
fn a_dev_set_of_keyword_queries_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let engine = corpus(dir.path());
    let kw = pseudo_queries(&engine, 5, &mix("keywords"), 1).unwrap();
    let e = trainer::DevSet::pseudo(&engine, &kw, 10)
        .unwrap_err()
        .to_string();
    assert!(e.contains("keep their text"), "{e}");
    let ok = pseudo_queries(&engine, 5, &mix("sentence"), 1).unwrap();
    let dev = trainer::DevSet::pseudo(&engine, &ok, 10).unwrap();
    for (q, d) in ok.iter().zip(&dev.queries) {
        let src = d
            .candidates
            .iter()
            .find(|c| c.doc_id == q.positives[0])
            .expect("the source stays a candidate");
        assert_eq!(Some(src.text.as_str()), q.positive_text.as_deref());
        let sorted = d.candidates.windows(2).all(|w| w[0].bm25 >= w[1].bm25);
        assert!(sorted, "candidates in BM25 order");
    }
}

#[test]
fn extra_groups_join_the_training_data_and_groups_of_another_teacher_are_refused() {
    if test_support::skip_unless(
        "extra_groups_join_the_training_data_and_groups_of_another_teacher_are_refused",
        &[test_support::Need::Models],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let index = root.join("idx");
    let engine = corpus(&index);
    let teacher = root.join("teacher");
    common::tiny_model(&teacher);
    let init = root.join("init");
    common::tiny_model(&init);
    // Another run's groups: sentence queries of another seed, as if from another corpus.
    let qs = pseudo_queries(&engine, 12, &mix("sentence"), 99).unwrap();
    let (mut extra, _) = build_groups(
        &engine,
        &common::OverlapTeacher::new(usize::MAX),
        &qs,
        8,
        &mut |_, _| {},
    )
    .unwrap();
    for g in &mut extra {
        g.query_id = format!("other:{}", g.query_id);
    }
    // Half of them the teacher ranked first: those pass the filter, the rest may not.
    for g in extra.iter_mut().step_by(2) {
        for c in g.candidates.iter_mut().filter(|c| c.positive) {
            c.teacher = 100.0;
        }
    }
    let other = root.join("other-run");
    std::fs::create_dir_all(&other).unwrap();
    let path = other.join("groups.jsonl");
    trainer::save_groups(&path, &extra).unwrap();
    drop(engine);

    let mut opts = options(root, &index, &teacher, &init, root.join("mixed"));
    opts.train.epochs = 1;
    opts.extra_groups = vec![path.clone()];
    let report = trainer::retrain(&opts, &mut |_, _, _| {}).unwrap();
    assert_eq!(report.data.extra_groups, vec![(path.clone(), extra.len())]);
    let own = trainer::load_groups(&root.join("mixed/groups.jsonl")).unwrap();
    assert!(
        own.iter().all(|g| !g.query_id.starts_with("other:")),
        "the run's own groups file stays its own"
    );
    // The filter saw both and kept of each what it keeps alone; that is what trained.
    let filter = &opts.pseudo.filter;
    let kept_own = trainer::consistency_filter(own.clone(), filter).unwrap().0;
    let kept_extra = trainer::consistency_filter(extra.clone(), filter)
        .unwrap()
        .0;
    assert!(kept_extra.len() >= extra.len() / 2);
    let (all, kept) = report.data.filter.totals();
    assert_eq!(all, own.len() + extra.len());
    assert_eq!(kept, report.data.groups);
    assert_eq!(report.data.groups, kept_own.len() + kept_extra.len());
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("mixed/training.json")).unwrap())
            .unwrap();
    assert_eq!(
        written["data"]["extra_groups"][0][1].as_u64(),
        Some(extra.len() as u64)
    );

    // A file given twice (or the run's own) would count its groups twice: refused.
    opts.out = root.join("mixed");
    for twice in [
        vec![path.clone(), other.join("../other-run/groups.jsonl")],
        vec![root.join("mixed/groups.jsonl")],
    ] {
        opts.extra_groups = twice;
        let e = trainer::retrain(&opts, &mut |_, _, _| {})
            .unwrap_err()
            .to_string();
        assert!(e.contains("given twice, or this run's own groups"), "{e}");
    }
    // Groups another teacher scored, or none at all, are refused, naming the file.
    std::fs::write(
        other.join("groups.key.json"),
        r#"{"index":"x","teacher":"another-teacher","max_len":64,"depth":8,"queries":[]}"#,
    )
    .unwrap();
    opts.out = root.join("refused");
    opts.extra_groups = vec![path.clone()];
    let e = trainer::retrain(&opts, &mut |_, _, _| {})
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("groups.jsonl") && e.contains("another-teacher"),
        "{e}"
    );
    let empty = root.join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    opts.extra_groups = vec![empty];
    let e = trainer::retrain(&opts, &mut |_, _, _| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("empty.jsonl: holds no training groups"), "{e}");
}

#[test]
fn a_plan_shows_its_queries_and_says_when_no_dev_query_can_be_made() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let index = root.join("idx");
    corpus(&index);
    let model = root.join("model");
    let opts = options(root, &index, &model, &model, root.join("out"));
    let plan = trainer::plan(&opts, &mut |_, _, _| {}).unwrap();
    assert_eq!(plan.dev().len(), 10);
    assert_eq!(plan.dev_kind(), Some(DevKind::Pseudo));
    assert!(!plan.no_dev_query());
    assert!(plan.train().len() <= 30 && !plan.train().is_empty());
    let written = std::fs::read_to_string(root.join("out/queries.jsonl")).unwrap();
    assert_eq!(
        written.lines().count(),
        plan.train().len() + plan.dev().len()
    );

    // Untitled one-sentence documents: a keyword query each, and no dev query.
    let short = root.join("short");
    let engine = Engine::create(&short, Analysis::default()).unwrap();
    let docs = (0..60).map(|i| {
        Ok(Document {
            id: format!("s{i}"),
            title: String::new(),
            body: format!(
                "The {} report {i} describes careful observations.",
                TOPICS[i % 6]
            ),
        })
    });
    engine
        .index_documents(docs, &IndexOptions::default(), &mut |_| {})
        .unwrap();
    let plan = trainer::plan(
        &options(root, &short, &model, &model, root.join("out2")),
        &mut |_, _, _| {},
    )
    .unwrap();
    assert!(plan.dev().is_empty());
    assert_eq!(plan.dev_kind(), None);
    assert!(plan.no_dev_query());
    // Asking for no dev set is not a dev set that could not be made.
    let mut none = options(root, &short, &model, &model, root.join("out3"));
    none.pseudo.dev = Some(0);
    assert!(!trainer::plan(&none, &mut |_, _, _| {})
        .unwrap()
        .no_dev_query());
}
