//! Malformed input: every file of `testdata/malformed/` (made by its `gen.sh`)
//! and a few cases made at run time (a folder, symlinks, a FIFO, a 50 MB file)
//! go through the real binary twice:
//!
//! - `kubecred inspect FILE -o json` (and `-o table`): exit 0, nothing on
//!   stderr, and the credential shows `"state": "malformed"` with a one-line
//!   `error` that starts with the file's path and says what is wrong;
//! - put in place of `pki/apiserver.crt` (`.crt`), `pki/apiserver.key` (`.key`)
//!   or `admin.conf` (`.conf`) of a generated host, `kubecred check -o json`:
//!   exit 2, exactly one `malformed` finding, on the right credential, whose
//!   message starts with the file's path; the host is unchanged on disk.

// A test harness: a failed setup step (a tempdir, a copy) stops the test.
#![allow(clippy::disallowed_methods, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io::Read as _;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_kubecred");
const NOW: &str = "2026-11-26T12:00:00Z";
/// Any single run taking longer than this is a failure (an alias bomb that
/// expands, a FIFO that blocks a read).
const TIMEOUT: Duration = Duration::from_secs(20);
const THREADS: usize = 8;

/// Words that must never reach an operator: parser API advice, panics.
const FORBIDDEN_IN_MESSAGES: &[&str] = &["DuplicateKeyPolicy", "from_str", "panicked"];

// ---------------------------------------------------------------------------
// The expectations

