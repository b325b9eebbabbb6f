//! Kubeconfig files: a typed view of the fields kubeadm writes, with every
//! other field kept so a rewrite loses nothing. Parsing only; no file access.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A kubeconfig, its fields in the alphabetical order client-go writes them.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Kubeconfig {
    /// `apiVersion`
    #[serde(
        rename = "apiVersion",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub api_version: Option<String>,
    /// `clusters`
    #[serde(default)]
    pub clusters: Vec<NamedCluster>,
    /// `contexts`
    #[serde(default)]
    pub contexts: Vec<NamedContext>,
    /// `current-context`
    #[serde(
        rename = "current-context",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub current_context: Option<String>,
    /// `kind`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `preferences`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferences: Option<Value>,
    /// `users`
    #[serde(default)]
    pub users: Vec<NamedUser>,
    /// Fields kubecred does not interpret, kept as read.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A `clusters` entry.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct NamedCluster {
    /// `cluster`
    pub cluster: Cluster,
    /// `name`
    pub name: String,
    /// Fields kubecred does not interpret.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A cluster: where the API server is and which CA vouches for it.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Cluster {
    /// `certificate-authority`: a file path.
    #[serde(
        rename = "certificate-authority",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub certificate_authority: Option<String>,
    /// `certificate-authority-data`: base64 of PEM.
    #[serde(
        rename = "certificate-authority-data",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub certificate_authority_data: Option<String>,
    /// `server`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Fields kubecred does not interpret.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A `contexts` entry.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct NamedContext {
    /// `context`
    pub context: Context,
    /// `name`
    pub name: String,
    /// Fields kubecred does not interpret.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A context: a cluster and a user.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Context {
    /// `cluster`
    #[serde(default)]
    pub cluster: String,
    /// `user`
    #[serde(default)]
    pub user: String,
    /// Fields kubecred does not interpret (namespace, extensions).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A `users` entry.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct NamedUser {
    /// `name`
    pub name: String,
    /// `user`
    #[serde(default)]
    pub user: AuthInfo,
    /// Fields kubecred does not interpret.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A user's credentials.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct AuthInfo {
    /// `client-certificate`: a file path.
    #[serde(
        rename = "client-certificate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub client_certificate: Option<String>,
    /// `client-certificate-data`: base64 of PEM.
    #[serde(
        rename = "client-certificate-data",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub client_certificate_data: Option<String>,
    /// `client-key`: a file path.
    #[serde(
        rename = "client-key",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub client_key: Option<String>,
    /// `client-key-data`: base64 of PEM.
    #[serde(
        rename = "client-key-data",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub client_key_data: Option<String>,
    /// Fields kubecred does not interpret (token, exec, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A client's certificate and key, for a new kubeconfig.
#[derive(Clone, Copy, Debug)]
pub enum ClientCredentials<'a> {
    /// Embedded PEM: certificate, key.
    Embedded(&'a str, &'a str),
    /// One file holding both (the kubelet's rotated `kubelet-client-current.pem`).
    Files(&'a Path),
}

/// Where a piece of credential material lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// Embedded in the kubeconfig under this field.
    Embedded {
        /// The user (or cluster) the field belongs to.
        owner: String,
        /// The field, e.g. `client-certificate-data`.
        field: &'static str,
        /// The decoded PEM bytes.
        pem: Vec<u8>,
    },
    /// In a file the kubeconfig names; relative paths already resolved.
    File(PathBuf),
}

/// The credentials of a kubeconfig's current context.
#[derive(Clone, Debug)]
pub struct CurrentCredentials {
    /// The current context's name.
    pub context: String,
    /// The current context's user name.
    pub user: String,
    /// The current context's cluster name.
    pub cluster: String,
    /// The API server URL, if set.
    pub server: Option<String>,
    /// The client certificate, if the user has one.
    pub certificate: Option<Source>,
    /// The client key, if the user has one.
    pub key: Option<Source>,
    /// The cluster's CA, if set.
    pub certificate_authority: Option<Source>,
}

