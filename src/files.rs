//! Where and how crossrec writes files: every output (embedding cache,
//! `.npy`, CSV exports, tuned settings, manifests) goes through
//! [`write_atomic`], which writes a temporary file in the destination's
//! folder and renames it into place, so a crash or a full disk never leaves
//! a half-written file or a stray temporary behind. Output paths are checked
//! before any long work starts ([`check_output`]): a symlink is written
//! through to its target, anything that is not a regular file is refused,
//! and the folder must exist and accept new files. Folder settings read from
//! the environment treat an empty value as unset ([`env_dir`]).

use std::io::Write;
use std::path::{Path, PathBuf};

/// Why a file could not be written. Each variant names the user's path once.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The operating system refused (permissions, full disk, …).
    #[error("{path}: cannot write: {error}")]
    Io {
        /// The path the user named (or the folder at fault).
        path: PathBuf,
        /// What the operating system said.
        error: std::io::Error,
    },
    /// The destination exists but is not a regular file.
    #[error("{path}: is {kind}, not a regular file")]
    NotRegular {
        /// The destination.
        path: PathBuf,
        /// What it is ("a folder", "a FIFO", …).
        kind: &'static str,
    },
    /// The destination is a file nobody may write (mode without write bits).
    #[error("{path}: is read-only; make it writable or name another file")]
    ReadOnly {
        /// The destination.
        path: PathBuf,
    },
    /// The destination is one of the inputs.
    #[error("{path}: is also the input; name another file for the output")]
    IsInput {
        /// The destination.
        path: PathBuf,
    },
    /// The destination's folder does not exist.
    #[error("{path}: the folder {folder} does not exist")]
    NoFolder {
        /// The destination.
        path: PathBuf,
        /// Its folder.
        folder: PathBuf,
    },
    /// The content could not be produced (a serialiser failed).
    #[error("{path}: {message}")]
    Content {
        /// The destination.
        path: PathBuf,
        /// What failed.
        message: String,
    },
}

/// Checks that `path` can be written as a regular file and returns the path
/// to actually write: the target of a symlink (followed to the end), else
/// `path` itself. Refuses folders, FIFOs, sockets and devices, a missing
/// folder, and a folder that does not accept new files (probed with a
/// temporary file that is removed again).
pub fn check_output(path: &Path) -> Result<PathBuf, WriteError> {
    let target = check(path, Links::Follow)?;
    tempfile::Builder::new()
        .prefix(".crossrec-probe")
        .tempfile_in(folder_of(&target))
        .map_err(|source| WriteError::Io {
            path: path.to_path_buf(),
            error: source,
        })?;
    Ok(target)
}

/// Whether a write goes through a symlink to its target (a user's output
/// path) or replaces the link itself (crossrec's own files: the cache, the
/// tuned settings, so a planted link cannot redirect them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// Write the file the link points to.
    Follow,
    /// Replace the link with the new file.
    Replace,
}

/// The path to write for `path`, after refusing what cannot be written as a
/// regular file (no probe: a writer's own temporary file tells that).
fn check(path: &Path, links: Links) -> Result<PathBuf, WriteError> {
    if path
        .as_os_str()
        .to_string_lossy()
        .ends_with(std::path::MAIN_SEPARATOR)
    {
        return Err(WriteError::NotRegular {
            path: path.to_path_buf(),
            kind: "a folder path (it ends with a separator)",
        });
    }
    let target = match links {
        Links::Follow => follow_links(path)?,
        Links::Replace => path.to_path_buf(),
    };
    let meta = match links {
        // What the path finally names, links followed (a /dev/stdout
        // pointing at a pipe is a pipe).
        Links::Follow => std::fs::metadata(path),
        Links::Replace => std::fs::symlink_metadata(path),
    };
    match meta {
        Ok(meta) if meta.file_type().is_symlink() => {}
        Ok(meta) if !meta.is_file() => {
            return Err(WriteError::NotRegular {
                path: path.to_path_buf(),
                kind: file_kind(&meta),
            });
        }
        Ok(meta) if meta.permissions().readonly() => {
            return Err(WriteError::ReadOnly {
                path: path.to_path_buf(),
            });
        }
        Ok(_) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(WriteError::Io {
                path: path.to_path_buf(),
                error: source,
            });
        }
    }
    let folder = folder_of(&target);
    if !folder.is_dir() {
        return Err(WriteError::NoFolder {
            path: path.to_path_buf(),
            folder,
        });
    }
    Ok(target)
}

/// Refuses an output that is the same file as `input`.
pub fn check_not_input(output: &Path, input: &Path) -> Result<(), WriteError> {
    check_not_inputs(output, [input])
}

