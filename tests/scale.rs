//! `inspect DIR -o json` over a big generated tree (2,000 certificates, two
//! CAs, ECDSA and RSA): every certificate is one record, in name order, with
//! the wire format's keys in order, and every verdict (signature, key match)
//! is what the fixture built and what `openssl` says on a sample.
#![allow(clippy::disallowed_methods)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::fs;
use std::io::Write as _;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{NOW, kubecred, now, now_epoch};
use kubecred::domain::issue::{self, KeyAlgorithm, Profile, Usage};
use rcgen::{Issuer, KeyPair};
use time::Duration;

const ECDSA_LEAVES: usize = 1899;
const RSA_LEAVES: usize = 99;
/// Every this many ECDSA leaves, one carries another leaf's key.
const SWAPPED_EVERY: usize = 97;
/// Every this many ECDSA leaves, one is signed by an impostor with the CA's name.
const IMPOSTOR_EVERY: usize = 89;

/// What the fixture made of one leaf: the truth the verdicts are judged by.
struct Leaf {
    crt: PathBuf,
    ca: PathBuf,
    signed_by_ca: bool,
    key_matches: bool,
}

fn write(path: &Path, bytes: &[u8], mode: u32) {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .and_then(|mut file| file.write_all(bytes))
        .unwrap();
}

fn profile(name: &str) -> Profile {
    Profile {
        common_name: format!("{name}.scale.test"),
        groups: vec!["scale:group".into()],
        dns_names: vec![format!("{name}.scale.test")],
        ip_addresses: vec![],
        usages: vec![Usage::ServerAuth, Usage::ClientAuth],
    }
}

