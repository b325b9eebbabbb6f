//! The static pod manifests of a generated node, as kubeadm 1.28 to 1.30
//! writes them (`phases/controlplane/manifests.go`, `phases/etcd/local.go`):
//! the same flags in the same (sorted) order, the same hostPath volumes,
//! probes and fields, serialized as kubeadm's YAML (keys sorted, lists at
//! their key's indentation). Only the host side of each volume may point into
//! the generated tree, so that kubecred reads that tree's files.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::domain::demo::{Contents, HostFile};
use crate::domain::manifest::{Component, MANIFESTS_DIR};

/// The Kubernetes and etcd versions the images name.
const KUBERNETES_VERSION: &str = "v1.28.15";
const ETCD_IMAGE_TAG: &str = "3.5.15-0";

/// The trust stores kubeadm mounts read-only into kube-apiserver and
/// kube-controller-manager on a Debian host (those that exist there).
const CA_TRUST_DIRS: [(&str, &str); 4] = [
    ("ca-certs", "/etc/ssl/certs"),
    ("etc-ca-certificates", "/etc/ca-certificates"),
    (
        "usr-local-share-ca-certificates",
        "/usr/local/share/ca-certificates",
    ),
    ("usr-share-ca-certificates", "/usr/share/ca-certificates"),
];

/// Where a generated node's components listen and find their files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifests {
    /// The kubernetes dir as the pods see it (kubeadm: `/etc/kubernetes`).
    pub pod_kubernetes_dir: PathBuf,
    /// The cert dir as the pods see it (kubeadm: `/etc/kubernetes/pki`).
    pub pod_cert_dir: PathBuf,
    /// The kubernetes dir on the host.
    pub host_kubernetes_dir: PathBuf,
    /// The cert dir on the host.
    pub host_cert_dir: PathBuf,
    /// etcd's data dir, in the pod and on the host (kubeadm: `/var/lib/etcd`).
    pub etcd_data_dir: PathBuf,
    /// The node's advertise address.
    pub advertise: IpAddr,
    /// kube-apiserver's secure port.
    pub apiserver_port: u16,
    /// etcd's client, peer and metrics ports.
    pub etcd_ports: (u16, u16, u16),
    /// `--secure-port` for kube-controller-manager and kube-scheduler, when
    /// not kubeadm's (which sets none: 10257 and 10259 are their defaults).
    pub secure_ports: Option<(u16, u16)>,
}

impl Manifests {
    /// kubeadm's defaults for a node whose kubernetes dir is `root` on the host.
    pub fn kubeadm(root: &Path) -> Self {
        Self {
            pod_kubernetes_dir: PathBuf::from("/etc/kubernetes"),
            pod_cert_dir: PathBuf::from("/etc/kubernetes/pki"),
            host_kubernetes_dir: root.to_path_buf(),
            host_cert_dir: root.join("pki"),
            etcd_data_dir: PathBuf::from("/var/lib/etcd"),
            advertise: IpAddr::from([192, 0, 2, 10]),
            apiserver_port: 6443,
            etcd_ports: (2379, 2380, 2381),
            secure_ports: None,
        }
    }
}

/// The four manifests (three without local etcd), 0600 as kubeadm writes them.
pub fn files(spec: &Manifests, node_name: &str, local_etcd: bool) -> Vec<HostFile> {
    let mut files = vec![
        manifest(Component::KubeApiserver, apiserver(spec, local_etcd)),
        manifest(Component::KubeControllerManager, controller_manager(spec)),
        manifest(Component::KubeScheduler, scheduler(spec)),
    ];
    if local_etcd {
        files.insert(0, manifest(Component::Etcd, etcd(spec, node_name)));
    }
    files
}

fn manifest(component: Component, text: String) -> HostFile {
    HostFile {
        path: Path::new(MANIFESTS_DIR).join(component.manifest_file().unwrap_or_default()),
        contents: Contents::File(text.into_bytes(), 0o600),
    }
}

/// A YAML scalar as sigs.k8s.io/yaml writes it: plain when safe, else single-quoted.
fn scalar(text: &str) -> String {
    let safe = !text.is_empty()
        && text
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "/._=:,*@+-?&%~".contains(ch))
        && !text.starts_with(['*', '&', '?', '%', '@', ':', ',', '~'])
        && !text.contains(": ");
    if safe {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "''"))
    }
}

fn path(path: &Path) -> String {
    path.display().to_string()
}

struct Probe<'a> {
    host: String,
    path: &'a str,
    port: u16,
    scheme: &'a str,
}

