//! What the API server says: kubeconfigs turned into API credentials, and the
//! state of the `kubeadm:cluster-admins` binding for `check --online`.

use std::fs;
use std::io::{IsTerminal as _, Read as _};
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use crate::domain::api::ApiFailure;
use crate::domain::binding::{self, BINDING};
pub use crate::domain::binding::{BindingState, Probe, REFUSED};
use crate::domain::findings::{self, Code, Finding, Severity};
use crate::domain::kubeconfig::{Kubeconfig, Source};
use crate::domain::layout;
use crate::domain::migrate::Unverified;
use crate::domain::model::Inventory;
use crate::edge::api::{ApiError, Client, Credentials};
use crate::edge::inventory::{self, Links};

/// API credentials from a kubeconfig on disk (its current context), with the
/// server URL overridden by `server` when given.
pub fn credentials(path: &Path, name: &str, server: Option<&str>) -> Result<Credentials, String> {
    let read = |path: &Path| -> Result<Vec<u8>, String> {
        inventory::read_file(path, Links::Follow)
            .and_then(|read| read.ok_or_else(|| "file is absent".into()))
            .map(|(bytes, _)| bytes)
            .map_err(|reason| format!("{}: {reason}", path.display()))
    };
    let config = Kubeconfig::parse(&read(path)?)
        .map_err(|reason| format!("{}: {reason}", path.display()))?;
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let current = config
        .current_credentials(dir)
        .map_err(|reason| format!("{}: {reason}", path.display()))?;
    let material = |source: Option<Source>, what: &str| -> Result<Vec<u8>, String> {
        match source {
            Some(Source::Embedded { pem, .. }) => Ok(pem),
            Some(Source::File(file)) => read(&file),
            None => Err(format!("{}: no {what}", path.display())),
        }
    };
    let server = server
        .map(str::to_owned)
        .or(current.server.clone())
        .ok_or_else(|| format!("{}: no server URL", path.display()))?;
    Ok(Credentials {
        server,
        ca_pem: material(current.certificate_authority, "certificate-authority data")?,
        cert_pem: material(current.certificate, "client certificate")?,
        key_pem: material(current.key, "client key")?,
        name: name.to_owned(),
    })
}

/// API credentials from a kubeconfig's bytes (its current context); file
/// references are resolved against `dir`.
pub fn credentials_from_bytes(
    bytes: &[u8],
    dir: &Path,
    name: &str,
    server: Option<&str>,
) -> Result<Credentials, String> {
    let config = Kubeconfig::parse(bytes).map_err(|reason| format!("{name}: {reason}"))?;
    let current = config
        .current_credentials(dir)
        .map_err(|reason| format!("{name}: {reason}"))?;
    let material = |source: Option<Source>, what: &str| -> Result<Vec<u8>, String> {
        match source {
            Some(Source::Embedded { pem, .. }) => Ok(pem),
            Some(Source::File(_)) | None => Err(format!("{name}: no embedded {what}")),
        }
    };
    let server = server
        .map(str::to_owned)
        .or(current.server.clone())
        .ok_or_else(|| format!("{name}: no server URL"))?;
    Ok(Credentials {
        server,
        ca_pem: material(current.certificate_authority, "certificate-authority data")?,
        cert_pem: material(current.certificate, "client certificate")?,
        key_pem: material(current.key, "client key")?,
        name: name.to_owned(),
    })
}

/// A client for the kubeconfig at `path` (its current context), with the
/// server URL overridden by `server` when given.
pub fn client(
    path: &Path,
    name: &str,
    server: Option<&str>,
    timeout: Duration,
) -> Result<Client, ApiFailure> {
    credentials(path, name, server)
        .map_err(|reason| ApiError::Tls {
            name: name.into(),
            reason,
        })
        .and_then(|creds| Client::new(&creds, timeout))
        .map_err(ApiFailure::from)
}

/// A client for a kubeconfig held in memory, named `name` in messages; file
/// references are refused (its key must never have been written).
pub fn client_from_bytes(
    bytes: &[u8],
    dir: &Path,
    name: &str,
    server: Option<&str>,
    timeout: Duration,
) -> Result<Client, String> {
    let creds = credentials_from_bytes(bytes, dir, name, server)?;
    Client::new(&creds, timeout).map_err(|err| err.to_string())
}