/// What `inspect FILE -o json` must show.
#[derive(Clone, Copy, Debug)]
enum Inspect {
    /// One credential, `"state": "malformed"`, `error` = `FILE: ...` containing this.
    Malformed(&'static str),
    /// As `Malformed`, but the file at fault is this sibling of FILE (a file
    /// the kubeconfig names).
    MalformedAt(&'static str, &'static str),
    /// One credential read fine: its `keyAlgorithm`.
    Present(&'static str),
    /// Read (JSON `"state": "present"`, this `keyAlgorithm`), but Go refuses
    /// it: the table's STATUS says `malformed`.
    Refused(&'static str),
    /// No credential at all: inspect reads a lone key (or public key) only as
    /// part of a certificate's pair, and a folder by its contents.
    Skipped,
}

/// What `check -o json` must report once FILE is in place.
#[derive(Clone, Copy, Debug)]
enum Check {
    /// One `malformed` finding, message = `PLACED PATH: ...` containing this.
    Malformed(&'static str),
    /// As `Malformed`, but the file at fault is this one (relative to the host).
    MalformedAt(&'static str, &'static str),
    /// Read as valid: no `malformed` finding; exactly these codes on the credential.
    Accepted(&'static [&'static str]),
    /// A valid key (algorithm, PEM label): no `malformed` finding; exactly these codes.
    AcceptedKey(&'static str, &'static str, &'static [&'static str]),
    /// Read (state present), but what Go refuses: one `malformed` finding whose
    /// message is `PLACED PATH: ...` containing this; exactly these codes.
    Refused(&'static str, &'static [&'static str]),
}

struct Case {
    file: &'static str,
    inspect: Inspect,
    check: Check,
}

const fn case(file: &'static str, inspect: Inspect, check: Check) -> Case {
    Case {
        file,
        inspect,
        check,
    }
}

const NOT_TEXT: &str = "not PEM: the file is not text (maybe DER or binary)";
const NO_PEM: &str = "no PEM block found";
const BAD_X509: &str = "not a valid X.509 certificate (";
const NO_CERT: &str = "no certificate in the file";
const NO_KEY: &str = "no private key in the file";
const VALID_CERT_ELSEWHERE: Check = Check::Accepted(&["key-mismatch", "not-signed-by-ca"]);
const VALID_CONF_ELSEWHERE: Check = Check::Accepted(&["ca-data-mismatch", "not-signed-by-ca"]);
/// A certificate of another pair, from another CA, that Go also refuses.
const REFUSED_CERT: &[&str] = &["key-mismatch", "malformed", "not-signed-by-ca"];
#[rustfmt::skip]
const CASES: &[Case] = &[
    // --- certificates: .crt -> pki/apiserver.crt --------------------------------
    case("empty-cert.crt", Inspect::Malformed("file is empty"), Check::Malformed("file is empty")),
    case("whitespace-only.crt", Inspect::Malformed(NO_PEM), Check::Malformed(NO_PEM)),
    case("no-pem-block.crt", Inspect::Malformed(NO_PEM), Check::Malformed(NO_PEM)),
    case("der-binary-cert.crt", Inspect::Malformed(NOT_TEXT), Check::Malformed(NOT_TEXT)),
    case("non-utf8-binary.crt", Inspect::Malformed(NOT_TEXT), Check::Malformed(NOT_TEXT)),
    case("bad-base64-cert.crt",
        Inspect::Malformed("bad base64 inside a PEM block"),
        Check::Malformed("bad base64 inside a PEM block")),
    case("truncated-mid-base64.crt",
        Inspect::Malformed("truncated PEM: no `-----END CERTIFICATE-----` line"),
        Check::Malformed("truncated PEM: no `-----END CERTIFICATE-----` line")),
    case("truncated-before-end-cert.crt",
        Inspect::Malformed("truncated PEM: no `-----END CERTIFICATE-----` line"),
        Check::Malformed("truncated PEM: no `-----END CERTIFICATE-----` line")),
    case("begin-end-label-mismatch.crt",
        Inspect::Malformed("no `-----END CERTIFICATE-----` line"),
        Check::Malformed("no `-----END CERTIFICATE-----` line")),
    case("truncated-der-with-end.crt", Inspect::Malformed(BAD_X509), Check::Malformed(BAD_X509)),
    case("der-garbage-in-pem.crt", Inspect::Malformed(BAD_X509), Check::Malformed(BAD_X509)),
    case("trailing-garbage-after-der.crt",
        Inspect::Malformed("16 bytes of trailing data after the certificate"),
        Check::Malformed("16 bytes of trailing data after the certificate")),
    case("unknown-label-foo.crt",
        Inspect::Malformed("unsupported PEM block `FOO`"),
        Check::Malformed("unsupported PEM block `FOO`")),
    case("csr-not-cert.crt",
        Inspect::Malformed("unsupported PEM block `CERTIFICATE REQUEST`"),
        Check::Malformed("unsupported PEM block `CERTIFICATE REQUEST`")),
    case("public-key-not-cert.crt",
        Inspect::Malformed(NO_CERT),
        Check::Malformed(NO_CERT)),
    case("private-key-not-cert.crt",
        Inspect::Malformed(NO_CERT),
        Check::Malformed(NO_CERT)),
    // A well-formed certificate of a key type kubeadm never uses: read as such.
    case("ed25519-cert.crt", Inspect::Present("Ed25519"), VALID_CERT_ELSEWHERE),
    // Valid: CRLF line endings are read as LF.
    case("crlf-line-endings-cert.crt", Inspect::Present("ECDSA-P256"), VALID_CERT_ELSEWHERE),
    case("latin1-comment-before-pem.crt",
        Inspect::Present("ECDSA-P256"),
        VALID_CERT_ELSEWHERE),
    // --- what Go parses but refuses (gen-hostile.sh): present, one malformed finding
    case("sha1-signed-leaf.crt", Inspect::Refused("ECDSA-P256"),
        Check::Refused("`x509: cannot verify signature: insecure algorithm SHA1-RSA`", REFUSED_CERT)),
    case("md5-signed-leaf.crt", Inspect::Refused("ECDSA-P256"),
        Check::Refused("`x509: cannot verify signature: insecure algorithm MD5-RSA`", REFUSED_CERT)),
    case("unknown-critical-extension.crt", Inspect::Refused("ECDSA-P256"),
        Check::Refused("critical extension 1.3.6.1.4.1.55555.1 that Go does not handle: Go components refuse the certificate (`x509: unhandled critical extension`)", REFUSED_CERT)),
    case("rsa-16384-leaf.crt", Inspect::Refused("RSA-16384"),
        Check::Refused("an RSA-16384 key: Go's TLS refuses it in a handshake (`tls: server sent certificate containing RSA key larger than 8192 bits`)", REFUSED_CERT)),
    // Go never verifies a root's own signature: a SHA-1 self-signed root is not refused.
    // (Its CN is the CA's, `kubernetes`, hence unexpected-identity at apiserver.)
    case("sha1-self-signed-root.crt", Inspect::Present("RSA-2048"),
        Check::Accepted(&["key-mismatch", "not-signed-by-ca", "unexpected-identity"])),
    // --- what Go's parser refuses: unreadable
    case("negative-serial.crt",
        Inspect::Malformed("negative serial number: Go refuses to parse it (`x509: negative serial number`)"),
        Check::Malformed("negative serial number: Go refuses to parse it (`x509: negative serial number`)")),
    case("ec-explicit-parameters-cert.crt",
        Inspect::Malformed("an EC key with explicit curve parameters: Go refuses to parse the certificate (`x509: invalid ECDSA parameters`)"),
        Check::Malformed("an EC key with explicit curve parameters: Go refuses to parse the certificate (`x509: invalid ECDSA parameters`)")),
    // --- odd but accepted, as Go accepts them
    // RFC 5280 allows 20 octets; Go and OpenSSL read 40.
    case("serial-40-bytes.crt", Inspect::Present("ECDSA-P256"), VALID_CERT_ELSEWHERE),
    // A weak key Go still accepts in a certificate: the key file is what is refused.
    case("rsa-1024-leaf.crt", Inspect::Present("RSA-1024"), VALID_CERT_ELSEWHERE),
    // No subject at all: kubeadm's identity for apiserver is CN=kube-apiserver.
    case("empty-subject.crt", Inspect::Present("ECDSA-P256"),
        Check::Accepted(&["key-mismatch", "not-signed-by-ca", "unexpected-identity"])),
    // 10,000 SANs in 530 KB: read in full, within the time limit.
    case("sans-10000.crt", Inspect::Present("ECDSA-P256"), VALID_CERT_ELSEWHERE),
    // --- private keys: .key -> pki/apiserver.key ---------------------------------
    case("ec-explicit-parameters.key", Inspect::Skipped,
        Check::Malformed("an EC key with explicit curve parameters (kubeadm and Go read only named curves)")),
    case("ec-explicit-parameters-pkcs8.key", Inspect::Skipped,
        Check::Malformed("an EC key with explicit curve parameters (kubeadm and Go read only named curves)")),
    case("rsa-1024.key", Inspect::Skipped,
        Check::Malformed("an RSA-1024 key: kubecred validates and signs with RSA keys of 2048 to 8192 bits only")),
    case("empty-key.key", Inspect::Malformed("file is empty"), Check::Malformed("file is empty")),
    case("der-binary-key.key", Inspect::Malformed(NOT_TEXT), Check::Malformed(NOT_TEXT)),
    case("bad-base64-key.key",
        Inspect::Malformed("bad base64 inside a PEM block"),
        Check::Malformed("bad base64 inside a PEM block")),
    case("truncated-before-end-key.key",
        Inspect::Malformed("truncated PEM: no `-----END PRIVATE KEY-----` line"),
        Check::Malformed("truncated PEM: no `-----END PRIVATE KEY-----` line")),
    case("encrypted-pkcs8.key",
        Inspect::Malformed("encrypted private key (kubeadm keys are not encrypted)"),
        Check::Malformed("encrypted private key (kubeadm keys are not encrypted)")),
    case("dsa-traditional.key",
        Inspect::Malformed("unsupported key type DSA (kubeadm uses RSA or ECDSA)"),
        Check::Malformed("unsupported key type DSA (kubeadm uses RSA or ECDSA)")),
    // `openssl genpkey -algorithm DSA` writes PKCS#8: framing is fine, so inspect
    // skips it as a lone key; check reads it as apiserver's key.
    case("dsa-pkcs8.key", Inspect::Skipped,
        Check::Malformed("`PRIVATE KEY` block is not a valid RSA or ECDSA key")),
    case("ed25519.key", Inspect::Skipped,
        Check::Malformed("unsupported key type Ed25519 (kubeadm uses RSA or ECDSA)")),
    case("ecdsa-p521.key",
        Inspect::Skipped,
        Check::Malformed("P-521")),
    case("ec-label-garbage-der.key", Inspect::Skipped,
        Check::Malformed("`EC PRIVATE KEY` block is not a valid RSA or ECDSA key")),
    case("public-key-only.key", Inspect::Skipped, Check::Malformed(NO_KEY)),
    // inspect reads files by content: a certificate in a .key file is shown as one.
    case("certificate-only.key", Inspect::Present("ECDSA-P256"), Check::Malformed(NO_KEY)),
    // VALID positive controls: read as keys (of another pair, hence key-mismatch).
    case("valid-rsa-pkcs8.key", Inspect::Skipped,
        Check::AcceptedKey("RSA-2048", "PRIVATE KEY", &["key-mismatch"])),
    case("crlf-line-endings-key.key", Inspect::Skipped,
        Check::AcceptedKey("ECDSA-P256", "PRIVATE KEY", &["key-mismatch"])),
    // --- kubeconfigs: .conf -> admin.conf ----------------------------------------
    case("empty-kubeconfig.conf",
        Inspect::Malformed("not a kubeconfig: the file is empty"),
        Check::Malformed("not a kubeconfig: the file is empty")),
    case("non-utf8-bytes.conf",
        Inspect::Malformed("not a kubeconfig: not UTF-8 text (byte "),
        Check::Malformed("not a kubeconfig: not UTF-8 text (byte ")),
    case("top-level-list.conf",
        Inspect::Malformed("not a kubeconfig: expected mapping start at line 1, column 1"),
        Check::Malformed("not a kubeconfig: expected mapping start at line 1, column 1")),
    case("plain-string.conf",
        Inspect::Malformed("not a kubeconfig: expected mapping start at line 1, column 1"),
        Check::Malformed("not a kubeconfig: expected mapping start at line 1, column 1")),
    case("tabs-invalid-syntax.conf",
        Inspect::Malformed("not a kubeconfig: tabs disallowed within this context"),
        Check::Malformed("not a kubeconfig: tabs disallowed within this context")),
    case("users-not-a-list.conf",
        Inspect::Malformed("not a kubeconfig: expected sequence start at line 15"),
        Check::Malformed("not a kubeconfig: expected sequence start at line 15")),
    case("duplicate-keys.conf",
        Inspect::Malformed("not a kubeconfig: duplicate mapping key: current-context"),
        Check::Malformed("not a kubeconfig: duplicate mapping key: current-context")),
    case("multi-document.conf",
        Inspect::Malformed("not a kubeconfig: multiple YAML documents"),
        Check::Malformed("not a kubeconfig: multiple YAML documents")),
    case("kind-pod.conf",
        Inspect::Malformed("not a kubeconfig: kind is `Pod`, not `Config`"),
        Check::Malformed("not a kubeconfig: kind is `Pod`, not `Config`")),
    // Stopped by serde-saphyr's budget, fast, without expanding the aliases.
    case("alias-bomb-billion-laughs.conf",
        Inspect::Malformed("not a kubeconfig: budget breached"),
        Check::Malformed("not a kubeconfig: budget breached")),
    case("deeply-nested-1000.conf",
        Inspect::Malformed("not a kubeconfig: recursion limit exceeded"),
        Check::Malformed("not a kubeconfig: recursion limit exceeded")),
    case("current-context-missing.conf",
        Inspect::Malformed("current-context `prod-admin@kubernetes` is not among the contexts"),
        Check::Malformed("current-context `prod-admin@kubernetes` is not among the contexts")),
    case("no-current-context.conf",
        Inspect::Malformed("no current-context"), Check::Malformed("no current-context")),
    case("token-only-user.conf",
        Inspect::Malformed("user `kubernetes-admin` has no client certificate"),
        Check::Malformed("user `kubernetes-admin` has no client certificate")),
    // The file at fault is the one the kubeconfig names.
    case("client-certificate-file-missing.conf",
        Inspect::MalformedAt("does-not-exist.crt", "client certificate file is absent"),
        Check::MalformedAt("does-not-exist.crt", "client certificate file is absent")),
    case("cert-data-not-base64.conf",
        Inspect::Malformed("`client-certificate-data` of `kubernetes-admin` is not valid base64"),
        Check::Malformed("`client-certificate-data` of `kubernetes-admin` is not valid base64")),
    case("cert-data-base64-of-text.conf",
        Inspect::Malformed("`client-certificate-data` of `kubernetes-admin`: no PEM block found"),
        Check::Malformed("`client-certificate-data` of `kubernetes-admin`: no PEM block found")),
    case("cert-data-base64-of-der.conf",
        Inspect::Malformed("`client-certificate-data` of `kubernetes-admin`: not PEM"),
        Check::Malformed("`client-certificate-data` of `kubernetes-admin`: not PEM")),
    case("key-data-not-base64.conf",
        Inspect::Malformed("`client-key-data` of `kubernetes-admin` is not valid base64"),
        Check::Malformed("`client-key-data` of `kubernetes-admin` is not valid base64")),
    // client-go's validation (clientcmd/validation.go), word for word.
    case("both-client-certificate-fields.conf",
        Inspect::Malformed("client-go (kubectl, every component) refuses it: `client-cert-data and client-cert are both specified for kubernetes-admin. client-cert-data will override.`"),
        Check::Malformed("client-go (kubectl, every component) refuses it: `client-cert-data and client-cert are both specified for kubernetes-admin. client-cert-data will override.`")),
    case("both-client-key-fields.conf",
        Inspect::Malformed("`client-key-data and client-key are both specified for kubernetes-admin; client-key-data will override`"),
        Check::Malformed("`client-key-data and client-key are both specified for kubernetes-admin; client-key-data will override`")),
    case("both-certificate-authority-fields.conf",
        Inspect::Malformed("`certificate-authority-data and certificate-authority are both specified for kubernetes. certificate-authority-data will override.`"),
        Check::Malformed("`certificate-authority-data and certificate-authority are both specified for kubernetes. certificate-authority-data will override.`")),
    // 5,000 users before the current one: read, in bounded time.
    case("users-5000.conf", Inspect::Present("ECDSA-P256"), VALID_CONF_ELSEWHERE),
    // YAML tags: `!!binary` turns the base64 into raw PEM, which is then not
    // base64 (kubectl's YAML reader fails the same way); an unknown
    // `!!python/object` tag on a field kubecred does not read is kept as text,
    // never run.
    case("yaml-binary-tag.conf",
        Inspect::Malformed("`client-certificate-data` of `kubernetes-admin` is not valid base64"),
        Check::Malformed("`client-certificate-data` of `kubernetes-admin` is not valid base64")),
    case("yaml-python-object-tag.conf", Inspect::Present("ECDSA-P256"), VALID_CONF_ELSEWHERE),
    // Merge keys (`<<: *anchor`), which kubectl's YAML 1.1 reader resolves too.
    case("yaml-merge-keys.conf", Inspect::Present("ECDSA-P256"), VALID_CONF_ELSEWHERE),
    // Valid YAML: JSON is YAML, and a UTF-8 BOM is allowed. Both are read.
    case("json-not-yaml.conf", Inspect::Present("ECDSA-P256"), VALID_CONF_ELSEWHERE),
    case("utf8-bom.conf", Inspect::Present("ECDSA-P256"), VALID_CONF_ELSEWHERE),
];

// ---------------------------------------------------------------------------
// The tests

#[test]
fn corpus_and_table_agree() {
    let dir = corpus_dir();
    assert!(
        dir.join("gen.sh").is_file(),
        "testdata/malformed/gen.sh is missing"
    );
    let mut on_disk: Vec<String> = fs::read_dir(&dir)
        .expect("read testdata/malformed")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| {
            Path::new(name)
                .extension()
                .is_some_and(|ext| ext == "crt" || ext == "key" || ext == "conf")
        })
        .collect();
    on_disk.sort();
    let mut in_table: Vec<String> = CASES.iter().map(|case| case.file.to_owned()).collect();
    in_table.sort();
    assert_eq!(on_disk, in_table, "testdata/malformed/ and CASES differ");
    assert!(CASES.len() >= 35, "only {} corpus files", CASES.len());
    // inspect reads `X.key` next to `X.crt`: no two files may share a stem.
    let mut stems: Vec<&str> = CASES
        .iter()
        .map(|case| {
            case.file
                .rsplit_once('.')
                .map_or(case.file, |(stem, _)| stem)
        })
        .collect();
    stems.sort_unstable();
    let before = stems.len();
    stems.dedup();
    assert_eq!(before, stems.len(), "two corpus files share a stem");
}

#[test]
fn the_copied_host_is_healthy() {
    let host = base_host();
    // The demo host warns (admin.conf in system:masters, an expiring cert) but
    // nothing is critical: every exit 2 below comes from the case itself.
    assert_eq!(host.baseline_exit, 1, "baseline check: {:?}", host.baseline);
    assert!(
        host.baseline.iter().all(|(_, code)| code != "malformed"),
        "baseline has malformed findings: {:?}",
        host.baseline
    );
}

#[test]
fn inspect_names_every_malformed_file() {
    let dir = corpus_dir();
    let failures = parallel(CASES, |case| {
        let path = dir.join(case.file);
        let mut problems = inspect_json(&path, case.inspect);
        problems.extend(inspect_table(&path, case.inspect));
        label(case.file, problems)
    });
    report(&failures);
}

#[test]
fn check_reports_every_malformed_file_and_changes_nothing() {
    let dir = corpus_dir();
    let failures = parallel(CASES, |case| {
        let (credential, target) = placement(case.file);
        let bytes = fs::read(dir.join(case.file)).expect("read corpus file");
        let problems = check_case(
            |root| {
                let target = root.join(target);
                fs::remove_file(&target).expect("remove the original");
                fs::write(&target, &bytes).expect("place the case");
                let mode = if target.extension().is_some_and(|ext| ext == "crt") {
                    0o644
                } else {
                    0o600
                };
                fs::set_permissions(&target, fs::Permissions::from_mode(mode)).expect("chmod");
            },
            credential,
            target,
            case.check,
        );
        label(case.file, problems)
    });
    report(&failures);
}

/// A case made at run time: how to break the host, and what check must say.
struct RuntimeCheck {
    name: &'static str,
    setup: fn(&Path),
    credential: &'static str,
    /// The credential's file, relative to the host.
    target: &'static str,
    check: Check,
}

const RUNTIME_CHECKS: &[RuntimeCheck] = &[
    RuntimeCheck {
        name: "a folder at pki/apiserver.crt",
        setup: |root| replace_with_dir(&root.join("pki/apiserver.crt")),
        credential: "apiserver",
        target: "pki/apiserver.crt",
        check: Check::Malformed("is a directory, expected a file"),
    },
    RuntimeCheck {
        name: "a folder at admin.conf",
        setup: |root| replace_with_dir(&root.join("admin.conf")),
        credential: "admin.conf",
        target: "admin.conf",
        check: Check::Malformed("is a directory, expected a file"),
    },
    RuntimeCheck {
        name: "a dangling symlink at pki/apiserver.key",
        setup: |root| {
            let key = root.join("pki/apiserver.key");
            fs::remove_file(&key).expect("rm");
            symlink("/nonexistent/apiserver.key", &key).expect("symlink");
        },
        credential: "apiserver",
        target: "pki/apiserver.key",
        check: Check::Malformed(
            "is a symbolic link to /nonexistent/apiserver.key; kubeadm writes a regular file here",
        ),
    },
    RuntimeCheck {
        name: "a symlink (to a valid copy) where kubeadm writes pki/apiserver.crt",
        setup: |root| {
            let crt = root.join("pki/apiserver.crt");
            fs::rename(&crt, root.join("pki/apiserver-real.crt")).expect("mv");
            symlink("apiserver-real.crt", &crt).expect("symlink");
        },
        credential: "apiserver",
        target: "pki/apiserver.crt",
        check: Check::Malformed(
            "is a symbolic link to apiserver-real.crt; kubeadm writes a regular file here",
        ),
    },
    RuntimeCheck {
        name: "a dangling kubelet-client-current.pem (a symlink kubelet.conf names)",
        setup: |root| {
            let current = root.join("kubelet/pki/kubelet-client-current.pem");
            let target = fs::read_link(&current).expect("readlink");
            fs::remove_file(target).expect("rm the rotated certificate");
        },
        credential: "kubelet.conf",
        target: "kubelet.conf",
        check: Check::MalformedAt(
            "kubelet/pki/kubelet-client-current.pem",
            "dangling symbolic link to ",
        ),
    },
    RuntimeCheck {
        name: "a FIFO at pki/apiserver.crt",
        setup: |root| replace_with_fifo(&root.join("pki/apiserver.crt")),
        credential: "apiserver",
        target: "pki/apiserver.crt",
        check: Check::Malformed("is not a regular file"),
    },
    RuntimeCheck {
        name: "a FIFO at admin.conf",
        setup: |root| replace_with_fifo(&root.join("admin.conf")),
        credential: "admin.conf",
        target: "admin.conf",
        check: Check::Malformed("is not a regular file"),
    },
    RuntimeCheck {
        name: "a 50 MB (sparse) admin.conf",
        setup: |root| {
            let conf = root.join("admin.conf");
            fs::remove_file(&conf).expect("rm");
            make_big(&conf);
        },
        credential: "admin.conf",
        target: "admin.conf",
        check: Check::Malformed(
            "too large (52428800 bytes; a credential file is at most 1048576 bytes)",
        ),
    },
    RuntimeCheck {
        name: "a 50 MB (sparse) pki/apiserver.key",
        setup: |root| {
            let key = root.join("pki/apiserver.key");
            fs::remove_file(&key).expect("rm");
            make_big(&key);
            fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).expect("chmod");
        },
        credential: "apiserver",
        target: "pki/apiserver.key",
        check: Check::Malformed(
            "too large (52428800 bytes; a credential file is at most 1048576 bytes)",
        ),
    },
];

#[test]
fn check_reports_runtime_cases_and_changes_nothing() {
    let failures = parallel(RUNTIME_CHECKS, |case| {
        label(
            case.name,
            check_case(case.setup, case.credential, case.target, case.check),
        )
    });
    report(&failures);
}

/// Corrupted keys and swapped files, made at run time from the host's own files.
const HOSTILE_CHECKS: &[RuntimeCheck] = &[
    RuntimeCheck {
        name: "one bit of pki/apiserver.key's private scalar flipped",
        // SEC1: SEQUENCE, INTEGER 1, OCTET STRING: the scalar starts at byte 7.
        setup: |root| flip_der_bit(&root.join("pki/apiserver.key"), 7 + 20, 3),
        credential: "apiserver",
        target: "pki/apiserver.key",
        check: Check::Malformed(
            "`EC PRIVATE KEY` block holds an invalid key: its private scalar is out of range or its public point is not that scalar's (corrupted?)",
        ),
    },
    RuntimeCheck {
        name: "one bit of pki/apiserver.key's public point flipped",
        setup: |root| flip_der_bit(&root.join("pki/apiserver.key"), 100, 0),
        credential: "apiserver",
        target: "pki/apiserver.key",
        check: Check::Malformed("(corrupted?)"),
    },
    RuntimeCheck {
        name: "a kubeadm RSA-2048 key with one bit of its private exponent flipped",
        setup: |root| {
            let key = root.join("pki/apiserver.key");
            fs::copy(kubeadm_rsa_key(), &key).expect("cp");
            // PKCS#1: version, n (257 bytes), e, then d from about byte 276.
            flip_der_bit(&key, 400, 5);
        },
        credential: "apiserver",
        target: "pki/apiserver.key",
        check: Check::Malformed(
            "`RSA PRIVATE KEY` block holds an invalid key: its modulus, exponents, primes and CRT values do not agree (corrupted?)",
        ),
    },
    RuntimeCheck {
        name: "a kubeadm RSA-2048 key with one bit of a CRT value flipped",
        setup: |root| {
            let key = root.join("pki/apiserver.key");
            fs::copy(kubeadm_rsa_key(), &key).expect("cp");
            let len = fs::read_to_string(&key).map_or(0, |pem| pem_der(&pem).len());
            flip_der_bit(&key, len - 10, 1);
        },
        credential: "apiserver",
        target: "pki/apiserver.key",
        check: Check::Malformed("do not agree (corrupted?)"),
    },
    RuntimeCheck {
        name: "pki/apiserver.crt and pki/apiserver.key swapped",
        setup: |root| {
            let crt = root.join("pki/apiserver.crt");
            let key = root.join("pki/apiserver.key");
            let (cert, private) = (fs::read(&crt).expect("read"), fs::read(&key).expect("read"));
            fs::write(&crt, private).expect("write");
            fs::write(&key, cert).expect("write");
        },
        credential: "apiserver",
        target: "pki/apiserver.crt",
        check: Check::Malformed(NO_CERT),
    },
];

#[test]
fn check_reports_corrupted_keys_and_changes_nothing() {
    let failures = parallel(HOSTILE_CHECKS, |case| {
        label(
            case.name,
            check_case(case.setup, case.credential, case.target, case.check),
        )
    });
    report(&failures);
}

/// `ca.crt` may hold a bundle (a CA rotation in progress): like kubeadm's
/// `TryLoadCertFromDisk`, kubecred takes the first certificate as the CA.
#[test]
fn ca_bundle_is_read_by_its_first_certificate() {
    let host = base_host();
    let other_ca = corpus_ca();
    // The CA first, another after: nothing changes.
    let (run, _, unchanged) = run_on_copy(
        |root| {
            let ca = root.join("pki/ca.crt");
            let mut bundle = fs::read(&ca).expect("read");
            bundle.extend_from_slice(&other_ca);
            fs::write(&ca, bundle).expect("write");
        },
        &["check", "-o", "json"],
    );
    assert!(unchanged, "check changed the host");
    assert_eq!(run.code, Some(host.baseline_exit), "{}", run.stderr);
    assert_eq!(findings_of(&run), host.baseline);
    // Another CA first: ca.key is not its key, and nothing chains to it.
    let (run, _, unchanged) = run_on_copy(
        |root| {
            let ca = root.join("pki/ca.crt");
            let mut bundle = other_ca.clone();
            bundle.extend_from_slice(&fs::read(&ca).expect("read"));
            fs::write(&ca, bundle).expect("write");
        },
        &["check", "-o", "json"],
    );
    assert!(unchanged, "check changed the host");
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    let findings = findings_of(&run);
    assert!(
        findings.contains(&("ca".into(), "key-mismatch".into())),
        "{findings:?}"
    );
    assert!(
        findings.contains(&("apiserver".into(), "not-signed-by-ca".into())),
        "{findings:?}"
    );
}

/// Go refuses to chain through a CA certificate without basicConstraints
/// CA:TRUE: check names it, and renew refuses to sign with it.
#[test]
fn ca_without_basic_constraints_is_named() {
    let (run, _, unchanged) = run_on_copy(
        ca_without_basic_constraints,
        &["renew", "apiserver", "--yes"],
    );
    assert!(unchanged, "renew changed the host");
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains("without basicConstraints CA:TRUE"),
        "{}",
        run.stderr
    );
    let (run, tmp, unchanged) = run_on_copy(ca_without_basic_constraints, &["check", "-o", "json"]);

    assert!(unchanged, "check changed the host");
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    let doc: Value = serde_json::from_str(&run.stdout).expect("JSON");
    let on_ca: Vec<&Value> = doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["credential"] == "ca" && f["code"] == "malformed")
        .collect();
    let [finding] = on_ca.as_slice() else {
        panic!("expected one malformed finding on ca: {on_ca:?}");
    };
    let message = text(&finding["message"]);
    let problems = expect_message(
        "message",
        &message,
        &tmp.path().join("host/pki/ca.crt"),
        "a CA certificate without basicConstraints CA:TRUE (no basicConstraints extension): Go refuses every certificate it signed (`x509: invalid signature: parent certificate cannot sign this kind of certificate`)",
    );
    report(&problems);
}

