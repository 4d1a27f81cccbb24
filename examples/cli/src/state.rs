//! `--state FILE`: the job's snapshot on disk, so a run killed at any
//! moment continues the same report instead of requesting another.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use reportflow::{ReportJob, Snapshot};

/// The state file of one `fetch`.
pub(crate) struct StateFile {
    path: PathBuf,
    /// The JSON last written, so unchanged snapshots are not rewritten on
    /// every poll.
    last_saved: Option<String>,
}

impl StateFile {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            last_saved: None,
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The snapshot left by an earlier run, if there is one.
    pub(crate) fn load(&mut self) -> Result<Option<Snapshot>, String> {
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => {
                return Err(format!(
                    "cannot read state file {}: {error}",
                    self.path.display()
                ))
            }
        };
        let snapshot = Snapshot::from_json(&text).map_err(|error| {
            format!(
                "state file {} cannot be resumed: {error}; delete it to start a new report",
                self.path.display()
            )
        })?;
        self.last_saved = Some(text);
        Ok(Some(snapshot))
    }

    /// Writes the job's snapshot atomically: a reader (or a rerun after a
    /// crash) sees the old snapshot or the new one, never half of one.
    pub(crate) fn save(&mut self, job: &ReportJob) -> io::Result<()> {
        let json = job.snapshot().to_json();
        if self.last_saved.as_deref() == Some(json.as_str()) {
            return Ok(());
        }
        let temporary = self.temporary_path();
        let mut file = File::create(&temporary)?;
        file.write_all(json.as_bytes())?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temporary, &self.path)?;
        self.last_saved = Some(json);
        Ok(())
    }

    /// The report is finished; nothing is left to resume.
    pub(crate) fn remove(&self) -> io::Result<()> {
        match fs::remove_file(&self.path) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    }

    fn temporary_path(&self) -> PathBuf {
        let mut name = self
            .path
            .file_name()
            .map(ToOwned::to_owned)
            .unwrap_or_default();
        name.push(".tmp");
        self.path.with_file_name(name)
    }
}
