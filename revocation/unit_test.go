package revocation_test

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlseal/tlseal/internal/testpki"
	"github.com/tlseal/tlseal/revocation"
)

// Go-only tests of the cases openssl ca cannot make: CRLs are built field
// by field here and signed with ECDSA P-256.

// tbsCRL is a TBSCertList (RFC 5280 section 5.1) with the issuer as raw
// DER, so that it is the issuer certificate's subject byte for byte.
type tbsCRL struct {
	Version    int
	Algorithm  pkix.AlgorithmIdentifier
	Issuer     asn1.RawValue
	ThisUpdate time.Time
	NextUpdate time.Time        `asn1:"optional"`
	Revoked    []revokedEntry   `asn1:"optional"`
	Extensions []pkix.Extension `asn1:"optional,explicit,tag:0"`
}

type revokedEntry struct {
	Serial     *big.Int
	Time       time.Time
	Extensions []pkix.Extension `asn1:"optional"`
}

type signedCRL struct {
	TBS       asn1.RawValue
	Algorithm pkix.AlgorithmIdentifier
	Signature asn1.BitString
}

var (
	ecdsaWithSHA256 = pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}}
	t0              = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	oidReason       = asn1.ObjectIdentifier{2, 5, 29, 21}
	oidInvalidity   = asn1.ObjectIdentifier{2, 5, 29, 24}
	oidNumber       = asn1.ObjectIdentifier{2, 5, 29, 20}
)

// crlSpec describes a CRL for makeCRL.
type crlSpec struct {
	thisUpdate, nextUpdate time.Time // defaults t0 and t0 + 7 days; set noNext for none
	noNext                 bool
	number                 int64 // 0: no cRLNumber
	entries                []revokedEntry
	extensions             []pkix.Extension
}

func ext(t testing.TB, id asn1.ObjectIdentifier, critical bool, value any) pkix.Extension {
	t.Helper()
	b, err := asn1.Marshal(value)
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: id, Critical: critical, Value: b}
}

func reasonExt(t testing.TB, r int) pkix.Extension {
	return ext(t, oidReason, false, asn1.Enumerated(r))
}

func invalidityExt(t testing.TB, at time.Time) pkix.Extension {
	t.Helper()
	b, err := asn1.MarshalWithParams(at, "generalized")
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: oidInvalidity, Value: b}
}

func revokedAt(serial *big.Int, at time.Time, exts ...pkix.Extension) revokedEntry {
	return revokedEntry{Serial: serial, Time: at, Extensions: exts}
}

// makeCRL returns the DER of a CRL of ca as spec says.
func makeCRL(t testing.TB, ca *testpki.Cert, spec crlSpec) []byte {
	t.Helper()
	tbs := tbsCRL{
		Version: 1, Algorithm: ecdsaWithSHA256, Issuer: asn1.RawValue{FullBytes: ca.Cert.RawSubject},
		ThisUpdate: spec.thisUpdate, NextUpdate: spec.nextUpdate, Revoked: spec.entries,
		Extensions: spec.extensions,
	}
	if tbs.ThisUpdate.IsZero() {
		tbs.ThisUpdate = t0
	}
	if tbs.NextUpdate.IsZero() {
		tbs.NextUpdate = tbs.ThisUpdate.Add(7 * 24 * time.Hour)
	}
	if spec.noNext {
		tbs.NextUpdate = time.Time{}
	}
	if spec.number != 0 {
		tbs.Extensions = append(tbs.Extensions, ext(t, oidNumber, false, big.NewInt(spec.number)))
	}
	return signTBS(t, tbs, ca.Key)
}

