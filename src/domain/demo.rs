//! A realistic kubeadm control-plane node, generated: every CA, leaf and
//! kubeconfig with kubeadm's subjects, SANs, usages, key encodings, modes and
//! kubeconfig layout, and (when asked) its static pod manifests. Pure: returns
//! the files; `app::demo` writes them.
//! The same generator builds the fixture hosts of the test suite.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{Issuer, KeyPair};
use time::{Duration, OffsetDateTime};

pub use crate::domain::demo_manifests::Manifests;
use crate::domain::issue::{self, IssueError, KeyAlgorithm, NewKey, Profile, Usage};
use crate::domain::kubeconfig::{ClientCredentials, Kubeconfig};

/// Which admin layout the node has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdminLayout {
    /// kubeadm ≤ 1.28: admin.conf in `system:masters`, no super-admin.conf.
    Pre129,
    /// kubeadm ≥ 1.29, the node where `kubeadm init` ran: admin.conf and super-admin.conf.
    Init129,
    /// kubeadm ≥ 1.29, a node joined with `kubeadm join --control-plane`: no super-admin.conf.
    Joined129,
}

/// Where the kubelet's client certificate lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KubeletCert {
    /// Embedded in kubelet.conf, as `kubeadm init` first writes it.
    Embedded,
    /// Rotated by the kubelet under this absolute folder, referenced through
    /// the `kubelet-client-current.pem` symlink, as after TLS bootstrap.
    Rotated(PathBuf),
}

/// Everything that varies between generated nodes.
#[derive(Clone, Debug)]
pub struct HostSpec {
    /// The clock: certificates are dated relative to it.
    pub now: OffsetDateTime,
    /// Every key's algorithm.
    pub keys: KeyAlgorithm,
    /// The node name.
    pub node_name: String,
    /// The admin layout.
    pub admin: AdminLayout,
    /// Whether etcd is external (no `etcd/`, no apiserver-etcd-client).
    pub external_etcd: bool,
    /// Where the kubelet's certificate lives.
    pub kubelet: KubeletCert,
    /// Validity of every leaf unless overridden.
    pub leaf_validity: (OffsetDateTime, OffsetDateTime),
    /// Validity of every CA unless overridden.
    pub ca_validity: (OffsetDateTime, OffsetDateTime),
    /// Per-credential validity, by kubeadm name.
    pub overrides: BTreeMap<String, (OffsetDateTime, OffsetDateTime)>,
    /// The static pod manifests to write too, if any.
    pub manifests: Option<Manifests>,
}

impl HostSpec {
    /// A node as `kubeadm init` of the given layout leaves it at `now`.
    pub fn new(now: OffsetDateTime, keys: KeyAlgorithm, admin: AdminLayout) -> Self {
        let start = now.saturating_sub(Duration::minutes(5));
        Self {
            now,
            keys,
            node_name: "cp-1".into(),
            admin,
            external_etcd: false,
            kubelet: KubeletCert::Embedded,
            leaf_validity: (start, now.saturating_add(Duration::days(365))),
            ca_validity: (start, now.saturating_add(Duration::days(3650))),
            overrides: BTreeMap::new(),
            manifests: None,
        }
    }

    /// The demo: a 1.28 node installed 350 days ago whose leaves an upgrade
    /// renewed 30 days ago, all but front-proxy-client, which expires within 20 days.
    pub fn demo(now: OffsetDateTime, keys: KeyAlgorithm, kubelet_dir: PathBuf) -> Self {
        let installed = now.saturating_sub(Duration::days(350));
        let upgraded = now.saturating_sub(Duration::days(30));
        let mut spec = Self::new(now, keys, AdminLayout::Pre129);
        spec.kubelet = KubeletCert::Rotated(kubelet_dir);
        spec.ca_validity = (installed, installed.saturating_add(Duration::days(3650)));
        spec.leaf_validity = (upgraded, upgraded.saturating_add(Duration::days(365)));
        spec.overrides.insert(
            "front-proxy-client".into(),
            (installed, installed.saturating_add(Duration::days(365))),
        );
        spec
    }

    fn validity(
        &self,
        name: &str,
        default: (OffsetDateTime, OffsetDateTime),
    ) -> (OffsetDateTime, OffsetDateTime) {
        self.overrides.get(name).copied().unwrap_or(default)
    }
}

/// A file of the generated node, relative to its root (or absolute for the kubelet's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostFile {
    /// Where it goes.
    pub path: PathBuf,
    /// What it is.
    pub contents: Contents,
}

/// A generated file's contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Contents {
    /// A regular file and its mode.
    File(Vec<u8>, u32),
    /// A symbolic link to this target.
    Symlink(PathBuf),
}

const ENDPOINT: &str = "k8s-api.example.internal";
const ADVERTISE: &str = "192.0.2.10";
const SERVICE_IP: &str = "10.96.0.1";
const CERT_SANS: [&str; 2] = ["10.20.30.40", "k8s.example.internal"];

