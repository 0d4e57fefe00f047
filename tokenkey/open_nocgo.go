//go:build !cgo

package tokenkey

import (
	"crypto"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
)

func unsupported(uri string) error {
	return &Error{Reason: ReasonUnsupportedBuild, URI: Redact(uri),
		Err: errors.New("this tlseal was built with CGO_ENABLED=0; PKCS#11 keys need a build with cgo (CGO_ENABLED=1 and a C compiler)")}
}

// Open resolves a PKCS#11 URI; this build cannot.
func Open(uri string) (*Key, error) { return nil, unsupported(uri) }

// Generate makes a key in a token; this build cannot.
func Generate(uri string, _ elliptic.Curve) (crypto.Signer, error) { return nil, unsupported(uri) }

// StoreCertificate stores a certificate in a token; this build cannot.
func StoreCertificate(uri string, _ *x509.Certificate) error { return unsupported(uri) }
