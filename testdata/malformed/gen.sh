#!/usr/bin/env bash
# Regenerates the malformed-input corpus read by tests/malformed.rs.
#
#   testdata/malformed/gen.sh        # rewrites every *.crt, *.key, *.conf here
#
# Needs only bash, openssl (tested with 3.0) and python3 (standard library);
# its last step, gen-hostile.sh, also needs faketime.
# Each file is named for what is wrong with it; the extension says where the
# test puts it in a kubeadm host: `.crt` -> pki/apiserver.crt,
# `.key` -> pki/apiserver.key, `.conf` -> admin.conf.
#
# Reproducible in content, not in bytes: keys and ECDSA/DSA signatures are
# random on every run, so a re-run changes the base64 of key and certificate
# files but not what is wrong with each. Dates are fixed (2026-01-01 to
# 2036-01-01) so that valid certificates are valid at the test's clock
# (KUBECRED_TEST_NOW=2026-11-26T12:00:00Z).
#
# Not generated here (the test creates them at run time, they cannot or must
# not be committed): a 50 MB file, a folder, a dangling symlink, a symlink
# where kubeadm writes a regular file, a FIFO.
set -euo pipefail
export LC_ALL=C

out=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

rm -f -- "$out"/*.crt "$out"/*.key "$out"/*.conf

# --- a tiny CA, with fixed dates (`openssl ca` takes -startdate/-enddate) ------
cat >ca.cnf <<'EOF'
[ ca ]
default_ca = local
[ local ]
dir = .
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any
copy_extensions = none
unique_subject = no
[ any ]
commonName = supplied
organizationName = optional
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ ca_ext ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,digitalSignature,keyEncipherment
subjectKeyIdentifier = hash
[ server_ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:kubernetes,DNS:kubernetes.default,IP:10.96.0.1
[ client_ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
EOF
: >index.txt
echo 1000 >serial

# sign NAME SUBJECT EXT SIGNER_KEY [selfsign] [md]: NAME.csr -> NAME.crt (PEM)
sign() {
    local name=$1 subject=$2 ext=$3 signer_key=$4 mode=${5:-} md=${6:-sha256}
    openssl req -new -key "$name.key" -subj "$subject" -config ca.cnf -out "$name.csr"
    local args=(-batch -config ca.cnf -keyfile "$signer_key" -in "$name.csr"
        -startdate 20260101000000Z -enddate 20360101000000Z
        -extensions "$ext" -md "$md" -notext -out "$name.crt")
    if [[ $mode == selfsign ]]; then
        args+=(-selfsign)
    else
        args+=(-cert ca.crt)
    fi
    openssl ca "${args[@]}" 2>/dev/null
}

ec_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

ec_key ca.key
sign ca /CN=kubernetes ca_ext ca.key selfsign
ec_key leaf.key
sign leaf /CN=kube-apiserver server_ext ca.key
ec_key admin.key
sign admin "/O=kubeadm:cluster-admins/CN=kubernetes-admin" client_ext ca.key
openssl x509 -in leaf.crt -outform DER -out leaf.der
openssl x509 -in admin.crt -outform DER -out admin.der

# --- certificates (.crt -> pki/apiserver.crt) ----------------------------------
: >"$out/empty-cert.crt"
printf ' \n\t\n  \n' >"$out/whitespace-only.crt"
printf 'This is not a certificate.\nkubeadm writes PEM here.\n' >"$out/no-pem-block.crt"
cp leaf.der "$out/der-binary-cert.crt"
openssl req -new -key leaf.key -subj /CN=kube-apiserver -config ca.cnf -out "$out/csr-not-cert.crt"
openssl pkey -in leaf.key -pubout -out "$out/public-key-not-cert.crt"
cp leaf.key "$out/private-key-not-cert.crt"

# Ed25519: a well-formed certificate of a key type kubeadm never uses.
openssl genpkey -algorithm ed25519 -out ed25519-leaf.key
sign ed25519-leaf /CN=kube-apiserver server_ext ed25519-leaf.key selfsign default
cp ed25519-leaf.crt "$out/ed25519-cert.crt"

python3 - "$out" <<'EOF'
import base64, os, sys

out = sys.argv[1]
pem = open("leaf.crt", "rb").read()
der = open("leaf.der", "rb").read()
lines = pem.splitlines(keepends=True)  # BEGIN, base64 lines..., END
body = lines[1:-1]


def write(name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


def wrap(label, der):
    b64 = base64.b64encode(der).decode()
    rows = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return ("-----BEGIN %s-----\n%s\n-----END %s-----\n" % (label, "\n".join(rows), label)).encode()


# Cut in the middle of a base64 line: no END line, last line half there.
cut = lines[0] + b"".join(body[: len(body) // 2]) + body[len(body) // 2][:30]
write("truncated-mid-base64.crt", cut)
# Every base64 line, but the file stops before the END line.
write("truncated-before-end-cert.crt", lines[0] + b"".join(body))
# The END line is there, but the last base64 lines are missing: truncated DER.
write("truncated-der-with-end.crt", lines[0] + b"".join(body[:-3]) + lines[-1])
# A character that is not base64 in the middle of the block.
bad = list(body)
bad[2] = bad[2][:10] + b"!*?" + bad[2][13:]
write("bad-base64-cert.crt", lines[0] + b"".join(bad) + lines[-1])
# Valid DER certificate followed by 16 extra bytes, all inside one PEM block.
write("trailing-garbage-after-der.crt", wrap("CERTIFICATE", der + b"\x00" * 8 + b"GARBAGE!"))
# A CERTIFICATE block whose DER is 300 random-looking but fixed bytes.
garbage = bytes((i * 131 + 7) % 256 for i in range(300))
write("der-garbage-in-pem.crt", wrap("CERTIFICATE", garbage))
# A label kubeadm never writes around otherwise valid data.
write("unknown-label-foo.crt", wrap("FOO", der))
# BEGIN CERTIFICATE ... END PRIVATE KEY.
write("begin-end-label-mismatch.crt", lines[0] + b"".join(body) + b"-----END PRIVATE KEY-----\n")
# Windows line endings on a valid certificate.
write("crlf-line-endings-cert.crt", pem.replace(b"\n", b"\r\n"))
# Bytes that are not UTF-8 and not DER either.
write("non-utf8-binary.crt", bytes([0xFF, 0xFE, 0xC0, 0xC1, 0xF5]) + garbage[:64])
# A Latin-1 (not UTF-8) comment line before a valid PEM block; Go's and
# OpenSSL's PEM readers skip text outside blocks.
write("latin1-comment-before-pem.crt", b"# Zertifikat f\xfcr den API-Server \xa9 2026\n" + pem)
EOF

# --- private keys (.key -> pki/apiserver.key) -----------------------------------
: >"$out/empty-key.key"
openssl dsaparam -out dsa-params.pem 2048 2>/dev/null
openssl genpkey -paramfile dsa-params.pem -out "$out/dsa-pkcs8.key"
openssl pkey -in "$out/dsa-pkcs8.key" -traditional -out "$out/dsa-traditional.key" 2>/dev/null ||
    openssl dsa -in "$out/dsa-pkcs8.key" -out "$out/dsa-traditional.key" 2>/dev/null
openssl genpkey -algorithm ed25519 -out "$out/ed25519.key"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-521 -out "$out/ecdsa-p521.key"
ec_key plain.key
openssl pkcs8 -topk8 -in plain.key -v2 aes-256-cbc -passout pass:kubecred-test \
    -out "$out/encrypted-pkcs8.key"
cp leaf.crt "$out/certificate-only.key"
openssl pkey -in plain.key -pubout -out "$out/public-key-only.key"
openssl pkey -in plain.key -outform DER -out "$out/der-binary-key.key"
# VALID positive control: RSA in PKCS#8 `PRIVATE KEY`, which kubeadm reads.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$out/valid-rsa-pkcs8.key" 2>/dev/null
python3 - "$out" <<'EOF'
import base64, os, sys

out = sys.argv[1]


def write(name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


key = open("plain.key", "rb").read()
lines = key.splitlines(keepends=True)
body = lines[1:-1]
write("truncated-before-end-key.key", lines[0] + b"".join(body))
bad = list(body)
bad[1] = bad[1][:5] + b"$$$$" + bad[1][9:]
write("bad-base64-key.key", lines[0] + b"".join(bad) + lines[-1])
garbage = bytes((i * 97 + 3) % 256 for i in range(120))
b64 = base64.b64encode(garbage).decode()
rows = "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64))
write("ec-label-garbage-der.key",
      ("-----BEGIN EC PRIVATE KEY-----\n%s\n-----END EC PRIVATE KEY-----\n" % rows).encode())
write("crlf-line-endings-key.key", key.replace(b"\n", b"\r\n"))
EOF

# --- kubeconfigs (.conf -> admin.conf) -----------------------------------------
: >"$out/empty-kubeconfig.conf"
python3 - "$out" <<'EOF'
import base64, json, os, sys

out = sys.argv[1]


def write(name, text):
    with open(os.path.join(out, name), "wb") as f:
        f.write(text if isinstance(text, bytes) else text.encode())


def b64(path_or_bytes):
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else open(path_or_bytes, "rb").read()
    return base64.b64encode(data).decode()


CA = b64("ca.crt")
CERT = b64("admin.crt")
KEY = b64("admin.key")


def kubeconfig(user_fields, current="kubernetes-admin@kubernetes", kind="Config",
               contexts=None):
    users = "\n".join("    %s: %s" % kv for kv in user_fields)
    contexts = contexts or [("kubernetes-admin@kubernetes", "kubernetes", "kubernetes-admin")]
    ctx = "".join(
        "- context:\n    cluster: %s\n    user: %s\n  name: %s\n" % (cluster, user, name)
        for name, cluster, user in contexts)
    return (
        "apiVersion: v1\n"
        "clusters:\n"
        "- cluster:\n"
        "    certificate-authority-data: %s\n"
        "    server: https://k8s-api.example.internal:6443\n"
        "  name: kubernetes\n"
        "contexts:\n%s"
        "current-context: %s\n"
        "kind: %s\n"
        "preferences: {}\n"
        "users:\n"
        "- name: kubernetes-admin\n"
        "  user:\n%s\n" % (CA, ctx, current, kind, users))


GOOD_USER = [("client-certificate-data", CERT), ("client-key-data", KEY)]

# Structure.
write("top-level-list.conf", "- apiVersion: v1\n- kind: Config\n- users: []\n")
write("plain-string.conf", "just a plain string, not a mapping\n")
write("tabs-invalid-syntax.conf",
      "apiVersion: v1\nkind: Config\nusers:\n\t- name: kubernetes-admin\n\t  user: {\n")
write("users-not-a-list.conf",
      kubeconfig(GOOD_USER).split("users:\n")[0] + "users: kubernetes-admin\n")
write("duplicate-keys.conf", kubeconfig(GOOD_USER, current="nowhere").replace(
    "kind: Config\n", "kind: Config\ncurrent-context: kubernetes-admin@kubernetes\n"))
write("multi-document.conf", kubeconfig(GOOD_USER) + "---\n" + kubeconfig(GOOD_USER))
write("kind-pod.conf",
      "apiVersion: v1\nkind: Pod\nmetadata:\n  name: kube-apiserver\n  namespace: kube-system\n"
      "spec:\n  containers:\n  - name: kube-apiserver\n    image: registry.k8s.io/kube-apiserver:v1.28.7\n")
write("non-utf8-bytes.conf", kubeconfig(GOOD_USER).encode().replace(
    b"preferences: {}\n", b"preferences: {}\n# Schl\xfcssel \xa9\n"))

# Billion laughs: 9 levels of 9 aliases, ~387 million leaves once expanded.
lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
for i in range(1, 10):
    lines.append("a%d: &a%d [%s]" % (i, i, ",".join(["*a%d" % (i - 1)] * 9)))
lines.append("users: *a9")
write("alias-bomb-billion-laughs.conf", "\n".join(lines) + "\n")

# 1000 nested flow sequences, then 1000 nested block mappings.
write("deeply-nested-1000.conf",
      "apiVersion: v1\nkind: Config\npreferences: " + "[" * 1000 + "]" * 1000 + "\n")

# Contexts and users.
write("current-context-missing.conf", kubeconfig(GOOD_USER, current="prod-admin@kubernetes"))
write("no-current-context.conf", kubeconfig(GOOD_USER).replace(
    "current-context: kubernetes-admin@kubernetes\n", ""))
write("token-only-user.conf", kubeconfig([("token", "abcdef.0123456789abcdef")]))
write("client-certificate-file-missing.conf", kubeconfig([
    ("client-certificate", "does-not-exist.crt"), ("client-key", "does-not-exist.key")]))

# Embedded data.
write("cert-data-not-base64.conf", kubeconfig([
    ("client-certificate-data", "this-is-not-base64!!"), ("client-key-data", KEY)]))
write("cert-data-base64-of-text.conf", kubeconfig([
    ("client-certificate-data", b64(b"hello, I am not a PEM certificate\n")),
    ("client-key-data", KEY)]))
write("cert-data-base64-of-der.conf", kubeconfig([
    ("client-certificate-data", b64("admin.der")), ("client-key-data", KEY)]))
write("key-data-not-base64.conf", kubeconfig([
    ("client-certificate-data", CERT), ("client-key-data", "this-is-not-base64!!")]))

# Valid YAML variants (assert what kubecred really does with them).
doc = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "kubernetes", "cluster": {
        "certificate-authority-data": CA, "server": "https://k8s-api.example.internal:6443"}}],
    "contexts": [{"name": "kubernetes-admin@kubernetes",
                  "context": {"cluster": "kubernetes", "user": "kubernetes-admin"}}],
    "current-context": "kubernetes-admin@kubernetes",
    "preferences": {},
    "users": [{"name": "kubernetes-admin", "user": {
        "client-certificate-data": CERT, "client-key-data": KEY}}],
}
write("json-not-yaml.conf", json.dumps(doc, indent=2) + "\n")
write("utf8-bom.conf", b"\xef\xbb\xbf" + kubeconfig(GOOD_USER).encode())
EOF

# --- hostile input: what Go, kubeadm or client-go refuse (its own script) -------
"$out/gen-hostile.sh"
