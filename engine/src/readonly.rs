//! Opening an index that cannot be written (a read-only mount, a snapshot): tantivy takes a
//! lock *file* even to read, which a read-only folder refuses; this directory reads through
//! memory maps and hands out locks that are no files, and refuses every write.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tantivy::directory::error::{DeleteError, LockError, OpenReadError, OpenWriteError};
use tantivy::directory::{
    Directory, DirectoryLock, FileHandle, Lock, MmapDirectory, WatchCallback, WatchHandle, WritePtr,
};

/// An index folder opened for reading only. With no writer possible, nothing can delete a
/// segment while it is opened, so the reader's lock is not needed.
#[derive(Debug, Clone)]
pub(crate) struct ReadOnlyDirectory {
    inner: MmapDirectory,
    root: PathBuf,
}

impl ReadOnlyDirectory {
    pub(crate) fn open(root: &Path) -> tantivy::Result<Self> {
        Ok(ReadOnlyDirectory {
            inner: MmapDirectory::open(root)?,
            root: root.to_path_buf(),
        })
    }

    fn refused(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::ReadOnlyFilesystem,
            format!("{} was opened read-only", self.root.display()),
        )
    }
}

/// True if `dir` cannot take a file written in it (a read-only mount, or no permission):
/// tries to create (and removes) a probe file of its own name.
pub(crate) fn is_read_only(dir: &Path) -> bool {
    let probe = dir.join(format!(".engine-probe-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            false
        }
        Err(e) => refuses_writes(&e),
    }
}

fn refuses_writes(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ReadOnlyFilesystem | io::ErrorKind::PermissionDenied
    )
}

impl Directory for ReadOnlyDirectory {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        self.inner.get_file_handle(path)
    }

    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        Err(DeleteError::IoError {
            io_error: Arc::new(self.refused()),
            filepath: path.to_path_buf(),
        })
    }

    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        self.inner.exists(path)
    }

    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        Err(OpenWriteError::IoError {
            io_error: Arc::new(self.refused()),
            filepath: path.to_path_buf(),
        })
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        self.inner.atomic_read(path)
    }

    fn atomic_write(&self, _path: &Path, _data: &[u8]) -> io::Result<()> {
        Err(self.refused())
    }

    fn sync_directory(&self) -> io::Result<()> {
        Ok(())
    }

    fn acquire_lock(&self, lock: &Lock) -> Result<DirectoryLock, LockError> {
        if lock.is_blocking {
            // The reader's lock (META_LOCK): nothing to guard against without writers.
            Ok(DirectoryLock::from(Box::new(())))
        } else {
            // The writer's lock: there is no writing here.
            Err(LockError::IoError(Arc::new(self.refused())))
        }
    }

    fn watch(&self, watch_callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        self.inner.watch(watch_callback)
    }
}