impl Kubeconfig {
    /// Parses kubeconfig YAML; anything that is not one is an error saying why.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let text = std::str::from_utf8(bytes).map_err(|err| {
            format!(
                "not a kubeconfig: not UTF-8 text (byte {})",
                err.valid_up_to()
            )
        })?;
        if text.trim().is_empty() {
            return Err("not a kubeconfig: the file is empty".into());
        }
        let options = serde_saphyr::options! { with_snippet: false };
        let config: Self = serde_saphyr::from_str_with_options(text, options)
            .map_err(|err| format!("not a kubeconfig: {}", one_line(&err.to_string())))?;
        if let Some(kind) = config.kind.as_deref().filter(|kind| *kind != "Config") {
            return Err(format!("not a kubeconfig: kind is `{kind}`, not `Config`"));
        }
        Ok(config)
    }

    /// A kubeconfig as kubeadm's `CreateWithCerts` writes it: one cluster, one
    /// user named after the certificate's CN, one context `<user>@<cluster>`.
    pub fn for_client(
        cluster: &str,
        server: &str,
        ca_pem: &[u8],
        user: &str,
        credentials: &ClientCredentials<'_>,
    ) -> Self {
        let auth = match credentials {
            ClientCredentials::Embedded(cert, key) => AuthInfo {
                client_certificate_data: Some(STANDARD.encode(cert)),
                client_key_data: Some(STANDARD.encode(key)),
                ..AuthInfo::default()
            },
            ClientCredentials::Files(path) => AuthInfo {
                client_certificate: Some(path.display().to_string()),
                client_key: Some(path.display().to_string()),
                ..AuthInfo::default()
            },
        };
        let context = format!("{user}@{cluster}");
        Self {
            api_version: Some("v1".into()),
            clusters: vec![NamedCluster {
                cluster: Cluster {
                    certificate_authority_data: Some(STANDARD.encode(ca_pem)),
                    server: Some(server.into()),
                    ..Cluster::default()
                },
                name: cluster.into(),
                extra: Map::new(),
            }],
            contexts: vec![NamedContext {
                context: Context {
                    cluster: cluster.into(),
                    user: user.into(),
                    extra: Map::new(),
                },
                name: context.clone(),
                extra: Map::new(),
            }],
            current_context: Some(context),
            kind: Some("Config".into()),
            preferences: Some(Value::Object(Map::new())),
            users: vec![NamedUser {
                name: user.into(),
                user: auth,
                extra: Map::new(),
            }],
            extra: Map::new(),
        }
    }

    /// Replaces the current user's embedded certificate and key, and the current
    /// cluster's CA data; every other field stays as it was, except the file
    /// fields those data fields supersede (client-go refuses both at once).
    pub fn replace_credentials(
        &mut self,
        cert_pem: &[u8],
        key_pem: &[u8],
        ca_pem: &[u8],
    ) -> Result<(), String> {
        let current = self.current_credentials(Path::new("."))?;
        let user = self
            .users
            .iter_mut()
            .find(|user| user.name == current.user)
            .ok_or("the current user is not among the users")?;
        user.user.client_certificate_data = Some(STANDARD.encode(cert_pem));
        user.user.client_certificate = None;
        user.user.client_key_data = Some(STANDARD.encode(key_pem));
        user.user.client_key = None;
        let cluster = self
            .clusters
            .iter_mut()
            .find(|cluster| cluster.name == current.cluster)
            .ok_or("the current cluster is not among the clusters")?;
        cluster.cluster.certificate_authority_data = Some(STANDARD.encode(ca_pem));
        cluster.cluster.certificate_authority = None;
        Ok(())
    }

    /// Serializes for writing, then reads the text back and judges it as the
    /// inspector would: YAML that does not parse back, or that client-go's
    /// validation refuses for any user or cluster, is an error and nothing is written.
    pub fn to_checked_yaml(&self) -> Result<String, String> {
        let yaml = self.to_yaml()?;
        let reread = Self::parse(yaml.as_bytes())
            .map_err(|reason| format!("the kubeconfig to write does not read back: {reason}"))?;
        reread
            .refused_anywhere()
            .map_err(|reason| format!("refusing to write a kubeconfig: {reason}"))?;
        if reread
            .current_context
            .as_deref()
            .is_some_and(|name| !name.is_empty())
        {
            reread
                .current_credentials(Path::new("."))
                .map_err(|reason| format!("refusing to write a kubeconfig: {reason}"))?;
        }
        Ok(yaml)
    }

    /// client-go's both-data-and-file validation of every user and every cluster,
    /// each on its own, whether or not a context names it.
    fn refused_anywhere(&self) -> Result<(), String> {
        let empty = Cluster::default();
        for user in &self.users {
            refused_by_client_go(&user.name, &user.user, "", &empty)?;
        }
        let nobody = AuthInfo::default();
        for cluster in &self.clusters {
            refused_by_client_go("", &nobody, &cluster.name, &cluster.cluster)?;
        }
        Ok(())
    }

    /// Serializes as client-go does: block style, fields in order, base64 on one line.
    pub fn to_yaml(&self) -> Result<String, String> {
        let options = serde_saphyr::ser_options! {
            prefer_block_scalars: false,
        };
        serde_saphyr::to_string_with_options(self, options).map_err(|err| err.to_string())
    }

    /// The current context's user, cluster and credential sources.
    ///
    /// File paths are resolved against `dir`, the kubeconfig's folder, as client-go does.
    pub fn current_credentials(&self, dir: &Path) -> Result<CurrentCredentials, String> {
        let name = self
            .current_context
            .as_deref()
            .filter(|name| !name.is_empty())
            .ok_or("no current-context")?;
        let context = self
            .contexts
            .iter()
            .find(|context| context.name == name)
            .ok_or_else(|| format!("current-context `{name}` is not among the contexts"))?;
        let user = self
            .users
            .iter()
            .find(|user| user.name == context.context.user)
            .ok_or_else(|| format!("user `{}` is not among the users", context.context.user))?;
        let cluster = self
            .clusters
            .iter()
            .find(|cluster| cluster.name == context.context.cluster)
            .ok_or_else(|| {
                format!(
                    "cluster `{}` is not among the clusters",
                    context.context.cluster
                )
            })?;
        let auth = &user.user;
        refused_by_client_go(&user.name, auth, &cluster.name, &cluster.cluster)?;
        Ok(CurrentCredentials {
            context: name.to_owned(),
            user: user.name.clone(),
            cluster: cluster.name.clone(),
            server: cluster.cluster.server.clone(),
            certificate: source(
                &user.name,
                "client-certificate-data",
                auth.client_certificate_data.as_deref(),
                auth.client_certificate.as_deref(),
                dir,
            )?,
            key: source(
                &user.name,
                "client-key-data",
                auth.client_key_data.as_deref(),
                auth.client_key.as_deref(),
                dir,
            )?,
            certificate_authority: source(
                &cluster.name,
                "certificate-authority-data",
                cluster.cluster.certificate_authority_data.as_deref(),
                cluster.cluster.certificate_authority.as_deref(),
                dir,
            )?,
        })
    }
}

