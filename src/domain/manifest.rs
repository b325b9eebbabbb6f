//! kubeadm's static pod manifests (`<kubernetes-dir>/manifests/*.yaml`), parsed:
//! each component's command-line flags and how the paths its container sees
//! map to host paths (`volumeMounts` → `volumes[].hostPath`). Pure: bytes in,
//! values out; `edge::inventory` reads the files.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Component as PathPart, Path, PathBuf};

use serde::Deserialize;

/// A control-plane component kubecred looks at on the node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Component {
    /// etcd (static pod `etcd.yaml`).
    Etcd,
    /// kube-apiserver (static pod `kube-apiserver.yaml`).
    KubeApiserver,
    /// kube-controller-manager (static pod `kube-controller-manager.yaml`).
    KubeControllerManager,
    /// kube-scheduler (static pod `kube-scheduler.yaml`).
    KubeScheduler,
    /// The kubelet (a host service, no manifest).
    Kubelet,
}

impl std::fmt::Display for Component {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The components that run as kubeadm static pods, in kubeadm's restart order.
pub const STATIC_PODS: [Component; 4] = [
    Component::Etcd,
    Component::KubeApiserver,
    Component::KubeControllerManager,
    Component::KubeScheduler,
];

impl Component {
    /// The component's name, as its binary and its static pod are called.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Etcd => "etcd",
            Self::KubeApiserver => "kube-apiserver",
            Self::KubeControllerManager => "kube-controller-manager",
            Self::KubeScheduler => "kube-scheduler",
            Self::Kubelet => "kubelet",
        }
    }

    /// The manifest's file name under `<kubernetes-dir>/manifests`, for static pods.
    pub fn manifest_file(self) -> Option<&'static str> {
        match self {
            Self::Etcd => Some("etcd.yaml"),
            Self::KubeApiserver => Some("kube-apiserver.yaml"),
            Self::KubeControllerManager => Some("kube-controller-manager.yaml"),
            Self::KubeScheduler => Some("kube-scheduler.yaml"),
            Self::Kubelet => None,
        }
    }
}

/// kubeadm's manifests folder under the kubernetes dir.
pub const MANIFESTS_DIR: &str = "manifests";

/// One volume mount of the component's container, resolved to the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// Where the container sees it.
    pub container_path: PathBuf,
    /// The host path behind it (the volume's `hostPath.path`, plus `subPath`),
    /// or `None` for a volume that is not a hostPath (an emptyDir, a secret).
    pub host_path: Option<PathBuf>,
    /// The volume's name.
    pub volume: String,
    /// Whether it is mounted read-only.
    pub read_only: bool,
}

/// A parsed static pod manifest: what kubecred needs of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pod {
    /// `metadata.name`.
    pub name: String,
    /// The container's command and arguments, in order (`command` then `args`).
    pub command: Vec<String>,
    /// The container's mounts, in manifest order.
    pub mounts: Vec<Mount>,
    /// Whether the pod uses the host's network (kubeadm's static pods do):
    /// only then are its listen addresses the node's.
    pub host_network: bool,
}

/// Why a manifest could not be used, in a few words (no file contents).
pub type ParseError = String;

#[derive(Deserialize)]
struct RawPod {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    metadata: RawMeta,
    spec: Option<RawSpec>,
}

#[derive(Default, Deserialize)]
struct RawMeta {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct RawSpec {
    #[serde(default)]
    containers: Vec<RawContainer>,
    #[serde(default)]
    volumes: Vec<RawVolume>,
    #[serde(default, rename = "hostNetwork")]
    host_network: bool,
}

#[derive(Deserialize)]
struct RawContainer {
    #[serde(default)]
    name: String,
    #[serde(default)]
    command: Vec<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default, rename = "volumeMounts")]
    volume_mounts: Vec<RawMount>,
}

#[derive(Deserialize)]
struct RawMount {
    name: String,
    #[serde(rename = "mountPath")]
    mount_path: String,
    #[serde(default, rename = "subPath")]
    sub_path: Option<String>,
    #[serde(default, rename = "readOnly")]
    read_only: bool,
}

#[derive(Deserialize)]
struct RawVolume {
    name: String,
    #[serde(default, rename = "hostPath")]
    host_path: Option<RawHostPath>,
}

#[derive(Deserialize)]
struct RawHostPath {
    path: String,
}