/// Generates every file of a node.
pub fn generate(spec: &HostSpec) -> Result<Vec<HostFile>, IssueError> {
    let mut keys = issue::generate_keys(&[spec.keys; 16])?.into_iter();
    let mut next_key = || keys.next().ok_or(IssueError::KeyGeneration(spec.keys));
    let mut files = Vec::new();

    let ca = Ca::new(&mut files, spec, "ca", "kubernetes", "pki/ca", next_key()?)?;
    let front_proxy = Ca::new(
        &mut files,
        spec,
        "front-proxy-ca",
        "front-proxy-ca",
        "pki/front-proxy-ca",
        next_key()?,
    )?;
    let etcd = if spec.external_etcd {
        None
    } else {
        Some(Ca::new(
            &mut files,
            spec,
            "etcd-ca",
            "etcd-ca",
            "pki/etcd/ca",
            next_key()?,
        )?)
    };

    let split = spec.admin != AdminLayout::Pre129;
    let masters = || vec!["system:masters".to_owned()];
    let advertise: IpAddr = ADVERTISE
        .parse()
        .map_err(|_| IssueError::Subject(ADVERTISE.into()))?;
    let ip = |text: &str| {
        text.parse::<IpAddr>()
            .map_err(|_| IssueError::Subject(text.into()))
    };

    let mut apiserver_dns = vec![
        spec.node_name.clone(),
        ENDPOINT.to_owned(),
        CERT_SANS[1].to_owned(),
        "kubernetes".into(),
        "kubernetes.default".into(),
        "kubernetes.default.svc".into(),
        "kubernetes.default.svc.cluster.local".into(),
    ];
    apiserver_dns.dedup();
    let leaves = [
        (
            "apiserver",
            &ca,
            Profile {
                common_name: "kube-apiserver".into(),
                groups: vec![],
                dns_names: apiserver_dns,
                ip_addresses: vec![ip(SERVICE_IP)?, advertise, ip(CERT_SANS[0])?],
                usages: vec![Usage::ServerAuth],
            },
        ),
        (
            "apiserver-kubelet-client",
            &ca,
            client(
                "kube-apiserver-kubelet-client",
                if split {
                    vec!["kubeadm:cluster-admins".into()]
                } else {
                    masters()
                },
            ),
        ),
        (
            "front-proxy-client",
            &front_proxy,
            client("front-proxy-client", vec![]),
        ),
    ];
    for (name, issuer, profile) in leaves {
        let file = match name {
            "apiserver" => "pki/apiserver",
            "apiserver-kubelet-client" => "pki/apiserver-kubelet-client",
            _ => "pki/front-proxy-client",
        };
        issuer.leaf_files(&mut files, spec, name, file, &profile, next_key()?)?;
    }
    if let Some(etcd) = &etcd {
        let etcd_names = |usages| Profile {
            common_name: spec.node_name.clone(),
            groups: vec![],
            dns_names: vec![spec.node_name.clone(), "localhost".into()],
            ip_addresses: vec![
                advertise,
                IpAddr::from([127, 0, 0, 1]),
                IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]),
            ],
            usages,
        };
        let groups = if split { vec![] } else { masters() };
        etcd.leaf_files(
            &mut files,
            spec,
            "apiserver-etcd-client",
            "pki/apiserver-etcd-client",
            &client("kube-apiserver-etcd-client", groups.clone()),
            next_key()?,
        )?;
        etcd.leaf_files(
            &mut files,
            spec,
            "etcd-healthcheck-client",
            "pki/etcd/healthcheck-client",
            &client("kube-etcd-healthcheck-client", groups),
            next_key()?,
        )?;
        etcd.leaf_files(
            &mut files,
            spec,
            "etcd-peer",
            "pki/etcd/peer",
            &etcd_names(vec![Usage::ServerAuth, Usage::ClientAuth]),
            next_key()?,
        )?;
        etcd.leaf_files(
            &mut files,
            spec,
            "etcd-server",
            "pki/etcd/server",
            &etcd_names(vec![Usage::ServerAuth, Usage::ClientAuth]),
            next_key()?,
        )?;
    }

    let sa = next_key()?;
    files.push(file("pki/sa.key", sa.pem.clone().into_bytes(), 0o600));
    files.push(file(
        "pki/sa.pub",
        sa.pair.public_key_pem().into_bytes(),
        0o600,
    ));

    let endpoint = format!("https://{ENDPOINT}:6443");
    let local = format!("https://{ADVERTISE}:6443");
    let admin_groups = if split {
        vec!["kubeadm:cluster-admins".to_owned()]
    } else {
        masters()
    };
    let mut kubeconfigs = vec![
        ("admin.conf", "kubernetes-admin", admin_groups, &endpoint),
        (
            "controller-manager.conf",
            "system:kube-controller-manager",
            vec![],
            &local,
        ),
        ("scheduler.conf", "system:kube-scheduler", vec![], &local),
    ];
    if spec.admin == AdminLayout::Init129 {
        kubeconfigs.push((
            "super-admin.conf",
            "kubernetes-super-admin",
            masters(),
            &endpoint,
        ));
    }
    for (name, cn, groups, server) in kubeconfigs {
        let key = next_key()?;
        let cert = ca.sign(spec, name, &client(cn, groups), &key)?;
        let config = kubeconfig(
            &ca.pem,
            server,
            cn,
            &ClientCredentials::Embedded(&cert, &key.pem),
        )?;
        files.push(file(name, config.into_bytes(), 0o600));
    }

    let node = format!("system:node:{}", spec.node_name);
    let key = next_key()?;
    let cert = ca.sign(
        spec,
        "kubelet.conf",
        &client(&node, vec!["system:nodes".into()]),
        &key,
    )?;
    let config = match &spec.kubelet {
        KubeletCert::Embedded => kubeconfig(
            &ca.pem,
            &endpoint,
            &node,
            &ClientCredentials::Embedded(&cert, &key.pem),
        )?,
        KubeletCert::Rotated(dir) => {
            let stamp = spec
                .now
                .format(time::macros::format_description!(
                    "[year]-[month]-[day]-[hour]-[minute]-[second]"
                ))
                .unwrap_or_default();
            let rotated = dir.join(format!("kubelet-client-{stamp}.pem"));
            let current = dir.join("kubelet-client-current.pem");
            files.push(file(
                &rotated,
                format!("{cert}{}", key.pem).into_bytes(),
                0o600,
            ));
            files.push(HostFile {
                path: current.clone(),
                contents: Contents::Symlink(rotated),
            });
            kubeconfig(
                &ca.pem,
                &endpoint,
                &node,
                &ClientCredentials::Files(&current),
            )?
        }
    };
    files.push(file("kubelet.conf", config.into_bytes(), 0o600));
    if let Some(manifests) = &spec.manifests {
        files.extend(crate::domain::demo_manifests::files(
            manifests,
            &spec.node_name,
            !spec.external_etcd,
        ));
    }
    Ok(files)
}