/// client-go's own validation (`clientcmd/validation.go`) of the current
/// context's user and cluster, as `ConfirmUsable` runs it: kubectl and every
/// component refuse a kubeconfig that names both the data and the file of one
/// credential, with these words.
fn refused_by_client_go(
    user_name: &str,
    auth: &AuthInfo,
    cluster_name: &str,
    cluster: &Cluster,
) -> Result<(), String> {
    let set = |value: &Option<String>| value.as_deref().is_some_and(|value| !value.is_empty());
    let uses_certificate = set(&auth.client_certificate) || set(&auth.client_certificate_data);
    let problem = if uses_certificate
        && set(&auth.client_certificate)
        && set(&auth.client_certificate_data)
    {
        format!(
            "client-cert-data and client-cert are both specified for {user_name}. client-cert-data will override."
        )
    } else if uses_certificate && set(&auth.client_key) && set(&auth.client_key_data) {
        format!(
            "client-key-data and client-key are both specified for {user_name}; client-key-data will override"
        )
    } else if set(&cluster.certificate_authority) && set(&cluster.certificate_authority_data) {
        format!(
            "certificate-authority-data and certificate-authority are both specified for {cluster_name}. certificate-authority-data will override."
        )
    } else {
        return Ok(());
    };
    Err(format!(
        "client-go (kubectl, every component) refuses it: `{problem}`"
    ))
}

