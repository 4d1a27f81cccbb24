//! Multi-part reports (ZIP archives of one file per sheet) on their way to
//! a directory: each part streams into its own file under a staging
//! directory, which `DataReset` empties and `Done` moves into place. A part
//! name is a relative path the core has already checked; it is checked
//! again here before anything touches the file system.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Component, Path, PathBuf};

use reportflow::{DataChunk, PartSummary};

/// Name of the staging directory inside the output directory.
const STAGING: &str = ".reportflow.partial";

/// Provisional parts of a report, staged under `DIR/.reportflow.partial/`.
pub(crate) struct PartsReport {
    dir: PathBuf,
    staging: PathBuf,
    current: Option<(String, BufWriter<File>)>,
    written: u64,
}

impl PartsReport {
    /// Creates the output directory and an empty staging directory in it.
    pub(crate) fn create(dir: &Path) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let staging = dir.join(STAGING);
        if staging.exists() {
            fs::remove_dir_all(&staging)?;
        }
        fs::create_dir_all(&staging)?;
        Ok(Self {
            dir: dir.to_owned(),
            staging,
            current: None,
            written: 0,
        })
    }

    /// Appends a chunk to its part's file.
    pub(crate) fn write(&mut self, chunk: &DataChunk) -> io::Result<()> {
        if chunk.offset != self.written {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "report data skips from byte {} to {}",
                    self.written, chunk.offset
                ),
            ));
        }
        let name = chunk.part.as_deref().unwrap_or("report");
        if self.current.as_ref().map(|(n, _)| n.as_str()) != Some(name) {
            if let Some((_, mut file)) = self.current.take() {
                file.flush()?;
            }
            let path = self.staging.join(relative(name)?);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
            let file = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            self.current = Some((name.to_owned(), BufWriter::new(file)));
        }
        if let Some((_, file)) = &mut self.current {
            file.write_all(&chunk.bytes)?;
        }
        self.written = chunk.offset.saturating_add(chunk.bytes.len() as u64);
        Ok(())
    }

    /// Voids every part written so far (`Event::DataReset`).
    pub(crate) fn reset(&mut self) -> io::Result<()> {
        self.current = None;
        fs::remove_dir_all(&self.staging)?;
        fs::create_dir_all(&self.staging)?;
        self.written = 0;
        Ok(())
    }

    /// The job is `Done`: moves every part (empty ones included) into the
    /// output directory. Returns the final paths.
    pub(crate) fn commit(mut self, parts: &[PartSummary]) -> io::Result<Vec<PathBuf>> {
        if let Some((_, mut file)) = self.current.take() {
            file.flush()?;
        }
        let mut placed = Vec::with_capacity(parts.len());
        for part in parts {
            let name = relative(&part.name)?;
            let staged = self.staging.join(&name);
            if !staged.exists() {
                if let Some(parent) = staged.parent() {
                    fs::create_dir_all(parent)?;
                }
                File::create(&staged)?;
            }
            let target = self.dir.join(&name);
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::rename(&staged, &target)?;
            placed.push(target);
        }
        fs::remove_dir_all(&self.staging)?;
        Ok(placed)
    }

    /// The job failed (or had no data): deletes the staging directory.
    pub(crate) fn discard(mut self) {
        self.current = None;
        // Nothing useful to do if it is already gone.
        let _ = fs::remove_dir_all(&self.staging);
    }
}

/// A part name as a path that stays inside the output directory.
fn relative(name: &str) -> io::Result<PathBuf> {
    let path = Path::new(name);
    let safe = !name.is_empty()
        && path
            .components()
            .all(|c| matches!(c, Component::Normal(part) if part != STAGING));
    if safe {
        Ok(path.to_owned())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("refusing to write a report part named {name:?}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(offset: u64, part: &str, bytes: &[u8]) -> DataChunk {
        DataChunk {
            offset,
            bytes: bytes.to_vec(),
            part: Some(part.to_owned()),
        }
    }

    fn summary(name: &str, bytes: u64) -> PartSummary {
        serde_json::from_value(serde_json::json!({ "name": name, "bytes": bytes, "rows": 0 }))
            .unwrap()
    }

    #[test]
    fn parts_land_as_files_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("report");
        let mut parts = PartsReport::create(&out).unwrap();
        parts.write(&chunk(0, "a.csv", b"junk")).unwrap();
        parts.reset().unwrap();
        parts.write(&chunk(0, "a.csv", b"ID\n")).unwrap();
        parts.write(&chunk(3, "a.csv", b"1\n")).unwrap();
        parts.write(&chunk(5, "sub/b.csv", b"X\n")).unwrap();
        assert!(!out.join("a.csv").exists());
        let placed = parts
            .commit(&[
                summary("a.csv", 5),
                summary("sub/b.csv", 2),
                summary("empty.csv", 0),
            ])
            .unwrap();
        assert_eq!(placed.len(), 3);
        assert_eq!(fs::read(out.join("a.csv")).unwrap(), b"ID\n1\n");
        assert_eq!(fs::read(out.join("sub/b.csv")).unwrap(), b"X\n");
        assert!(fs::read(out.join("empty.csv")).unwrap().is_empty());
        assert!(!out.join(STAGING).exists());
    }

    #[test]
    fn unsafe_names_are_refused_and_discard_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let mut parts = PartsReport::create(dir.path()).unwrap();
        assert!(parts.write(&chunk(0, "../evil.csv", b"x")).is_err());
        assert!(parts.write(&chunk(0, "/etc/passwd", b"x")).is_err());
        parts.discard();
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
