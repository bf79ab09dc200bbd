//! ONNX export of a candle [`BertCrossEncoder`], so a trained student is served by ONNX
//! Runtime.
//!
//! The graph (opset 17) takes `input_ids`, `attention_mask`, `token_type_ids` (int64,
//! `[batch, sequence]`) and gives `logits` (float, `[batch, 1]`), like an HF export. It uses
//! plain ONNX ops: Gather, MatMul, Add, LayerNormalization, Softmax, Erf, Tanh ...
//!
//! [`Precision::Int8`] writes the dynamic int8 form ONNX Runtime's own `quantize_dynamic`
//! writes (and fuses at load into `DynamicQuantizeMatMul`): each linear layer's weight as
//! `uint8` with one scale per output column and zero point 128, its input quantized per pass by
//! `DynamicQuantizeLinear`, the product by `MatMulInteger`; the word embeddings as `int8` with
//! one scale per row. The two attention products stay float (their operands are activations).

use std::path::Path;

use crate::bert::Linear;
use candle_core::Tensor;
use candle_core::{DType, Device};
use candle_nn::Embedding;
use candle_nn::VarBuilder;
use onnx_protobuf::{
    attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto, type_proto,
    AttributeProto, GraphProto, Message, ModelProto, NodeProto, OperatorSetIdProto,
    StringStringEntryProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};

use crate::bert::{Activation, BertCrossEncoder, LayerNorm};
use crate::candle::{load_bert_dir, read_config};
use crate::error::{ExportError, LoadError};

const OPSET: i64 = 17;

/// The metadata key an export records its [`Precision`] under (`f32` or `int8`).
pub(crate) const PRECISION_KEY: &str = "search.precision";

/// How an export stores the model's weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// 32-bit floats: the trained weights exactly, and the only form that can be trained
    /// further ([`crate::read_onnx_weights`] reads them back).
    #[default]
    F32,
    /// Dynamic int8 quantization (see the module's notes): about a quarter of the file, scores
    /// within quantization error of [`Precision::F32`]. Faster only where the CPU multiplies
    /// 8-bit integers faster than floats (AVX-512 VNNI, AVX-VNNI, ARM dot products); on plain
    /// AVX2 about as fast as f32 (docs/RESULTS.md).
    Int8,
}

impl Precision {
    /// The name recorded in the model's metadata.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Int8 => "int8",
        }
    }
}

struct Graph {
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    next: usize,
    precision: Precision,
}

enum Attr {
    Int(i64),
    Ints(Vec<i64>),
    Float(f32),
}

impl Graph {
    fn fresh(&mut self, hint: &str) -> String {
        self.next += 1;
        format!("{hint}_{}", self.next)
    }

    fn node(&mut self, op: &str, inputs: &[&str], attrs: Vec<(&str, Attr)>) -> String {
        self.node_n(op, inputs, 1, attrs).remove(0)
    }

    /// A node with `outputs` outputs; their names in order.
    fn node_n(
        &mut self,
        op: &str,
        inputs: &[&str],
        outputs: usize,
        attrs: Vec<(&str, Attr)>,
    ) -> Vec<String> {
        let out = self.fresh(&op.to_ascii_lowercase());
        let mut n = NodeProto::new();
        n.op_type = op.into();
        n.name = format!("{out}_node");
        n.input = inputs.iter().map(|s| s.to_string()).collect();
        n.output = (0..outputs)
            .map(|i| match i {
                0 => out.clone(),
                _ => format!("{out}_{i}"),
            })
            .collect();
        for (name, a) in attrs {
            let mut p = AttributeProto::new();
            p.name = name.into();
            match a {
                Attr::Int(i) => {
                    p.type_ = AttributeType::INT.into();
                    p.i = i;
                }
                Attr::Ints(v) => {
                    p.type_ = AttributeType::INTS.into();
                    p.ints = v;
                }
                Attr::Float(f) => {
                    p.type_ = AttributeType::FLOAT.into();
                    p.f = f;
                }
            }
            n.attribute.push(p);
        }
        let outs = n.output.clone();
        self.nodes.push(n);
        outs
    }

