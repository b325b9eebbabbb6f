//! kubeadm's credential layout as one declarative table, like kubeadm's
//! `certlist.go`: every other module loops over it instead of naming files.

/// What a credential is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A certificate authority: `<name>.crt` and, unless external, `<name>.key`.
    Ca,
    /// A client certificate embedded in (or referenced by) a kubeconfig.
    Kubeconfig,
    /// A leaf certificate: `<name>.crt` and `<name>.key` under the cert dir.
    Leaf,
}

impl Kind {
    /// Lower-case name used in JSON and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ca => "ca",
            Self::Kubeconfig => "kubeconfig",
            Self::Leaf => "leaf",
        }
    }
}

/// When kubeadm writes a credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presence {
    /// On every control-plane node.
    Always,
    /// Only with a local (stacked) etcd, i.e. when `pki/etcd/` exists.
    LocalEtcd,
    /// Only on the node where `kubeadm init` (1.29+) ran.
    InitNodeOnly,
}

/// The common name kubeadm gives a credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommonName {
    /// Always this exact name.
    Exact(&'static str),
    /// The node's name (etcd server and peer).
    NodeName,
    /// `system:node:<node name>` (the kubelet).
    KubeletNode,
}

/// One subject kubeadm has written for a credential, and which versions wrote it.
#[derive(Clone, Copy, Debug)]
pub struct Identity {
    /// The expected common name.
    pub common_name: CommonName,
    /// The expected organizations (groups), in order.
    pub groups: &'static [&'static str],
    /// The kubeadm versions that write this identity.
    pub versions: &'static str,
}

/// One credential kubeadm manages.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// kubeadm's name for it, as `kubeadm certs` prints it.
    pub name: &'static str,
    /// kubeadm's description, as `kubeadm certs renew` prints it.
    pub long_name: &'static str,
    /// What it is.
    pub kind: Kind,
    /// Kubeconfig file name under the kubernetes dir, or base name under the cert dir.
    pub file: &'static str,
    /// The CA that signs it (`None` for CAs).
    pub ca: Option<&'static str>,
    /// When kubeadm writes it.
    pub presence: Presence,
    /// Every subject kubeadm 1.28 to 1.36 has written for it.
    pub identities: &'static [Identity],
    /// Whether `kubeadm certs renew` renews it.
    pub renewable: bool,
}