/// Replaces `pki/ca.crt` by a certificate of the same key and CN, without basicConstraints.
fn ca_without_basic_constraints(root: &Path) {
    let ca = root.join("pki/ca.crt");
    let key = fs::read_to_string(root.join("pki/ca.key")).expect("read");
    let key = rcgen::KeyPair::from_pem(&key).expect("CA key");
    let mut params = rcgen::CertificateParams::new(Vec::new()).expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "kubernetes");
    params.is_ca = rcgen::IsCa::NoCa;
    let cert = params.self_signed(&key).expect("sign");
    fs::write(&ca, cert.pem()).expect("write");
}

/// Go refuses to chain through a CA certificate whose keyUsage lacks
/// keyCertSign (`CheckSignatureFrom`), as openssl does: check names it, and
/// renew refuses to sign with it.
#[test]
fn ca_key_usage_without_cert_sign_is_named() {
    let (run, _, unchanged) = run_on_copy(ca_without_cert_sign, &["renew", "apiserver", "--yes"]);
    assert!(unchanged, "renew changed the host");
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains("keyUsage lacks keyCertSign"),
        "{}",
        run.stderr
    );
    let (run, tmp, unchanged) = run_on_copy(ca_without_cert_sign, &["check", "-o", "json"]);
    assert!(unchanged, "check changed the host");
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    // The independent judge: openssl refuses the CA too.
    let root = tmp.path().join("host");
    let verify = Command::new("openssl")
        .args(["verify", "-attime", "1795694400", "-CAfile"])
        .arg(root.join("pki/ca.crt"))
        .arg(root.join("pki/apiserver.crt"))
        .output()
        .expect("openssl is needed by this test");
    let said = String::from_utf8_lossy(&verify.stdout).into_owned()
        + &String::from_utf8_lossy(&verify.stderr);
    assert!(!verify.status.success(), "openssl accepts the CA: {said}");
    assert!(said.contains("invalid CA certificate"), "{said}");
    let doc: Value = serde_json::from_str(&run.stdout).expect("JSON");
    let on_ca: Vec<&Value> = doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["credential"] == "ca" && f["code"] == "malformed")
        .collect();
    let [finding] = on_ca.as_slice() else {
        panic!("expected one malformed finding on ca: {on_ca:?}");
    };
    let problems = expect_message(
        "message",
        &text(&finding["message"]),
        &root.join("pki/ca.crt"),
        "a CA certificate whose keyUsage lacks keyCertSign: Go refuses every certificate it signed (`x509: invalid signature: parent certificate cannot sign this kind of certificate`)",
    );
    report(&problems);
}