/// The node's credentials to ask with, in order (admin.conf, then
/// super-admin.conf), each a client made only when it is asked for.
pub fn candidates<'a>(
    inventory: &'a Inventory,
    server: Option<&'a str>,
    timeout: Duration,
) -> impl Iterator<Item = (&'static str, Result<Client, ApiFailure>)> + 'a {
    ["admin.conf", "super-admin.conf"]
        .into_iter()
        .filter_map(move |name| {
            let credential = inventory
                .credential(name)
                .filter(|c| c.material().is_some())?;
            Some((name, credential.path.as_path()))
        })
        .map(move |(name, path)| (name, client(path, name, server, timeout)))
}

/// Reads the binding with admin.conf, falling back to super-admin.conf when
/// admin.conf is Forbidden (403) or not accepted (401).
pub fn binding_state(
    inventory: &Inventory,
    server: Option<&str>,
    timeout: Duration,
) -> BindingState {
    probe(inventory, server, timeout).state
}

/// As [`binding_state`], also naming the credentials refused with 401.
pub fn probe(inventory: &Inventory, server: Option<&str>, timeout: Duration) -> Probe {
    binding::probe(candidates(inventory, server, timeout))
}

/// The `--online` findings for `state`.
pub fn findings(inventory: &Inventory, state: &BindingState) -> Vec<Finding> {
    let admin = inventory.credential("admin.conf");
    let relies_on_binding = admin.and_then(|cred| cred.material()).is_some_and(|m| {
        !m.certificate
            .groups
            .iter()
            .any(|g| g == layout::SYSTEM_MASTERS)
    });
    let path = admin.map(|cred| cred.path.clone()).unwrap_or_default();
    let finding = |code, severity, message: String, remedy: &str| Finding {
        code,
        severity,
        credential: "admin.conf".into(),
        path: path.clone(),
        message,
        remedy: remedy.into(),
    };
    match state {
        BindingState::Missing if relies_on_binding => vec![finding(
            Code::ClusterAdminsBindingMissing,
            Severity::Critical,
            format!(
                "admin.conf is in {} but the ClusterRoleBinding {BINDING} does not exist: admin.conf is Forbidden",
                layout::KUBEADM_CLUSTER_ADMINS
            ),
            "run `kubecred migrate`, which creates it with super-admin.conf",
        )],
        BindingState::Wrong(binding) if relies_on_binding => vec![finding(
            Code::ClusterAdminsBindingMissing,
            Severity::Critical,
            format!(
                "the ClusterRoleBinding {BINDING} does not grant cluster-admin to the group: roleRef {}/{}",
                binding.role_ref.kind, binding.role_ref.name
            ),
            "fix the binding with super-admin.conf: roleRef ClusterRole cluster-admin, subject Group kubeadm:cluster-admins",
        )],
        BindingState::TooBroad(binding) => {
            vec![findings::binding_too_broad(
                path.clone(),
                &binding.extra_subjects(),
            )]
        }
        BindingState::Forbidden(reason) if relies_on_binding => vec![finding(
            Code::ClusterAdminsBindingMissing,
            Severity::Critical,
            format!(
                "the ClusterRoleBinding {BINDING} is missing or does not grant cluster-admin: {reason}"
            ),
            "run `kubecred migrate` with a system:masters credential (super-admin.conf) at hand",
        )],
        BindingState::Bound
        | BindingState::Missing
        | BindingState::Wrong(_)
        | BindingState::Forbidden(_) => Vec::new(),
        BindingState::Unreachable(reason) => vec![finding(
            Code::ApiUnreachable,
            Severity::Warning,
            format!("the API server could not tell whether {BINDING} exists: {reason}"),
            "check the API server, or run without --online",
        )],
        BindingState::Failed(reason) => vec![finding(
            Code::ApiUnreachable,
            Severity::Warning,
            format!("the API server could not tell whether {BINDING} exists: {reason}"),
            "check that --server names this cluster's API server and that admin.conf's CA and certificate are the ones it trusts (`kubecred check`)",
        )],
    }
}

/// Whether the binding was seen (it exists and grants the group): an offline
/// migration's mark can go.
pub fn binding_seen(state: &BindingState) -> bool {
    matches!(state, BindingState::Bound | BindingState::TooBroad(_))
}

/// The mark an offline migration leaves in the state dir, if any.
///
/// Refuses a mark that is not a regular file owned by root or the running user.
pub fn read_mark(state_dir: &Path) -> Result<Option<Unverified>, String> {
    let path = crate::domain::migrate::mark_path(state_dir);
    let meta = match fs::symlink_metadata(&path) {
        Ok(meta) => meta,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(format!("cannot read {} ({err})", path.display())),
    };
    let refuse = |why: &str| Err(format!("refusing {}: {why}", path.display()));
    if !meta.file_type().is_file() {
        return refuse("not a regular file");
    }
    let me = fs::metadata("/proc/self").map_or(0, |m| m.uid());
    if meta.uid() != 0 && meta.uid() != me {
        return refuse("not owned by root or the running user");
    }
    if meta.len() > 64 * 1024 {
        return refuse("too large to be kubecred's");
    }
    let mut file =
        fs::File::open(&path).map_err(|err| format!("cannot read {} ({err})", path.display()))?;
    let opened = file
        .metadata()
        .map_err(|err| format!("cannot read {} ({err})", path.display()))?;
    if (opened.dev(), opened.ino()) != (meta.dev(), meta.ino()) {
        return refuse("it changed while being opened");
    }
    let mut bytes = Vec::new();
    file.by_ref()
        .take(64 * 1024)
        .read_to_end(&mut bytes)
        .map_err(|err| format!("cannot read {} ({err})", path.display()))?;
    Unverified::parse(&bytes)
        .map(Some)
        .map_err(|why| format!("refusing {}: {why}", path.display()))
}

/// Removes the mark once the binding was seen; a mark already gone is fine.
pub fn clear_mark(state_dir: &Path) -> Result<(), String> {
    let path = crate::domain::migrate::mark_path(state_dir);
    match fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(format!("cannot remove {} ({err})", path.display())),
    }
}

/// Runs `work` while a progress line on stderr (only on a terminal, only once
/// it takes more than a second) says what kubecred waits for.
pub fn waiting<T>(what: &str, work: impl FnOnce() -> T) -> T {
    if !std::io::stderr().is_terminal() {
        return work();
    }
    let (done, wait) = mpsc::channel::<()>();
    let what = crate::domain::exact::printable(what).into_owned();
    let spinner = thread::spawn(move || {
        let started = Instant::now();
        if wait.recv_timeout(Duration::from_secs(1)) != Err(RecvTimeoutError::Timeout) {
            return;
        }
        let frames = ['|', '/', '-', '\\'];
        let mut n = 0;
        loop {
            eprint!(
                "\r\x1b[2K{} {what} ({}s)",
                frames[n % frames.len()],
                started.elapsed().as_secs()
            );
            n += 1;
            if wait.recv_timeout(Duration::from_millis(200)) != Err(RecvTimeoutError::Timeout) {
                eprint!("\r\x1b[2K");
                return;
            }
        }
    });
    let out = work();
    drop(done);
    let _ = spinner.join();
    out
}