/// A CA's certificate and its issuer for signing leaves.
struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn new(
        files: &mut Vec<HostFile>,
        spec: &HostSpec,
        name: &'static str,
        common_name: &str,
        base: &str,
        key: NewKey,
    ) -> Result<Self, IssueError> {
        let (not_before, not_after) = spec.validity(name, spec.ca_validity);
        let pem = issue::self_signed_ca(common_name, &key.pair, not_before, not_after)?;
        files.push(file(format!("{base}.crt"), pem.clone().into_bytes(), 0o644));
        files.push(file(format!("{base}.key"), key.pem.into_bytes(), 0o600));
        let issuer = Issuer::from_ca_cert_pem(&pem, key.pair)?;
        Ok(Self { pem, issuer })
    }

    fn sign(
        &self,
        spec: &HostSpec,
        name: &str,
        profile: &Profile,
        key: &NewKey,
    ) -> Result<String, IssueError> {
        let (not_before, not_after) = spec.validity(name, spec.leaf_validity);
        issue::leaf(profile, &key.pair, &self.issuer, not_before, not_after)
    }

    fn leaf_files(
        &self,
        files: &mut Vec<HostFile>,
        spec: &HostSpec,
        name: &str,
        base: &str,
        profile: &Profile,
        key: NewKey,
    ) -> Result<(), IssueError> {
        let cert = self.sign(spec, name, profile, &key)?;
        files.push(file(format!("{base}.crt"), cert.into_bytes(), 0o644));
        files.push(file(format!("{base}.key"), key.pem.into_bytes(), 0o600));
        Ok(())
    }
}

fn client(common_name: &str, groups: Vec<String>) -> Profile {
    Profile {
        common_name: common_name.to_owned(),
        groups,
        dns_names: vec![],
        ip_addresses: vec![],
        usages: vec![Usage::ClientAuth],
    }
}

fn file(path: impl AsRef<Path>, bytes: Vec<u8>, mode: u32) -> HostFile {
    HostFile {
        path: path.as_ref().to_path_buf(),
        contents: Contents::File(bytes, mode),
    }
}

/// A kubeconfig exactly as kubeadm's `CreateWithCerts` + client-go write it.
fn kubeconfig(
    ca_pem: &str,
    server: &str,
    user: &str,
    credentials: &ClientCredentials<'_>,
) -> Result<String, IssueError> {
    Kubeconfig::for_client("kubernetes", server, ca_pem.as_bytes(), user, credentials)
        .to_yaml()
        .map_err(IssueError::Subject)
}
