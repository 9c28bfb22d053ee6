# shellcheck shell=bash
# Certificates for a test cluster, made with openssl. Source it; do not run it.
#
# One CA signs everything: the apiserver's and the kubelet's serving
# certificates (so clients verify them instead of skipping TLS checks). Keys
# are EC P-256 (generated in milliseconds); the service-account key is RSA,
# the kind every Kubernetes setup guide uses for service-account signing.
# Clients authenticate with the admin token.

# _openssl_cnf DIR: a minimal openssl config, so the result does not depend
# on the host's /etc/ssl/openssl.cnf defaults.
_openssl_cnf() {
	cat >"$1/openssl.cnf" <<'CNF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
CNF
}

# pki_ca DIR: DIR/ca.crt + DIR/ca.key.
pki_ca() {
	local d=$1
	_openssl_cnf "$d"
	openssl req -x509 -new -nodes -config "$d/openssl.cnf" -extensions ca \
		-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-keyout "$d/ca.key" -out "$d/ca.crt" -days 3650 -subj "/CN=csiblkio-test-ca" 2>/dev/null
}

# pki_serving DIR NAME CN SANS: DIR/NAME.crt + DIR/NAME.key signed by the CA,
# for TLS servers (and clients), with subjectAltName SANS ("IP:..,DNS:..").
pki_serving() {
	local d=$1 name=$2 cn=$3 sans=$4
	openssl req -new -nodes -config "$d/openssl.cnf" \
		-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-keyout "$d/$name.key" -out "$d/$name.csr" -subj "/CN=$cn" 2>/dev/null
	printf 'basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature, keyEncipherment\nextendedKeyUsage = serverAuth, clientAuth\nsubjectAltName = %s\n' \
		"$sans" >"$d/$name.ext"
	openssl x509 -req -in "$d/$name.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
		-out "$d/$name.crt" -days 365 -extfile "$d/$name.ext" 2>/dev/null
	rm -f "$d/$name.csr" "$d/$name.ext"
}

# pki_sa DIR: DIR/sa.key + DIR/sa.pub, the service-account token signing pair.
pki_sa() {
	openssl genrsa -out "$1/sa.key" 2048 2>/dev/null
	openssl rsa -in "$1/sa.key" -pubout -out "$1/sa.pub" 2>/dev/null
}
