//! Reads kubecred's configuration: the file (`KUBECRED_CONFIG`, else
//! `/etc/kubecred/config.toml`) and each setting's environment variable.
//! Run as root, a file a local user could have written is refused: a symlink,
//! a file or folder not owned by root, or writable by group or others.

use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use crate::domain::config::{self, CONFIG_VAR, DEFAULT_PATH, Key, Layer, MAX_BYTES};
use crate::edge::context::Context;
use crate::edge::inventory::{Links, open_regular, read_opened};

/// The configuration as read: the file's layer and the environment's.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The file read, or looked for.
    pub path: PathBuf,
    /// Whether the file exists (the default file may be absent).
    pub present: bool,
    /// What the file sets.
    pub file: Layer,
    /// What the environment sets.
    pub env: Layer,
}

/// What is wrong with the configuration, and the file concerned (empty for a variable).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    /// One line saying what.
    pub message: String,
    /// The file.
    pub path: PathBuf,
}

/// Reads the file and the environment.
pub fn load(ctx: &Context) -> Result<Loaded, LoadError> {
    let (path, named) = match std::env::var_os(CONFIG_VAR) {
        Some(value) if value.is_empty() => {
            return Err(LoadError {
                message: format!("{CONFIG_VAR} is set but names no file"),
                path: PathBuf::new(),
            });
        }
        Some(value) => {
            let path = PathBuf::from(value);
            (ctx.absolute(&path).unwrap_or(path), true)
        }
        None => (PathBuf::from(DEFAULT_PATH), false),
    };
    let env = config::parse_env(&env_vars()).map_err(|err| LoadError {
        message: err.0,
        path: PathBuf::new(),
    })?;
    let fail = |message: String| LoadError {
        message,
        path: path.clone(),
    };
    let Some(text) = read(&path, ctx).map_err(fail)? else {
        if named {
            return Err(fail(format!(
                "the configuration file {CONFIG_VAR} names does not exist"
            )));
        }
        return Ok(Loaded {
            path,
            present: false,
            file: Layer::default(),
            env,
        });
    };
    let file = config::parse_file(&text).map_err(|err| fail(err.0))?;
    Ok(Loaded {
        path,
        present: true,
        file,
        env,
    })
}

/// Each setting's variable, as set.
fn env_vars() -> Vec<(Key, Option<OsString>)> {
    Key::ALL
        .into_iter()
        .map(|key| (key, std::env::var_os(key.env())))
        .collect()
}

/// The file's text; absent is `Ok(None)`. Run as root, the file and its
/// folder must be root's and writable by no one else.
fn read(path: &Path, ctx: &Context) -> Result<Option<String>, String> {
    let as_root = rustix::process::geteuid().is_root();
    if fs::symlink_metadata(path).is_ok_and(|meta| meta.file_type().is_symlink()) {
        return Err("refusing the configuration file: it is a symbolic link".into());
    }
    let opened = match open_regular(path, Links::Refuse, MAX_BYTES) {
        Ok(Some(opened)) => opened,
        Ok(None) => return Ok(None),
        // A folder, a device, too large, unreadable: the reader says which.
        Err(message) => return Err(format!("cannot use the configuration file: it {message}")),
    };
    if as_root {
        trusted(
            "it",
            opened.meta.uid(),
            opened.meta.mode(),
            ctx.expected_owner,
        )?;
        let folder = path.parent().unwrap_or(Path::new("/"));
        let meta = fs::symlink_metadata(folder)
            .map_err(|err| format!("cannot read the configuration file's folder ({err})"))?;
        if meta.file_type().is_symlink() {
            return Err(format!(
                "refusing the configuration file: its folder {} is a symbolic link",
                folder.display()
            ));
        }
        let folder = format!("its folder {}", folder.display());
        trusted(&folder, meta.uid(), meta.mode(), ctx.expected_owner)?;
    }
    let bytes = read_opened(opened.file, MAX_BYTES)
        .map_err(|message| format!("the configuration file {message}"))?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| "the configuration file is not UTF-8 text".into())
}

/// Refuses what another user could have written: owner and group/world write.
fn trusted(what: &str, uid: u32, mode: u32, owner: u32) -> Result<(), String> {
    if uid != owner {
        let owner = if owner == 0 {
            "root"
        } else {
            "the expected owner"
        };
        return Err(format!(
            "refusing the configuration file: {what} is owned by uid {uid}, not {owner}, \
             and would steer a root run"
        ));
    }
    if mode & 0o022 != 0 {
        return Err(format!(
            "refusing the configuration file: {what} is writable by {} (mode {:04o}), \
             and would steer a root run",
            if mode & 0o002 != 0 {
                "others"
            } else {
                "its group"
            },
            mode & 0o7777
        ));
    }
    Ok(())
}

/// The text of an environment file to migrate: a regular file (no symlink
/// followed) of at most `MAX_BYTES`, UTF-8.
pub fn read_env_file(path: &Path) -> Result<String, String> {
    let opened =
        open_regular(path, Links::Refuse, MAX_BYTES)?.ok_or_else(|| "no such file".to_owned())?;
    let bytes = read_opened(opened.file, MAX_BYTES)?;
    String::from_utf8(bytes).map_err(|_| "not UTF-8 text".into())
}