/// The embedded data if present (client-go prefers it), else the file path.
fn source(
    owner: &str,
    field: &'static str,
    data: Option<&str>,
    path: Option<&str>,
    dir: &Path,
) -> Result<Option<Source>, String> {
    if let Some(data) = data.filter(|data| !data.is_empty()) {
        let pem = STANDARD
            .decode(data.trim())
            .map_err(|err| format!("`{field}` of `{owner}` is not valid base64 ({err})"))?;
        return Ok(Some(Source::Embedded {
            owner: owner.to_owned(),
            field,
            pem,
        }));
    }
    Ok(path
        .filter(|path| !path.is_empty())
        .map(|path| Source::File(dir.join(path))))
}

/// The first line of a parser message, without the library's advice to programmers.
fn one_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or_default().trim();
    [
        ", set DuplicateKeyPolicy in Options if acceptable",
        "; use from_str_multiple or from_str_multiple_with_options",
    ]
    .iter()
    .fold(line.to_owned(), |line, advice| line.replace(advice, ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_files() -> Kubeconfig {
        let mut config = Kubeconfig::for_client(
            "kubernetes",
            "https://10.0.0.1:6443",
            b"ca",
            "kubernetes-admin",
            &ClientCredentials::Files(Path::new("/var/lib/admin.pem")),
        );
        for cluster in &mut config.clusters {
            cluster.cluster.certificate_authority_data = None;
            cluster.cluster.certificate_authority = Some("/pki/ca.crt".into());
        }
        config
    }

    #[test]
    fn replacing_credentials_drops_the_file_fields_they_supersede() {
        let mut config = with_files();
        config.replace_credentials(b"cert", b"key", b"ca").unwrap();
        let user = &config.users[0].user;
        assert_eq!(user.client_certificate, None);
        assert_eq!(user.client_key, None);
        assert_eq!(user.client_certificate_data.as_deref(), Some("Y2VydA=="));
        assert_eq!(user.client_key_data.as_deref(), Some("a2V5"));
        let cluster = &config.clusters[0].cluster;
        assert_eq!(cluster.certificate_authority, None);
        assert_eq!(cluster.certificate_authority_data.as_deref(), Some("Y2E="));
        config.to_checked_yaml().unwrap();
    }

    #[test]
    fn a_kubeconfig_client_go_refuses_is_not_serialized_for_writing() {
        let mut config = with_files();
        config.clusters[0].cluster.certificate_authority_data = Some("Y2E=".into());
        let err = config.to_checked_yaml().unwrap_err();
        assert!(
            err.contains("certificate-authority-data and certificate-authority are both specified"),
            "{err}"
        );
        // Any user, not only the current context's.
        let mut config = with_files();
        let mut other = config.users[0].clone();
        other.name = "other".into();
        other.user.client_key_data = Some("a2V5".into());
        config.users.push(other);
        let err = config.to_checked_yaml().unwrap_err();
        assert!(
            err.contains("client-key-data and client-key are both specified for other"),
            "{err}"
        );
    }
}
