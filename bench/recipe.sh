#!/usr/bin/env bash
# The independent verification recipe of the seal format (seal-format.md,
# "Independent verification"), run once per sealed JSON file with jq, openssl
# and coreutils: the baseline that `tlseal verify` is compared with.
#
#   bench/recipe.sh CA.pem SEALED.json...
#
# For each file: the envelope is the top-level "seal" member; the signing
# input is `jq -jcS 'del(.sig)'` of it; the signature is checked with the
# public key of certPem (`openssl dgst -verify`), the certificate against the
# CA (`openssl verify`, intermediates from chainPem), and the original's
# SHA-256 (`tlseal extract` + sha256sum) against the envelope's sha256.
# TLSEAL names the tlseal binary (default: tlseal on PATH). Exits 1 at the
# first file that does not verify.
set -euo pipefail
ca=$1; shift
tlseal=${TLSEAL:-tlseal}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for f in "$@"; do
  e=$work/envelope.json
  jq -c .seal "$f" > "$e"
  jq -jcS 'del(.sig)' "$e" > "$work/signing-input"
  jq -r .sig "$e" | base64 -d > "$work/sig.der"
  jq -r .certPem "$e" > "$work/signer.pem"
  jq -r '.chainPem // ""' "$e" > "$work/chain.pem"
  case $(jq -r .alg "$e") in
    ES256) dgst=-sha256 ;;
    ES384) dgst=-sha384 ;;
    ES512) dgst=-sha512 ;;
    *) echo "$f: unknown alg" >&2; exit 1 ;;
  esac
  openssl x509 -in "$work/signer.pem" -pubkey -noout > "$work/signer.pub"
  openssl dgst "$dgst" -verify "$work/signer.pub" -signature "$work/sig.der" "$work/signing-input" > /dev/null
  if [ -s "$work/chain.pem" ] && grep -q CERTIFICATE "$work/chain.pem"; then
    openssl verify -CAfile "$ca" -untrusted "$work/chain.pem" "$work/signer.pem" > /dev/null
  else
    openssl verify -CAfile "$ca" "$work/signer.pem" > /dev/null
  fi
  "$tlseal" extract --force "$f" -o "$work/original" > /dev/null
  got=$(sha256sum < "$work/original")
  want=$(jq -r .sha256 "$e")
  if [ "${got%% *}" != "$want" ]; then
    echo "$f: content digest mismatch" >&2
    exit 1
  fi
done
