//! Creating and opening an index: the folder checks, the creation lock, the settings file,
//! read-only folders and the checksum check before anything is read.

use std::path::Path;
use std::sync::Mutex;

use tantivy::{Index, ReloadPolicy};

use crate::error::{Error, Result};
use crate::index::{schema, Engine, Fields, SETTINGS_FILE, SETTINGS_VERSION, TOKENIZER};
use crate::settings::{Analysis, StoredSettings};

/// Files an interrupted creation may leave in a folder (besides our own `engine.json`).
const CREATION_LEFTOVERS: &[&str] = &[
    CREATE_LOCK,
    ".managed.json",
    ".tantivy-meta.lock",
    ".tantivy-writer.lock",
    "engine.json.tmp",
];
const CREATE_LOCK: &str = ".engine-create.lock";

/// What a folder holds, for creating an index in it.
enum FolderState {
    /// Missing, empty, or an interrupted creation's leftovers.
    Fresh,
    /// An index (`meta.json`).
    Index,
    /// Something else: these entries (a few of them).
    Foreign(String),
}

fn folder_state(path: &Path) -> Result<FolderState> {
    if path.join("meta.json").exists() {
        return Ok(FolderState::Index);
    }
    let entries = match std::fs::read_dir(path) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FolderState::Fresh),
        Err(e) => {
            return Err(Error::Io {
                path: path.into(),
                source: e,
            })
        }
    };
    let mut foreign = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::Io {
            path: path.into(),
            source: e,
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = if name == SETTINGS_FILE {
            // Our settings from an interrupted creation, not someone else's engine.json.
            std::fs::read_to_string(entry.path())
                .ok()
                .and_then(|t| serde_json::from_str::<StoredSettings>(&t).ok())
                .is_some()
        } else {
            CREATION_LEFTOVERS.contains(&name.as_str())
        };
        if !ours {
            foreign.push(name);
        }
    }
    if foreign.is_empty() {
        return Ok(FolderState::Fresh);
    }
    foreign.sort();
    let n = foreign.len();
    let mut found = foreign.into_iter().take(3).collect::<Vec<_>>().join(", ");
    if n > 3 {
        found.push_str(&format!(" and {} more", n - 3));
    }
    Ok(FolderState::Foreign(found))
}