    fn init(&mut self, hint: &str, dims: &[i64], data_type: DataType, raw: Vec<u8>) -> String {
        let name = self.fresh(hint);
        let mut t = TensorProto::new();
        t.name = name.clone();
        t.dims = dims.to_vec();
        t.data_type = data_type as i32;
        t.raw_data = raw;
        self.inits.push(t);
        name
    }

    fn f32s(&mut self, hint: &str, dims: &[i64], data: &[f32]) -> String {
        let raw = data.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.init(hint, dims, DataType::FLOAT, raw)
    }

    fn i64s(&mut self, hint: &str, dims: &[i64], data: &[i64]) -> String {
        let raw = data.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.init(hint, dims, DataType::INT64, raw)
    }

    fn scalar(&mut self, v: f32) -> String {
        self.f32s("const", &[], &[v])
    }

    fn tensor(&mut self, hint: &str, t: &Tensor) -> candle_core::Result<String> {
        let dims: Vec<i64> = t.dims().iter().map(|&d| d as i64).collect();
        let data = t.flatten_all()?.to_vec1::<f32>()?;
        Ok(self.f32s(hint, &dims, &data))
    }

    fn cast_float(&mut self, x: &str) -> String {
        self.node(
            "Cast",
            &[x],
            vec![("to", Attr::Int(DataType::FLOAT as i64))],
        )
    }

    /// `x · Wᵀ + b` for a candle `Linear` (weight `[out, in]`).
    fn linear(&mut self, x: &str, l: &Linear, hint: &str) -> candle_core::Result<String> {
        let wt = l.weight().t()?.contiguous()?;
        let y = match self.precision {
            Precision::F32 => {
                let w = self.tensor(&format!("{hint}_w"), &wt)?;
                self.node("MatMul", &[x, &w], vec![])
            }
            Precision::Int8 => self.matmul_int8(x, &wt, hint)?,
        };
        match l.bias() {
            Some(b) => {
                let b = self.tensor(&format!("{hint}_b"), b)?;
                Ok(self.node("Add", &[&y, &b], vec![]))
            }
            None => Ok(y),
        }
    }

    /// `x · w` with `w` (`[in, out]`) quantized per output column and `x` per pass.
    fn matmul_int8(&mut self, x: &str, w: &Tensor, hint: &str) -> candle_core::Result<String> {
        let (k, n) = w.dims2()?;
        let data = w.flatten_all()?.to_vec1::<f32>()?;
        let (q, scales) = quantize_columns(&data, k, n);
        let wq = self.init(
            &format!("{hint}_wq"),
            &[k as i64, n as i64],
            DataType::UINT8,
            q,
        );
        let wzp = self.init(&format!("{hint}_wzp"), &[], DataType::UINT8, vec![128]);
        let ws = self.f32s(&format!("{hint}_ws"), &[n as i64], &scales);
        let xq = self.node_n("DynamicQuantizeLinear", &[x], 3, vec![]);
        let acc = self.node("MatMulInteger", &[&xq[0], &wq, &xq[2], &wzp], vec![]);
        let acc = self.cast_float(&acc);
        let scale = self.node("Mul", &[&xq[1], &ws], vec![]);
        Ok(self.node("Mul", &[&acc, &scale], vec![]))
    }

    fn layer_norm(&mut self, x: &str, ln: &LayerNorm, hint: &str) -> candle_core::Result<String> {
        let w = self.tensor(&format!("{hint}_gamma"), &ln.weight)?;
        let b = self.tensor(&format!("{hint}_beta"), &ln.bias)?;
        Ok(self.node(
            "LayerNormalization",
            &[x, &w, &b],
            vec![
                ("axis", Attr::Int(-1)),
                ("epsilon", Attr::Float(ln.eps as f32)),
            ],
        ))
    }

    fn gather(&mut self, table: &Embedding, idx: &str, hint: &str) -> candle_core::Result<String> {
        let t = self.tensor(hint, table.embeddings())?;
        Ok(self.node("Gather", &[&t, idx], vec![]))
    }

