package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/tlseal/tlseal/internal/atomicfile"
	"github.com/tlseal/tlseal/internal/samples"
	"github.com/tlseal/tlseal/revocation"
	"github.com/tlseal/tlseal/timeline"
	"github.com/tlseal/tlseal/tsa"
	"github.com/tlseal/tlseal/verify"
)

// demoTrustedTime is the demo's story of trusted time (seal format v2):
// seals made in the past with an RFC 3161 token from a development TSA
// (tsa.Issuer), judged today. One signer's certificate has expired since:
// its seal still passes, judged at the token's time. Another signer's key
// was revoked 60 days ago: its seal timestamped 30 days ago fails, its seal
// timestamped 90 days ago passes, with an informational finding. The PKI
// is made here, backdated, since the store's development CA starts today.
func demoTrustedTime(out io.Writer, pkiDir, filesDir string) error {
	now := time.Now().UTC().Truncate(time.Second)
	day := 24 * time.Hour
	for _, d := range []string{pkiDir, filesDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	ca, caKey, err := demoCert(nil, nil, "tlseal demo history CA", now.Add(-3*365*day), now.Add(5*365*day), demoCA)
	if err != nil {
		return err
	}
	tsaCA, tsaCAKey, err := demoCert(nil, nil, "tlseal demo TSA CA", now.Add(-3*365*day), now.Add(5*365*day), demoCA)
	if err != nil {
		return err
	}
	tsaCert, tsaKey, err := demoCert(tsaCA, tsaCAKey, "tlseal demo TSA", now.Add(-3*365*day), now.Add(5*365*day), demoTSA)
	if err != nil {
		return err
	}
	retired, retiredKey, err := demoCert(ca, caKey, "recorder-2024 (certificate expired)", now.Add(-2*365*day), now.Add(-365*day), demoSigner)
	if err != nil {
		return err
	}
	stolen, stolenKey, err := demoCert(ca, caKey, "recorder-7 (key revoked 60 days ago)", now.Add(-365*day), now.Add(365*day), demoSigner)
	if err != nil {
		return err
	}
	revokedAt := now.Add(-60 * day)
	crl, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(1), ThisUpdate: now.Add(-time.Hour), NextUpdate: now.Add(30 * day),
		RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: stolen.SerialNumber, RevocationTime: revokedAt, ReasonCode: 1}},
	}, ca, caKey)
	if err != nil {
		return err
	}
	issuer := &tsa.Issuer{Cert: tsaCert, Key: tsaKey, Chain: []*x509.Certificate{tsaCA}, Accuracy: time.Second}
	serial := int64(0)
	seal := func(name string, cert *x509.Certificate, key *ecdsa.PrivateKey, at time.Time) error {
		s, err := timeline.NewSigner(cert, nil, key)
		if err != nil {
			return err
		}
		data := samples.EventJSON(int(at.Unix()%1000), at, "rec.wav")
		f, err := atomicfile.Create(filepath.Join(filesDir, name), 0o644)
		if err != nil {
			return err
		}
		defer f.Abort()
		_, err = timeline.Seal(f, bytes.NewReader(data), int64(len(data)), timeline.SealOptions{Name: name, Signer: s, Time: at,
			Timestamp: func(sig []byte) ([]byte, error) {
				serial++
				sum := sha256.Sum256(sig)
				return issuer.Issue(sum[:], at.Add(time.Second), big.NewInt(serial), nil)
			}})
		if err != nil {
			return err
		}
		return f.Commit(true)
	}
	stories := []struct {
		name   string
		cert   *x509.Certificate
		key    *ecdsa.PrivateKey
		at     time.Time
		want   verify.Verdict
		reason string
	}{
		{"retired-recorder.json", retired, retiredKey, now.Add(-500 * day), verify.Passed, "its certificate expired a year ago, but the token proves the seal was made while it was valid"},
		{"before-revocation.json", stolen, stolenKey, now.Add(-90 * day), verify.Passed, "the key was revoked 60 days ago; the token proves the seal 30 days older"},
		{"after-revocation.json", stolen, stolenKey, now.Add(-30 * day), verify.Failed, "timestamped after the revocation: made with the stolen key, or at least not provably before"},
	}
	for _, st := range stories {
		if err := seal(st.name, st.cert, st.key, st.at); err != nil {
			return fmt.Errorf("sealing %s: %w", st.name, err)
		}
	}
	for name, data := range map[string][]byte{
		"ca.pem":     pemOf("CERTIFICATE", ca.Raw),
		"tsa-ca.pem": pemOf("CERTIFICATE", tsaCA.Raw),
		"ca.crl":     pemOf("X509 CRL", crl),
	} {
		if err := os.WriteFile(filepath.Join(pkiDir, name), data, 0o644); err != nil {
			return err
		}
	}
	trust := verify.NewTrust([]*x509.Certificate{ca})
	trust.TSAAnchors = []*x509.Certificate{tsaCA}
	if trust.CRLs, err = revocation.ParseCRLs(crl, filepath.Join(pkiDir, "ca.crl")); err != nil {
		return err
	}
	fmt.Fprintf(out, "6. trusted time and revocation (seal format v2: each seal carries an RFC 3161 token of a development TSA; CRL of the CA):\n")
	for _, st := range stories {
		path := filepath.Join(filesDir, st.name)
		res, err := verify.File(path, trust)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "     %-8s %s (sealed %s, trusted time %s): %s\n", res.Verdict, path, st.at.Format(time.DateOnly), res.TrustedTime, st.reason)
		for _, f := range res.Findings {
			fmt.Fprintf(out, "              %s %s\n", f.Severity, f.Code)
		}
		if res.Verdict != st.want {
			return fmt.Errorf("demo: %s is %s, expected %s (%v)", st.name, res.Verdict, st.want, res.Findings)
		}
	}
	fmt.Fprintf(out, "   Try: tlseal verify --ca %s --tsa-ca %s --crl %s %s\n", filepath.Join(pkiDir, "ca.pem"), filepath.Join(pkiDir, "tsa-ca.pem"),
		filepath.Join(pkiDir, "ca.crl"), filepath.Join(filesDir, "*.json"))
	return nil
}

type demoCertKind int

const (
	demoCA demoCertKind = iota
	demoTSA
	demoSigner
)

// demoCert makes a P-256 certificate of the kind, signed by parent (self-
// signed without one).
func demoCert(parent *x509.Certificate, parentKey *ecdsa.PrivateKey, cn string, notBefore, notAfter time.Time, kind demoCertKind) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial.Add(serial, big.NewInt(1)),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"tlseal demo (DEVELOPMENT ONLY)"}},
		NotBefore:    notBefore, NotAfter: notAfter, BasicConstraintsValid: true,
	}
	switch kind {
	case demoCA:
		tmpl.IsCA, tmpl.KeyUsage = true, x509.KeyUsageCertSign|x509.KeyUsageCRLSign
	case demoTSA:
		// RFC 3161 §2.3: the sole extended key usage timeStamping, and
		// critical (crypto/x509 writes ExtKeyUsage non-critical).
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtraExtensions = []pkix.Extension{{Id: []int{2, 5, 29, 37}, Critical: true, Value: timeStampingEKU}}
	case demoSigner:
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

// timeStampingEKU is the DER of ExtKeyUsageSyntax holding id-kp-timeStamping.
var timeStampingEKU = []byte{0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08}

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
