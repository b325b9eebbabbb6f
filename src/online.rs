//! What the API server says: kubeconfigs turned into API credentials, and the
//! state of the `kubeadm:cluster-admins` binding for `check --online`.

use std::path::Path;
use std::time::Duration;

use crate::api::{ApiError, BINDING, Binding, Client, Credentials};
use crate::findings::{Code, Finding, Severity};
use crate::inventory::{self, Inventory, Links};
use crate::kubeconfig::{Kubeconfig, Source};
use crate::layout;

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

/// The binding as the API server reports it.
#[derive(Clone, Debug)]
pub enum BindingState {
    /// It exists and grants `cluster-admin` to the group.
    Bound,
    /// It does not exist.
    Missing,
    /// It exists but grants something else.
    Wrong(Binding),
    /// Every credential was Forbidden to read it: without system:masters, that
    /// means the binding is missing or does not grant cluster-admin.
    Forbidden(String),
    /// No credential could ask, or the server did not answer.
    Unknown(String),
}

/// Reads the binding with admin.conf, falling back to super-admin.conf on Forbidden.
pub fn binding_state(
    inventory: &Inventory,
    server: Option<&str>,
    timeout: Duration,
) -> BindingState {
    let mut forbidden = None;
    for name in ["admin.conf", "super-admin.conf"] {
        let Some(credential) = inventory
            .credential(name)
            .filter(|c| c.material().is_some())
        else {
            continue;
        };
        let answer = credentials(&credential.path, name, server)
            .map_err(|reason| ApiError::Tls {
                name: name.into(),
                reason,
            })
            .and_then(|creds| Client::new(&creds, timeout))
            .and_then(|client| client.get_binding(BINDING));
        match answer {
            Ok(Some(binding)) if binding.grants_cluster_admins() => return BindingState::Bound,
            Ok(Some(binding)) => return BindingState::Wrong(binding),
            Ok(None) => return BindingState::Missing,
            Err(err) if err.code() == Some(403) => {
                forbidden = Some(format!("{name} is Forbidden: {err}"));
            }
            Err(err) => return BindingState::Unknown(err.to_string()),
        }
    }
    forbidden.map_or_else(
        || BindingState::Unknown("neither admin.conf nor super-admin.conf can be used".into()),
        BindingState::Forbidden,
    )
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
        BindingState::Unknown(reason) => vec![finding(
            Code::ApiUnreachable,
            Severity::Warning,
            format!("the API server could not tell whether {BINDING} exists: {reason}"),
            "check the API server, or run without --online",
        )],
    }
}