/// An exclusive lock on creating the index in a folder, released when dropped (or when the
/// process dies).
struct CreationLock(#[allow(dead_code)] std::fs::File);

impl CreationLock {
    fn take(path: &Path) -> Result<CreationLock> {
        let io = |p: &Path, e| Error::Io {
            path: p.into(),
            source: e,
        };
        std::fs::create_dir_all(path).map_err(|e| io(path, e))?;
        let lock_path = path.join(CREATE_LOCK);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io(&lock_path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(CreationLock(file)),
            Err(std::fs::TryLockError::WouldBlock) => Err(Error::Locked { path: path.into() }),
            Err(std::fs::TryLockError::Error(e)) => Err(io(&lock_path, e)),
        }
    }
}

impl Engine {
    /// Creates a new, empty index in `path` (created if missing), with the given analysis.
    ///
    /// The folder must be missing, empty, or what an interrupted creation of an index left
    /// (its settings and tantivy's housekeeping files, no `meta.json`): a folder holding
    /// anything else is [`Error::NotAnIndex`], never emptied, since an index copied without
    /// its `meta.json` (which sorts last) looks like that. Creation holds a lock, so two
    /// processes creating one index at once cannot mix their settings.
    pub fn create(path: impl AsRef<Path>, analysis: Analysis) -> Result<Engine> {
        let path = path.as_ref();
        let _lock = CreationLock::take(path)?;
        Self::create_locked(path, analysis)
    }

    fn create_locked(path: &Path, analysis: Analysis) -> Result<Engine> {
        match folder_state(path)? {
            FolderState::Index => return Err(Error::IndexExists { path: path.into() }),
            FolderState::Foreign(found) => {
                return Err(Error::NotAnIndex {
                    path: path.into(),
                    found,
                })
            }
            FolderState::Fresh => {}
        }
        let settings = StoredSettings {
            format_version: SETTINGS_VERSION,
            analysis,
        };
        // Settings first (atomically): an index whose creation was interrupted has no
        // meta.json and is created again; one with meta.json always has its settings.
        let settings_path = path.join(SETTINGS_FILE);
        let json = serde_json::to_string_pretty(&settings).expect("settings serialize");
        let tmp = path.join(format!("{SETTINGS_FILE}.tmp"));
        let io = |p: &Path, e| Error::Io {
            path: p.into(),
            source: e,
        };
        std::fs::write(&tmp, json).map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, &settings_path).map_err(|e| io(&settings_path, e))?;
        let index = Index::create_in_dir(path, schema())?;
        Self::from_index(path, index, settings.analysis)
    }

    /// Opens an existing index.
    pub fn open(path: impl AsRef<Path>) -> Result<Engine> {
        let path = path.as_ref();
        if !path.join("meta.json").exists() {
            return Err(Error::NoIndex { path: path.into() });
        }
        let settings_path = path.join(SETTINGS_FILE);
        let text = std::fs::read_to_string(&settings_path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::NoIndex { path: path.into() }
            } else {
                Error::Io {
                    path: settings_path.clone(),
                    source: e,
                }
            }
        })?;
        let settings: StoredSettings =
            serde_json::from_str(&text).map_err(|e| Error::Settings {
                path: settings_path.clone(),
                message: e.to_string(),
            })?;
        if settings.format_version != SETTINGS_VERSION {
            return Err(Error::Settings {
                path: settings_path,
                message: format!(
                    "format version {} is not supported (expected {SETTINGS_VERSION})",
                    settings.format_version
                ),
            });
        }
        let read_only = crate::readonly::is_read_only(path);
        let index = if read_only {
            Index::open(crate::readonly::ReadOnlyDirectory::open(path)?)?
        } else {
            Index::open_in_dir(path)?
        };
        // Before any segment is read: a damaged file is an error here, not a panic later.
        crate::verify::verify(path, &index, crate::verify::Verify::Changed)?;
        let mut engine = Self::from_index(path, index, settings.analysis)?;
        engine.read_only = read_only;
        Ok(engine)
    }

    /// Checks the index's files against their checksums: every file (`Verify::Full`), or
    /// those not checked before in their present size and modification time (what
    /// [`Engine::open`] does). A damaged file is [`Error::Damaged`].
    pub fn verify(&self, mode: crate::Verify) -> Result<crate::VerifyReport> {
        crate::verify::verify(&self.path, &self.index, mode)
    }

    /// True if the index was opened read-only (its folder refuses writes): searches work,
    /// writes are [`Error::ReadOnly`].
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Opens the index at `path`, or creates it with `analysis` if there is none (see
    /// [`Engine::create`] for what a folder may hold).
    ///
    /// An existing index keeps the analysis it was built with.
    pub fn open_or_create(path: impl AsRef<Path>, analysis: Analysis) -> Result<Engine> {
        let path = path.as_ref();
        if path.join("meta.json").exists() {
            return Self::open(path);
        }
        let _lock = CreationLock::take(path)?;
        // Another process may have created it while this one waited for the lock.
        if path.join("meta.json").exists() {
            return Self::open(path);
        }
        Self::create_locked(path, analysis)
    }

    pub(crate) fn from_index(path: &Path, index: Index, analysis: Analysis) -> Result<Engine> {
        index.tokenizers().register(TOKENIZER, analysis.analyzer());
        let schema = index.schema();
        let field = |name: &str| {
            schema.get_field(name).map_err(|_| Error::Settings {
                path: path.join("meta.json"),
                message: format!("the index has no `{name}` field: not an index of this engine"),
            })
        };
        let fields = Fields {
            id: field("id")?,
            title: field("title")?,
            body: field("body")?,
            all: field("all")?,
        };
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::OnCommitWithDelay)
            .try_into()?;
        Ok(Engine {
            path: path.to_path_buf(),
            index,
            reader,
            writer: Mutex::new(None),
            fields,
            analysis,
            read_only: false,
            limits: crate::query::Limits::from_env(),
        })
    }
}
