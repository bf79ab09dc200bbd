//! Sharing an experiment between worker processes: claim files holding a process id, work
//! built once while the others wait, whole-file writes, and the pool of workers itself.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};

pub(crate) fn write_json(path: &Path, v: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(v).map_err(|e| Error::json(path, e))?;
    write_atomic(path, text.as_bytes())
}

/// Writes `path` whole or not at all (a temporary file of this process, then a rename), so
/// that readers, other workers included, never see half a file.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// A worker's claim on a piece of work: a file holding its process id, removed when dropped.
pub(crate) struct Claim(PathBuf);

impl Claim {
    /// Takes the claim `path` unless a live process holds it; a claim whose process is gone
    /// is taken over. The file appears with its content in one step (a hard link of a
    /// written temporary file), so no reader sees it empty.
    pub(crate) fn take(path: &Path) -> Result<Option<Claim>> {
        let me = std::process::id();
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(format!(".tmp{me}"));
        let tmp = PathBuf::from(tmp);
        std::fs::write(&tmp, me.to_string()).map_err(|e| Error::io(&tmp, e))?;
        let taken = (|| {
            for _ in 0..2 {
                match std::fs::hard_link(&tmp, path) {
                    Ok(()) => return Ok(Some(Claim(path.to_path_buf()))),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        let holder = std::fs::read_to_string(path)
                            .ok()
                            .and_then(|t| t.trim().parse::<u32>().ok());
                        match holder {
                            Some(pid) if pid != me && process_alive(pid) => return Ok(None),
                            // Left by a dead process (or by an earlier process with our id).
                            _ => {
                                let _ = std::fs::remove_file(path);
                            }
                        }
                    }
                    Err(e) => return Err(Error::io(path, e)),
                }
            }
            Ok(None)
        })();
        let _ = std::fs::remove_file(&tmp);
        taken
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Whether process `pid` runs (read from `/proc`; without it, every other process is taken
/// for dead, which is right for a single worker).
fn process_alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

/// Runs `jobs` copies of the program `exe` with `args`, each a worker of the same experiment
/// with `RAYON_NUM_THREADS=threads`, and waits for all of them: the workers share the work
/// through claim files, so they need no coordination here. An error names how many failed
/// (each reports its own error on stderr).
pub fn run_workers(
    exe: &Path,
    args: &[std::ffi::OsString],
    jobs: usize,
    threads: usize,
) -> Result<()> {
    let mut children = Vec::new();
    for _ in 0..jobs {
        let child = std::process::Command::new(exe)
            .args(args)
            .env("RAYON_NUM_THREADS", threads.to_string())
            .spawn()
            .map_err(|e| Error::io(exe, e))?;
        children.push(child);
    }
    let mut failed = 0;
    for mut c in children {
        if !c.wait().map_err(|e| Error::io(exe, e))?.success() {
            failed += 1;
        }
    }
    if failed > 0 {
        return Err(Error::Experiment(format!(
            "{failed} of {jobs} experiment workers failed (see their messages above)"
        )));
    }
    Ok(())
}

/// Makes sure one worker builds `done`: returns `None` once `done` exists (waiting while
/// another live worker builds it), or the claim under which this worker must build it.
pub(crate) fn build_once(
    done: &Path,
    claim: &Path,
    what: &str,
    log: &mut dyn FnMut(&str),
) -> Result<Option<Claim>> {
    let mut said = false;
    loop {
        if done.exists() {
            return Ok(None);
        }
        if let Some(c) = Claim::take(claim)? {
            // Built by another worker between the check and the claim?
            return Ok((!done.exists()).then_some(c));
        }
        if !said {
            log(&format!("waiting for another worker to build {what}"));
            said = true;
        }
        std::thread::sleep(std::time::Duration::from_secs(5));
    }
}

pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::json(path, e))
}
