package main

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/tlseal/tlseal/timeline"
	"github.com/tlseal/tlseal/verify"
)

// signerFlags are the --cert/--key flags of commands that seal.
type signerFlags struct {
	cert, key string
}

// loadSigner resolves --cert and --key. A PEM certificate file may hold the
// signer's certificate followed by its intermediates.
func (o *rootOptions) loadSigner(f signerFlags) (*timeline.Signer, error) {
	if f.cert == "" || f.key == "" {
		return nil, usagef("a signer is needed: --cert CERT.pem --key KEY.pem")
	}
	certs, err := readCertsPEM(f.cert)
	if err != nil {
		return nil, err
	}
	key, err := readKeyPEM(f.key)
	if err != nil {
		return nil, err
	}
	s, err := timeline.NewSigner(certs[0], certs[1:], key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.cert, err)
	}
	return s, nil
}

// loadTrust resolves --ca flags (PEM files, each with one or more CA
// certificates) into a trust policy.
func (o *rootOptions) loadTrust(caRefs []string) (*verify.Trust, error) {
	var anchors []*x509.Certificate
	for _, ref := range caRefs {
		certs, err := readCertsPEM(ref)
		if err != nil {
			return nil, err
		}
		anchors = append(anchors, certs...)
	}
	return verify.NewTrust(anchors), nil
}

func readCertsPEM(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: no PEM certificate in the file", path)
	}
	return certs, nil
}

func readKeyPEM(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, fmt.Errorf("%s: no PEM private key in the file", path)
		}
		var key any
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("%s: encrypted PEM keys are not supported; keep keys in a certificate store (tlseal certstore)", path)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		s, ok := key.(crypto.Signer)
		if !ok {
			return nil, errors.New(path + ": the key cannot sign")
		}
		return s, nil
	}
}
