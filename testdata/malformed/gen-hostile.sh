#!/usr/bin/env bash
# Regenerates the hostile part of the malformed-input corpus: certificates and
# kubeconfigs that parse, but that Go, kubeadm or client-go refuse (or that
# try to exhaust a reader). gen.sh runs it last; it can also run alone:
#
#   testdata/malformed/gen-hostile.sh
#
# Same rules as gen.sh: bash, openssl 3 and python3, plus faketime (Debian's
# faketime package: `openssl x509 -req` of OpenSSL 3.0 signs from the current
# time only); dates fixed to 2026-01-01 .. 2036-01-01; the extension says where tests/malformed.rs puts
# the file (`.crt` -> pki/apiserver.crt, `.key` -> pki/apiserver.key,
# `.conf` -> admin.conf).
set -euo pipefail
export LC_ALL=C

out=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

hostile=(sha1-signed-leaf.crt md5-signed-leaf.crt sha1-self-signed-root.crt unknown-critical-extension.crt
    negative-serial.crt serial-40-bytes.crt empty-subject.crt sans-10000.crt
    ec-explicit-parameters-cert.crt rsa-1024-leaf.crt rsa-16384-leaf.crt
    rsa-1024.key ec-explicit-parameters.key ec-explicit-parameters-pkcs8.key
    both-client-certificate-fields.conf both-client-key-fields.conf
    both-certificate-authority-fields.conf yaml-binary-tag.conf
    yaml-python-object-tag.conf yaml-merge-keys.conf users-5000.conf)
for name in "${hostile[@]}"; do rm -f -- "${out:?}/$name"; done