    /// [`Graph::gather`] from an `int8` table with one scale per row (at [`Precision::Int8`]).
    fn gather_rows(
        &mut self,
        table: &Embedding,
        idx: &str,
        hint: &str,
    ) -> candle_core::Result<String> {
        if self.precision == Precision::F32 {
            return self.gather(table, idx, hint);
        }
        let (rows, cols) = table.embeddings().dims2()?;
        let data = table.embeddings().flatten_all()?.to_vec1::<f32>()?;
        let (q, scales) = quantize_rows(&data, cols);
        let tq = self.init(
            &format!("{hint}_q"),
            &[rows as i64, cols as i64],
            DataType::INT8,
            q,
        );
        let ts = self.f32s(&format!("{hint}_s"), &[rows as i64, 1], &scales);
        let g = self.node("Gather", &[&tq, idx], vec![]);
        let g = self.cast_float(&g);
        let s = self.node("Gather", &[&ts, idx], vec![]);
        Ok(self.node("Mul", &[&g, &s], vec![]))
    }

    fn activation(&mut self, x: &str, act: Activation) -> String {
        match act {
            Activation::Relu => self.node("Relu", &[x], vec![]),
            Activation::Gelu => {
                // x * 0.5 * (1 + erf(x / sqrt(2)))
                let sqrt2 = self.scalar(std::f32::consts::SQRT_2);
                let one = self.scalar(1.0);
                let half = self.scalar(0.5);
                let d = self.node("Div", &[x, &sqrt2], vec![]);
                let e = self.node("Erf", &[&d], vec![]);
                let a = self.node("Add", &[&e, &one], vec![]);
                let m = self.node("Mul", &[x, &a], vec![]);
                self.node("Mul", &[&m, &half], vec![])
            }
            Activation::GeluTanh => {
                // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
                let c = self.scalar((2.0 / std::f32::consts::PI).sqrt());
                let k = self.scalar(0.044715);
                let three = self.scalar(3.0);
                let one = self.scalar(1.0);
                let half = self.scalar(0.5);
                let x3 = self.node("Pow", &[x, &three], vec![]);
                let kx3 = self.node("Mul", &[&x3, &k], vec![]);
                let inner = self.node("Add", &[x, &kx3], vec![]);
                let scaled = self.node("Mul", &[&inner, &c], vec![]);
                let t = self.node("Tanh", &[&scaled], vec![]);
                let a = self.node("Add", &[&t, &one], vec![]);
                let m = self.node("Mul", &[x, &a], vec![]);
                self.node("Mul", &[&m, &half], vec![])
            }
        }
    }
}

/// Symmetric 8-bit codes of a row-major `[k, n]` matrix, one scale per column, stored as
/// `uint8` with zero point 128 (unsigned weights: AVX2's u8·s8 instruction saturates, u8·u8
/// through 16 bits does not). Returns the codes and the scales.
fn quantize_columns(w: &[f32], k: usize, n: usize) -> (Vec<u8>, Vec<f32>) {
    let mut scales = vec![0f32; n];
    for r in 0..k {
        for (c, s) in scales.iter_mut().enumerate() {
            *s = s.max(w[r * n + c].abs());
        }
    }
    for s in &mut scales {
        *s = if *s > 0.0 { *s / 127.0 } else { 1.0 };
    }
    let q = w
        .iter()
        .enumerate()
        .map(|(i, &x)| ((x / scales[i % n]).round().clamp(-127.0, 127.0) as i32 + 128) as u8)
        .collect();
    (q, scales)
}

/// Symmetric `int8` codes (as bytes) of a row-major matrix with `cols` columns, one scale per
/// row.
fn quantize_rows(t: &[f32], cols: usize) -> (Vec<u8>, Vec<f32>) {
    let mut q = Vec::with_capacity(t.len());
    let mut scales = Vec::with_capacity(t.len() / cols.max(1));
    for row in t.chunks(cols.max(1)) {
        let m = row.iter().fold(0f32, |m, x| m.max(x.abs()));
        let s = if m > 0.0 { m / 127.0 } else { 1.0 };
        q.extend(
            row.iter()
                .map(|&x| (x / s).round().clamp(-127.0, 127.0) as i8 as u8),
        );
        scales.push(s);
    }
    (q, scales)
}

