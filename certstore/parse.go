package certstore

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"software.sslmate.com/src/go-pkcs12"
)

// ParseCertificates parses every CERTIFICATE block of PEM data, in order. If
// data holds no PEM at all, it is parsed as a single DER certificate.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	sawPEM := false
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		sawPEM = true
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if !sawPEM && !bytes.Contains(data, []byte("-----BEGIN")) {
		c, err := x509.ParseCertificate(data)
		if err != nil {
			return nil, fmt.Errorf("neither PEM nor a DER certificate: %w", err)
		}
		return []*x509.Certificate{c}, nil
	}
	if len(certs) == 0 {
		return nil, errors.New("no CERTIFICATE block found")
	}
	return certs, nil
}

// ParsePrivateKey parses the one private key in PEM data: PKCS#8
// ("PRIVATE KEY"), SEC1 ("EC PRIVATE KEY", an "EC PARAMETERS" block may
// precede it) or PKCS#1 ("RSA PRIVATE KEY"). Other blocks, such as
// certificates, are skipped. Encrypted keys are refused: decrypt them first
// (openssl pkcs8 -in enc.pem -out key.pem). ok is false if data holds no
// private key block at all.
func ParsePrivateKey(data []byte) (key crypto.Signer, ok bool, err error) {
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		var k any
		switch b.Type {
		case "PRIVATE KEY":
			k, err = parsePKCS8(b.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			if _, enc := b.Headers["Proc-Type"]; enc {
				return nil, true, errors.New("the private key is encrypted; decrypt it first (openssl pkcs8 -topk8 -nocrypt)")
			}
			k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, true, errors.New("the private key is encrypted; decrypt it first (openssl pkcs8 -in KEY -out PLAIN.pem)")
		default:
			continue
		}
		if err != nil {
			return nil, true, fmt.Errorf("%s: %w", b.Type, err)
		}
		if key != nil {
			return nil, true, errors.New("more than one private key")
		}
		s, isSigner := k.(crypto.Signer)
		if !isSigner {
			return nil, true, fmt.Errorf("%T keys cannot sign", k)
		}
		key = s
	}
	if key == nil {
		return nil, false, errors.New("no private key block found")
	}
	return key, true, nil
}

// NewElement builds an element from PEM (or DER) certificate data and
// optional PEM private key data. The certificate data must hold exactly one
// certificate. If keyData is nil, a private key in certData is used if there
// is one. The element is validated as Add would.
func NewElement(id string, certData, keyData []byte, tags []string) (Element, error) {
	certs, err := ParseCertificates(certData)
	if err != nil {
		return Element{}, errorf(ReasonInvalidElement, "", err, "certificate")
	}
	if len(certs) != 1 {
		return Element{}, errorf(ReasonInvalidElement, "", nil, "the certificate file holds %d certificates; add them one by one", len(certs))
	}
	e := Element{ID: id, Tags: tags, Cert: certs[0]}
	src := keyData
	if src == nil {
		src = certData
	}
	key, found, err := ParsePrivateKey(src)
	switch {
	case found && err != nil:
		return Element{}, errorf(ReasonInvalidElement, "", err, "private key")
	case !found && keyData != nil:
		return Element{}, errorf(ReasonInvalidElement, "", err, "private key")
	case found:
		e.Key = key
	}
	return checkElement("", e)
}

// NewElementFromPKCS12 builds an element from a PKCS#12 (.p12, .pfx) file
// holding one certificate and its private key; both the legacy (RC2/3DES,
// SHA-1) and the modern (AES, PBKDF2, as OpenSSL 3 writes by default)
// encryptions are read. Further CA certificates in the file are returned
// but not part of the element.
func NewElementFromPKCS12(id string, p12 []byte, password string, tags []string) (Element, []*x509.Certificate, error) {
	k, cert, cas, err := pkcs12.DecodeChain(p12, password)
	if err != nil {
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			return Element{}, nil, errorf(ReasonInvalidArgument, "", err, "PKCS#12 password")
		}
		return Element{}, nil, errorf(ReasonInvalidElement, "", err, "PKCS#12")
	}
	key, ok := k.(crypto.Signer)
	if !ok {
		return Element{}, nil, errorf(ReasonInvalidElement, "", nil, "PKCS#12: %T keys cannot sign", k)
	}
	e, err := checkElement("", Element{ID: id, Tags: tags, Cert: cert, Key: key})
	return e, cas, err
}