/// `ecdsa_leaves` ECDSA leaves under `root/ecdsa/NNN/`, signed by
/// `root/ecdsa/ca.crt` (some by an impostor with its name, some with another
/// leaf's key), and `rsa_leaves` RSA leaves under `root/rsa/`, signed by
/// kubeadm's RSA test CA with its test keys.
fn tree(root: &Path, ecdsa_leaves: usize, rsa_leaves: usize) -> Vec<Leaf> {
    let (not_before, not_after) = (now() - Duration::days(30), now() + Duration::days(300));
    let ecdsa = root.join("ecdsa");
    fs::create_dir_all(&ecdsa).unwrap();
    let ca_key = issue::generate_key(KeyAlgorithm::EcdsaP256).unwrap();
    let ca_pem = issue::self_signed_ca(
        "scale-ca",
        &ca_key.pair,
        now() - Duration::days(60),
        now() + Duration::days(3000),
    )
    .unwrap();
    write(&ecdsa.join("ca.crt"), ca_pem.as_bytes(), 0o644);
    write(&ecdsa.join("ca.key"), ca_key.pem.as_bytes(), 0o600);
    let ca = Issuer::from_ca_cert_pem(&ca_pem, ca_key.pair).unwrap();
    let impostor_key = issue::generate_key(KeyAlgorithm::EcdsaP256).unwrap();
    let impostor_pem = issue::self_signed_ca(
        "scale-ca",
        &impostor_key.pair,
        now() - Duration::days(60),
        now() + Duration::days(3000),
    )
    .unwrap();
    let impostor = Issuer::from_ca_cert_pem(&impostor_pem, impostor_key.pair).unwrap();
    let spare = issue::generate_key(KeyAlgorithm::EcdsaP256).unwrap();

    let threads = 2;
    let mut leaves: Vec<Leaf> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|thread| {
                let (ca, impostor, spare, ecdsa) = (&ca, &impostor, &spare, &ecdsa);
                scope.spawn(move || {
                    (thread..ecdsa_leaves)
                        .step_by(threads)
                        .map(|index| {
                            let name = format!("leaf-{index:05}");
                            let dir = ecdsa.join(format!("{:03}", index / 1000));
                            fs::create_dir_all(&dir).unwrap();
                            let key = issue::generate_key(KeyAlgorithm::EcdsaP256).unwrap();
                            let signed_by_ca = index % IMPOSTOR_EVERY != 5;
                            let key_matches = index % SWAPPED_EVERY != 3;
                            let issuer = if signed_by_ca { ca } else { impostor };
                            let pem = issue::leaf(
                                &profile(&name),
                                &key.pair,
                                issuer,
                                not_before,
                                not_after,
                            )
                            .unwrap();
                            let crt = dir.join(format!("{name}.crt"));
                            write(&crt, pem.as_bytes(), 0o644);
                            let written = if key_matches { &key.pem } else { &spare.pem };
                            write(&crt.with_extension("key"), written.as_bytes(), 0o600);
                            Leaf {
                                crt,
                                ca: ecdsa.join("ca.crt"),
                                signed_by_ca,
                                key_matches,
                            }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| handle.join().unwrap())
            .collect()
    });

    let pki = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/kubeadm-1.28.7/rsa/etc-kubernetes/pki");
    let rsa = root.join("rsa");
    fs::create_dir_all(&rsa).unwrap();
    let rsa_ca_pem = fs::read_to_string(pki.join("ca.crt")).unwrap();
    write(&rsa.join("ca.crt"), rsa_ca_pem.as_bytes(), 0o644);
    let rsa_ca_key = KeyPair::from_pem(&fs::read_to_string(pki.join("ca.key")).unwrap()).unwrap();
    let rsa_ca = Issuer::from_ca_cert_pem(&rsa_ca_pem, rsa_ca_key).unwrap();
    let pool: Vec<(String, KeyPair)> = [
        "apiserver.key",
        "apiserver-kubelet-client.key",
        "front-proxy-client.key",
    ]
    .iter()
    .map(|file| {
        let pem = fs::read_to_string(pki.join(file)).unwrap();
        let pair = KeyPair::from_pem(&pem).unwrap();
        (pem, pair)
    })
    .collect();
    for index in 0..rsa_leaves {
        let name = format!("rsa-{index:03}");
        let (pem_key, pair) = &pool[index % pool.len()];
        let pem = issue::leaf(&profile(&name), pair, &rsa_ca, not_before, not_after).unwrap();
        let crt = rsa.join(format!("{name}.crt"));
        write(&crt, pem.as_bytes(), 0o644);
        write(&crt.with_extension("key"), pem_key.as_bytes(), 0o600);
        leaves.push(Leaf {
            crt,
            ca: rsa.join("ca.crt"),
            signed_by_ca: true,
            key_matches: true,
        });
    }
    leaves
}

/// The keys of a present certificate's record, in wire order (SPEC.md's JSON contract).
const RECORD_KEYS: [&str; 21] = [
    "name",
    "kind",
    "path",
    "ca",
    "subject",
    "issuer",
    "serial",
    "notBefore",
    "notAfter",
    "secondsLeft",
    "keyAlgorithm",
    "subjectAltNames",
    "extendedKeyUsages",
    "isCa",
    "fingerprintSha256",
    "state",
    "source",
    "file",
    "signatureValid",
    "key",
    "kubeconfig",
];

fn openssl(args: &[&std::ffi::OsStr]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl is needed by this test; .ci/run installs it");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// The SPKI PEM of a certificate and of a key, as openssl derives them.
fn public_keys(crt: &Path) -> (String, String) {
    let (ok, from_cert) = openssl(&[
        "x509".as_ref(),
        "-noout".as_ref(),
        "-pubkey".as_ref(),
        "-in".as_ref(),
        crt.as_os_str(),
    ]);
    assert!(ok, "{from_cert}");
    let key = crt.with_extension("key");
    let (ok, from_key) = openssl(&[
        "pkey".as_ref(),
        "-pubout".as_ref(),
        "-in".as_ref(),
        key.as_os_str(),
    ]);
    assert!(ok, "{from_key}");
    (from_cert, from_key)
}

#[test]
fn a_big_tree_is_one_record_a_certificate_in_order_with_the_verdicts_openssl_gives() {
    let dir = tempfile::tempdir().unwrap();
    let leaves = tree(dir.path(), ECDSA_LEAVES, RSA_LEAVES);
    let run = kubecred(&[
        "inspect".as_ref(),
        dir.path().as_os_str(),
        "-o".as_ref(),
        "json".as_ref(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc = run.json();
    assert_eq!(doc["generatedAt"], NOW);
    let records = doc["credentials"].as_array().unwrap();
    assert_eq!(records.len(), ECDSA_LEAVES + RSA_LEAVES + 2);

    // One record a certificate, named by its path, in byte order of the names.
    let mut expected: Vec<PathBuf> = leaves.iter().map(|leaf| leaf.crt.clone()).collect();
    expected.push(dir.path().join("ecdsa/ca.crt"));
    expected.push(dir.path().join("rsa/ca.crt"));
    expected.sort_by(|a, b| a.as_os_str().as_bytes().cmp(b.as_os_str().as_bytes()));
    let names: Vec<&str> = records
        .iter()
        .map(|record| record["name"].as_str().unwrap())
        .collect();
    let expected_names: Vec<&str> = expected.iter().map(|path| path.to_str().unwrap()).collect();
    assert_eq!(names, expected_names);

    for record in records {
        let keys: Vec<&str> = record
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys[..RECORD_KEYS.len()], RECORD_KEYS, "{}", record["name"]);
        assert_eq!(keys.len(), RECORD_KEYS.len() + 1);
        assert_eq!(keys.last(), Some(&"findings"));
    }
    let by_name = |path: &Path| {
        records
            .iter()
            .find(|record| record["name"] == path.to_str().unwrap())
            .unwrap()
    };

    // Every verdict is the one the fixture built.
    for leaf in &leaves {
        let record = by_name(&leaf.crt);
        assert_eq!(
            record["ca"],
            leaf.ca.to_str().unwrap(),
            "{}",
            leaf.crt.display()
        );
        assert_eq!(
            record["signatureValid"],
            leaf.signed_by_ca,
            "{}",
            leaf.crt.display()
        );
        assert_eq!(record["key"]["state"], "present", "{}", leaf.crt.display());
        assert_eq!(
            record["key"]["matchesCertificate"],
            leaf.key_matches,
            "{}",
            leaf.crt.display()
        );
        let codes: Vec<&str> = record["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|code| code.as_str().unwrap())
            .collect();
        assert_eq!(
            codes.contains(&"not-signed-by-ca"),
            !leaf.signed_by_ca,
            "{codes:?}"
        );
        assert_eq!(
            codes.contains(&"key-mismatch"),
            !leaf.key_matches,
            "{codes:?}"
        );
    }
    assert!(leaves.iter().filter(|leaf| !leaf.signed_by_ca).count() >= 20);
    assert!(leaves.iter().filter(|leaf| !leaf.key_matches).count() >= 19);

    // And the one openssl gives, on a sample: every faulty leaf, every 40th, every RSA leaf's third.
    let attime = now_epoch();
    let sample = leaves.iter().enumerate().filter(|(index, leaf)| {
        !leaf.signed_by_ca
            || !leaf.key_matches
            || index % 40 == 0
            || (index % 3 == 0 && leaf.ca.ends_with("rsa/ca.crt"))
    });
    let mut judged = 0;
    for (_, leaf) in sample {
        let record = by_name(&leaf.crt);
        let (verified, said) = openssl(&[
            "verify".as_ref(),
            "-attime".as_ref(),
            attime.as_ref(),
            "-CAfile".as_ref(),
            leaf.ca.as_os_str(),
            leaf.crt.as_os_str(),
        ]);
        assert_eq!(
            record["signatureValid"],
            verified,
            "{}: {said}",
            leaf.crt.display()
        );
        let (from_cert, from_key) = public_keys(&leaf.crt);
        assert_eq!(
            record["key"]["matchesCertificate"],
            from_cert == from_key,
            "{}",
            leaf.crt.display()
        );
        let (ok, fingerprint) = openssl(&[
            "x509".as_ref(),
            "-noout".as_ref(),
            "-fingerprint".as_ref(),
            "-sha256".as_ref(),
            "-in".as_ref(),
            leaf.crt.as_os_str(),
        ]);
        assert!(ok, "{fingerprint}");
        let hex = fingerprint
            .trim()
            .rsplit('=')
            .next()
            .unwrap()
            .replace(':', "")
            .to_lowercase();
        assert_eq!(record["fingerprintSha256"], hex);
        judged += 1;
    }
    assert!(judged >= 90, "judged {judged}");
}

/// The folder's listing (one `open` a file) and the careful reader of files
/// named one by one give the same document.
#[test]
fn a_tree_read_by_listing_is_the_tree_read_file_by_file() {
    let dir = tempfile::tempdir().unwrap();
    let leaves = tree(dir.path(), 300, 9);
    let mut by_file: Vec<std::ffi::OsString> = vec!["inspect".into(), "-o".into(), "json".into()];
    by_file.push(dir.path().join("ecdsa/ca.crt").into_os_string());
    by_file.push(dir.path().join("rsa/ca.crt").into_os_string());
    by_file.extend(leaves.iter().map(|leaf| leaf.crt.clone().into_os_string()));
    let listed = kubecred(&[
        "inspect".as_ref(),
        dir.path().as_os_str(),
        "-o".as_ref(),
        "json".as_ref(),
    ]);
    let one_by_one = kubecred(&by_file);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert_eq!(one_by_one.code, 0, "{}", one_by_one.stderr);
    assert_eq!(listed.json()["credentials"].as_array().unwrap().len(), 311);
    assert_eq!(listed.stdout, one_by_one.stdout);
}

/// Beside `tree`: a CA of its own, a bundle of 12 leaves in one file (its
/// records are `bundle.pem#1`, `#10`, `#11`, `#12`, `#2`, ... by name), a leaf
/// valid only from 10 days after the test clock (the clock's doubt names it),
/// and a file that is no certificate.
fn extras(root: &Path) -> PathBuf {
    let extra = root.join("extra");
    fs::create_dir_all(&extra).unwrap();
    let key = issue::generate_key(KeyAlgorithm::EcdsaP256).unwrap();
    let ca_pem = issue::self_signed_ca(
        "extra-ca",
        &key.pair,
        now() - Duration::days(60),
        now() + Duration::days(3000),
    )
    .unwrap();
    write(&extra.join("ca.crt"), ca_pem.as_bytes(), 0o644);
    let ca = Issuer::from_ca_cert_pem(&ca_pem, key.pair).unwrap();
    let leaf_key = issue::generate_key(KeyAlgorithm::EcdsaP256).unwrap();
    let mut bundle = String::new();
    for index in 0..12 {
        let dates = (now() - Duration::days(5), now() + Duration::days(index + 1));
        let profile = profile(&format!("bundled-{index}"));
        bundle.push_str(&issue::leaf(&profile, &leaf_key.pair, &ca, dates.0, dates.1).unwrap());
    }
    write(&extra.join("bundle.pem"), bundle.as_bytes(), 0o644);
    let future = issue::leaf(
        &profile("future"),
        &leaf_key.pair,
        &ca,
        now() + Duration::days(10),
        now() + Duration::days(400),
    )
    .unwrap();
    write(&extra.join("future.crt"), future.as_bytes(), 0o644);
    write(&extra.join("broken.crt"), b"not a certificate\n", 0o644);
    extra
}

fn inspect_json(args: &[&std::ffi::OsStr]) -> common::Run {
    let mut all: Vec<&std::ffi::OsStr> = vec!["inspect".as_ref()];
    all.extend_from_slice(args);
    all.push("-o".as_ref());
    all.push("json".as_ref());
    let run = kubecred(&all);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run
}

fn names(run: &common::Run) -> Vec<String> {
    run.json()["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| record["name"].as_str().unwrap().to_owned())
        .collect()
}

/// `inspect PATH -o json` writes the credentials as it judges them, a window
/// of files at a time (more than one window here), after a first pass that
/// finds the CAs and the clock's doubt; `-v` reads everything first. Both
/// must write the same bytes, with names in byte order, the doubt on the one
/// certificate `openssl` dates after the clock.
#[test]
fn a_streamed_report_is_the_whole_report_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let leaves = tree(dir.path(), 1100, 3);
    let extra = extras(dir.path());
    let streamed = inspect_json(&[dir.path().as_os_str()]);
    let whole = inspect_json(&["-v".as_ref(), dir.path().as_os_str()]);
    assert_eq!(streamed.stdout, whole.stdout);
    let listed = names(&streamed);
    // 1,103 leaves, 2 CAs of the tree, the extra CA, 12 bundled, `future` and `broken`.
    assert_eq!(listed.len(), leaves.len() + 2 + 1 + 12 + 2);
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(listed, sorted);
    let bundle = format!("{}", extra.join("bundle.pem").display());
    let bundled: Vec<&String> = listed
        .iter()
        .filter(|name| name.starts_with(&bundle))
        .collect();
    assert_eq!(
        bundled[..4],
        [
            &format!("{bundle}#1"),
            &format!("{bundle}#10"),
            &format!("{bundle}#11"),
            &format!("{bundle}#12")
        ]
    );

    let json = streamed.json();
    let future = extra.join("future.crt");
    let (ok, start) = openssl(&[
        "x509".as_ref(),
        "-noout".as_ref(),
        "-startdate".as_ref(),
        "-in".as_ref(),
        future.as_os_str(),
    ]);
    assert!(ok, "{start}");
    let start = start.trim().strip_prefix("notBefore=").unwrap().to_owned();
    let (ok, epoch) = common::judge("date", &["-u", "-d", &start, "+%s"], b"");
    assert!(ok, "{epoch}");
    assert!(epoch.trim().parse::<i64>().unwrap() > now().unix_timestamp());
    let doubted: Vec<&str> = json["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|record| {
            record["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|code| code == "clock-implausible")
        })
        .map(|record| record["name"].as_str().unwrap())
        .collect();
    assert_eq!(doubted, [future.display().to_string()]);
    let broken = common::credential(&json, &extra.join("broken.crt").display().to_string());
    assert_eq!(broken["state"], "malformed");
    // Signed by the extra CA, found in the first pass wherever it sorts.
    let first = common::credential(&json, &format!("{bundle}#1"));
    assert_eq!(first["ca"], extra.join("ca.crt").display().to_string());
    assert_eq!(first["signatureValid"], true);
}

/// Inputs whose records would not come out sorted file by file are read
/// whole: a file named twice, and a bundle whose `NAME#N` records sort after
/// another file's name (`bundle.pem!` sorts before `bundle.pem#1`).
#[test]
fn inputs_a_stream_cannot_order_are_read_whole_in_name_order() {
    let dir = tempfile::tempdir().unwrap();
    let extra = extras(dir.path());
    fs::copy(extra.join("future.crt"), extra.join("bundle.pem!")).unwrap();
    let ca = extra.join("ca.crt");
    for args in [
        vec![extra.as_os_str()],
        vec![extra.as_os_str(), ca.as_os_str()],
    ] {
        let streamed = inspect_json(&args);
        let mut verbose = args.clone();
        verbose.insert(0, "-v".as_ref());
        assert_eq!(streamed.stdout, inspect_json(&verbose).stdout);
        let listed = names(&streamed);
        let mut sorted = listed.clone();
        sorted.sort();
        assert_eq!(listed, sorted);
        let bundle = format!("{}", extra.join("bundle.pem").display());
        let position = |name: &str| listed.iter().position(|listed| listed == name).unwrap();
        assert!(position(&format!("{bundle}!")) < position(&format!("{bundle}#1")));
    }
    let twice = names(&inspect_json(&[extra.as_os_str(), ca.as_os_str()]));
    let ca_name = ca.display().to_string();
    assert_eq!(twice.iter().filter(|name| **name == ca_name).count(), 2);
}
