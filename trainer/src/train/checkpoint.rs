//! Checkpoints: the best model in the output folder, the last one (with optimizer state) in
//! `last/` swapped in atomically, and resuming from it.

use std::path::{Path, PathBuf};

use candle_core::Device;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::model::Student;
use crate::train::step::Trainer;
use crate::train::{TrainConfig, TrainState};

pub(crate) fn atomic_dir(final_dir: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let tmp = final_dir.with_extension("tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    fill(&tmp)?;
    let old = final_dir.with_extension("old");
    let _ = std::fs::remove_dir_all(&old);
    if final_dir.exists() {
        std::fs::rename(final_dir, &old).map_err(|e| Error::io(final_dir, e))?;
    }
    std::fs::rename(&tmp, final_dir).map_err(|e| Error::io(final_dir, e))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

pub(crate) fn write_json(path: &Path, v: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(v).map_err(|e| Error::json(path, e))?;
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}

/// The folder of a run's last checkpoint (model, optimizer state, `training.json`).
pub fn last_checkpoint_dir(out: &Path) -> PathBuf {
    out.join("last")
}

pub(crate) fn save_model(student: &Student, tokenizer: &Path, dir: &Path) -> Result<()> {
    student.varmap.save(dir.join("model.safetensors"))?;
    write_json(&dir.join("config.json"), &student.config.to_hf_json())?;
    let to = dir.join("tokenizer.json");
    // Copying a file onto itself truncates it: never (a run whose output is its init).
    let same = matches!(
        (std::fs::canonicalize(tokenizer), std::fs::canonicalize(&to)),
        (Ok(a), Ok(b)) if a == b
    );
    if !same {
        std::fs::copy(tokenizer, &to).map_err(|e| Error::io(tokenizer, e))?;
    }
    Ok(())
}

/// Writes the last checkpoint (model, optimizer moments, state) into `out/last/`, replacing
/// the previous one atomically.
pub(crate) fn save_last(
    tr: &Trainer,
    state: &TrainState,
    tokenizer: &Path,
    out: &Path,
) -> Result<()> {
    atomic_dir(&last_checkpoint_dir(out), |dir| {
        save_model(&tr.student, tokenizer, dir)?;
        candle_core::safetensors::save(&tr.opt.to_tensors(), dir.join("optimizer.safetensors"))?;
        write_json(&dir.join("training.json"), state)
    })
}

/// The state of the last checkpoint in `out/last/` if it is of this same run (same settings
/// and length), with the trainer's weights and moments restored from it; `None` otherwise.
pub(crate) fn resume(
    tr: &mut Trainer,
    cfg: &TrainConfig,
    total: usize,
    out: &Path,
) -> Result<Option<TrainState>> {
    let last = last_checkpoint_dir(out);
    let Ok(text) = std::fs::read_to_string(last.join("training.json")) else {
        return Ok(None);
    };
    let Ok(saved) = serde_json::from_str::<TrainState>(&text) else {
        return Ok(None);
    };
    if saved.config != *cfg || saved.total_steps != total {
        return Ok(None);
    }
    let weights = candle_core::safetensors::load(last.join("model.safetensors"), &Device::Cpu)?;
    let moments = candle_core::safetensors::load(last.join("optimizer.safetensors"), &Device::Cpu)?;
    for (name, var) in &tr.vars {
        let w = weights.get(name).ok_or_else(|| Error::Checkpoint {
            path: last.clone(),
            message: format!("no tensor {name}"),
        })?;
        var.set(w)?;
        tr.opt.restore(name, &moments);
    }
    tracing::info!(step = saved.step, "resuming");
    Ok(Some(saved))
}
