package tsa

import (
	"crypto"
	"encoding/asn1"
	"strings"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

var (
	oidSignedData           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidTSTInfo              = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	oidContentType          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidMessageDigest        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidSigningCertificate   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 12}
	oidSigningCertificateV2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}

	oidSHA1   = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}

	oidECPublicKey     = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidECDSAWithSHA1   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}
	oidECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSAWithSHA512 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidRSAEncryption   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidRSAPSS          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidMGF1            = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
	oidSHA1WithRSA     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 5}
	oidSHA256WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidSHA384WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidSHA512WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}

	oidExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}
)

var hashes = []struct {
	h    crypto.Hash
	oid  asn1.ObjectIdentifier
	name string
}{
	{crypto.SHA1, oidSHA1, "SHA-1"},
	{crypto.SHA256, oidSHA256, "SHA-256"},
	{crypto.SHA384, oidSHA384, "SHA-384"},
	{crypto.SHA512, oidSHA512, "SHA-512"},
}

func hashOf(oid asn1.ObjectIdentifier) crypto.Hash {
	for _, h := range hashes {
		if h.oid.Equal(oid) {
			return h.h
		}
	}
	return 0
}

func hashOID(h crypto.Hash) asn1.ObjectIdentifier {
	for _, x := range hashes {
		if x.h == h {
			return x.oid
		}
	}
	return nil
}

// hashName names a hash algorithm for messages: SHA-256, or the OID.
func hashName(oid asn1.ObjectIdentifier) string {
	for _, h := range hashes {
		if h.oid.Equal(oid) {
			return h.name
		}
	}
	return "the algorithm " + oid.String()
}

// algorithm is an AlgorithmIdentifier; params is the DER parameters
// element, nil when absent.
type algorithm struct {
	oid    asn1.ObjectIdentifier
	params []byte
}

var derNull = []byte{0x05, 0x00}

func readAlgorithm(s *cryptobyte.String, out *algorithm) bool {
	var a cryptobyte.String
	if !s.ReadASN1(&a, cbasn1.SEQUENCE) || !a.ReadASN1ObjectIdentifier(&out.oid) {
		return false
	}
	out.params = nil
	if !a.Empty() {
		var p cryptobyte.String
		var tag cbasn1.Tag
		if !a.ReadAnyASN1Element(&p, &tag) {
			return false
		}
		out.params = p
	}
	return a.Empty()
}

// paramsAbsentOrNull reports whether an algorithm has no parameters, as
// hash and ECDSA algorithms must (a NULL is tolerated, RFC 5754 §2).
func (a algorithm) paramsAbsentOrNull() bool {
	return a.params == nil || string(a.params) == string(derNull)
}

// readHashAlgorithm reads a digest AlgorithmIdentifier; the hash is 0 if
// the OID is not one this package knows.
func readHashAlgorithm(s *cryptobyte.String, h *crypto.Hash, oid *asn1.ObjectIdentifier) bool {
	var a algorithm
	if !readAlgorithm(s, &a) || !a.paramsAbsentOrNull() {
		return false
	}
	*h, *oid = hashOf(a.oid), a.oid
	return true
}

// parseGeneralizedTime reads genTime as RFC 3161 §2.4.2 writes it:
// YYYYMMDDhhmmss[.s...]Z, in UTC, with no trailing zeros in the fraction.
func parseGeneralizedTime(b []byte) (time.Time, bool) {
	s, ok := strings.CutSuffix(string(b), "Z")
	if !ok {
		return time.Time{}, false
	}
	base, frac, dot := strings.Cut(s, ".")
	if len(base) != 14 || !digits(base) || dot && (frac == "" || len(frac) > 9 || !digits(frac) || frac[len(frac)-1] == '0') {
		return time.Time{}, false
	}
	t, err := time.Parse("20060102150405", base)
	if err != nil {
		return time.Time{}, false
	}
	var ns int
	for i := range 9 {
		ns *= 10
		if i < len(frac) {
			ns += int(frac[i] - '0')
		}
	}
	return t.Add(time.Duration(ns)), true
}

func digits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