/// Replaces `pki/ca.crt` by a CA:TRUE certificate of the same key and CN whose
/// keyUsage is digitalSignature and keyEncipherment only, valid around the test clock.
fn ca_without_cert_sign(root: &Path) {
    let key = fs::read_to_string(root.join("pki/ca.key")).expect("read");
    let key = rcgen::KeyPair::from_pem(&key).expect("CA key");
    let mut params = rcgen::CertificateParams::new(Vec::new()).expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "kubernetes");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::KeyEncipherment,
    ];
    params.not_before = rcgen::date_time_ymd(2025, 11, 26);
    params.not_after = rcgen::date_time_ymd(2035, 11, 26);
    let cert = params.self_signed(&key).expect("sign");
    fs::write(root.join("pki/ca.crt"), cert.pem()).expect("write");
}

/// A private key block in a file read as a certificate is flagged: critical
/// when the file is readable by group or others, a warning otherwise; the
/// message names the place and never carries the key.
#[test]
fn private_key_in_a_certificate_file_is_flagged() {
    struct KeyCase {
        name: &'static str,
        setup: fn(&Path),
        credential: &'static str,
        severity: &'static str,
        at: &'static str,
        field: Option<&'static str>,
    }
    let cases = [
        KeyCase {
            name: "key appended to apiserver.crt (0644)",
            setup: |root| {
                let key = fs::read(root.join("pki/apiserver.key")).expect("read");
                let mut crt = fs::read(root.join("pki/apiserver.crt")).expect("read");
                crt.extend(key);
                fs::write(root.join("pki/apiserver.crt"), crt).expect("write");
            },
            credential: "apiserver",
            severity: "critical",
            at: "pki/apiserver.crt",
            field: None,
        },
        KeyCase {
            name: "key before the certificate in apiserver.crt (0644)",
            setup: |root| {
                let mut key = fs::read(root.join("pki/apiserver.key")).expect("read");
                key.extend(fs::read(root.join("pki/apiserver.crt")).expect("read"));
                fs::write(root.join("pki/apiserver.crt"), key).expect("write");
            },
            credential: "apiserver",
            severity: "critical",
            at: "pki/apiserver.crt",
            field: None,
        },
        KeyCase {
            name: "key appended to apiserver.crt (0600)",
            setup: |root| {
                let key = fs::read(root.join("pki/apiserver.key")).expect("read");
                let mut crt = fs::read(root.join("pki/apiserver.crt")).expect("read");
                crt.extend(key);
                let path = root.join("pki/apiserver.crt");
                fs::write(&path, crt).expect("write");
                fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
            },
            credential: "apiserver",
            severity: "warning",
            at: "pki/apiserver.crt",
            field: None,
        },
        KeyCase {
            name: "key inside admin.conf's certificate-authority-data",
            setup: |root| {
                use base64::Engine as _;
                let mut ca = fs::read(root.join("pki/ca.crt")).expect("read");
                ca.extend(fs::read(root.join("pki/apiserver.key")).expect("read"));
                let data = base64::engine::general_purpose::STANDARD.encode(ca);
                let path = root.join("admin.conf");
                let text = fs::read_to_string(&path).expect("read");
                let text: String = text
                    .lines()
                    .map(
                        |line| match line.split_once("certificate-authority-data: ") {
                            Some((indent, _)) => {
                                format!("{indent}certificate-authority-data: {data}\n")
                            }
                            None => format!("{line}\n"),
                        },
                    )
                    .collect();
                fs::write(&path, text).expect("write");
            },
            credential: "admin.conf",
            severity: "warning",
            at: "admin.conf",
            field: Some("`certificate-authority-data` of `kubernetes`"),
        },
    ];
    let mut failures = Vec::new();
    for case in &cases {
        let (run, tmp, unchanged) = run_on_copy(case.setup, &["check", "-o", "json"]);
        let root = tmp.path().join("host");
        let mut problems = Vec::new();
        if !unchanged {
            problems.push("check changed the host".to_owned());
        }
        let key = fs::read_to_string(root.join("pki/apiserver.key")).expect("read");
        for line in key.lines().filter(|line| !line.starts_with("-----")) {
            if run.stdout.contains(line) || run.stderr.contains(line) {
                problems.push("the output carries the private key".to_owned());
                break;
            }
        }
        let doc: Value = serde_json::from_str(&run.stdout).expect("JSON");
        let found: Vec<&Value> = doc["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter(|f| {
                f["credential"] == case.credential
                    && f["code"] == "insecure-permissions"
                    && text(&f["message"]).contains("holds a private key")
            })
            .collect();
        match found.as_slice() {
            [finding] => {
                expect_eq(
                    &mut problems,
                    "severity",
                    &finding["severity"],
                    case.severity,
                );
                let reason = match case.field {
                    Some(field) => format!("{field}: holds a private key"),
                    None => "holds a private key".to_owned(),
                };
                problems.extend(expect_message(
                    "message",
                    &text(&finding["message"]),
                    &root.join(case.at),
                    &reason,
                ));
            }
            _ => problems.push(format!(
                "expected one insecure-permissions finding about the key on {}: {}",
                case.credential, run.stdout
            )),
        }
        if !problems.is_empty() {
            failures.extend(label(case.name, problems));
        }
    }
    report(&failures);
}