cat >ca.cnf <<'EOF'
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
[ unknown_critical_ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:kubernetes
1.3.6.1.4.1.55555.1 = critical,ASN1:UTF8String:no Go component knows this extension
[ empty_subject_ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = critical,DNS:kubernetes
[ many_sans_ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = @sans
EOF
python3 - >>ca.cnf <<'EOF'
print("[ sans ]")
for i in range(1, 10001):
    print("DNS.%d = node-%05d.kubernetes.example.internal" % (i, i))
EOF

# Every certificate is valid from 2026-01-01 00:00:00 to 2036-01-01 00:00:00.
openssl() { faketime -f '@2026-01-01 00:00:00' openssl "$@"; }
days() { echo -days 3652; }
# leaf NAME SUBJECT EXT SERIAL MD KEYFILE: a leaf of KEYFILE signed by the RSA CA.
leaf() {
    local name=$1 subject=$2 ext=$3 serial=$4 md=$5 key=$6
    openssl req -new -key "$key" -subj "$subject" -config ca.cnf -out "$name.csr"
    openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -set_serial "$serial" \
        -extfile ca.cnf -extensions "$ext" "-$md" $(days) -out "$out/$name.crt" 2>/dev/null
}

openssl genrsa -out ca.key 2048 2>/dev/null
openssl req -new -x509 -key ca.key -subj /CN=kubernetes -config ca.cnf -extensions ca_ext \
    $(days) -sha256 -out ca.crt
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.key

# Signatures Go refuses to verify: SHA1-RSA and MD5-RSA.
leaf sha1-signed-leaf /CN=kube-apiserver server_ext 4097 sha1 ec.key
leaf md5-signed-leaf /CN=kube-apiserver server_ext 4098 md5 ec.key
# A self-signed root signed with SHA-1: Go never checks a root's own signature.
openssl req -new -x509 -key ca.key -subj /CN=kubernetes -config ca.cnf -extensions ca_ext \
    $(days) -sha1 -out "$out/sha1-self-signed-root.crt"
# A critical extension no Go component handles.
leaf unknown-critical-extension /CN=kube-apiserver unknown_critical_ext 4099 sha256 ec.key
# A negative serial (Go 1.23+ refuses to parse it) and a 40-byte one (RFC 5280
# allows 20; Go and OpenSSL read it).
leaf negative-serial /CN=kube-apiserver server_ext -4100 sha256 ec.key
leaf serial-40-bytes /CN=kube-apiserver server_ext \
    0x7f"$(printf '%078d' 0 | tr 0 a)" sha256 ec.key
# An empty subject (its SAN is critical, as RFC 5280 asks).
leaf empty-subject / empty_subject_ext 4101 sha256 ec.key
# 10,000 DNS SANs (about 500 KB of PEM, under the 1 MiB read limit).
leaf sans-10000 /CN=kube-apiserver many_sans_ext 4102 sha256 ec.key
# An EC key with explicit curve parameters, in a certificate and as key files.
openssl ecparam -name prime256v1 -genkey -noout -param_enc explicit -out "$out/ec-explicit-parameters.key"
openssl pkcs8 -topk8 -nocrypt -in "$out/ec-explicit-parameters.key" -out "$out/ec-explicit-parameters-pkcs8.key"
leaf ec-explicit-parameters-cert /CN=kube-apiserver server_ext 4103 sha256 "$out/ec-explicit-parameters.key"
# RSA-1024: weak, below what kubeadm writes; the key file and a leaf.
openssl genrsa -traditional -out "$out/rsa-1024.key" 1024 2>/dev/null
leaf rsa-1024-leaf /CN=kube-apiserver server_ext 4104 sha256 "$out/rsa-1024.key"
# RSA-16384 in a TLS certificate (Go's TLS limit is 8192 bits). Generating a
# real 16384-bit key takes minutes: the certificate carries a public key of
# that size that is no real key pair (a random odd modulus), which is all a
# reader of the certificate sees.
python3 - <<'EOF'
import base64, os


def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag, body):
    return bytes([tag]) + der_len(len(body)) + body


def integer(value):
    b = value.to_bytes((value.bit_length() + 8) // 8, "big")
    return tlv(0x02, b)


modulus = int.from_bytes(os.urandom(2048), "big") | (1 << 16383) | 1
rsa = tlv(0x30, integer(modulus) + integer(65537))
algorithm = tlv(0x30, tlv(0x06, bytes.fromhex("2a864886f70d010101")) + b"\x05\x00")
spki = tlv(0x30, algorithm + tlv(0x03, b"\x00" + rsa))
b64 = base64.b64encode(spki).decode()
with open("rsa16384.pub", "w") as f:
    f.write("-----BEGIN PUBLIC KEY-----\n")
    f.write("\n".join(b64[i:i + 64] for i in range(0, len(b64), 64)))
    f.write("\n-----END PUBLIC KEY-----\n")
EOF
openssl req -new -key ec.key -subj /CN=kube-apiserver -config ca.cnf -out big.csr
openssl x509 -req -in big.csr -CA ca.crt -CAkey ca.key -set_serial 4105 -force_pubkey rsa16384.pub \
    -extfile ca.cnf -extensions server_ext -sha256 $(days) -out "$out/rsa-16384-leaf.crt" 2>/dev/null

# --- kubeconfigs (.conf -> admin.conf) -----------------------------------------
openssl req -new -key ec.key -subj "/O=kubeadm:cluster-admins/CN=kubernetes-admin" -config ca.cnf -out admin.csr
openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -set_serial 4200 -sha256 $(days) -out admin.crt 2>/dev/null
python3 - "$out" <<'EOF'
import base64, os, sys

out = sys.argv[1]
CA = base64.b64encode(open("ca.crt", "rb").read()).decode()
CERT = base64.b64encode(open("admin.crt", "rb").read()).decode()
KEY = base64.b64encode(open("ec.key", "rb").read()).decode()


def write(name, text):
    with open(os.path.join(out, name), "w") as f:
        f.write(text)


def kubeconfig(user_fields, cluster_fields=(), users_before=""):
    cluster = "".join("    %s: %s\n" % kv for kv in cluster_fields)
    user = "".join("    %s: %s\n" % kv for kv in user_fields)
    return (
        "apiVersion: v1\n"
        "clusters:\n"
        "- cluster:\n"
        "    certificate-authority-data: %s\n%s"
        "    server: https://k8s-api.example.internal:6443\n"
        "  name: kubernetes\n"
        "contexts:\n"
        "- context:\n"
        "    cluster: kubernetes\n"
        "    user: kubernetes-admin\n"
        "  name: kubernetes-admin@kubernetes\n"
        "current-context: kubernetes-admin@kubernetes\n"
        "kind: Config\n"
        "preferences: {}\n"
        "users:\n%s"
        "- name: kubernetes-admin\n"
        "  user:\n%s" % (CA, cluster, users_before, user))


GOOD = [("client-certificate-data", CERT), ("client-key-data", KEY)]
# client-go's validation refuses both the data and the file of one credential.
write("both-client-certificate-fields.conf",
      kubeconfig([("client-certificate", "/etc/kubernetes/pki/admin.crt")] + GOOD))
write("both-client-key-fields.conf",
      kubeconfig(GOOD + [("client-key", "/etc/kubernetes/pki/admin.key")]))
write("both-certificate-authority-fields.conf",
      kubeconfig(GOOD, [("certificate-authority", "/etc/kubernetes/pki/ca.crt")]))
# YAML tags: `!!binary` on the PEM data, a Python object constructor.
write("yaml-binary-tag.conf", kubeconfig(
    [("client-certificate-data", "!!binary " + CERT), ("client-key-data", KEY)]))
write("yaml-python-object-tag.conf", kubeconfig(
    GOOD, [("x-kubecred-note", "!!python/object/apply:os.system ['touch /tmp/kubecred-pwned']")]))
# YAML merge keys (`<<:`) building the user from an anchor.
merged = kubeconfig(GOOD).replace(
    "preferences: {}\n",
    "preferences: {}\nx-defaults: &defaults\n  client-key-data: %s\n" % KEY,
).replace("    client-key-data: %s\n" % KEY, "    <<: *defaults\n")
write("yaml-merge-keys.conf", merged)
# 5,000 users before the current one.
others = "".join("- name: user-%04d\n  user:\n    token: token-%04d\n" % (i, i) for i in range(5000))
write("users-5000.conf", kubeconfig(GOOD, users_before=others))
EOF