impl Probe<'_> {
    /// A probe's fields at `indent`, kubeadm's thresholds for its kind.
    fn write(&self, out: &mut String, kind: &str, failure: u32, initial: bool, period: u32) {
        let _ = writeln!(out, "    {kind}:");
        let _ = writeln!(out, "      failureThreshold: {failure}");
        let _ = writeln!(out, "      httpGet:");
        let _ = writeln!(out, "        host: {}", scalar(&self.host));
        let _ = writeln!(out, "        path: {}", scalar(self.path));
        let _ = writeln!(out, "        port: {}", self.port);
        let _ = writeln!(out, "        scheme: {}", self.scheme);
        if initial {
            let _ = writeln!(out, "      initialDelaySeconds: 10");
        }
        let _ = writeln!(out, "      periodSeconds: {period}");
        let _ = writeln!(out, "      timeoutSeconds: 15");
    }
}

struct Volume {
    name: String,
    pod_path: String,
    host_path: String,
    kind: &'static str,
    read_only: bool,
}

fn header(out: &mut String, name: &str, annotation: Option<(&str, String)>) {
    out.push_str("apiVersion: v1\nkind: Pod\nmetadata:\n");
    if let Some((key, value)) = annotation {
        let _ = writeln!(out, "  annotations:\n    {key}: {}", scalar(&value));
    }
    let _ = writeln!(
        out,
        "  creationTimestamp: null\n  labels:\n    component: {name}\n    tier: control-plane\n  name: {name}\n  namespace: kube-system\nspec:\n  containers:\n  - command:"
    );
}

fn command(out: &mut String, program: &str, flags: &[(&str, String)]) {
    let _ = writeln!(out, "    - {program}");
    let mut flags: Vec<&(&str, String)> = flags.iter().collect();
    flags.sort_by(|a, b| a.0.cmp(b.0));
    for (name, value) in flags {
        let _ = writeln!(out, "    - {}", scalar(&format!("--{name}={value}")));
    }
}

fn mounts_and_footer(out: &mut String, mounts: &[Volume], volumes: &[Volume]) {
    out.push_str("    volumeMounts:\n");
    for mount in mounts {
        let _ = writeln!(out, "    - mountPath: {}", scalar(&mount.pod_path));
        let _ = writeln!(out, "      name: {}", mount.name);
        if mount.read_only {
            out.push_str("      readOnly: true\n");
        }
    }
    out.push_str(
        "  hostNetwork: true\n  priority: 2000001000\n  priorityClassName: system-node-critical\n  securityContext:\n    seccompProfile:\n      type: RuntimeDefault\n  volumes:\n",
    );
    for volume in volumes {
        let _ = writeln!(
            out,
            "  - hostPath:\n      path: {}\n      type: {}\n    name: {}",
            scalar(&volume.host_path),
            volume.kind,
            volume.name
        );
    }
    out.push_str("status: {}\n");
}

/// The trust stores and the cert dir, sorted by name as kubeadm sorts volumes.
fn certificate_volumes(spec: &Manifests, extra: Vec<Volume>) -> Vec<Volume> {
    let mut volumes: Vec<Volume> = CA_TRUST_DIRS
        .iter()
        .map(|(name, dir)| Volume {
            name: (*name).to_owned(),
            pod_path: (*dir).to_owned(),
            host_path: (*dir).to_owned(),
            kind: "DirectoryOrCreate",
            read_only: true,
        })
        .chain([Volume {
            name: "k8s-certs".into(),
            pod_path: path(&spec.pod_cert_dir),
            host_path: path(&spec.host_cert_dir),
            kind: "DirectoryOrCreate",
            read_only: true,
        }])
        .chain(extra)
        .collect();
    volumes.sort_by(|a, b| a.name.cmp(&b.name));
    volumes
}