/// `openssl ecparam -genkey` writes `EC PARAMETERS` before the key; Go skips
/// that block, so the key is read as it is and nothing is flagged.
#[test]
fn ec_parameters_before_the_key_are_skipped() {
    let prepend = |root: &Path| {
        let path = root.join("pki/apiserver.key");
        let params = Command::new("openssl")
            .args(["ecparam", "-name", "prime256v1"])
            .output()
            .expect("openssl is needed by this test");
        assert!(params.status.success());
        let mut bytes = params.stdout;
        bytes.extend(fs::read(&path).expect("read"));
        fs::write(&path, bytes).expect("write");
    };
    let (run, _, unchanged) = run_on_copy(prepend, &["check", "-o", "json"]);
    assert!(unchanged, "check changed the host");
    let doc: Value = serde_json::from_str(&run.stdout).expect("JSON");
    let baseline = &base_host().baseline;
    assert_eq!(&findings_of(&run), baseline, "{}", run.stdout);
    assert_eq!(run.code, Some(base_host().baseline_exit), "{}", run.stderr);
    let apiserver = doc["credentials"]
        .as_array()
        .and_then(|list| list.iter().find(|c| c["name"] == "apiserver"))
        .expect("apiserver");
    assert_eq!(apiserver["key"]["state"], "present", "{apiserver}");
    assert_eq!(apiserver["key"]["matchesCertificate"], true, "{apiserver}");
}

/// A leaf signed with MD5 by the host's own CA: its signature is valid
/// (openssl, allowed MD5, verifies it), so check reports Go's refusal of MD5
/// and does not claim the signature fails.
#[test]
fn md5_signed_leaf_of_the_ca_is_not_called_unsigned() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("host");
    let run = kubecred(&[
        "--no-copies".as_ref(),
        "demo".as_ref(),
        root.as_os_str(),
        "--key-algorithm".as_ref(),
        "rsa-2048".as_ref(),
    ]);
    assert_eq!(run.code, Some(0), "demo failed: {}", run.stderr);
    let work = tmp.path().join("ca");
    fs::create_dir(&work).expect("mkdir");
    fs::write(work.join("index.txt"), "").expect("write");
    fs::write(work.join("serial"), "1000\n").expect("write");
    fs::write(
        work.join("ca.cnf"),
        "[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\npolicy = p\nunique_subject = no\n[p]\ncommonName = supplied\n",
    )
    .expect("write");
    let openssl = |args: &[&OsStr]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(&work)
            .output()
            .expect("openssl is needed by this test");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let pki = root.join("pki");
    let (key, ca, ca_key, crt) = (
        pki.join("apiserver.key"),
        pki.join("ca.crt"),
        pki.join("ca.key"),
        pki.join("apiserver.crt"),
    );
    openssl(&[
        "req".as_ref(),
        "-new".as_ref(),
        "-key".as_ref(),
        key.as_os_str(),
        "-subj".as_ref(),
        "/CN=kube-apiserver".as_ref(),
        "-out".as_ref(),
        "leaf.csr".as_ref(),
    ]);
    // `openssl ca` takes fixed dates: the certificate does not depend on today.
    openssl(&[
        "ca".as_ref(),
        "-batch".as_ref(),
        "-config".as_ref(),
        "ca.cnf".as_ref(),
        "-in".as_ref(),
        "leaf.csr".as_ref(),
        "-out".as_ref(),
        crt.as_os_str(),
        "-md".as_ref(),
        "md5".as_ref(),
        "-startdate".as_ref(),
        "20261101000000Z".as_ref(),
        "-enddate".as_ref(),
        "20271101000000Z".as_ref(),
        "-keyfile".as_ref(),
        ca_key.as_os_str(),
        "-cert".as_ref(),
        ca.as_os_str(),
        "-notext".as_ref(),
    ]);
    fs::set_permissions(&crt, fs::Permissions::from_mode(0o644)).expect("chmod");
    // The independent judge: the signature is the CA's.
    openssl(&[
        "verify".as_ref(),
        "-auth_level".as_ref(),
        "0".as_ref(),
        "-attime".as_ref(),
        "1795694400".as_ref(),
        "-CAfile".as_ref(),
        ca.as_os_str(),
        crt.as_os_str(),
    ]);
    let run = kubecred(&[
        "--kubernetes-dir".as_ref(),
        root.as_os_str(),
        "--no-copies".as_ref(),
        "check".as_ref(),
        "-o".as_ref(),
        "json".as_ref(),
    ]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    let doc: Value = serde_json::from_str(&run.stdout).expect("JSON");
    let on_apiserver: Vec<(String, String)> = doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["credential"] == "apiserver")
        .map(|f| (text(&f["code"]), text(&f["message"])))
        .collect();
    let [(code, message)] = on_apiserver.as_slice() else {
        panic!("expected only Go's refusal on apiserver: {on_apiserver:?}");
    };
    assert_eq!(code, "malformed");
    report(&expect_message(
        "message",
        message,
        &crt,
        "`x509: cannot verify signature: insecure algorithm MD5-RSA`",
    ));
    let apiserver = doc["credentials"]
        .as_array()
        .and_then(|list| list.iter().find(|c| c["name"] == "apiserver"))
        .expect("apiserver");
    assert_eq!(apiserver["signatureValid"], Value::Null, "{apiserver}");
}

/// No `pki/` at all: every PKI credential is missing; renew refuses and writes nothing.
#[test]
fn pki_missing_entirely() {
    let (run, _, unchanged) = run_on_copy(
        |root| fs::remove_dir_all(root.join("pki")).expect("rm -r pki"),
        &["check", "-o", "json"],
    );
    assert!(unchanged, "check changed the host");
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    let findings = findings_of(&run);
    for name in [
        "ca",
        "apiserver",
        "front-proxy-ca",
        "front-proxy-client",
        "sa",
    ] {
        assert!(
            findings.contains(&(name.into(), "missing".into())),
            "{name}: {findings:?}"
        );
    }
    let (run, _, unchanged) = run_on_copy(
        |root| fs::remove_dir_all(root.join("pki")).expect("rm -r pki"),
        &["renew", "all", "--yes"],
    );
    assert!(unchanged, "renew changed the host");
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stderr.contains("ca.crt"), "{}", run.stderr);
}

/// renew never signs with a CA key that aws-lc refuses, and changes nothing.
#[test]
fn renew_refuses_a_corrupted_ca_key() {
    let (run, tmp, unchanged) = run_on_copy(
        |root| flip_der_bit(&root.join("pki/ca.key"), 7 + 5, 0),
        &["renew", "apiserver", "--yes"],
    );
    assert!(unchanged, "renew changed the host");
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let first = run.stderr.lines().next().unwrap_or_default();
    assert!(first.contains("(corrupted?)"), "{first}");
    assert!(
        first.ends_with(&format!(
            "({})",
            tmp.path().join("host/pki/ca.key").display()
        )),
        "{first}"
    );
}

/// An independent judge: for single-bit flips spread across an RSA-2048 key
/// (kubeadm's) and an ECDSA P-256 key (the host's), kubecred and
/// `openssl pkey -check` both refuse every flipped key and accept both originals.
#[test]
fn openssl_refuses_the_keys_kubecred_calls_corrupted() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let host = tmp.path().join("host");
    base_host().copy_to(&host);
    let originals = [kubeadm_rsa_key(), host.join("pki/apiserver.key")];
    let mut problems = Vec::new();
    for (number, original) in originals.iter().enumerate() {
        if !openssl_check(original) {
            problems.push(format!(
                "openssl refuses the original {}",
                original.display()
            ));
        }
        if let Err(reason) = key_verdict(original) {
            problems.push(format!(
                "kubecred refuses the original {}: {reason}",
                original.display()
            ));
        }
        let der_len = pem_der(&fs::read_to_string(original).expect("read")).len();
        // About 24 positions from the first byte to the last, a different bit each.
        let positions: Vec<usize> = (0..der_len).step_by(der_len / 24 + 1).collect();
        for (step, index) in positions.iter().enumerate() {
            let bit = u8::try_from(step % 8).expect("bit");
            let flipped = tmp.path().join(format!("key-{number}-{index}-{bit}.key"));
            fs::copy(original, &flipped).expect("cp");
            flip_der_bit(&flipped, *index, bit);
            let ours = key_verdict(&flipped);
            let theirs = openssl_check(&flipped);
            if ours.is_ok() {
                problems.push(format!(
                    "{}: byte {index} bit {bit} flipped is read as a key",
                    original.display()
                ));
            }
            if theirs {
                problems.push(format!(
                    "{}: byte {index} bit {bit} flipped: openssl accepts what kubecred refuses ({ours:?})",
                    original.display()
                ));
            }
        }
    }
    report(&problems);
}

/// kubecred's verdict on a key file, through `inspect` of a certificate
/// beside it (in a folder of its own): the key's state and error.
fn key_verdict(key: &Path) -> Result<(), String> {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let crt = dir.join("pair.crt");
    fs::copy(corpus_dir().join("crlf-line-endings-cert.crt"), &crt).expect("cp");
    fs::copy(key, dir.join("pair.key")).expect("cp");
    let run = kubecred(&[
        "--no-copies".as_ref(),
        "inspect".as_ref(),
        crt.as_os_str(),
        "-o".as_ref(),
        "json".as_ref(),
    ]);
    let doc: Value = serde_json::from_str(&run.stdout).expect("inspect JSON");
    let state = &doc["credentials"][0]["key"];
    if state["state"] == "malformed" {
        Err(text(&state["error"]))
    } else {
        Ok(())
    }
}

