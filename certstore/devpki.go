package certstore

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"time"
)

// Development PKI element IDs and subjects. The subjects say plainly that
// these certificates must not be used for real evidence.
const (
	DevCAID         = "dev-ca"
	DevSignerID     = "dev-signer"
	DevCACommonName = "tlseal DEVELOPMENT CA (not for evidence)"
	DevSignerName   = "tlseal DEVELOPMENT signer (not for evidence)"
	devOrganization = "tlseal DEVELOPMENT PKI"
	devCAValidity   = 5 * 365 * 24 * time.Hour
	devSignValidity = 2 * 365 * 24 * time.Hour
	devBackdate     = time.Hour
	defaultDevCurve = "P-256"
)

// ParseCurve maps "P-256", "P-384" or "P-521" to its curve.
func ParseCurve(name string) (elliptic.Curve, error) {
	switch name {
	case "P-256":
		return elliptic.P256(), nil
	case "P-384":
		return elliptic.P384(), nil
	case "P-521":
		return elliptic.P521(), nil
	}
	return nil, errorf(ReasonInvalidArgument, "", nil, "unknown curve %q (P-256, P-384 or P-521)", name)
}

// DevPKI is what InitDevPKI added to a store.
type DevPKI struct {
	CA, Signer Element
}

// InitDevPKI adds a development PKI to s: a self-signed CA (ID "dev-ca",
// tagged "-cadefault", valid 5 years) and a signing certificate it issued
// (ID "dev-signer", tagged "-enginedefault", key usage digitalSignature
// only, valid 2 years). Both validity periods start one hour before now.
// curve is "P-256", "P-384" or "P-521" ("" means P-256). It fails with
// Exists if either ID is taken. Write the store with Update.
func InitDevPKI(s *Store, curve string, now time.Time) (DevPKI, error) {
	return initDevPKI(s, curve, now, nil)
}

// InitDevPKIFor is InitDevPKI for a signing key kept elsewhere (in a token):
// the signer's certificate is issued for pub and stored without a key and
// without the -enginedefault tag (the store cannot sign with it); the key
// is named with --key.
func InitDevPKIFor(s *Store, pub crypto.PublicKey, now time.Time) (DevPKI, error) {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return DevPKI{}, fmt.Errorf("%T: only ECDSA keys on P-256, P-384 or P-521 can sign seals", pub)
	}
	return initDevPKI(s, k.Curve.Params().Name, now, k)
}

func initDevPKI(s *Store, curve string, now time.Time, signPub *ecdsa.PublicKey) (DevPKI, error) {
	if curve == "" {
		curve = defaultDevCurve
	}
	c, err := ParseCurve(curve)
	if err != nil {
		return DevPKI{}, err
	}
	for _, id := range []string{DevCAID, DevSignerID} {
		if s.index(id) >= 0 {
			return DevPKI{}, errorf(ReasonExists, s.path, nil, "an element with ID %q is already in the store", id)
		}
	}
	caKey, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		return DevPKI{}, err
	}
	var signKey *ecdsa.PrivateKey
	if signPub == nil {
		if signKey, err = ecdsa.GenerateKey(c, rand.Reader); err != nil {
			return DevPKI{}, err
		}
		signPub = &signKey.PublicKey
	}
	notBefore := now.Add(-devBackdate).UTC().Truncate(time.Second)
	caTmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               devName(DevCACommonName),
		NotBefore:             notBefore,
		NotAfter:              notBefore.Add(devCAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return DevPKI{}, fmt.Errorf("creating the development CA: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return DevPKI{}, err
	}
	signTmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               devName(DevSignerName),
		NotBefore:             notBefore,
		NotAfter:              notBefore.Add(devSignValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	signDER, err := x509.CreateCertificate(rand.Reader, signTmpl, caCert, signPub, caKey)
	if err != nil {
		return DevPKI{}, fmt.Errorf("creating the development signer: %w", err)
	}
	signCert, err := x509.ParseCertificate(signDER)
	if err != nil {
		return DevPKI{}, err
	}
	ca := Element{ID: DevCAID, Tags: []string{TagCADefault}, Cert: caCert, Key: caKey}
	signer := Element{ID: DevSignerID, Tags: []string{TagEngineDefault}, Cert: signCert, Key: signKey}
	if signKey == nil {
		signer.Tags, signer.Key = nil, nil
	}
	if err := s.Add(ca); err != nil {
		return DevPKI{}, err
	}
	if err := s.Add(signer); err != nil {
		s.Delete(DevCAID)
		return DevPKI{}, err
	}
	ca, _ = s.Get(DevCAID)
	signer, _ = s.Get(DevSignerID)
	return DevPKI{CA: ca, Signer: signer}, nil
}

func devName(cn string) pkix.Name {
	return pkix.Name{
		CommonName:   cn,
		Organization: []string{devOrganization},
	}
}

// randomSerial returns a random positive 127-bit serial number.
func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err)
	}
	return n.Add(n, big.NewInt(1))
}