fn apiserver(spec: &Manifests, local_etcd: bool) -> String {
    let pki = |name: &str| path(&spec.pod_cert_dir.join(name));
    let advertise = spec.advertise.to_string();
    let port = spec.apiserver_port;
    let mut flags = vec![
        ("advertise-address", advertise.clone()),
        ("allow-privileged", "true".into()),
        ("authorization-mode", "Node,RBAC".into()),
        ("client-ca-file", pki("ca.crt")),
        ("enable-admission-plugins", "NodeRestriction".into()),
        ("enable-bootstrap-token-auth", "true".into()),
        (
            "kubelet-client-certificate",
            pki("apiserver-kubelet-client.crt"),
        ),
        ("kubelet-client-key", pki("apiserver-kubelet-client.key")),
        (
            "kubelet-preferred-address-types",
            "InternalIP,ExternalIP,Hostname".into(),
        ),
        ("proxy-client-cert-file", pki("front-proxy-client.crt")),
        ("proxy-client-key-file", pki("front-proxy-client.key")),
        ("requestheader-allowed-names", "front-proxy-client".into()),
        ("requestheader-client-ca-file", pki("front-proxy-ca.crt")),
        (
            "requestheader-extra-headers-prefix",
            "X-Remote-Extra-".into(),
        ),
        ("requestheader-group-headers", "X-Remote-Group".into()),
        ("requestheader-username-headers", "X-Remote-User".into()),
        ("secure-port", port.to_string()),
        (
            "service-account-issuer",
            "https://kubernetes.default.svc.cluster.local".into(),
        ),
        ("service-account-key-file", pki("sa.pub")),
        ("service-account-signing-key-file", pki("sa.key")),
        ("service-cluster-ip-range", "10.96.0.0/12".into()),
        ("tls-cert-file", pki("apiserver.crt")),
        ("tls-private-key-file", pki("apiserver.key")),
    ];
    if local_etcd {
        flags.extend([
            ("etcd-cafile", pki("etcd/ca.crt")),
            ("etcd-certfile", pki("apiserver-etcd-client.crt")),
            ("etcd-keyfile", pki("apiserver-etcd-client.key")),
            (
                "etcd-servers",
                format!("https://127.0.0.1:{}", spec.etcd_ports.0),
            ),
        ]);
    } else {
        flags.push(("etcd-servers", "https://etcd.example.internal:2379".into()));
    }
    let mut out = String::new();
    header(
        &mut out,
        "kube-apiserver",
        Some((
            "kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint",
            format!("{advertise}:{port}"),
        )),
    );
    command(&mut out, "kube-apiserver", &flags);
    let _ = writeln!(
        out,
        "    image: registry.k8s.io/kube-apiserver:{KUBERNETES_VERSION}\n    imagePullPolicy: IfNotPresent"
    );
    let probe = |path| Probe {
        host: advertise.clone(),
        path,
        port,
        scheme: "HTTPS",
    };
    probe("/livez").write(&mut out, "livenessProbe", 8, true, 10);
    out.push_str("    name: kube-apiserver\n");
    probe("/readyz").write(&mut out, "readinessProbe", 3, false, 1);
    out.push_str("    resources:\n      requests:\n        cpu: 250m\n");
    probe("/livez").write(&mut out, "startupProbe", 24, true, 10);
    let volumes = certificate_volumes(spec, Vec::new());
    mounts_and_footer(&mut out, &volumes, &volumes);
    out
}

fn kubeconfig_volume(spec: &Manifests, file: &str) -> Volume {
    Volume {
        name: "kubeconfig".into(),
        pod_path: path(&spec.pod_kubernetes_dir.join(file)),
        host_path: path(&spec.host_kubernetes_dir.join(file)),
        kind: "FileOrCreate",
        read_only: true,
    }
}

fn controller_manager(spec: &Manifests) -> String {
    let pki = |name: &str| path(&spec.pod_cert_dir.join(name));
    let kubeconfig = path(&spec.pod_kubernetes_dir.join("controller-manager.conf"));
    let mut flags = vec![
        ("allocate-node-cidrs", "true".into()),
        ("authentication-kubeconfig", kubeconfig.clone()),
        ("authorization-kubeconfig", kubeconfig.clone()),
        ("bind-address", "127.0.0.1".into()),
        ("client-ca-file", pki("ca.crt")),
        ("cluster-cidr", "10.244.0.0/16".into()),
        ("cluster-name", "kubernetes".into()),
        ("cluster-signing-cert-file", pki("ca.crt")),
        ("cluster-signing-key-file", pki("ca.key")),
        ("controllers", "*,bootstrapsigner,tokencleaner".into()),
        ("kubeconfig", kubeconfig),
        ("leader-elect", "true".into()),
        ("requestheader-client-ca-file", pki("front-proxy-ca.crt")),
        ("root-ca-file", pki("ca.crt")),
        ("service-account-private-key-file", pki("sa.key")),
        ("service-cluster-ip-range", "10.96.0.0/12".into()),
        ("use-service-account-credentials", "true".into()),
    ];
    let port = match spec.secure_ports {
        Some((port, _)) => {
            flags.push(("secure-port", port.to_string()));
            port
        }
        None => 10257,
    };
    let mut out = String::new();
    header(&mut out, "kube-controller-manager", None);
    command(&mut out, "kube-controller-manager", &flags);
    let _ = writeln!(
        out,
        "    image: registry.k8s.io/kube-controller-manager:{KUBERNETES_VERSION}\n    imagePullPolicy: IfNotPresent"
    );
    let probe = Probe {
        host: "127.0.0.1".into(),
        path: "/healthz",
        port,
        scheme: "HTTPS",
    };
    probe.write(&mut out, "livenessProbe", 8, true, 10);
    out.push_str(
        "    name: kube-controller-manager\n    resources:\n      requests:\n        cpu: 200m\n",
    );
    probe.write(&mut out, "startupProbe", 24, true, 10);
    let volumes = certificate_volumes(
        spec,
        vec![
            Volume {
                name: "flexvolume-dir".into(),
                pod_path: "/usr/libexec/kubernetes/kubelet-plugins/volume/exec".into(),
                host_path: "/usr/libexec/kubernetes/kubelet-plugins/volume/exec".into(),
                kind: "DirectoryOrCreate",
                read_only: false,
            },
            kubeconfig_volume(spec, "controller-manager.conf"),
        ],
    );
    mounts_and_footer(&mut out, &volumes, &volumes);
    out
}