/// Whether `openssl pkey -check` accepts the key file.
fn openssl_check(key: &Path) -> bool {
    Command::new("openssl")
        .args(["pkey", "-check", "-noout", "-in"])
        .arg(key)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run openssl")
        .success()
}

/// Copies the host, breaks it with `setup`, runs kubecred `args` on it: the
/// run, the copy's folder (`host` in it), and whether it is unchanged on disk.
fn run_on_copy(setup: impl FnOnce(&Path), args: &[&str]) -> (Run, tempfile::TempDir, bool) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("host");
    let state = tmp.path().join("state");
    base_host().copy_to(&root);
    setup(&root);
    let before = snapshot(&root);
    let mut all: Vec<&OsStr> = vec![
        "--kubernetes-dir".as_ref(),
        root.as_os_str(),
        "--state-dir".as_ref(),
        state.as_os_str(),
        "--no-copies".as_ref(),
    ];
    all.extend(args.iter().map(OsStr::new));
    let run = kubecred(&all);
    let unchanged = snapshot(&root) == before;
    (run, tmp, unchanged)
}

fn findings_of(run: &Run) -> Vec<(String, String)> {
    let doc: Value = serde_json::from_str(&run.stdout).expect("check JSON");
    doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| (text(&f["credential"]), text(&f["code"])))
        .collect()
}

/// A certificate that is not the host's CA: the corpus's self-signed Ed25519 one.
fn corpus_ca() -> Vec<u8> {
    fs::read(corpus_dir().join("ed25519-cert.crt")).expect("read")
}

fn kubeadm_rsa_key() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/kubeadm-1.28.7/rsa/etc-kubernetes/pki/apiserver.key")
}

/// The DER of the first PEM block of `pem`.
fn pem_der(pem: &str) -> Vec<u8> {
    use base64::Engine as _;
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("base64")
}

/// Flips one bit of the DER inside a one-block PEM file, keeping its label.
fn flip_der_bit(path: &Path, index: usize, bit: u8) {
    use base64::Engine as _;
    let pem = fs::read_to_string(path).expect("read");
    let label = pem.lines().next().expect("BEGIN line").to_owned();
    let end = label.replace("BEGIN", "END");
    let mut der = pem_der(&pem);
    der[index] ^= 1 << bit;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("{label}\n");
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("ASCII"));
        out.push('\n');
    }
    out.push_str(&end);
    out.push('\n');
    fs::write(path, out).expect("write");
}

/// A case made at run time for `inspect`: what to create, what inspect must say.
struct RuntimeInspect {
    name: &'static str,
    /// Creates the input in the folder given; returns its path.
    setup: fn(&Path) -> PathBuf,
    inspect: Inspect,
}

const RUNTIME_INSPECTS: &[RuntimeInspect] = &[
    RuntimeInspect {
        name: "a dangling symlink",
        setup: |dir| {
            let path = dir.join("dangling.crt");
            symlink("/nonexistent/apiserver.crt", &path).expect("symlink");
            path
        },
        inspect: Inspect::Malformed("dangling symbolic link to /nonexistent/apiserver.crt"),
    },
    RuntimeInspect {
        name: "a FIFO",
        setup: |dir| {
            let path = dir.join("fifo.crt");
            mkfifo(&path);
            path
        },
        inspect: Inspect::Malformed("is not a regular file"),
    },
    RuntimeInspect {
        name: "a 50 MB .crt",
        setup: |dir| {
            let path = dir.join("big.crt");
            make_big(&path);
            path
        },
        inspect: Inspect::Malformed(
            "too large (52428800 bytes; a credential file is at most 1048576 bytes)",
        ),
    },
    RuntimeInspect {
        name: "a 50 MB .conf",
        setup: |dir| {
            let path = dir.join("big.conf");
            make_big(&path);
            path
        },
        inspect: Inspect::Malformed(
            "too large (52428800 bytes; a credential file is at most 1048576 bytes)",
        ),
    },
    RuntimeInspect {
        name: "a file that does not exist",
        setup: |dir| dir.join("absent.crt"),
        inspect: Inspect::Malformed("no such file"),
    },
    // A symlink named on the command line is followed (inspect reads what the
    // operator names; only the host scan refuses symlinks where kubeadm writes files).
    RuntimeInspect {
        name: "a symlink to a valid certificate",
        setup: |dir| {
            let real = dir.join("real.crt");
            fs::copy(corpus_dir().join("crlf-line-endings-cert.crt"), &real).expect("cp");
            let path = dir.join("link.crt");
            symlink(&real, &path).expect("symlink");
            path
        },
        inspect: Inspect::Present("ECDSA-P256"),
    },
    // A folder is a valid inspect input: read by its contents (none here).
    RuntimeInspect {
        name: "an empty folder",
        setup: |dir| {
            let path = dir.join("folder.crt");
            fs::create_dir(&path).expect("mkdir");
            path
        },
        inspect: Inspect::Skipped,
    },
];

#[test]
fn inspect_names_runtime_cases() {
    let failures = parallel(RUNTIME_INSPECTS, |case| {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = (case.setup)(dir.path());
        let mut problems = inspect_json(&path, case.inspect);
        problems.extend(inspect_table(&path, case.inspect));
        label(case.name, problems)
    });
    report(&failures);
}

/// A key kubecred may not read is named, as `unreadable` (UNKNOWN), never
/// `malformed`. Root reads a mode 0000 file anyway, so
/// as root kubecred runs under `setpriv` without the two capabilities that
/// bypass file permissions (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH); it keeps
/// uid 0, so the tree's owner is still the one production expects. Any other
/// user runs it as is. Either way the mode 0000 file is first proven
/// unreadable to the very command that runs kubecred, or the test fails.
#[test]
fn unreadable_file_is_named_even_to_root() {
    let wrapper: Vec<&OsStr> = if running_as_root() {
        [
            "setpriv",
            "--inh-caps=-all",
            "--ambient-caps=-all",
            "--bounding-set=-dac_override,-dac_read_search",
            "--",
        ]
        .iter()
        .map(OsStr::new)
        .collect()
    } else {
        Vec::new()
    };
    let probe = tempfile::tempdir().expect("tempdir");
    let file = probe.path().join("probe");
    fs::write(&file, b"x").expect("write");
    fs::set_permissions(&file, fs::Permissions::from_mode(0o000)).expect("chmod");
    let (program, args) = match wrapper.split_first() {
        Some((program, args)) => (*program, args.to_vec()),
        None => (OsStr::new("cat"), Vec::new()),
    };
    let mut probe_cmd = Command::new(program);
    probe_cmd.args(&args);
    if !wrapper.is_empty() {
        probe_cmd.arg("cat");
    }
    let read = probe_cmd
        .arg(&file)
        .output()
        .unwrap_or_else(|err| panic!("cannot run {program:?} ({err}); it is in util-linux"));
    assert!(
        !read.status.success()
            && String::from_utf8_lossy(&read.stderr).contains("Permission denied"),
        "cannot make an unprivileged reader here: {program:?} {args:?} cat read a mode 0000 file ({})",
        String::from_utf8_lossy(&read.stderr)
    );
    // A file kubecred may not read is unreadable, never malformed: the check
    // is UNKNOWN, names it once, and judges everything else as before.
    let host = base_host();
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("host");
    let state = tmp.path().join("state");
    host.copy_to(&root);
    let key = root.join("pki/apiserver.key");
    fs::set_permissions(&key, fs::Permissions::from_mode(0o000)).expect("chmod");
    let before = snapshot(&root);
    let run = kubecred_via(
        &wrapper,
        &[
            "--kubernetes-dir".as_ref(),
            root.as_os_str(),
            "--state-dir".as_ref(),
            state.as_os_str(),
            "--no-copies".as_ref(),
            "check".as_ref(),
            "-o".as_ref(),
            "json".as_ref(),
        ],
    );
    let mut problems = run.invariants("check -o json", 3);
    if snapshot(&root) != before {
        problems.push("the host changed on disk".into());
    }
    if let Some(doc) = run.json(&mut problems) {
        problems.extend(one_line_messages(&doc));
        expect_eq(&mut problems, "status", &doc["status"], "unknown");
        let findings = doc["findings"].as_array().cloned().unwrap_or_default();
        let pairs: Vec<(String, String)> = findings
            .iter()
            .map(|f| (text(&f["credential"]), text(&f["code"])))
            .filter(|(credential, _)| credential != "kubecred" && credential != "apiserver")
            .collect();
        let baseline: Vec<(String, String)> = host
            .baseline
            .iter()
            .filter(|(credential, _)| credential != "apiserver")
            .cloned()
            .collect();
        if pairs != baseline {
            problems.push(format!("other findings changed: {pairs:?} != {baseline:?}"));
        }
        let unreadable: Vec<&Value> = findings
            .iter()
            .filter(|f| f["code"] == "unreadable")
            .collect();
        let named = unreadable.len() == 1
            && text(&unreadable[0]["message"]).contains("1 file cannot be read as uid")
            && text(&unreadable[0]["message"]).ends_with(": pki/apiserver.key");
        if !named {
            problems.push(format!(
                "expected one `unreadable` finding naming pki/apiserver.key, got {unreadable:?}"
            ));
        }
        if findings.iter().any(|f| f["code"] == "malformed") {
            problems.push("a file it may not read was called malformed".into());
        }
        let apiserver = doc["credentials"]
            .as_array()
            .and_then(|list| list.iter().find(|c| c["name"] == "apiserver"))
            .cloned()
            .unwrap_or_default();
        expect_eq(
            &mut problems,
            "the key's state",
            &apiserver["key"]["state"],
            "unreadable",
        );
    }
    report(&label("an unreadable pki/apiserver.key", problems));
}