func signTBS(t testing.TB, tbs tbsCRL, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	tbsDER, err := asn1.Marshal(tbs)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(tbsDER)
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	der, err := asn1.Marshal(signedCRL{TBS: asn1.RawValue{FullBytes: tbsDER}, Algorithm: ecdsaWithSHA256,
		Signature: asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func parse(t testing.TB, ders ...[]byte) *revocation.Set {
	t.Helper()
	s := &revocation.Set{}
	for i, der := range ders {
		one, err := revocation.ParseCRLs(der, "crl"+string(rune('a'+i)))
		if err != nil {
			t.Fatal(err)
		}
		s.Merge(one)
	}
	return s
}

func check(t testing.TB, s *revocation.Set, cert, issuer *x509.Certificate, opts revocation.Options) revocation.Result {
	t.Helper()
	if opts.Now.IsZero() {
		opts.Now = t0.Add(time.Hour)
	}
	r, err := s.Check(cert, issuer, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestEdgeCases covers the rules openssl ca cannot exercise.
func TestEdgeCases(t *testing.T) {
	ca := testpki.CA(t, testpki.Options{CN: "edge CA"})
	leaf := testpki.Leaf(t, ca, testpki.Options{CN: "edge signer"})
	serial := leaf.Cert.SerialNumber
	r1 := t0.Add(-48 * time.Hour)
	r2 := t0.Add(-24 * time.Hour)
	rawEntry := func(id asn1.ObjectIdentifier, critical bool, value []byte) revokedEntry {
		return revokedAt(serial, r2, pkix.Extension{Id: id, Critical: critical, Value: value})
	}
	tests := []struct {
		name   string
		crls   [][]byte
		opts   revocation.Options
		want   revocation.Status
		reason revocation.Reason // of Rejected[0]
		check  func(*testing.T, revocation.Result)
	}{
		{name: "earliest R of several CRLs", crls: [][]byte{
			makeCRL(t, ca, crlSpec{number: 1, entries: []revokedEntry{revokedAt(serial, r2)}}),
			makeCRL(t, ca, crlSpec{number: 2, entries: []revokedEntry{revokedAt(serial, r2, invalidityExt(t, r1), reasonExt(t, 1))}}),
		}, opts: revocation.Options{TrustedTime: r1.Add(time.Hour)}, want: revocation.Revoked, check: func(t *testing.T, r revocation.Result) {
			if !r.RevokedAt.Equal(r1) || r.CRL.List.Number.Int64() != 2 || r.Reason != revocation.KeyCompromise {
				t.Errorf("R %v from CRL %v, reason %v", r.RevokedAt, r.CRL.List.Number, r.Reason)
			}
		}},
		{name: "the same serial twice in one CRL", crls: [][]byte{
			makeCRL(t, ca, crlSpec{entries: []revokedEntry{revokedAt(serial, r2), revokedAt(serial, r1)}}),
		}, opts: revocation.Options{TrustedTime: r1.Add(time.Hour)}, want: revocation.Revoked},
		{name: "hold lifted, CRLs without numbers", crls: [][]byte{
			makeCRL(t, ca, crlSpec{entries: []revokedEntry{revokedAt(serial, r2, reasonExt(t, 6))}}),
			makeCRL(t, ca, crlSpec{thisUpdate: t0.Add(time.Minute)}),
		}, want: revocation.NotRevoked},
		{name: "hold in the newest CRL", crls: [][]byte{
			makeCRL(t, ca, crlSpec{thisUpdate: t0.Add(-time.Minute)}),
			makeCRL(t, ca, crlSpec{entries: []revokedEntry{revokedAt(serial, r2, reasonExt(t, 6))}}),
		}, want: revocation.Revoked},
		{name: "hold, then revoked", crls: [][]byte{
			makeCRL(t, ca, crlSpec{number: 1, entries: []revokedEntry{revokedAt(serial, r1, reasonExt(t, 6))}}),
			makeCRL(t, ca, crlSpec{number: 2, entries: []revokedEntry{revokedAt(serial, r2, reasonExt(t, 1))}}),
		}, want: revocation.Revoked, check: func(t *testing.T, r revocation.Result) {
			// The hold is not lifted (the newer CRL lists the serial) and its R is the earlier.
			if r.Reason != revocation.CertificateHold || !r.RevokedAt.Equal(r1) {
				t.Errorf("reason %v, R %v", r.Reason, r.RevokedAt)
			}
		}},
		{name: "removeFromCRL in a complete CRL", crls: [][]byte{
			makeCRL(t, ca, crlSpec{entries: []revokedEntry{revokedAt(serial, r2, reasonExt(t, 8))}}),
		}, want: revocation.CRLInvalid, reason: revocation.ReasonMalformed},
		{name: "critical unknown entry extension", crls: [][]byte{
			makeCRL(t, ca, crlSpec{entries: []revokedEntry{rawEntry(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 2}, true, []byte{5, 0})}}),
		}, want: revocation.CRLInvalid, reason: revocation.ReasonCriticalExtension},
		{name: "non-critical unknown entry extension", crls: [][]byte{
			makeCRL(t, ca, crlSpec{entries: []revokedEntry{rawEntry(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 2}, false, []byte{5, 0})}}),
		}, want: revocation.Revoked},
		{name: "certificateIssuer entry extension", crls: [][]byte{
			makeCRL(t, ca, crlSpec{entries: []revokedEntry{rawEntry(asn1.ObjectIdentifier{2, 5, 29, 29}, true, []byte{0x30, 0})}}),
		}, want: revocation.CRLInvalid, reason: revocation.ReasonUnsupported},
		{name: "invalidityDate as UTCTime", crls: [][]byte{
			makeCRL(t, ca, crlSpec{entries: []revokedEntry{revokedAt(serial, r2, ext(t, oidInvalidity, false, r1))}}),
		}, want: revocation.CRLInvalid, reason: revocation.ReasonMalformed},
		{name: "an extension twice", crls: [][]byte{
			makeCRL(t, ca, crlSpec{number: 1, extensions: []pkix.Extension{ext(t, oidNumber, false, 2)}}),
		}, want: revocation.CRLInvalid, reason: revocation.ReasonMalformed},
		{name: "an entry extension twice", crls: [][]byte{
			makeCRL(t, ca, crlSpec{entries: []revokedEntry{revokedAt(serial, r2, reasonExt(t, 1), reasonExt(t, 4))}}),
		}, want: revocation.CRLInvalid, reason: revocation.ReasonMalformed},
		{name: "nextUpdate before thisUpdate", crls: [][]byte{
			makeCRL(t, ca, crlSpec{nextUpdate: t0.Add(-time.Hour)}),
		}, want: revocation.CRLInvalid, reason: revocation.ReasonMalformed},
		{name: "no nextUpdate", crls: [][]byte{makeCRL(t, ca, crlSpec{noNext: true})},
			want: revocation.CRLExpired, check: detailHas("no nextUpdate")},
		{name: "no nextUpdate, currency not checked", crls: [][]byte{makeCRL(t, ca, crlSpec{noNext: true})},
			opts: revocation.Options{Currency: revocation.CurrencyNotChecked}, want: revocation.NotRevoked},
		{name: "current at the trusted time, no trusted time: judged now", crls: [][]byte{makeCRL(t, ca, crlSpec{})},
			opts: revocation.Options{Currency: revocation.CurrentAtTrustedTime, Now: t0.Add(30 * 24 * time.Hour)}, want: revocation.CRLExpired},
		{name: "nextUpdate equal to the verification time is current", crls: [][]byte{makeCRL(t, ca, crlSpec{})},
			opts: revocation.Options{Now: t0.Add(7 * 24 * time.Hour)}, want: revocation.NotRevoked},
		{name: "issuingDistributionPoint with two only... flags", crls: [][]byte{
			makeCRL(t, ca, crlSpec{extensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 28}, Critical: true,
				Value: []byte{0x30, 0x06, 0x81, 0x01, 0xff, 0x82, 0x01, 0xff}}}}),
		}, want: revocation.CRLInvalid, reason: revocation.ReasonMalformed},
		{name: "issuingDistributionPoint that does not parse", crls: [][]byte{
			makeCRL(t, ca, crlSpec{extensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 28}, Critical: true, Value: []byte{0x04, 0x00}}}}),
		}, want: revocation.CRLInvalid, reason: revocation.ReasonMalformed},
		{name: "non-critical unknown CRL extension", crls: [][]byte{
			makeCRL(t, ca, crlSpec{extensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 3}, Value: []byte{5, 0}}}}),
		}, want: revocation.NotRevoked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := check(t, parse(t, tt.crls...), leaf.Cert, ca.Cert, tt.opts)
			if r.Status != tt.want {
				t.Fatalf("status %v, want %v: %s", r.Status, tt.want, r.Detail)
			}
			t.Logf("%s: %s", r.Status.Code(), r.Detail)
			if tt.reason != 0 {
				if len(r.Rejected) == 0 || r.Rejected[0].Err.Reason != tt.reason {
					t.Errorf("rejected %v, want %v", r.Rejected, tt.reason)
				}
			} else if len(r.Rejected) != 0 {
				t.Errorf("rejected: %v", r.Rejected[0].Err)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

// TestIssuerNotCA: a CRL signed by the key of an end-entity certificate
// does not count, though the signature verifies.
func TestIssuerNotCA(t *testing.T) {
	ca := testpki.CA(t, testpki.Options{})
	notCA := testpki.Leaf(t, ca, testpki.Options{CN: "not a CA", KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign})
	below := testpki.Leaf(t, notCA, testpki.Options{CN: "below a leaf"})
	r := check(t, parse(t, makeCRL(t, notCA, crlSpec{})), below.Cert, notCA.Cert, revocation.Options{})
	if r.Status != revocation.CRLInvalid || revocation.ReasonOf(r.Rejected[0].Err) != revocation.ReasonIssuer || !strings.Contains(r.Detail, "not a CA") {
		t.Fatalf("%v: %s", r.Status, r.Detail)
	}
}

func TestCheckArguments(t *testing.T) {
	ca := testpki.CA(t, testpki.Options{})
	other := testpki.CA(t, testpki.Options{CN: "other CA"})
	leaf := testpki.Leaf(t, ca, testpki.Options{})
	s := parse(t, makeCRL(t, ca, crlSpec{}))
	for name, args := range map[string][2]*x509.Certificate{
		"no certificate": {nil, ca.Cert}, "no issuer": {leaf.Cert, nil}, "wrong issuer": {leaf.Cert, other.Cert},
	} {
		if _, err := s.Check(args[0], args[1], revocation.Options{}); revocation.ReasonOf(err) != revocation.ReasonInvalidArgument {
			t.Errorf("%s: %v", name, err)
		}
	}
	var none *revocation.Set
	r, err := none.Check(leaf.Cert, ca.Cert, revocation.Options{})
	if err != nil || r.Status != revocation.NoCRL || r.Status.Code() != "crl.missing" || none.Len() != 0 || none.CRLs() != nil {
		t.Errorf("nil set: %v %v", r.Status, err)
	}
	// A CRL of another issuer is not the issuer's.
	r = check(t, parse(t, makeCRL(t, other, crlSpec{})), leaf.Cert, ca.Cert, revocation.Options{})
	if r.Status != revocation.NoCRL {
		t.Errorf("other issuer's CRL: %v", r.Status)
	}
}

// TestParseErrors covers ParseCRLs input that openssl does not write.
func TestParseErrors(t *testing.T) {
	ca := testpki.CA(t, testpki.Options{})
	der := makeCRL(t, ca, crlSpec{})
	crlPEM := pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
	tests := []struct {
		name string
		data []byte
		want revocation.Reason
		says string
	}{
		{"too large", make([]byte, revocation.MaxCRLSize+1), revocation.ReasonTooLarge, "more than"},
		{"whitespace", []byte(" \n\t"), revocation.ReasonNotCRL, "empty"},
		{"a certificate after the CRL", append(crlPEM, ca.PEM()...), revocation.ReasonNotCRL, `PEM block 2 is "CERTIFICATE"`},
		{"CRL block of garbage", pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: []byte{0x30, 0x03, 1, 2, 3}}), revocation.ReasonMalformed, "PEM block 1"},
		{"BEGIN without a block", []byte("-----BEGIN X509 CRL-----\nAAAA\n"), revocation.ReasonMalformed, "truncated"},
		{"DER of an OCTET STRING in a SEQUENCE", []byte{0x30, 0x02, 0x04, 0x00}, revocation.ReasonMalformed, ""},
		{"DER, TBS not a SEQUENCE", []byte{0x30, 0x07, 0x04, 0x00, 0x30, 0x00, 0x03, 0x01, 0x00}, revocation.ReasonNotCRL, "DER but not a CRL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := revocation.ParseCRLs(tt.data, "input.crl")
			var e *revocation.Error
			if !errors.As(err, &e) || e.Reason != tt.want || e.File != "input.crl" || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("%v, want %v saying %q", err, tt.want, tt.says)
			}
		})
	}
	// PEM with explanatory text around the blocks is fine.
	s, err := revocation.ParseCRLs(append(append([]byte("Certificate Revocation List\n"), crlPEM...), "trailer\n"...), "text.pem")
	if err != nil || s.Len() != 1 || s.CRLs()[0].String() != "text.pem" {
		t.Fatalf("%v", err)
	}

	// Load refuses a file above the bound without reading it.
	big := filepath.Join(t.TempDir(), "big.crl")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(revocation.MaxCRLSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := revocation.Load(big); revocation.ReasonOf(err) != revocation.ReasonTooLarge {
		t.Errorf("big file: %v", err)
	}
}