fn value_info(name: &str, elem: DataType, dims: &[Result<i64, &str>]) -> ValueInfoProto {
    let mut shape = TensorShapeProto::new();
    for d in dims {
        let mut dim = tensor_shape_proto::Dimension::new();
        dim.value = Some(match d {
            Ok(v) => tensor_shape_proto::dimension::Value::DimValue(*v),
            Err(p) => tensor_shape_proto::dimension::Value::DimParam(p.to_string()),
        });
        shape.dim.push(dim);
    }
    let mut tensor = type_proto::Tensor::new();
    tensor.elem_type = elem as i32;
    tensor.shape = Some(shape).into();
    let mut tp = TypeProto::new();
    tp.value = Some(type_proto::Value::TensorType(tensor));
    let mut v = ValueInfoProto::new();
    v.name = name.into();
    v.type_ = Some(tp).into();
    v
}

fn build(model: &BertCrossEncoder, precision: Precision) -> candle_core::Result<ModelProto> {
    let cfg = model.config();
    let heads = cfg.num_attention_heads as i64;
    let head_dim = (cfg.hidden_size / cfg.num_attention_heads) as i64;
    let hidden = cfg.hidden_size as i64;
    let mut g = Graph {
        nodes: Vec::new(),
        inits: Vec::new(),
        next: 0,
        precision,
    };

    // Embeddings: word + position + token type, then LayerNorm.
    let e = &model.embeddings;
    let words = g.gather_rows(&e.word, "input_ids", "word_embeddings")?;
    let types = g.gather(&e.token_type, "token_type_ids", "token_type_embeddings")?;
    let shape = g.node("Shape", &["input_ids"], vec![]);
    let one_idx = g.i64s("idx1", &[], &[1]);
    let seq = g.node("Gather", &[&shape, &one_idx], vec![("axis", Attr::Int(0))]);
    let zero = g.i64s("zero", &[], &[0]);
    let step = g.i64s("one", &[], &[1]);
    let positions = g.node("Range", &[&zero, &seq, &step], vec![]);
    let pos = g.gather(&e.position, &positions, "position_embeddings")?;
    let sum = g.node("Add", &[&words, &types], vec![]);
    let sum = g.node("Add", &[&sum, &pos], vec![]);
    let mut x = g.layer_norm(&sum, &e.norm, "embeddings_ln")?;

    // Additive attention mask: (mask - 1) * 10000, shape [batch, 1, 1, seq].
    let maskf = g.cast_float("attention_mask");
    let one = g.scalar(1.0);
    let big = g.scalar(10000.0);
    let m = g.node("Sub", &[&maskf, &one], vec![]);
    let m = g.node("Mul", &[&m, &big], vec![]);
    let axes = g.i64s("axes", &[2], &[1, 2]);
    let mask = g.node("Unsqueeze", &[&m, &axes], vec![]);

    let split_shape = g.i64s("split_shape", &[4], &[0, 0, heads, head_dim]);
    let merge_shape = g.i64s("merge_shape", &[3], &[0, 0, hidden]);
    let scale = g.scalar(1.0 / (head_dim as f32).sqrt());
    for (i, l) in model.layers.iter().enumerate() {
        let p = format!("layer{i}");
        let q = g.linear(&x, &l.query, &format!("{p}_q"))?;
        let k = g.linear(&x, &l.key, &format!("{p}_k"))?;
        let v = g.linear(&x, &l.value, &format!("{p}_v"))?;
        let q = g.node("Reshape", &[&q, &split_shape], vec![]);
        let q = g.node(
            "Transpose",
            &[&q],
            vec![("perm", Attr::Ints(vec![0, 2, 1, 3]))],
        );
        let k = g.node("Reshape", &[&k, &split_shape], vec![]);
        let k = g.node(
            "Transpose",
            &[&k],
            vec![("perm", Attr::Ints(vec![0, 2, 3, 1]))],
        );
        let v = g.node("Reshape", &[&v, &split_shape], vec![]);
        let v = g.node(
            "Transpose",
            &[&v],
            vec![("perm", Attr::Ints(vec![0, 2, 1, 3]))],
        );
        let s = g.node("MatMul", &[&q, &k], vec![]);
        let s = g.node("Mul", &[&s, &scale], vec![]);
        let s = g.node("Add", &[&s, &mask], vec![]);
        let probs = g.node("Softmax", &[&s], vec![("axis", Attr::Int(-1))]);
        let ctx = g.node("MatMul", &[&probs, &v], vec![]);
        let ctx = g.node(
            "Transpose",
            &[&ctx],
            vec![("perm", Attr::Ints(vec![0, 2, 1, 3]))],
        );
        let ctx = g.node("Reshape", &[&ctx, &merge_shape], vec![]);
        let att = g.linear(&ctx, &l.attn_out, &format!("{p}_attn_out"))?;
        let res = g.node("Add", &[&att, &x], vec![]);
        let x1 = g.layer_norm(&res, &l.attn_norm, &format!("{p}_attn_ln"))?;
        let inner = g.linear(&x1, &l.intermediate, &format!("{p}_inter"))?;
        let inner = g.activation(&inner, l.act);
        let out = g.linear(&inner, &l.output, &format!("{p}_out"))?;
        let res = g.node("Add", &[&out, &x1], vec![]);
        x = g.layer_norm(&res, &l.out_norm, &format!("{p}_out_ln"))?;
    }

    // Pooler on the first token, then the classifier.
    let first_idx = g.i64s("idx0", &[], &[0]);
    let first = g.node("Gather", &[&x, &first_idx], vec![("axis", Attr::Int(1))]);
    let pooled = g.linear(&first, &model.pooler, "pooler")?;
    let pooled = g.node("Tanh", &[&pooled], vec![]);
    let logits = g.linear(&pooled, &model.classifier, "classifier")?;
    // Name the output `logits`.
    let last = g.nodes.last_mut().expect("graph has nodes");
    debug_assert_eq!(last.output[0], logits);
    last.output[0] = "logits".into();

    let mut graph = GraphProto::new();
    graph.name = "bert_cross_encoder".into();
    graph.node = g.nodes;
    graph.initializer = g.inits;
    let dyn2 = [Err("batch"), Err("sequence")];
    graph.input = ["input_ids", "attention_mask", "token_type_ids"]
        .iter()
        .map(|n| value_info(n, DataType::INT64, &dyn2))
        .collect();
    graph.output = vec![value_info(
        "logits",
        DataType::FLOAT,
        &[Err("batch"), Ok(1)],
    )];

    let mut opset = OperatorSetIdProto::new();
    opset.domain = String::new();
    opset.version = OPSET;
    let mut m = ModelProto::new();
    m.ir_version = 8;
    m.opset_import = vec![opset];
    m.producer_name = crate::import::PRODUCER.into();
    m.producer_version = env!("CARGO_PKG_VERSION").into();
    m.graph = Some(graph).into();
    let mut p = StringStringEntryProto::new();
    p.key = PRECISION_KEY.into();
    p.value = precision.name().into();
    m.metadata_props.push(p);
    Ok(m)
}

