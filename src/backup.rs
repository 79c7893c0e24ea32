//! Backups of a SQLite data directory, as files: what `fulcrum admin backup` writes and
//! `fulcrum admin restore` reads back.
//!
//! A backup folder holds `fulcrum.db` (one consistent snapshot of the database, taken by the
//! store while the server serves), `blobs/` (avatars, run files, exports), `secret.key` (what
//! sealed tokens and signed links need) and `manifest.json` (sizes and the database's
//! SHA-256, checked before anything is restored). Blobs are never changed in place, only
//! written under new names and deleted, so copying them once before the snapshot and once
//! after it catches every blob the snapshot refers to.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

pub const MANIFEST: &str = "manifest.json";
pub const DATABASE: &str = "fulcrum.db";
pub const BLOBS: &str = "blobs";
pub const SECRET: &str = "secret.key";
const FORMAT: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub format: u32,
    pub fulcrum_version: String,
    /// When the database snapshot was taken (ISO 8601, UTC).
    pub created_at: String,
    pub database: DatabaseFile,
    pub blobs: Tally,
    /// Where the blobs are when they are not in the backup (a bucket, `s3://…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blobs_at: Option<String>,
    /// Whether `secret.key` is in the backup (not when the secret comes from configuration).
    pub secret_key: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DatabaseFile {
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Tally {
    pub files: u64,
    pub bytes: u64,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.files += other.files;
        self.bytes += other.bytes;
    }
}

/// Held by a server for as long as it serves a SQLite data directory, so that a second
/// server, or a restore, cannot open it underneath. The operating system lets go of it when
/// the process ends, even by `kill -9`.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

pub fn lock_data_dir(dir: &Path) -> anyhow::Result<DataDirLock> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    crate::app::restrict(dir, 0o700)?;
    let path = dir.join("fulcrum.lock");
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(DataDirLock { _file: file }),
        Err(fs::TryLockError::WouldBlock) => bail!(
            "another Fulcrum process is serving {} (it holds fulcrum.lock); stop it first",
            dir.display()
        ),
        Err(fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// Makes `dir` (mode 0700) for a new backup; it must not exist or be empty, so a backup
/// never mixes with an older one.
pub fn prepare_target(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        let mut entries =
            fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
        if entries.next().is_some() {
            bail!("{} is not empty; back up into a new folder", dir.display());
        }
    }
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    crate::app::restrict(dir, 0o700)
}

/// Copies every file under `from` that `to` does not have yet (temporary `.…` files are
/// skipped), each synced to disk. Returns what it copied.
pub fn copy_new_files(from: &Path, to: &Path) -> anyhow::Result<Tally> {
    let mut tally = Tally::default();
    if !from.exists() {
        return Ok(tally);
    }
    fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for entry in fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        let kind = entry.file_type()?;
        if kind.is_dir() {
            tally.add(copy_new_files(&src, &dst)?);
        } else if kind.is_file() && !dst.exists() {
            match copy_synced(&src, &dst) {
                Ok(bytes) => tally.add(Tally { files: 1, bytes }),
                // Deleted since the listing: a newer change no longer refers to it.
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(tally)
}

fn is_not_found(e: &anyhow::Error) -> bool {
    e.downcast_ref::<std::io::Error>()
        .is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound)
}

fn copy_synced(src: &Path, dst: &Path) -> anyhow::Result<u64> {
    let mut input = File::open(src)?;
    let mut output =
        File::create(dst).with_context(|| format!("cannot create {}", dst.display()))?;
    let bytes = std::io::copy(&mut input, &mut output)
        .with_context(|| format!("cannot copy {}", src.display()))?;
    output.sync_all()?;
    Ok(bytes)
}

/// Copies the secret file (mode 0600); false when there is none to copy.
pub fn copy_secret(from: &Path, to: &Path) -> anyhow::Result<bool> {
    if !from.exists() {
        return Ok(false);
    }
    copy_synced(from, to)?;
    crate::app::restrict(to, 0o600)?;
    Ok(true)
}

pub fn sha256_file(path: &Path) -> anyhow::Result<String> {
    use sha2::Digest;
    let mut file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(crate::store::hex(&hasher.finalize()))
}

pub fn write_manifest(dir: &Path, manifest: &Manifest) -> anyhow::Result<()> {
    let mut file = File::create(dir.join(MANIFEST))?;
    file.write_all(serde_json::to_string_pretty(manifest)?.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

/// Reads a backup's manifest and checks its database against it: the format, the size,
/// the SHA-256 and SQLite's own integrity check.
pub fn verify(dir: &Path) -> anyhow::Result<Manifest> {
    let text = fs::read_to_string(dir.join(MANIFEST))
        .with_context(|| format!("{} is not a Fulcrum backup (no {MANIFEST})", dir.display()))?;
    let manifest: Manifest = serde_json::from_str(&text).context("the manifest is not valid")?;
    if manifest.format != FORMAT {
        bail!(
            "backup format {} is not one this version reads ({FORMAT})",
            manifest.format
        );
    }
    let db = dir.join(DATABASE);
    if sha256_file(&db)? != manifest.database.sha256 {
        bail!(
            "{} does not match the manifest's SHA-256: the backup is damaged",
            db.display()
        );
    }
    crate::store::sqlite::check_integrity(&db)?;
    Ok(manifest)
}

/// What a restore did.
#[derive(Debug, Serialize)]
pub struct Restored {
    pub manifest: Manifest,
    /// Where the data the restore replaced was moved (never deleted).
    pub previous: Option<PathBuf>,
}

/// Restores the backup in `from` into the data directory, which no server may be using,
/// and its blobs into the folder `blobs` (`None` when blobs live in a bucket). Existing
/// data is moved aside into `replaced-<time>/` only when `replace` is set.
pub fn restore(
    from: &Path,
    data_dir: &Path,
    database: &Path,
    blobs: Option<&Path>,
    replace: bool,
) -> anyhow::Result<Restored> {
    let manifest = verify(from)?;
    let _lock = lock_data_dir(data_dir)?;
    let secret = data_dir.join(SECRET);
    let sidecars = ["-wal", "-shm", "-journal"].map(|s| with_suffix(database, s));
    let present: Vec<&Path> = [Some(database), blobs, Some(secret.as_path())]
        .into_iter()
        .flatten()
        .chain(sidecars.iter().map(PathBuf::as_path))
        .filter(|p| p.exists())
        .collect();
    let previous = match (present.is_empty(), replace) {
        (true, _) => None,
        (false, false) => bail!(
            "{} already holds data; pass --replace to move it aside and restore",
            data_dir.display()
        ),
        (false, true) => Some(move_aside(data_dir, &present)?),
    };
    let staged = with_suffix(database, ".restoring");
    copy_synced(&from.join(DATABASE), &staged)?;
    fs::rename(&staged, database)?;
    if let Some(blobs) = blobs {
        copy_new_files(&from.join(BLOBS), blobs)?;
    }
    if manifest.secret_key {
        copy_secret(&from.join(SECRET), &secret)?;
    }
    Ok(Restored { manifest, previous })
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

fn move_aside(data_dir: &Path, present: &[&Path]) -> anyhow::Result<PathBuf> {
    let aside = data_dir.join(format!("replaced-{}", crate::now_ms() / 1000));
    fs::create_dir(&aside).with_context(|| format!("cannot create {}", aside.display()))?;
    for path in present {
        let name = path.file_name().context("a data path has no file name")?;
        fs::rename(path, aside.join(name))
            .with_context(|| format!("cannot move {} aside", path.display()))?;
    }
    Ok(aside)
}