/// Refuses an output that is any of `inputs` (a dataset's manifest and the
/// files it names: an export must never replace its own data). An output
/// that does not exist yet is none of them.
pub fn check_not_inputs<'a>(
    output: &Path,
    inputs: impl IntoIterator<Item = &'a Path>,
) -> Result<(), WriteError> {
    let Ok(output_file) = std::fs::canonicalize(output) else {
        return Ok(());
    };
    let replaced = inputs
        .into_iter()
        .any(|input| std::fs::canonicalize(input).is_ok_and(|input| input == output_file));
    if replaced {
        return Err(WriteError::IsInput {
            path: output.to_path_buf(),
        });
    }
    Ok(())
}

/// Writes `path` atomically: `write` fills a temporary file in the same
/// folder, which is then renamed over `path` (through a symlink to its
/// target). On any error the temporary file is removed and `path` is left as
/// it was. A new file gets mode 0644; an existing one keeps its mode.
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), WriteError> {
    write_atomic_with(path, Links::Follow, write)
}

/// [`write_atomic`], choosing what a symlink at `path` means.
pub fn write_atomic_with(
    path: &Path,
    links: Links,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), WriteError> {
    let target = check(path, links)?;
    let io = |source| WriteError::Io {
        path: path.to_path_buf(),
        error: source,
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(TEMP_PREFIX);
    let permissions = match std::fs::symlink_metadata(&target) {
        Ok(meta) if meta.is_file() => Some(meta.permissions()),
        _ => default_permissions(),
    };
    if let Some(permissions) = permissions {
        builder.permissions(permissions);
    }
    let mut tmp = builder.tempfile_in(folder_of(&target)).map_err(io)?;
    {
        let mut out = std::io::BufWriter::new(tmp.as_file_mut());
        write(&mut out).map_err(io)?;
        out.flush().map_err(io)?;
    }
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(&target).map_err(|err| io(err.error))?;
    Ok(())
}

/// How crossrec's temporary files start (followed by six random letters or
/// digits).
const TEMP_PREFIX: &str = ".crossrec-tmp";
/// A temporary file untouched for this long is left over from a run that was
/// killed (a live write touches its file every few seconds).
const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Whether `name` is one of crossrec's own temporary file names.
fn is_temporary_name(name: &str) -> bool {
    name.strip_prefix(TEMP_PREFIX)
        .is_some_and(|rest| rest.len() == 6 && rest.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Which file a path reaches (through symlinks): its device and inode on
/// Unix, so hard links to one file are one file; its canonical path elsewhere.
#[cfg(unix)]
type FileId = (u64, u64);
#[cfg(not(unix))]
type FileId = PathBuf;

#[cfg(unix)]
fn file_id(path: &Path) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn file_id(path: &Path) -> Option<FileId> {
    std::fs::canonicalize(path).ok()
}

/// Removes crossrec's own temporary files in the folder of `output` that a
/// killed run left behind (regular files of its naming, untouched for
/// [`STALE_AFTER`]), sparing every file of `spare` (the run's inputs, which
/// may be named anything). Best effort: what cannot be listed or removed
/// stays.
pub fn remove_stale_temporaries<'a>(output: &Path, spare: impl IntoIterator<Item = &'a Path>) {
    let folder = folder_of(output);
    // By the file itself, not its name: a hard link is the same input.
    let spare: Vec<FileId> = spare.into_iter().filter_map(file_id).collect();
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    for entry in entries.flatten() {
        let stale = entry.file_name().to_str().is_some_and(is_temporary_name)
            && entry.metadata().is_ok_and(|meta| {
                meta.is_file()
                    && meta
                        .modified()
                        .ok()
                        .and_then(|m| m.elapsed().ok())
                        .is_some_and(|age| age >= STALE_AFTER)
            });
        let spared = file_id(&entry.path()).is_some_and(|id| spare.contains(&id));
        if stale && !spared {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Creates `folder` (and its parents) if needed.
pub fn ensure_folder(folder: &Path) -> Result<(), WriteError> {
    std::fs::create_dir_all(folder).map_err(|source| {
        // A symbolic link to nothing, here or above: say so, not "File exists".
        if let Some(link) = folder.ancestors().find(|a| a.is_symlink() && !a.exists()) {
            let target = std::fs::read_link(link).unwrap_or_default();
            return WriteError::Content {
                path: link.to_path_buf(),
                message: format!(
                    "is a symbolic link to {}, which does not exist or leads back to itself; \
                     create that folder or remove the link",
                    target.display()
                ),
            };
        }
        // A file where a folder should be, here or above: say which.
        if let Some(file) = folder.ancestors().find(|a| a.is_file()) {
            return WriteError::Content {
                path: file.to_path_buf(),
                message: format!(
                    "is a file, so the folder {} cannot be made there; move or remove it",
                    folder.display()
                ),
            };
        }
        WriteError::Io {
            path: folder.to_path_buf(),
            error: source,
        }
    })
}

/// A folder named by environment variable `name`; unset or empty is `None`.
pub fn env_dir(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

#[cfg(unix)]
fn default_permissions() -> Option<std::fs::Permissions> {
    use std::os::unix::fs::PermissionsExt;
    Some(std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn default_permissions() -> Option<std::fs::Permissions> {
    // Elsewhere a new temporary file's own permissions are the right ones.
    None
}

/// `path` with every symlink followed (a dangling link resolves to where it
/// points, so writing creates that file).
fn follow_links(path: &Path) -> Result<PathBuf, WriteError> {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = std::fs::read_link(&current).map_err(|source| WriteError::Io {
                    path: path.to_path_buf(),
                    error: source,
                })?;
                current = if link.is_absolute() {
                    link
                } else {
                    folder_of(&current).join(link)
                };
            }
            _ => return Ok(current),
        }
    }
    Err(WriteError::Io {
        path: path.to_path_buf(),
        error: std::io::Error::other("too many levels of symbolic links"),
    })
}

fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    let kind = meta.file_type();
    if kind.is_dir() {
        return "a folder";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_char_device() || kind.is_block_device() {
            return "a device";
        }
    }
    "not a regular file"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_folder_that_cannot_be_made_under_a_file_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("fitted");
        std::fs::write(&file, b"x").unwrap();
        let err = ensure_folder(&file.join("deeper")).unwrap_err().to_string();
        assert!(
            err.contains("is a file") && err.contains(&file.display().to_string()),
            "{err}"
        );
        assert_eq!(std::fs::read(&file).unwrap(), b"x");
        ensure_folder(&dir.path().join("a/b")).unwrap();
        assert!(dir.path().join("a/b").is_dir());
    }

    #[test]
    fn stale_temporaries_of_its_own_naming_go_and_inputs_stay() {
        let dir = tempfile::tempdir().unwrap();
        let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        let old = |name: &str| {
            std::fs::File::create(dir.path().join(name))
                .and_then(|f| f.set_modified(hour_ago))
                .unwrap();
        };
        old(".crossrec-tmpAbC123");
        old(".crossrec-tmp-notes");
        old(".crossrec-tmpAbC1234");
        old(".crossrec-tmpInput");
        std::fs::write(dir.path().join(".crossrec-tmpNew123"), b"being written").unwrap();
        // An input reached through a hard link of a temporary's name.
        let data = dir.path().join("data.csv");
        std::fs::write(&data, b"id\n").unwrap();
        std::fs::hard_link(&data, dir.path().join(".crossrec-tmpHard01")).unwrap();
        std::fs::File::open(&data)
            .and_then(|f| f.set_modified(hour_ago))
            .unwrap();
        let input = dir.path().join(".crossrec-tmpInput");
        remove_stale_temporaries(
            &dir.path().join("out.csv"),
            [input.as_path(), data.as_path()],
        );
        write_atomic(&dir.path().join("out.csv"), |w| w.write_all(b"x")).unwrap();
        assert_eq!(
            names(dir.path()),
            [
                ".crossrec-tmp-notes",
                ".crossrec-tmpAbC1234",
                ".crossrec-tmpHard01",
                ".crossrec-tmpInput",
                ".crossrec-tmpNew123",
                "data.csv",
                "out.csv"
            ]
        );
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        write_atomic(&path, |w| w.write_all(b"first")).unwrap();
        let err = write_atomic(&path, |w| {
            w.write_all(b"half")?;
            Err(std::io::Error::other("disk full"))
        })
        .unwrap_err();
        assert!(
            err.to_string().contains("out.txt: cannot write: disk full"),
            "{err}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        assert_eq!(names(dir.path()), ["out.txt"]);
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_written_through_and_special_files_refused() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.npy");
        std::fs::write(&real, b"old").unwrap();
        let link = dir.path().join("link.npy");
        std::os::unix::fs::symlink("real.npy", &link).unwrap();
        write_atomic(&link, |w| w.write_all(b"new")).unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read(&real).unwrap(), b"new");

        let err = check_output(dir.path()).unwrap_err();
        assert!(err.to_string().contains("is a folder"), "{err}");
        let err = check_output(Path::new("/dev/null")).unwrap_err();
        assert!(err.to_string().contains("is a device"), "{err}");
        let err = check_output(&dir.path().join("missing/out.npy")).unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
        assert_eq!(names(dir.path()), ["link.npy", "real.npy"]);
    }

    #[test]
    fn empty_environment_values_are_unset() {
        // SAFETY: this test alone reads and writes this variable.
        unsafe { std::env::set_var("CROSSREC_TEST_EMPTY_DIR", "") };
        assert_eq!(env_dir("CROSSREC_TEST_EMPTY_DIR"), None);
        unsafe { std::env::set_var("CROSSREC_TEST_EMPTY_DIR", "x") };
        assert_eq!(env_dir("CROSSREC_TEST_EMPTY_DIR"), Some(PathBuf::from("x")));
    }
}
