//! The bad-input corpus (`tests/corpus`, described in its README): each case
//! is a folder with a `case.toml` — the command line, how to break the
//! input, and what a user must see — plus the files that replace those of
//! the base dataset. One table-driven test runs every case against the
//! binary and classifies the outcome: a clear error, a correct result, a
//! panic, or a silent/misleading result. Every case must be the first two.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

use crate::common::{TinySpec, poison_tensor, tempdir, write_tiny_bert};

/// What a case expects of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Expect {
    /// Exit status 1 with a message naming what is wrong.
    Error,
    /// Exit status 0; the report says what was skipped or repaired.
    Ok,
    /// A closed stdout/stderr: exit status 141, quietly, no panic.
    BrokenPipe,
}

/// Which of the child's output pipes are closed before it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Close {
    Stdout,
    Stderr,
    Both,
}

/// How cache files are broken after the `before` commands ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Corrupt {
    /// Replaced by text that is not safetensors.
    Garbage,
    /// Cut to half their length.
    Truncate,
    /// One byte of the vectors flipped (the checksum must catch it).
    Flip,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    about: String,
    #[serde(default = "default_args")]
    args: Vec<String>,
    expect: Expect,
    #[serde(default)]
    stderr: Vec<String>,
    #[serde(default)]
    stdout: Vec<String>,
    #[serde(default)]
    not_stderr: Vec<String>,
    #[serde(default)]
    not_stdout: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    cwd: Option<String>,
    #[serde(default)]
    before: Vec<Vec<String>>,
    #[serde(default)]
    model: ModelPatch,
    #[serde(default)]
    setup: Setup,
    #[serde(default)]
    after: After,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelPatch {
    /// Keys merged into config.json.
    #[serde(default)]
    config: toml::Table,
    /// A tensor whose first value becomes NaN.
    nan_tensor: Option<String>,
    /// Files removed from the model folder.
    #[serde(default)]
    remove: Vec<String>,
    /// Files (relative to the model folder) written with this text.
    #[serde(default)]
    write: BTreeMap<String, String>,
    /// Files cut to this many bytes.
    #[serde(default)]
    truncate: BTreeMap<String, u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Setup {
    /// Appends one line to a data file: `line` with `{fill}` replaced by
    /// `fill` repeated `times` times (a huge field without committing it).
    large: Option<Large>,
    /// Symlinks to make: link path → target (as written in the link).
    #[serde(default)]
    symlinks: BTreeMap<String, String>,
    /// FIFOs to make.
    #[serde(default)]
    fifos: Vec<String>,
    /// Empty regular files to make.
    #[serde(default)]
    files: Vec<String>,
    /// Empty regular files last modified an hour ago (left by a killed run).
    #[serde(default)]
    old_files: Vec<String>,
    /// Folders to make.
    #[serde(default)]
    dirs: Vec<String>,
    /// Breaks every cache file after `before` ran.
    corrupt_cache: Option<Corrupt>,
    /// Replaces every cache file, after `before` ran, by a symlink to this
    /// file (which is created holding "victim").
    link_cache_to: Option<String>,
    /// Files made read-only (mode 0444).
    #[serde(default)]
    readonly: Vec<String>,
    /// Closes the child's stdout/stderr before it writes.
    close: Option<Close>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Large {
    file: String,
    line: String,
    fill: String,
    times: usize,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct After {
    /// Paths that must exist.
    #[serde(default)]
    exists: Vec<String>,
    /// Paths that must not exist.
    #[serde(default)]
    absent: Vec<String>,
    /// Folders that must be empty (or missing).
    #[serde(default)]
    empty_dirs: Vec<String>,
    /// Paths that must still be symlinks.
    #[serde(default)]
    symlinks: Vec<String>,
    /// Files that must hold exactly this text.
    #[serde(default)]
    contents: BTreeMap<String, String>,
    /// Folders that must hold exactly these names.
    #[serde(default)]
    listing: BTreeMap<String, Vec<String>>,
}

fn default_args() -> Vec<String> {
    [
        "recommend",
        "--dataset",
        "{data}/crossrec.toml",
        "--model",
        "{model}",
        "--user",
        "u1",
        "--from",
        "products",
        "--to",
        "articles",
    ]
    .map(String::from)
    .to_vec()
}

/// How a case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// Failed with a message that says what the case expects.
    ClearError,
    /// Succeeded and said (or did) what the case expects.
    Correct,
    /// Panicked.
    Panic,
    /// Succeeded or failed without what a user needs to see or get.
    Silent,
}

struct Places {
    data: PathBuf,
    model: PathBuf,
    out: PathBuf,
    cache: PathBuf,
}

impl Places {
    fn fill(&self, s: &str) -> String {
        s.replace("{data}", &self.data.to_string_lossy())
            .replace("{model}", &self.model.to_string_lossy())
            .replace("{out}", &self.out.to_string_lossy())
            .replace("{cache}", &self.cache.to_string_lossy())
    }

    fn path(&self, s: &str) -> PathBuf {
        PathBuf::from(self.fill(s))
    }
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else if entry.file_name() != "case.toml" {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn prepare(case: &Case, case_dir: &Path, places: &Places) {
    copy_dir(&corpus_dir().join("base"), &places.data);
    copy_dir(case_dir, &places.data);
    std::fs::create_dir_all(&places.out).unwrap();
    write_tiny_bert(&places.model, TinySpec::default());
    patch_model(&case.model, &places.model);
    let setup = &case.setup;
    if let Some(large) = &setup.large {
        use std::io::Write;
        let line = large
            .line
            .replace("{fill}", &large.fill.repeat(large.times));
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(places.data.join(&large.file))
            .unwrap();
        writeln!(file, "{line}").unwrap();
    }
    for dir in &setup.dirs {
        std::fs::create_dir_all(places.path(dir)).unwrap();
    }
    for file in &setup.files {
        std::fs::write(places.path(file), b"").unwrap();
    }
    for file in &setup.old_files {
        let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        std::fs::File::create(places.path(file))
            .and_then(|f| f.set_modified(hour_ago))
            .unwrap();
    }
    for (link, target) in &setup.symlinks {
        std::os::unix::fs::symlink(places.fill(target), places.path(link)).unwrap();
    }
    for file in &setup.readonly {
        use std::os::unix::fs::PermissionsExt;
        let path = places.path(file);
        std::fs::write(&path, b"old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    }
    for fifo in &setup.fifos {
        let made = Command::new("mkfifo").arg(places.path(fifo)).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo");
    }
}

fn patch_model(patch: &ModelPatch, model: &Path) {
    if !patch.config.is_empty() {
        let path = model.join("config.json");
        let mut config: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for (key, value) in &patch.config {
            config[key] = serde_json::to_value(value).unwrap();
        }
        std::fs::write(&path, config.to_string()).unwrap();
    }
    if let Some(tensor) = &patch.nan_tensor {
        poison_tensor(&model.join("model.safetensors"), tensor, f32::NAN);
    }
    for name in &patch.remove {
        std::fs::remove_file(model.join(name)).unwrap();
    }
    for (name, text) in &patch.write {
        let path = model.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    for (name, len) in &patch.truncate {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(model.join(name))
            .unwrap();
        file.set_len(*len).unwrap();
    }
}

fn corrupt_cache(how: Corrupt, dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            corrupt_cache(how, &path);
            continue;
        }
        let mut bytes = std::fs::read(&path).unwrap();
        match how {
            Corrupt::Garbage => bytes = b"this is not a cache file".to_vec(),
            Corrupt::Truncate => bytes.truncate(bytes.len() / 2),
            Corrupt::Flip => {
                let last = bytes.len() - 1;
                bytes[last] ^= 0x40;
            }
        }
        std::fs::write(&path, bytes).unwrap();
    }
}

fn link_cache_files(dir: &Path, victim: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            link_cache_files(&path, victim);
        } else {
            std::fs::remove_file(&path).unwrap();
            std::os::unix::fs::symlink(victim, &path).unwrap();
        }
    }
}

fn command(places: &Places, case: &Case, args: &[String]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_crossrec"));
    cmd.args(args.iter().map(|a| places.fill(a)))
        .env("CROSSREC_CACHE_DIR", &places.cache)
        .env("CROSSREC_CONFIG_DIR", places.out.join("config"))
        .env("HF_HUB_OFFLINE", "1")
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null());
    for (key, value) in &case.env {
        cmd.env(key, places.fill(value));
    }
    if let Some(cwd) = &case.cwd {
        cmd.current_dir(places.path(cwd));
    }
    cmd
}

/// Temporary files an interrupted or failed write could leave behind.
fn leftovers(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            leftovers(&path, found);
        } else if name.starts_with(".crossrec-") || name.contains(".tmp") {
            found.push(path);
        }
    }
}