/// Writes `model` as an ONNX file at `precision` (atomically: a temporary file, then a
/// rename).
pub fn export_onnx(
    model: &BertCrossEncoder,
    out: impl AsRef<Path>,
    precision: Precision,
) -> Result<(), ExportError> {
    let out = out.as_ref();
    let err = |message: String| ExportError::Write {
        path: out.into(),
        message,
    };
    let proto = build(model, precision).map_err(|e| err(e.to_string()))?;
    let bytes = proto.write_to_bytes().map_err(|e| err(e.to_string()))?;
    let tmp = out.with_extension("onnx.tmp");
    std::fs::write(&tmp, bytes).map_err(|e| err(e.to_string()))?;
    std::fs::rename(&tmp, out).map_err(|e| err(e.to_string()))
}

/// Exports a model folder to an ONNX model folder (`model.onnx`, `tokenizer.json`,
/// `config.json`, and the source's `fusion.json` if it has one) that
/// [`crate::OnnxCrossEncoder`] loads.
///
/// The source is a candle folder (`config.json`, `model.safetensors`, `tokenizer.json`) or an
/// f32 ONNX folder this crate exported (the bundled student, a `retrain` output), so that an
/// exported student can be exported again at another [`Precision`].
pub fn export_onnx_dir(
    src: impl AsRef<Path>,
    dst: impl AsRef<Path>,
    precision: Precision,
) -> Result<(), ExportError> {
    let (src, dst) = (src.as_ref(), dst.as_ref());
    let model = load_source(src)?;
    let err = |path: &Path, e: std::io::Error| ExportError::Write {
        path: path.into(),
        message: e.to_string(),
    };
    std::fs::create_dir_all(dst).map_err(|e| err(dst, e))?;
    for f in ["tokenizer.json", "config.json"] {
        let from = src.join(f);
        if !from.exists() {
            return Err(crate::LoadError::MissingFile { path: from }.into());
        }
        let to = dst.join(f);
        // Exporting into the model's own folder: the file is already there (copying a file
        // onto itself truncates it to nothing).
        if same_file(&from, &to) {
            continue;
        }
        copy_atomic(&from, &to).map_err(|e| err(&to, e))?;
    }
    let fusion = src.join("fusion.json");
    if fusion.exists() && !same_file(&fusion, &dst.join("fusion.json")) {
        copy_atomic(&fusion, &dst.join("fusion.json")).map_err(|e| err(&fusion, e))?;
    }
    export_onnx(&model, dst.join("model.onnx"), precision)
}