fn scheduler(spec: &Manifests) -> String {
    let kubeconfig = path(&spec.pod_kubernetes_dir.join("scheduler.conf"));
    let mut flags = vec![
        ("authentication-kubeconfig", kubeconfig.clone()),
        ("authorization-kubeconfig", kubeconfig.clone()),
        ("bind-address", "127.0.0.1".into()),
        ("kubeconfig", kubeconfig),
        ("leader-elect", "true".into()),
    ];
    let port = match spec.secure_ports {
        Some((_, port)) => {
            flags.push(("secure-port", port.to_string()));
            port
        }
        None => 10259,
    };
    let mut out = String::new();
    header(&mut out, "kube-scheduler", None);
    command(&mut out, "kube-scheduler", &flags);
    let _ = writeln!(
        out,
        "    image: registry.k8s.io/kube-scheduler:{KUBERNETES_VERSION}\n    imagePullPolicy: IfNotPresent"
    );
    let probe = Probe {
        host: "127.0.0.1".into(),
        path: "/healthz",
        port,
        scheme: "HTTPS",
    };
    probe.write(&mut out, "livenessProbe", 8, true, 10);
    out.push_str("    name: kube-scheduler\n    resources:\n      requests:\n        cpu: 100m\n");
    probe.write(&mut out, "startupProbe", 24, true, 10);
    let volumes = [kubeconfig_volume(spec, "scheduler.conf")];
    mounts_and_footer(&mut out, &volumes, &volumes);
    out
}