/// Whether this process runs as root (the owner of a file it creates).
fn running_as_root() -> bool {
    let probe = tempfile::tempfile().expect("tempfile");
    probe.metadata().expect("fstat").uid() == 0
}

// ---------------------------------------------------------------------------
// inspect

fn inspect_json(path: &Path, expected: Inspect) -> Vec<String> {
    let run = kubecred(&[
        "--no-copies".as_ref(),
        "inspect".as_ref(),
        path.as_os_str(),
        "-o".as_ref(),
        "json".as_ref(),
    ]);
    let mut problems = run.invariants("inspect -o json", 0);
    let Some(doc) = run.json(&mut problems) else {
        return problems;
    };
    problems.extend(one_line_messages(&doc));
    let credentials = doc["credentials"].as_array().cloned().unwrap_or_default();
    let shown = path.display().to_string();
    match expected {
        Inspect::Skipped => {
            if !credentials.is_empty() {
                problems.push(format!("expected no credential, got {credentials:?}"));
            }
        }
        Inspect::Present(algorithm) | Inspect::Refused(algorithm) => {
            if let [cred] = credentials.as_slice() {
                expect_eq(&mut problems, "state", &cred["state"], "present");
                expect_eq(&mut problems, "name", &cred["name"], &shown);
                expect_eq(
                    &mut problems,
                    "keyAlgorithm",
                    &cred["keyAlgorithm"],
                    algorithm,
                );
            } else {
                problems.push(format!("expected one credential, got {credentials:?}"));
            }
        }
        Inspect::Malformed(reason) | Inspect::MalformedAt(_, reason) => {
            let at = match expected {
                Inspect::MalformedAt(sibling, _) => path.with_file_name(sibling),
                _ => path.to_path_buf(),
            };
            if let [cred] = credentials.as_slice() {
                expect_eq(&mut problems, "state", &cred["state"], "malformed");
                expect_eq(&mut problems, "path", &cred["path"], &shown);
                let error = cred["error"].as_str().unwrap_or_default();
                problems.extend(expect_message("error", error, &at, reason));
            } else {
                problems.push(format!("expected one credential, got {credentials:?}"));
            }
        }
    }
    problems
}

fn inspect_table(path: &Path, expected: Inspect) -> Vec<String> {
    let run = kubecred(&[
        "--no-copies".as_ref(),
        "inspect".as_ref(),
        path.as_os_str(),
        "-o".as_ref(),
        "table".as_ref(),
    ]);
    let mut problems = run.invariants("inspect -o table", 0);
    let shown = path.display().to_string();
    // The rows end at the first blank line; the `malformed:` footer follows.
    let rows: Vec<&str> = run
        .stdout
        .lines()
        .skip(1)
        .take_while(|line| !line.is_empty())
        .collect();
    if !run.stdout.starts_with("NAME ") {
        problems.push(format!("table has no header: {:?}", run.stdout));
    }
    match expected {
        Inspect::Skipped => {
            if !rows.is_empty() {
                problems.push(format!("expected no row, got {rows:?}"));
            }
        }
        Inspect::Present(_) => {
            // The STATUS column is the last; its value depends on the file's mode.
            let status = rows.first().and_then(|row| row.rsplit("   ").next());
            if rows.len() != 1 || !rows[0].starts_with(&shown) || status == Some("malformed") {
                problems.push(format!(
                    "expected one readable row for {shown}, got {rows:?}"
                ));
            }
        }
        Inspect::Refused(_) => {
            if rows.len() != 1 || !rows[0].starts_with(&shown) || !rows[0].ends_with("malformed") {
                problems.push(format!(
                    "expected one `malformed` row for {shown}, got {rows:?}"
                ));
            }
        }
        Inspect::Malformed(reason) | Inspect::MalformedAt(_, reason) => {
            if rows.len() != 1 || !rows[0].starts_with(&shown) || !rows[0].ends_with("malformed") {
                problems.push(format!(
                    "expected one `malformed` row for {shown}, got {rows:?}"
                ));
            }
            if !run.stdout.contains(reason) {
                problems.push(format!(
                    "the table does not say {reason:?}: {:?}",
                    run.stdout
                ));
            }
        }
    }
    problems
}

// ---------------------------------------------------------------------------
// check

/// Copies the host, breaks it with `setup`, runs check, compares.
fn check_case(
    setup: impl FnOnce(&Path),
    credential: &str,
    target: &str,
    expected: Check,
) -> Vec<String> {
    check_case_via(&[], setup, credential, target, expected)
}

/// As `check_case`, with kubecred run under `wrapper` (a command and its arguments).
fn check_case_via(
    wrapper: &[&OsStr],
    setup: impl FnOnce(&Path),
    credential: &str,
    target: &str,
    expected: Check,
) -> Vec<String> {
    let host = base_host();
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("host");
    let state = tmp.path().join("state");
    host.copy_to(&root);
    setup(&root);
    let before = snapshot(&root);
    let run = kubecred_via(
        wrapper,
        &[
            "--kubernetes-dir".as_ref(),
            root.as_os_str(),
            "--state-dir".as_ref(),
            state.as_os_str(),
            "--no-copies".as_ref(),
            "check".as_ref(),
            "-o".as_ref(),
            "json".as_ref(),
        ],
    );
    let mut problems = run.invariants("check -o json", 2);
    if snapshot(&root) != before {
        problems.push("the host changed on disk".into());
    }
    if state.exists() {
        problems.push("check created the state dir".into());
    }
    let Some(doc) = run.json(&mut problems) else {
        return problems;
    };
    problems.extend(one_line_messages(&doc));
    expect_eq(&mut problems, "status", &doc["status"], "critical");
    let findings = doc["findings"].as_array().cloned().unwrap_or_default();
    let pairs: Vec<(String, String)> = findings
        .iter()
        .map(|f| (text(&f["credential"]), text(&f["code"])))
        .collect();
    // Every other credential's findings are the untouched host's.
    let others: Vec<&(String, String)> = pairs.iter().filter(|(c, _)| c != credential).collect();
    let baseline: Vec<&(String, String)> = host
        .baseline
        .iter()
        .filter(|(c, _)| c != credential)
        .collect();
    if others != baseline {
        problems.push(format!(
            "findings on other credentials changed: {others:?} != {baseline:?}"
        ));
    }
    let mine: Vec<&Value> = findings
        .iter()
        .filter(|f| f["credential"] == credential)
        .collect();
    let codes: Vec<String> = mine.iter().map(|f| text(&f["code"])).collect();
    // A key's findings are filed under its certificate, the credential's file.
    let is_key = Path::new(target).extension() == Some(OsStr::new("key"));
    let cred_path = if is_key {
        root.join(target).with_extension("crt")
    } else {
        root.join(target)
    };
    let entry = doc["credentials"]
        .as_array()
        .and_then(|list| list.iter().find(|c| c["name"] == credential))
        .cloned()
        .unwrap_or(Value::Null);
    match expected {
        Check::Malformed(reason) | Check::MalformedAt(_, reason) => {
            let at = match expected {
                Check::MalformedAt(file, _) => root.join(file),
                _ => root.join(target),
            };
            let malformed: Vec<&&Value> =
                mine.iter().filter(|f| f["code"] == "malformed").collect();
            let total = pairs.iter().filter(|(_, code)| code == "malformed").count();
            match malformed.as_slice() {
                [finding] if total == 1 => {
                    expect_eq(&mut problems, "severity", &finding["severity"], "critical");
                    expect_eq(
                        &mut problems,
                        "finding path",
                        &finding["path"],
                        &cred_path.display().to_string(),
                    );
                    let message = finding["message"].as_str().unwrap_or_default();
                    problems.extend(expect_message("message", message, &at, reason));
                    // The credential list says the same.
                    let error = if is_key {
                        expect_eq(
                            &mut problems,
                            "key state",
                            &entry["key"]["state"],
                            "malformed",
                        );
                        expect_eq(
                            &mut problems,
                            "key path",
                            &entry["key"]["path"],
                            &at.display().to_string(),
                        );
                        format!("{}: {}", at.display(), text(&entry["key"]["error"]))
                    } else {
                        expect_eq(&mut problems, "state", &entry["state"], "malformed");
                        text(&entry["error"])
                    };
                    if error != message {
                        problems.push(format!("credential error {error:?} != {message:?}"));
                    }
                }
                _ => problems.push(format!(
                    "expected exactly one `malformed` finding, on {credential}; got {pairs:?}"
                )),
            }
        }
        Check::Refused(reason, want) => {
            expect_eq(&mut problems, "state", &entry["state"], "present");
            let malformed: Vec<&&Value> =
                mine.iter().filter(|f| f["code"] == "malformed").collect();
            match malformed.as_slice() {
                [finding] => {
                    expect_eq(&mut problems, "severity", &finding["severity"], "critical");
                    let message = finding["message"].as_str().unwrap_or_default();
                    problems.extend(expect_message(
                        "message",
                        message,
                        &root.join(target),
                        reason,
                    ));
                }
                _ => problems.push(format!(
                    "expected exactly one `malformed` finding, on {credential}; got {pairs:?}"
                )),
            }
            if codes != want {
                problems.push(format!("codes on {credential}: {codes:?} != {want:?}"));
            }
        }
        Check::Accepted(want) => {
            expect_eq(&mut problems, "state", &entry["state"], "present");
            if codes != want {
                problems.push(format!("codes on {credential}: {codes:?} != {want:?}"));
            }
        }
        Check::AcceptedKey(algorithm, encoding, want) => {
            expect_eq(&mut problems, "state", &entry["state"], "present");
            expect_eq(
                &mut problems,
                "key state",
                &entry["key"]["state"],
                "present",
            );
            expect_eq(
                &mut problems,
                "key algorithm",
                &entry["key"]["algorithm"],
                algorithm,
            );
            expect_eq(
                &mut problems,
                "key encoding",
                &entry["key"]["encoding"],
                encoding,
            );
            if codes != want {
                problems.push(format!("codes on {credential}: {codes:?} != {want:?}"));
            }
        }
    }
    problems
}

