//! Reading the weights back out of an ONNX file this crate exported, so that an exported
//! student (the bundled default, an installed reranker) can be trained further.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use onnx_protobuf::{tensor_proto::DataType, Message, ModelProto};

use crate::error::LoadError;

/// The producer name [`crate::export_onnx`] writes.
pub(crate) const PRODUCER: &str = "search-reranker";

/// The HF name of an exported initializer (named `<hint>_<n>` by the exporter), and whether
/// the exporter stored it transposed (the linear layers' weights).
fn hf_name(hint: &str) -> Option<(String, bool)> {
    let fixed = match hint {
        "word_embeddings" => Some("bert.embeddings.word_embeddings.weight"),
        "token_type_embeddings" => Some("bert.embeddings.token_type_embeddings.weight"),
        "position_embeddings" => Some("bert.embeddings.position_embeddings.weight"),
        "embeddings_ln_gamma" => Some("bert.embeddings.LayerNorm.weight"),
        "embeddings_ln_beta" => Some("bert.embeddings.LayerNorm.bias"),
        "pooler_w" => Some("bert.pooler.dense.weight"),
        "pooler_b" => Some("bert.pooler.dense.bias"),
        "classifier_w" => Some("classifier.weight"),
        "classifier_b" => Some("classifier.bias"),
        _ => None,
    };
    if let Some(name) = fixed {
        return Some((
            name.to_owned(),
            name.ends_with("dense.weight") || name == "classifier.weight",
        ));
    }
    let rest = hint.strip_prefix("layer")?;
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    let (layer, part) = (rest.get(..digits)?, rest.get(digits..)?.strip_prefix('_')?);
    let (module, what) = part.rsplit_once('_')?;
    let module = match module {
        "q" => "attention.self.query",
        "k" => "attention.self.key",
        "v" => "attention.self.value",
        "attn_out" => "attention.output.dense",
        "attn_ln" => "attention.output.LayerNorm",
        "inter" => "intermediate.dense",
        "out" => "output.dense",
        "out_ln" => "output.LayerNorm",
        _ => return None,
    };
    let (param, transposed) = match what {
        "w" => ("weight", true),
        "b" => ("bias", false),
        "gamma" => ("weight", false),
        "beta" => ("bias", false),
        _ => return None,
    };
    Some((
        format!("bert.encoder.layer.{layer}.{module}.{param}"),
        transposed,
    ))
}

/// The weights of an ONNX cross-encoder exported by this crate, under HF names (`bert.`
/// prefix), as a candle checkpoint holds them. A model exported by anything else is
/// [`LoadError::Corrupt`]: only this crate's graph layout is known.
pub fn read_onnx_weights(path: impl AsRef<Path>) -> Result<HashMap<String, Tensor>, LoadError> {
    let path = path.as_ref();
    let corrupt = |message: String| LoadError::Corrupt {
        path: path.into(),
        message,
    };
    let bytes = std::fs::read(path).map_err(|e| LoadError::Io {
        path: path.into(),
        source: e,
    })?;
    let model = ModelProto::parse_from_bytes(&bytes).map_err(|e| corrupt(e.to_string()))?;
    if model.producer_name != PRODUCER {
        return Err(corrupt(format!(
            "made by `{}`, not by this project's exporter: its weights cannot be read back (train from a candle checkpoint instead)",
            model.producer_name
        )));
    }
    if let Some(p) = model
        .metadata_props
        .iter()
        .find(|p| p.key == crate::export::PRECISION_KEY && p.value != "f32")
    {
        return Err(corrupt(format!(
            "an {} export: its weights are quantized and cannot be trained or exported again (use the f32 model it was exported from)",
            p.value
        )));
    }
    let graph = model
        .graph
        .as_ref()
        .ok_or_else(|| corrupt("no graph".into()))?;
    let mut out = HashMap::new();
    for init in &graph.initializer {
        let Some((hint, _)) = init.name.rsplit_once('_') else {
            continue;
        };
        let Some((name, transposed)) = hf_name(hint) else {
            continue;
        };
        if init.data_type != DataType::FLOAT as i32 {
            return Err(corrupt(format!("{} is not float", init.name)));
        }
        let data: Vec<f32> = init
            .raw_data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let dims: Vec<usize> = init.dims.iter().map(|&d| d as usize).collect();
        let t = Tensor::from_vec(data, dims, &Device::Cpu).map_err(|e| corrupt(e.to_string()))?;
        let t = if transposed {
            t.t()
                .and_then(|t| t.contiguous())
                .map_err(|e| corrupt(e.to_string()))?
        } else {
            t
        };
        out.insert(name, t);
    }
    if !out.contains_key("classifier.weight") {
        return Err(corrupt("no classifier weights found".into()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_back() {
        assert_eq!(
            hf_name("layer1_attn_out_w"),
            Some((
                "bert.encoder.layer.1.attention.output.dense.weight".into(),
                true
            ))
        );
        assert_eq!(
            hf_name("layer12_out_ln_gamma"),
            Some((
                "bert.encoder.layer.12.output.LayerNorm.weight".into(),
                false
            ))
        );
        assert_eq!(
            hf_name("layer0_q_b"),
            Some((
                "bert.encoder.layer.0.attention.self.query.bias".into(),
                false
            ))
        );
        assert_eq!(
            hf_name("classifier_w"),
            Some(("classifier.weight".into(), true))
        );
        assert_eq!(
            hf_name("pooler_w"),
            Some(("bert.pooler.dense.weight".into(), true))
        );
        assert_eq!(hf_name("const"), None);
        assert_eq!(hf_name("split_shape"), None);
    }
}