/// Runs one case; the outcome and, when it is not what the case expects, why.
fn run_case(name: &str) -> (Outcome, String) {
    let case_dir = corpus_dir().join("cases").join(name);
    let text = std::fs::read_to_string(case_dir.join("case.toml")).unwrap();
    let case: Case = toml::from_str(&text).unwrap_or_else(|e| panic!("{name}/case.toml: {e}"));
    let tmp = tempdir();
    let root = tmp.path().to_path_buf();
    let places = Places {
        data: root.join("data"),
        model: root.join("model"),
        out: root.join("out"),
        cache: root.join("cache"),
    };
    prepare(&case, &case_dir, &places);
    for before in &case.before {
        let run = command(&places, &case, before).output().unwrap();
        assert!(
            run.status.success(),
            "{name}: before {before:?}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
    if let Some(how) = case.setup.corrupt_cache {
        corrupt_cache(how, &places.cache);
    }
    if let Some(victim) = &case.setup.link_cache_to {
        let victim = places.path(victim);
        std::fs::write(&victim, "victim").unwrap();
        link_cache_files(&places.cache, &victim);
    }
    let mut cmd = command(&places, &case, &case.args);
    let close = case.setup.close;
    let closes = |pipe: Close| close == Some(pipe) || close == Some(Close::Both);
    // A closed reader: a pipe whose read end is closed before the child
    // starts, so its first write fails however fast it is.
    let closed_pipe = || {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        Stdio::from(writer)
    };
    cmd.stdout(if closes(Close::Stdout) {
        closed_pipe()
    } else {
        Stdio::piped()
    });
    cmd.stderr(if closes(Close::Stderr) {
        closed_pipe()
    } else {
        Stdio::piped()
    });
    let run = cmd.spawn().unwrap().wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
    let code = run.status.code();
    let shown = format!("exit {code:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}");
    if code == Some(101) || stderr.contains("panicked") {
        return (Outcome::Panic, shown);
    }
    let mut missing: Vec<String> = Vec::new();
    for want in &case.stderr {
        if !stderr.contains(&places.fill(want)) {
            missing.push(format!("stderr lacks {want:?}"));
        }
    }
    for want in &case.stdout {
        if !stdout.contains(&places.fill(want)) {
            missing.push(format!("stdout lacks {want:?}"));
        }
    }
    for unwanted in &case.not_stderr {
        if stderr.contains(unwanted.as_str()) {
            missing.push(format!("stderr has {unwanted:?}"));
        }
    }
    for unwanted in &case.not_stdout {
        if stdout.contains(unwanted.as_str()) {
            missing.push(format!("stdout has {unwanted:?}"));
        }
    }
    let after = &case.after;
    for path in &after.exists {
        if std::fs::symlink_metadata(places.path(path)).is_err() {
            missing.push(format!("{path} does not exist"));
        }
    }
    for path in &after.absent {
        if std::fs::symlink_metadata(places.path(path)).is_ok() {
            missing.push(format!("{path} exists"));
        }
    }
    for dir in &after.empty_dirs {
        let entries = std::fs::read_dir(places.path(dir)).map_or(0, |d| d.count());
        if entries > 0 {
            missing.push(format!("{dir} is not empty"));
        }
    }
    for link in &after.symlinks {
        let is_link =
            std::fs::symlink_metadata(places.path(link)).is_ok_and(|m| m.file_type().is_symlink());
        if !is_link {
            missing.push(format!("{link} is no longer a symlink"));
        }
    }
    for (file, want) in &after.contents {
        let got = std::fs::read_to_string(places.path(file)).unwrap_or_default();
        if got != *want {
            missing.push(format!("{file} holds {got:?}, not {want:?}"));
        }
    }
    for (dir, want) in &after.listing {
        let mut got: Vec<String> = std::fs::read_dir(places.path(dir))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        got.sort();
        if got != *want {
            missing.push(format!("{dir} holds {got:?}, not {want:?}"));
        }
    }
    let mut temporaries = Vec::new();
    for dir in [&places.data, &places.out, &places.cache] {
        leftovers(dir, &mut temporaries);
    }
    if !temporaries.is_empty() {
        missing.push(format!("temporary files left behind: {temporaries:?}"));
    }
    let status_ok = match case.expect {
        // 2 is a usage error found by the argument parser.
        Expect::Error => matches!(code, Some(1 | 2)),
        Expect::Ok => code == Some(0),
        Expect::BrokenPipe => code == Some(141),
    };
    let outcome = match (status_ok && missing.is_empty(), case.expect) {
        (true, Expect::Error) => Outcome::ClearError,
        (true, _) => Outcome::Correct,
        (false, _) => Outcome::Silent,
    };
    let why = if outcome == Outcome::Silent {
        format!("{} — {}\n{shown}", case.about, missing.join("; "))
    } else {
        String::new()
    };
    (outcome, why)
}

#[test]
fn every_bad_input_gets_a_clear_message_or_the_right_result() {
    let mut names: Vec<String> = std::fs::read_dir(corpus_dir().join("cases"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 60, "the corpus has {} cases", names.len());
    let outcomes: Vec<(String, Outcome, String)> = std::thread::scope(|scope| {
        let chunks: Vec<Vec<String>> = names
            .chunks(names.len().div_ceil(2))
            .map(<[String]>::to_vec)
            .collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .into_iter()
                        .map(|name| {
                            let (outcome, why) = run_case(&name);
                            (name, outcome, why)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let count = |o: Outcome| outcomes.iter().filter(|(_, x, _)| *x == o).count();
    eprintln!(
        "bad-input corpus: {} cases: {} clear errors, {} correct results, {} panics, {} silent or misleading",
        outcomes.len(),
        count(Outcome::ClearError),
        count(Outcome::Correct),
        count(Outcome::Panic),
        count(Outcome::Silent)
    );
    let failures: Vec<String> = outcomes
        .iter()
        .filter(|(_, o, _)| matches!(o, Outcome::Panic | Outcome::Silent))
        .map(|(name, o, why)| format!("{name}: {o:?}: {why}"))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
