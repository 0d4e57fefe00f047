#!/bin/sh
# Makes the fixed RFC 3161 test vectors of package tsa with OpenSSL. It was
# run once; running it again makes new keys and a new token, so golden
# vectors made from these files elsewhere would have to be remade too.
#
#   tsa-ca.pem                       the TSA CA (its key was thrown away)
#   tsa.pem                          the TSA certificate (P-256,
#                                    extendedKeyUsage critical,timeStamping)
#   tsa-key.THROWAWAY-TEST-KEY.pem   the TSA's key: a test key, published
#                                    here so that more tokens of this TSA
#                                    can be made; never trust it
#   sig.der                          stamped data: a DER ECDSA signature, as a seal's
#   response.der                     the TimeStampResp openssl ts -reply made
#   token.der                        its TimeStampToken
set -eu
out=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
mkdir newcerts
: > index.txt
echo 1000 > ca.srl
echo 01 > tsaserial
cat > openssl.cnf <<'CNF'
[ ca ]
default_ca = testca
[ testca ]
database = index.txt
new_certs_dir = newcerts
serial = ca.srl
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
email_in_dn = no
[ anything ]
organizationName = optional
commonName = supplied
[ ca_ext ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ tsa_ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = critical,timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
serial = tsaserial
crypto_device = builtin
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1.1
digests = sha256
accuracy = secs:1, millisecs:500, microsecs:100
clock_precision_digits = 3
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
CNF
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key
openssl req -new -config openssl.cnf -key ca.key -subj "/O=tlseal test vectors/CN=tlseal test vector TSA CA" -out ca.csr
openssl ca -batch -config openssl.cnf -selfsign -keyfile ca.key -in ca.csr \
	-startdate 20260101000000Z -enddate 20560101000000Z -extensions ca_ext -notext -out tsa-ca.pem
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out tsa.key
openssl req -new -config openssl.cnf -key tsa.key -subj "/O=tlseal test vectors/CN=tlseal test vector TSA" -out tsa.csr
openssl ca -batch -config openssl.cnf -cert tsa-ca.pem -keyfile ca.key -in tsa.csr \
	-startdate 20260101000000Z -enddate 20460101000000Z -extensions tsa_ext -notext -out tsa.pem
printf 'tlseal RFC 3161 test vector\n' > msg
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out seal.key
openssl dgst -sha256 -sign seal.key -out sig.der msg
openssl ts -query -data sig.der -sha256 -cert -out query.tsq
openssl ts -reply -config openssl.cnf -queryfile query.tsq -inkey tsa.key -signer tsa.pem -chain tsa-ca.pem -out response.der
openssl ts -reply -in response.der -token_out -out token.der
openssl ts -verify -token_in -in token.der -data sig.der -CAfile tsa-ca.pem
cp tsa-ca.pem tsa.pem sig.der response.der token.der "$out"/
cp tsa.key "$out"/tsa-key.THROWAWAY-TEST-KEY.pem
openssl ts -reply -in response.der -text