/// The model of a candle folder, or of an f32 ONNX folder this crate exported.
fn load_source(src: &Path) -> Result<BertCrossEncoder, LoadError> {
    let onnx = src.join("model.onnx");
    if src.join("model.safetensors").exists() || !onnx.exists() {
        return load_bert_dir(src);
    }
    let config = read_config(src.join("config.json"))?;
    let tensors = crate::import::read_onnx_weights(&onnx)?;
    let vb = VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu);
    BertCrossEncoder::load(&config, vb, true).map_err(|e| LoadError::unreadable(onnx, e))
}

/// True if both paths name one existing file (through links or `..` alike).
pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Copies through a temporary file and a rename, so a reader never sees half a file.
fn copy_atomic(from: &Path, to: &Path) -> std::io::Result<()> {
    let tmp = to.with_extension("copy.tmp");
    std::fs::copy(from, &tmp)?;
    std::fs::rename(&tmp, to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_codes_decode_within_half_a_step() {
        // 3 x 2, the second column all zero.
        let w = [0.5, 0.0, -1.27, 0.0, 0.01, 0.0];
        let (q, s) = quantize_columns(&w, 3, 2);
        assert_eq!(s[1], 1.0, "an all-zero column gets scale 1");
        assert!((s[0] - 1.27 / 127.0).abs() < 1e-7);
        for (i, (&code, &x)) in q.iter().zip(&w).enumerate() {
            let back = (code as f32 - 128.0) * s[i % 2];
            assert!(
                (back - x).abs() <= s[i % 2] / 2.0 + 1e-7,
                "{i}: {x} -> {back}"
            );
        }
        assert_eq!(q[2], 1, "the largest magnitude maps to -127 (+128)");
    }

    #[test]
    fn row_codes_decode_within_half_a_step() {
        let t = [0.2, -0.4, 0.0, 0.0, 3.0, 1.5];
        let (q, s) = quantize_rows(&t, 2);
        assert_eq!(s.len(), 3);
        assert_eq!(s[1], 1.0);
        for (i, (&code, &x)) in q.iter().zip(&t).enumerate() {
            let back = code as i8 as f32 * s[i / 2];
            assert!(
                (back - x).abs() <= s[i / 2] / 2.0 + 1e-7,
                "{i}: {x} -> {back}"
            );
        }
        assert_eq!(q[4] as i8, 127);
    }
}