func TestStrings(t *testing.T) {
	e := &revocation.Error{Reason: revocation.ReasonSignature, File: "x.crl", Detail: "forged", Err: errors.New("boom")}
	if got := e.Error(); got != "crl x.crl: signature does not verify: forged: boom" {
		t.Errorf("Error() = %q", got)
	}
	if got := (&revocation.Error{Reason: revocation.ReasonInvalidArgument}).Error(); got != "crl: invalid argument" {
		t.Errorf("Error() = %q", got)
	}
	if errors.Unwrap(e).Error() != "boom" || revocation.ReasonOf(errors.New("x")) != 0 {
		t.Error("Unwrap or ReasonOf")
	}
	if revocation.Reason(99).String() != "revocation.Reason(99)" || revocation.Status(0).String() != "revocation.Status(0)" {
		t.Error("unknown values")
	}
	codes := map[revocation.Status]string{
		revocation.NotRevoked: "", revocation.Revoked: "cert.revoked", revocation.RevokedAfterTrustedTime: "cert.revokedAfterTrustedTime",
		revocation.NoCRL: "crl.missing", revocation.CRLInvalid: "crl.invalid", revocation.CRLExpired: "crl.expired", 0: "",
	}
	for s, c := range codes {
		if s.Code() != c {
			t.Errorf("%v.Code() = %q, want %q", s, s.Code(), c)
		}
	}
	for r := revocation.ReasonIO; r <= revocation.ReasonInvalidArgument; r++ {
		if strings.HasPrefix(r.String(), "revocation.") {
			t.Errorf("reason %d has no text", r)
		}
	}
	if revocation.KeyCompromise.String() != "keyCompromise" || revocation.CRLReason(7).String() != "reason(7)" {
		t.Error("CRLReason strings")
	}
}

// TestConcurrentCheck runs Check from many goroutines (the signature
// verdicts are cached per issuer); run with -race.
func TestConcurrentCheck(t *testing.T) {
	ca := testpki.CA(t, testpki.Options{})
	forger := testpki.CA(t, testpki.Options{})
	leaves := []*testpki.Cert{testpki.Leaf(t, ca, testpki.Options{}), testpki.Leaf(t, ca, testpki.Options{})}
	s := parse(t, makeCRL(t, ca, crlSpec{entries: []revokedEntry{revokedAt(leaves[0].Cert.SerialNumber, t0)}}),
		makeCRL(t, forger, crlSpec{}))
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 20 {
				leaf := leaves[(i+j)%2]
				r, err := s.Check(leaf.Cert, ca.Cert, revocation.Options{Now: t0.Add(time.Hour)})
				want := revocation.NotRevoked
				if leaf == leaves[0] {
					want = revocation.Revoked
				}
				if err != nil || r.Status != want {
					t.Errorf("%v %v, want %v", r.Status, err, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}