fn etcd(spec: &Manifests, node_name: &str) -> String {
    let pki = |name: &str| path(&spec.pod_cert_dir.join("etcd").join(name));
    let (client, peer, metrics) = spec.etcd_ports;
    let host = match spec.advertise {
        IpAddr::V6(v6) => format!("[{v6}]"),
        IpAddr::V4(v4) => v4.to_string(),
    };
    let localhost = if spec.advertise.is_ipv6() {
        "[::1]"
    } else {
        "127.0.0.1"
    };
    let client_url = format!("https://{host}:{client}");
    let peer_url = format!("https://{host}:{peer}");
    let data_dir = path(&spec.etcd_data_dir);
    let flags = vec![
        ("advertise-client-urls", client_url.clone()),
        ("cert-file", pki("server.crt")),
        ("client-cert-auth", "true".into()),
        ("data-dir", data_dir.clone()),
        ("experimental-initial-corrupt-check", "true".into()),
        ("experimental-watch-progress-notify-interval", "5s".into()),
        ("initial-advertise-peer-urls", peer_url.clone()),
        ("initial-cluster", format!("{node_name}={peer_url}")),
        ("key-file", pki("server.key")),
        (
            "listen-client-urls",
            format!("https://{localhost}:{client},{client_url}"),
        ),
        (
            "listen-metrics-urls",
            format!("http://{localhost}:{metrics}"),
        ),
        ("listen-peer-urls", peer_url),
        ("name", node_name.to_owned()),
        ("peer-cert-file", pki("peer.crt")),
        ("peer-client-cert-auth", "true".into()),
        ("peer-key-file", pki("peer.key")),
        ("peer-trusted-ca-file", pki("ca.crt")),
        ("snapshot-count", "10000".into()),
        ("trusted-ca-file", pki("ca.crt")),
    ];
    let mut out = String::new();
    header(
        &mut out,
        "etcd",
        Some((
            "kubeadm.kubernetes.io/etcd.advertise-client-urls",
            client_url,
        )),
    );
    command(&mut out, "etcd", &flags);
    let _ = writeln!(
        out,
        "    image: registry.k8s.io/etcd:{ETCD_IMAGE_TAG}\n    imagePullPolicy: IfNotPresent"
    );
    let probe = |path| Probe {
        host: localhost.trim_matches(['[', ']']).to_owned(),
        path,
        port: metrics,
        scheme: "HTTP",
    };
    probe("/health?exclude=NOSPACE&serializable=true").write(
        &mut out,
        "livenessProbe",
        8,
        true,
        10,
    );
    out.push_str(
        "    name: etcd\n    resources:\n      requests:\n        cpu: 100m\n        memory: 100Mi\n",
    );
    probe("/health?serializable=false").write(&mut out, "startupProbe", 24, true, 10);
    let certs = Volume {
        name: "etcd-certs".into(),
        pod_path: path(&spec.pod_cert_dir.join("etcd")),
        host_path: path(&spec.host_cert_dir.join("etcd")),
        kind: "DirectoryOrCreate",
        read_only: false,
    };
    let data = Volume {
        name: "etcd-data".into(),
        pod_path: data_dir.clone(),
        host_path: data_dir,
        kind: "DirectoryOrCreate",
        read_only: false,
    };
    // kubeadm lists etcd's mounts data first; its volumes come sorted by name.
    let mounts = [
        Volume {
            name: data.name.clone(),
            pod_path: data.pod_path.clone(),
            host_path: data.host_path.clone(),
            kind: data.kind,
            read_only: false,
        },
        Volume {
            name: certs.name.clone(),
            pod_path: certs.pod_path.clone(),
            host_path: certs.host_path.clone(),
            kind: certs.kind,
            read_only: false,
        },
    ];
    mounts_and_footer(&mut out, &mounts, &[certs, data]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::manifest::Pod;

    fn parsed(component: Component, spec: &Manifests) -> Pod {
        let files = files(spec, "cp-1", true);
        let file = files
            .iter()
            .find(|file| file.path.ends_with(component.manifest_file().unwrap()))
            .unwrap();
        let Contents::File(bytes, mode) = &file.contents else {
            panic!("not a file");
        };
        assert_eq!(*mode, 0o600);
        Pod::parse(bytes, component).unwrap()
    }

    #[test]
    fn the_manifests_name_kubeadms_files_and_map_them_into_the_tree() {
        let spec = Manifests::kubeadm(Path::new("/srv/node"));
        let apiserver = parsed(Component::KubeApiserver, &spec);
        assert_eq!(
            apiserver.flag("tls-cert-file"),
            Some("/etc/kubernetes/pki/apiserver.crt")
        );
        assert_eq!(
            apiserver.host_path(Path::new("/etc/kubernetes/pki/apiserver.crt")),
            Some(PathBuf::from("/srv/node/pki/apiserver.crt"))
        );
        assert_eq!(apiserver.flag("bind-address"), None);
        assert!(apiserver.host_network);
        let kcm = parsed(Component::KubeControllerManager, &spec);
        assert_eq!(
            kcm.host_path(Path::new(kcm.flag("kubeconfig").unwrap())),
            Some(PathBuf::from("/srv/node/controller-manager.conf"))
        );
        assert_eq!(kcm.flag("secure-port"), None);
        let etcd = parsed(Component::Etcd, &spec);
        assert_eq!(
            etcd.flag("listen-client-urls"),
            Some("https://127.0.0.1:2379,https://192.0.2.10:2379")
        );
        assert_eq!(
            etcd.host_path(Path::new("/etc/kubernetes/pki/etcd/peer.crt")),
            Some(PathBuf::from("/srv/node/pki/etcd/peer.crt"))
        );
        // Flags come sorted, as kubeadm's ArgumentsToCommand sorts them.
        let flags: Vec<&String> = etcd.command.iter().skip(1).collect();
        let mut sorted = flags.clone();
        sorted.sort();
        assert_eq!(flags, sorted);
    }

    #[test]
    fn paths_that_yaml_would_misread_are_quoted() {
        assert_eq!(scalar("/etc/kubernetes/pki"), "/etc/kubernetes/pki");
        assert_eq!(
            scalar("--controllers=*,bootstrapsigner"),
            "--controllers=*,bootstrapsigner"
        );
        assert_eq!(scalar("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(scalar("/tmp/it's"), "'/tmp/it''s'");
        assert_eq!(scalar("*alias"), "'*alias'");
        let spec = Manifests::kubeadm(Path::new("/tmp/a b: #c"));
        let kcm = parsed(Component::KubeControllerManager, &spec);
        assert_eq!(
            kcm.host_path(Path::new("/etc/kubernetes/pki/ca.crt")),
            Some(PathBuf::from("/tmp/a b: #c/pki/ca.crt"))
        );
    }
}
