#!/usr/bin/env bash
# Throwaway PKI for TLS tests, made at test time with the openssl CLI (nothing is committed):
#   ca.pem            test CA; server.pem/.key (CN localhost, SAN localhost + 127.0.0.1)
#   client.pem/.key   client certificate signed by the test CA (mTLS)
#   rogue.pem/.key    client certificate signed by another CA (must be refused)
# Usage: make_test_pki.sh DIR
set -euo pipefail
DIR=$1
mkdir -p "$DIR"
cd "$DIR"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$1" 2>/dev/null; }
ca() {  # name subject
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 2 -subj "$2" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}
leaf() {  # name subject ca extensions
  key "$1.key"
  openssl req -new -key "$1.key" -out "$1.csr" -subj "$2"
  printf '%s\n' "$4" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -CAcreateserial -out "$1.pem" \
    -days 2 -extfile "$1.ext" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
ca ca "/CN=postgres-service test CA"
ca rogue-ca "/CN=someone else's CA"
leaf server "/CN=localhost" ca "subjectAltName=DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth"
leaf client "/CN=ingestion-pipeline" ca "extendedKeyUsage=clientAuth"
leaf rogue "/CN=intruder" rogue-ca "extendedKeyUsage=clientAuth"