/// Where a corpus file goes in the host, by extension.
fn placement(file: &str) -> (&'static str, &'static str) {
    match Path::new(file).extension().and_then(OsStr::to_str) {
        Some("crt") => ("apiserver", "pki/apiserver.crt"),
        Some("key") => ("apiserver", "pki/apiserver.key"),
        Some("conf") => ("admin.conf", "admin.conf"),
        other => panic!("{file}: unexpected extension {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Running the binary

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    timed_out: bool,
}

fn kubecred(args: &[&OsStr]) -> Run {
    kubecred_via(&[], args)
}

/// Runs kubecred under `wrapper` (a command and its arguments; none: directly).
fn kubecred_via(wrapper: &[&OsStr], args: &[&OsStr]) -> Run {
    let mut command = match wrapper.split_first() {
        Some((program, rest)) => {
            let mut command = Command::new(program);
            command.args(rest).arg(BIN);
            command
        }
        None => Command::new(BIN),
    };
    let mut child = command
        .args(args)
        .env("KUBECRED_TEST_NOW", NOW)
        .env("NO_COLOR", "1")
        .env_remove("KUBECRED_KUBERNETES_DIR")
        .env_remove("KUBECRED_STATE_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kubecred");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out.read_to_end(&mut buf);
        buf
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf);
        buf
    });
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > TIMEOUT {
            timed_out = true;
            let _ = child.kill();
            break child.wait().expect("wait");
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    Run {
        code: status.code(),
        stdout: String::from_utf8_lossy(&out.join().expect("stdout reader")).into_owned(),
        stderr: String::from_utf8_lossy(&err.join().expect("stderr reader")).into_owned(),
        timed_out,
    }
}

impl Run {
    /// What must hold of every run, known bug or not.
    fn invariants(&self, what: &str, exit: i32) -> Vec<String> {
        let mut problems = Vec::new();
        if self.timed_out {
            problems.push(format!("{what}: still running after {TIMEOUT:?}"));
        }
        match self.code {
            None => problems.push(format!(
                "{what}: killed by a signal (stack overflow? abort?)"
            )),
            Some(101) => problems.push(format!("{what}: exit 101 (panic)")),
            Some(code) if code != exit => {
                problems.push(format!("{what}: exit {code}, expected {exit}"));
            }
            Some(_) => {}
        }
        if self.stderr.contains("panicked") || !self.stderr.is_empty() {
            problems.push(format!("{what}: stderr {:?}", self.stderr));
        }
        problems
    }

    fn json(&self, problems: &mut Vec<String>) -> Option<Value> {
        match serde_json::from_str(&self.stdout) {
            Ok(doc) => Some(doc),
            Err(err) => {
                problems.push(format!("stdout is not JSON ({err}): {:?}", self.stdout));
                None
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Assertions

/// `message` is one line, `<at>: ...`, contains `reason` and no forbidden word.
fn expect_message(field: &str, message: &str, at: &Path, reason: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let prefix = format!("{}: ", at.display());
    if !message.starts_with(&prefix) {
        problems.push(format!(
            "{field} {message:?} does not start with {prefix:?}"
        ));
    }
    if !message.contains(reason) {
        problems.push(format!("{field} {message:?} does not say {reason:?}"));
    }
    for word in FORBIDDEN_IN_MESSAGES {
        if message.contains(word) {
            problems.push(format!("{field} {message:?} contains {word:?}"));
        }
    }
    problems
}

/// Every `error` and `message` in the document is a single line.
fn one_line_messages(doc: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut stack = vec![doc];
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    if let (true, Value::String(text)) = (key == "error" || key == "message", value)
                        && (text.contains('\n') || text.contains('\r'))
                    {
                        problems.push(format!("multi-line {key}: {text:?}"));
                    }
                    stack.push(value);
                }
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    problems
}

fn expect_eq(problems: &mut Vec<String>, what: &str, actual: &Value, expected: &str) {
    if actual.as_str() != Some(expected) {
        problems.push(format!("{what}: {actual} != {expected:?}"));
    }
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

fn label(name: &str, problems: Vec<String>) -> Vec<String> {
    problems
        .into_iter()
        .map(|problem| format!("{name}: {problem}"))
        .collect()
}

fn report(failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} problem(s):\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

/// Runs `each` over `items` on a few threads; collects every problem.
fn parallel<T: Sync>(items: &[T], each: impl Fn(&T) -> Vec<String> + Sync) -> Vec<String> {
    let chunk = items.len().div_ceil(THREADS).max(1);
    let each = &each;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|chunk| scope.spawn(move || chunk.iter().flat_map(each).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| handle.join().expect("worker panicked"))
            .collect()
    })
}

// ---------------------------------------------------------------------------
// The host

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/malformed")
}

/// A demo host, generated once per test binary and kept in memory.
struct Host {
    /// Where it was generated (absolute paths in it are rewritten on copy).
    root: String,
    tree: BTreeMap<PathBuf, Node>,
    /// `check` of an untouched copy: its exit status and (credential, code) findings.
    baseline_exit: i32,
    baseline: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Node {
    Dir {
        mode: u32,
    },
    File {
        mode: u32,
        mtime: (i64, i64),
        bytes: Vec<u8>,
    },
    Symlink(PathBuf),
    Other {
        mode: u32,
        kind: String,
    },
}

fn base_host() -> &'static Host {
    static HOST: OnceLock<Host> = OnceLock::new();
    HOST.get_or_init(|| {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().join("host");
        let run = kubecred(&[
            "--no-copies".as_ref(),
            "demo".as_ref(),
            root.as_os_str(),
            "--key-algorithm".as_ref(),
            "ecdsa-p256".as_ref(),
        ]);
        assert_eq!(run.code, Some(0), "demo failed: {}", run.stderr);
        let mut host = Host {
            root: root.display().to_string(),
            tree: snapshot(&root),
            baseline_exit: -1,
            baseline: Vec::new(),
        };
        let copy = tmp.path().join("copy");
        host.copy_to(&copy);
        let run = kubecred(&[
            "--kubernetes-dir".as_ref(),
            copy.as_os_str(),
            "--no-copies".as_ref(),
            "check".as_ref(),
            "-o".as_ref(),
            "json".as_ref(),
        ]);
        let doc: Value = serde_json::from_str(&run.stdout).expect("baseline check JSON");
        host.baseline_exit = run.code.unwrap_or(-1);
        host.baseline = doc["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .map(|f| (text(&f["credential"]), text(&f["code"])))
            .collect();
        host
    })
}

impl Host {
    /// Writes the host under `dest`, re-rooting absolute paths (kubelet.conf
    /// and its symlink name the folder the demo was written to).
    fn copy_to(&self, dest: &Path) {
        let new_root = dest.display().to_string();
        fs::create_dir_all(dest).expect("mkdir");
        for (rel, node) in &self.tree {
            let path = dest.join(rel);
            match node {
                Node::Dir { mode } => {
                    if !rel.as_os_str().is_empty() {
                        fs::create_dir(&path).expect("mkdir");
                    }
                    fs::set_permissions(&path, fs::Permissions::from_mode(*mode)).expect("chmod");
                }
                Node::File { mode, bytes, .. } => {
                    let bytes = match std::str::from_utf8(bytes) {
                        Ok(text) if text.contains(&self.root) => {
                            text.replace(&self.root, &new_root).into_bytes()
                        }
                        _ => bytes.clone(),
                    };
                    fs::write(&path, bytes).expect("write");
                    fs::set_permissions(&path, fs::Permissions::from_mode(*mode)).expect("chmod");
                }
                Node::Symlink(target) => {
                    let target = match target.strip_prefix(&self.root) {
                        Ok(rest) => dest.join(rest),
                        Err(_) => target.clone(),
                    };
                    symlink(target, &path).expect("symlink");
                }
                Node::Other { kind, .. } => panic!("{}: cannot copy a {kind}", rel.display()),
            }
        }
    }
}

/// Every entry under `root` (never following symlinks, never reading FIFOs).
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Node> {
    let mut tree = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = fs::symlink_metadata(&path).expect("lstat");
        let rel = path.strip_prefix(root).expect("under root").to_path_buf();
        let mode = meta.mode() & 0o7777;
        let kind = meta.file_type();
        let node = if kind.is_symlink() {
            Node::Symlink(fs::read_link(&path).expect("readlink"))
        } else if kind.is_dir() {
            for entry in fs::read_dir(&path).expect("readdir") {
                stack.push(entry.expect("entry").path());
            }
            Node::Dir { mode }
        } else if kind.is_file() && meta.len() <= 1024 * 1024 {
            Node::File {
                mode,
                mtime: (meta.mtime(), meta.mtime_nsec()),
                bytes: fs::read(&path).expect("read"),
            }
        } else {
            Node::Other {
                mode,
                kind: format!("{kind:?} of {} bytes, mtime {}", meta.len(), meta.mtime()),
            }
        };
        tree.insert(rel, node);
    }
    tree
}

fn replace_with_dir(path: &Path) {
    fs::remove_file(path).expect("rm");
    fs::create_dir(path).expect("mkdir");
}

fn replace_with_fifo(path: &Path) {
    fs::remove_file(path).expect("rm");
    mkfifo(path);
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

/// A 50 MB file of zeros, sparse: nothing is written, kubecred must not read it.
fn make_big(path: &Path) {
    let file = fs::File::create(path).expect("create");
    file.set_len(50 * 1024 * 1024).expect("set_len");
}