const fn id(cn: &'static str, groups: &'static [&'static str], versions: &'static str) -> Identity {
    Identity {
        common_name: CommonName::Exact(cn),
        groups,
        versions,
    }
}

const MASTERS: &[&str] = &["system:masters"];
const CLUSTER_ADMINS: &[&str] = &["kubeadm:cluster-admins"];
const NONE: &[&str] = &[];

/// Group that bypasses RBAC and can never be revoked.
pub const SYSTEM_MASTERS: &str = "system:masters";
/// Group that kubeadm 1.29+ binds to `cluster-admin`.
pub const KUBEADM_CLUSTER_ADMINS: &str = "kubeadm:cluster-admins";

/// Every credential of a kubeadm control-plane node, in `kubeadm certs` order:
/// certificates first, then certificate authorities.
pub static CREDENTIALS: &[Spec] = &[
    Spec {
        name: "admin.conf",
        long_name: "certificate embedded in the kubeconfig file for the admin to use and for kubeadm itself",
        kind: Kind::Kubeconfig,
        file: "admin.conf",
        ca: Some("ca"),
        presence: Presence::Always,
        identities: &[
            id("kubernetes-admin", MASTERS, "<=1.28"),
            id("kubernetes-admin", CLUSTER_ADMINS, ">=1.29"),
        ],
        renewable: true,
    },
    Spec {
        name: "apiserver",
        long_name: "certificate for serving the Kubernetes API",
        kind: Kind::Leaf,
        file: "apiserver",
        ca: Some("ca"),
        presence: Presence::Always,
        identities: &[id("kube-apiserver", NONE, "all")],
        renewable: true,
    },
    Spec {
        name: "apiserver-etcd-client",
        long_name: "certificate the apiserver uses to access etcd",
        kind: Kind::Leaf,
        file: "apiserver-etcd-client",
        ca: Some("etcd-ca"),
        presence: Presence::LocalEtcd,
        identities: &[
            id("kube-apiserver-etcd-client", MASTERS, "<=1.28"),
            id("kube-apiserver-etcd-client", NONE, ">=1.29"),
        ],
        renewable: true,
    },
    Spec {
        name: "apiserver-kubelet-client",
        long_name: "certificate for the API server to connect to kubelet",
        kind: Kind::Leaf,
        file: "apiserver-kubelet-client",
        ca: Some("ca"),
        presence: Presence::Always,
        identities: &[
            id("kube-apiserver-kubelet-client", MASTERS, "<=1.28"),
            id(
                "kube-apiserver-kubelet-client",
                CLUSTER_ADMINS,
                "1.29 to 1.36.0",
            ),
            id(
                "kube-apiserver-kubelet-client",
                NONE,
                ">=1.33.12, >=1.34.8, >=1.35.5, >=1.36.1",
            ),
        ],
        renewable: true,
    },
    Spec {
        name: "controller-manager.conf",
        long_name: "certificate embedded in the kubeconfig file for the controller manager to use",
        kind: Kind::Kubeconfig,
        file: "controller-manager.conf",
        ca: Some("ca"),
        presence: Presence::Always,
        identities: &[id("system:kube-controller-manager", NONE, "all")],
        renewable: true,
    },
    Spec {
        name: "etcd-healthcheck-client",
        long_name: "certificate for liveness probes to healthcheck etcd",
        kind: Kind::Leaf,
        file: "etcd/healthcheck-client",
        ca: Some("etcd-ca"),
        presence: Presence::LocalEtcd,
        identities: &[
            id("kube-etcd-healthcheck-client", MASTERS, "older"),
            id("kube-etcd-healthcheck-client", NONE, "newer"),
        ],
        renewable: true,
    },
    Spec {
        name: "etcd-peer",
        long_name: "certificate for etcd nodes to communicate with each other",
        kind: Kind::Leaf,
        file: "etcd/peer",
        ca: Some("etcd-ca"),
        presence: Presence::LocalEtcd,
        identities: &[Identity {
            common_name: CommonName::NodeName,
            groups: NONE,
            versions: "all",
        }],
        renewable: true,
    },
    Spec {
        name: "etcd-server",
        long_name: "certificate for serving etcd",
        kind: Kind::Leaf,
        file: "etcd/server",
        ca: Some("etcd-ca"),
        presence: Presence::LocalEtcd,
        identities: &[Identity {
            common_name: CommonName::NodeName,
            groups: NONE,
            versions: "all",
        }],
        renewable: true,
    },
    Spec {
        name: "front-proxy-client",
        long_name: "certificate for the front proxy client",
        kind: Kind::Leaf,
        file: "front-proxy-client",
        ca: Some("front-proxy-ca"),
        presence: Presence::Always,
        identities: &[id("front-proxy-client", NONE, "all")],
        renewable: true,
    },
    Spec {
        name: "scheduler.conf",
        long_name: "certificate embedded in the kubeconfig file for the scheduler manager to use",
        kind: Kind::Kubeconfig,
        file: "scheduler.conf",
        ca: Some("ca"),
        presence: Presence::Always,
        identities: &[id("system:kube-scheduler", NONE, "all")],
        renewable: true,
    },
    Spec {
        name: "super-admin.conf",
        long_name: "certificate embedded in the kubeconfig file for the super-admin",
        kind: Kind::Kubeconfig,
        file: "super-admin.conf",
        ca: Some("ca"),
        presence: Presence::InitNodeOnly,
        identities: &[id("kubernetes-super-admin", MASTERS, ">=1.29")],
        renewable: true,
    },
    Spec {
        name: "kubelet.conf",
        long_name: "certificate the kubelet uses to reach the API server (rotated by the kubelet)",
        kind: Kind::Kubeconfig,
        file: "kubelet.conf",
        ca: Some("ca"),
        presence: Presence::Always,
        identities: &[Identity {
            common_name: CommonName::KubeletNode,
            groups: &["system:nodes"],
            versions: "all",
        }],
        renewable: false,
    },
    Spec {
        name: "ca",
        long_name: "self-signed Kubernetes CA",
        kind: Kind::Ca,
        file: "ca",
        ca: None,
        presence: Presence::Always,
        identities: &[id("kubernetes", NONE, "all")],
        renewable: false,
    },
    Spec {
        name: "etcd-ca",
        long_name: "self-signed CA for etcd",
        kind: Kind::Ca,
        file: "etcd/ca",
        ca: None,
        presence: Presence::LocalEtcd,
        identities: &[id("etcd-ca", NONE, "all")],
        renewable: false,
    },
    Spec {
        name: "front-proxy-ca",
        long_name: "self-signed CA for the front proxy",
        kind: Kind::Ca,
        file: "front-proxy-ca",
        ca: None,
        presence: Presence::Always,
        identities: &[id("front-proxy-ca", NONE, "all")],
        renewable: false,
    },
];

/// The spec of a kubeadm credential by name.
pub fn spec(name: &str) -> Option<&'static Spec> {
    CREDENTIALS.iter().find(|spec| spec.name == name)
}

/// Folders under the kubernetes or cert dir that hold old material, never live credentials.
pub const SKIPPED_DIRS: &[&str] = &["expired", "tmp", "backup", "backups"];

/// The service-account signing key pair's base name under the cert dir.
pub const SERVICE_ACCOUNT: &str = "sa";
