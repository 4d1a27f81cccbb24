//! Where report bytes go while they are provisional, and where they land
//! once the job is `Done`.
//!
//! `Event::Data` is provisional: a later check (MD5, gzip trailer) may void
//! it. So bytes stream into a temporary file — `.NAME.partial` next to the
//! destination, so the final rename stays on one file system — which is
//! truncated on `DataReset`, renamed into place only after `Done` and deleted
//! on failure. A corrupt report never lands at the destination.

use std::fs::{self, File};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use reportflow::DataChunk;

/// Where the user wants the verified report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Destination {
    /// Written to this file.
    File(PathBuf),
    /// Copied to stdout after `Done`.
    Stdout,
    /// Not kept (only the summary is wanted).
    Discard,
}

impl Destination {
    /// `-` is stdout; anything else a path.
    pub(crate) fn parse(text: &str) -> Self {
        if text == "-" {
            Self::Stdout
        } else {
            Self::File(PathBuf::from(text))
        }
    }
}

/// Provisional report bytes on their way to a [`Destination`].
pub(crate) struct PartialReport {
    destination: Destination,
    /// The temporary file, and its path when it has one (stdout's is
    /// anonymous and vanishes on its own).
    file: Option<(BufWriter<File>, Option<PathBuf>)>,
    written: u64,
}

impl PartialReport {
    /// Creates the temporary file (truncating a stale one from an earlier,
    /// interrupted run).
    pub(crate) fn create(destination: Destination) -> io::Result<Self> {
        let file = match &destination {
            Destination::File(path) => {
                let partial = partial_path(path)?;
                let file = File::create(&partial)?;
                Some((BufWriter::new(file), Some(partial)))
            }
            Destination::Stdout => Some((BufWriter::new(tempfile::tempfile()?), None)),
            Destination::Discard => None,
        };
        Ok(Self {
            destination,
            file,
            written: 0,
        })
    }

    /// Appends a chunk of decoded data at its offset.
    pub(crate) fn write(&mut self, chunk: &DataChunk) -> io::Result<()> {
        if let Some((file, _)) = &mut self.file {
            if chunk.offset != self.written {
                // The job's offsets are contiguous from 0 after each reset;
                // anything else would silently corrupt the output.
                if chunk.offset > self.written {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "report data skips from byte {} to {}",
                            self.written, chunk.offset
                        ),
                    ));
                }
                file.flush()?;
                file.get_mut().set_len(chunk.offset)?;
                file.seek(SeekFrom::Start(chunk.offset))?;
            }
            file.write_all(&chunk.bytes)?;
        }
        self.written = chunk.offset.saturating_add(chunk.bytes.len() as u64);
        Ok(())
    }

    /// Voids everything written so far (`Event::DataReset`).
    pub(crate) fn reset(&mut self) -> io::Result<()> {
        if let Some((file, _)) = &mut self.file {
            file.flush()?;
            file.get_mut().set_len(0)?;
            file.seek(SeekFrom::Start(0))?;
        }
        self.written = 0;
        Ok(())
    }

    /// The job is `Done`: moves the bytes to their destination. Returns the
    /// final path, if the destination is a file.
    pub(crate) fn commit(mut self) -> io::Result<Option<PathBuf>> {
        let Some((file, partial)) = self.file.take() else {
            return Ok(None);
        };
        let mut file = file.into_inner().map_err(io::IntoInnerError::into_error)?;
        match (&self.destination, partial) {
            (Destination::File(path), Some(partial)) => {
                file.sync_all()?;
                drop(file);
                fs::rename(&partial, path)?;
                Ok(Some(path.clone()))
            }
            _ => {
                file.seek(SeekFrom::Start(0))?;
                let stdout = io::stdout();
                let mut stdout = stdout.lock();
                io::copy(&mut file, &mut stdout)?;
                stdout.flush()?;
                Ok(None)
            }
        }
    }

    /// The job failed: deletes the temporary file.
    pub(crate) fn discard(mut self) {
        if let Some((file, Some(partial))) = self.file.take() {
            drop(file);
            // Nothing useful to do if it is already gone.
            let _ = fs::remove_file(partial);
        }
    }
}

/// `dir/.NAME.partial` for `dir/NAME`.
pub(crate) fn partial_path(path: &Path) -> io::Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("`{}` does not name a file", path.display()),
        )
    })?;
    let mut partial_name = std::ffi::OsString::from(".");
    partial_name.push(name);
    partial_name.push(".partial");
    Ok(path.with_file_name(partial_name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(offset: u64, bytes: &[u8]) -> DataChunk {
        DataChunk {
            offset,
            bytes: bytes.to_vec(),
            part: None,
        }
    }

    #[test]
    fn only_committed_bytes_land_and_resets_void_earlier_ones() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("report.json");
        let mut report = PartialReport::create(Destination::File(target.clone())).unwrap();
        report.write(&chunk(0, b"garbage")).unwrap();
        report.reset().unwrap();
        report.write(&chunk(0, b"[1,")).unwrap();
        report.write(&chunk(3, b"2]")).unwrap();
        assert!(!target.exists(), "nothing lands before Done");
        assert!(dir.path().join(".report.json.partial").exists());
        assert_eq!(report.commit().unwrap(), Some(target.clone()));
        assert_eq!(fs::read(&target).unwrap(), b"[1,2]");
        assert!(!dir.path().join(".report.json.partial").exists());
    }

    #[test]
    fn a_discarded_report_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("report.json");
        let mut report = PartialReport::create(Destination::File(target.clone())).unwrap();
        report.write(&chunk(0, b"corrupt")).unwrap();
        report.discard();
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_gap_in_offsets_is_an_error() {
        let mut report = PartialReport::create(Destination::Stdout).unwrap();
        report.write(&chunk(0, b"ab")).unwrap();
        assert!(report.write(&chunk(5, b"cd")).is_err());
    }
}