impl Pod {
    /// Parses a static pod manifest of `component`; its container is the one
    /// named after the component (kubeadm's), else the only one.
    pub fn parse(bytes: &[u8], component: Component) -> Result<Self, ParseError> {
        let text = std::str::from_utf8(bytes).map_err(|err| {
            format!(
                "not a static pod manifest: not UTF-8 text (byte {})",
                err.valid_up_to()
            )
        })?;
        if text.trim().is_empty() {
            return Err("not a static pod manifest: the file is empty".into());
        }
        let options = serde_saphyr::options! { with_snippet: false };
        let raw: RawPod = serde_saphyr::from_str_with_options(text, options)
            .map_err(|err| format!("not a static pod manifest: {}", one_line(&err.to_string())))?;
        if let Some(kind) = raw.kind.as_deref().filter(|kind| *kind != "Pod") {
            return Err(format!(
                "not a static pod manifest: kind is `{kind}`, not `Pod`"
            ));
        }
        let spec = raw
            .spec
            .ok_or("not a static pod manifest: it has no `spec`")?;
        let wanted = component.as_str();
        let container = match spec.containers.iter().find(|c| c.name == wanted) {
            Some(container) => container,
            None => match spec.containers.as_slice() {
                [only] => only,
                [] => return Err("the pod has no container".into()),
                _ => {
                    return Err(format!(
                        "the pod has {} containers and none is named `{wanted}`",
                        spec.containers.len()
                    ));
                }
            },
        };
        let mut mounts = Vec::new();
        for mount in &container.volume_mounts {
            let volume = spec
                .volumes
                .iter()
                .find(|volume| volume.name == mount.name)
                .ok_or_else(|| {
                    format!("volumeMount `{}` names no volume of the pod", mount.name)
                })?;
            let host_path = volume.host_path.as_ref().map(|host| {
                let base = PathBuf::from(&host.path);
                match mount.sub_path.as_deref().filter(|sub| !sub.is_empty()) {
                    Some(sub) => base.join(sub),
                    None => base,
                }
            });
            mounts.push(Mount {
                container_path: PathBuf::from(&mount.mount_path),
                host_path,
                volume: mount.name.clone(),
                read_only: mount.read_only,
            });
        }
        let command: Vec<String> = container
            .command
            .iter()
            .chain(&container.args)
            .cloned()
            .collect();
        if command.is_empty() {
            return Err("the container has no command".into());
        }
        Ok(Self {
            name: raw.metadata.name.unwrap_or_default(),
            command,
            mounts,
            host_network: spec.host_network,
        })
    }

    /// The value of `--name` as the component sees it: the last of
    /// `--name=value` or `--name value` (pflag's rule), `true` for a bare flag.
    pub fn flag(&self, name: &str) -> Option<&str> {
        let mut found = None;
        let mut args = self.command.iter().skip(1).peekable();
        while let Some(arg) = args.next() {
            let Some(rest) = arg.strip_prefix("--") else {
                continue;
            };
            match rest.split_once('=') {
                Some((flag, value)) if flag == name => found = Some(value),
                None if rest == name => {
                    found = match args.peek() {
                        Some(next) if !next.starts_with('-') => args.next().map(String::as_str),
                        _ => Some("true"),
                    };
                }
                Some(_) | None => {}
            }
        }
        found
    }

    /// The host path behind a path the container sees, through the mount that
    /// covers it most closely; `None` when no hostPath volume covers it (the
    /// file is then inside the container image or another kind of volume).
    pub fn host_path(&self, container_path: &Path) -> Option<PathBuf> {
        if !container_path.is_absolute() {
            return None;
        }
        let clean = normal(container_path);
        self.mounts
            .iter()
            .filter_map(|mount| {
                let rest = clean.strip_prefix(normal(&mount.container_path)).ok()?;
                Some((mount.container_path.components().count(), mount, rest))
            })
            .max_by_key(|(depth, _, _)| *depth)
            .and_then(|(_, mount, rest)| {
                let host = mount.host_path.as_ref()?;
                Some(if rest.as_os_str().is_empty() {
                    host.clone()
                } else {
                    host.join(rest)
                })
            })
    }
}

/// A path without `.` parts (kubelet joins mount paths lexically too).
fn normal(path: &Path) -> PathBuf {
    path.components()
        .filter(|part| !matches!(part, PathPart::CurDir))
        .collect()
}

/// Where a component listens, from `--bind-address` / `--secure-port` (or a
/// listen URL): the address to connect to on this node. An address that binds
/// every interface is reached on loopback.
pub fn connect_address(bind: Option<&str>, port: u16) -> Result<SocketAddr, String> {
    let ip = match bind.map(str::trim).filter(|bind| !bind.is_empty()) {
        None | Some("localhost") => IpAddr::V4(Ipv4Addr::LOCALHOST),
        Some(text) => {
            let ip: IpAddr = text
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse()
                .map_err(|_| format!("`{text}` is not an IP address"))?;
            loopback_for_any(ip)
        }
    };
    Ok(SocketAddr::new(ip, port))
}

/// Loopback in place of an address that binds every interface.
fn loopback_for_any(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        other => other,
    }
}

/// The address to reach one of etcd's comma-separated listen URLs on: a
/// loopback URL first, then one that binds every interface, then the first
/// HTTPS URL. Plain-HTTP URLs serve no certificate and are skipped.
pub fn listen_url_address(urls: &str) -> Result<SocketAddr, String> {
    let mut candidates = Vec::new();
    for url in urls.split(',').map(str::trim).filter(|url| !url.is_empty()) {
        let Some(rest) = url.strip_prefix("https://") else {
            continue;
        };
        let host_port = rest.split('/').next().unwrap_or_default();
        let Some((host, port)) = host_port.rsplit_once(':') else {
            return Err(format!("`{url}` names no port"));
        };
        let port: u16 = port
            .parse()
            .map_err(|_| format!("`{url}` has no valid port"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let ip = if host == "localhost" {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            host.parse::<IpAddr>()
                .map_err(|_| format!("`{url}` does not name an IP address"))?
        };
        candidates.push((ip, port));
    }
    let pick = candidates
        .iter()
        .find(|(ip, _)| ip.is_loopback())
        .or_else(|| candidates.iter().find(|(ip, _)| ip.is_unspecified()))
        .or_else(|| candidates.first())
        .ok_or_else(|| "no https:// URL".to_owned())?;
    Ok(SocketAddr::new(loopback_for_any(pick.0), pick.1))
}

fn one_line(message: &str) -> String {
    message.lines().next().unwrap_or_default().trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const APISERVER: &str = "\
apiVersion: v1
kind: Pod
metadata:
  name: kube-apiserver
  namespace: kube-system
spec:
  containers:
  - command:
    - kube-apiserver
    - --advertise-address=192.0.2.10
    - --secure-port=6443
    - --tls-cert-file=/etc/kubernetes/pki/apiserver.crt
    - --enable-admission-plugins=NodeRestriction
    - --secure-port=6444
    - --v
    - '4'
    - --profiling
    name: kube-apiserver
    volumeMounts:
    - mountPath: /etc/ssl/certs
      name: ca-certs
      readOnly: true
    - mountPath: /etc/kubernetes/pki
      name: k8s-certs
      readOnly: true
    - mountPath: /etc/kubernetes/pki/extra
      name: extra
    - mountPath: /cache
      name: cache
  hostNetwork: true
  volumes:
  - hostPath:
      path: /etc/ssl/certs
      type: DirectoryOrCreate
    name: ca-certs
  - hostPath:
      path: /srv/node/pki
      type: DirectoryOrCreate
    name: k8s-certs
  - hostPath:
      path: /srv/extra
    name: extra
  - emptyDir: {}
    name: cache
status: {}
";

    #[test]
    fn flags_follow_pflag_the_last_one_wins() {
        let pod = Pod::parse(APISERVER.as_bytes(), Component::KubeApiserver).unwrap();
        assert_eq!(pod.name, "kube-apiserver");
        assert!(pod.host_network);
        assert_eq!(pod.flag("secure-port"), Some("6444"));
        assert_eq!(
            pod.flag("tls-cert-file"),
            Some("/etc/kubernetes/pki/apiserver.crt")
        );
        assert_eq!(pod.flag("v"), Some("4"));
        assert_eq!(pod.flag("profiling"), Some("true"));
        assert_eq!(pod.flag("bind-address"), None);
        // The binary's own name is no flag.
        assert_eq!(pod.flag("kube-apiserver"), None);
    }

    #[test]
    fn container_paths_map_through_the_closest_hostpath_mount() {
        let pod = Pod::parse(APISERVER.as_bytes(), Component::KubeApiserver).unwrap();
        let host = |path: &str| pod.host_path(Path::new(path));
        assert_eq!(
            host("/etc/kubernetes/pki/apiserver.crt"),
            Some(PathBuf::from("/srv/node/pki/apiserver.crt"))
        );
        assert_eq!(
            host("/etc/kubernetes/pki/./etcd/ca.crt"),
            Some(PathBuf::from("/srv/node/pki/etcd/ca.crt"))
        );
        assert_eq!(
            host("/etc/kubernetes/pki/extra/x.crt"),
            Some(PathBuf::from("/srv/extra/x.crt"))
        );
        assert_eq!(
            host("/etc/kubernetes/pki"),
            Some(PathBuf::from("/srv/node/pki"))
        );
        // Not a prefix by path components.
        assert_eq!(host("/etc/kubernetes/pkix/a.crt"), None);
        // Inside the image, or in a volume that is no hostPath.
        assert_eq!(host("/usr/local/a.crt"), None);
        assert_eq!(host("/cache/a.crt"), None);
        assert_eq!(host("relative/a.crt"), None);
    }

    #[test]
    fn a_sub_path_is_part_of_the_host_path() {
        let yaml = "\
spec:
  containers:
  - name: kube-scheduler
    command: [kube-scheduler, --kubeconfig=/conf/scheduler.conf]
    volumeMounts:
    - {name: k, mountPath: /conf/scheduler.conf, subPath: scheduler.conf}
  volumes:
  - {name: k, hostPath: {path: /etc/kubernetes}}
";
        let pod = Pod::parse(yaml.as_bytes(), Component::KubeScheduler).unwrap();
        assert_eq!(
            pod.host_path(Path::new("/conf/scheduler.conf")),
            Some(PathBuf::from("/etc/kubernetes/scheduler.conf"))
        );
        assert!(!pod.host_network);
    }

    #[test]
    fn unusable_manifests_say_why_without_their_contents() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "the file is empty"),
            (b"\xff\xfe", "not UTF-8"),
            (b"kind: Deployment\nspec: {}\n", "kind is `Deployment`"),
            (b"kind: Pod\n", "no `spec`"),
            (b"spec: {containers: []}\n", "no container"),
            (
                b"spec: {containers: [{name: a, command: [a]}, {name: b, command: [b]}]}\n",
                "2 containers and none is named `etcd`",
            ),
            (
                b"spec: {containers: [{name: etcd, command: [etcd], volumeMounts: [{name: v, mountPath: /x}]}]}\n",
                "volumeMount `v` names no volume",
            ),
            (b"spec: {containers: [{name: etcd}]}\n", "no command"),
            (b"spec: [1, 2]\n", "not a static pod manifest"),
            (b"spec: {}\nspec: {}\n", "not a static pod manifest"),
        ];
        for (bytes, expected) in cases {
            let err = Pod::parse(bytes, Component::Etcd).unwrap_err();
            assert!(err.contains(expected), "{err:?} lacks {expected:?}");
            assert!(!err.contains('\n'), "{err:?}");
        }
    }

    #[test]
    fn listen_addresses_prefer_loopback_and_replace_any_with_it() {
        let addr = |text: &str| text.parse::<SocketAddr>().unwrap();
        assert_eq!(
            listen_url_address("https://127.0.0.1:2379,https://192.0.2.10:2379"),
            Ok(addr("127.0.0.1:2379"))
        );
        assert_eq!(
            listen_url_address("https://192.0.2.10:2380"),
            Ok(addr("192.0.2.10:2380"))
        );
        assert_eq!(
            listen_url_address("https://192.0.2.10:2379,https://0.0.0.0:2379"),
            Ok(addr("127.0.0.1:2379"))
        );
        assert_eq!(
            listen_url_address("https://[::]:2379"),
            Ok(addr("[::1]:2379"))
        );
        assert_eq!(
            listen_url_address("https://localhost:2379"),
            Ok(addr("127.0.0.1:2379"))
        );
        assert!(listen_url_address("http://127.0.0.1:2379").is_err());
        assert!(listen_url_address("https://etcd.example:2379").is_err());
        assert!(listen_url_address("https://127.0.0.1").is_err());
        assert_eq!(connect_address(None, 6443), Ok(addr("127.0.0.1:6443")));
        assert_eq!(
            connect_address(Some("0.0.0.0"), 10257),
            Ok(addr("127.0.0.1:10257"))
        );
        assert_eq!(connect_address(Some("::"), 6443), Ok(addr("[::1]:6443")));
        assert_eq!(
            connect_address(Some("192.0.2.10"), 6443),
            Ok(addr("192.0.2.10:6443"))
        );
        assert!(connect_address(Some("node-1"), 6443).is_err());
    }
}
