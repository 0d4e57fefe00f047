package revocation_test

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/tlseal/tlseal/revocation"
)

// FuzzParseCRLs: ParseCRLs never panics, fails only with an *Error, and
// what it parses parses again from its DER (and from that DER as PEM) to
// the same revoked serials and the same Problem; Check never panics and
// returns a Status. Seeded with the CRLs openssl made in testdata.
func FuzzParseCRLs(f *testing.F) {
	for _, file := range seedFiles(f) {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	ca := readCert(f, "testdata/ca.pem")
	certs := []*x509.Certificate{readCert(f, "testdata/revoked.pem"), readCert(f, "testdata/valid.pem")}
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := revocation.ParseCRLs(data, "fuzz")
		if err != nil {
			if revocation.ReasonOf(err) == 0 || s != nil {
				t.Fatalf("untyped error %v, or a set with it", err)
			}
			return
		}
		if s.Len() == 0 {
			t.Fatal("no error and no CRL")
		}
		for _, c := range s.CRLs() {
			want := serials(c)
			for _, again := range [][]byte{c.List.Raw, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: c.List.Raw})} {
				s2, err := revocation.ParseCRLs(again, "again")
				if err != nil || s2.Len() != 1 {
					t.Fatalf("does not parse again: %v", err)
				}
				c2 := s2.CRLs()[0]
				if got := serials(c2); !slices.Equal(got, want) {
					t.Fatalf("serials %v, then %v", want, got)
				}
				if (c.Problem == nil) != (c2.Problem == nil) || c.Problem != nil && c.Problem.Reason != c2.Problem.Reason {
					t.Fatalf("problem %v, then %v", c.Problem, c2.Problem)
				}
			}
		}
		for _, cert := range certs {
			for _, trusted := range []time.Time{{}, now.Add(-24 * time.Hour)} {
				r, err := s.Check(cert, ca, revocation.Options{Now: now, TrustedTime: trusted})
				if err != nil || r.Status < revocation.NotRevoked || r.Status > revocation.CRLExpired || r.Detail == "" {
					t.Fatalf("%v %v %q", r.Status, err, r.Detail)
				}
			}
		}
	})
}

func serials(c *revocation.CRL) []string {
	var s []string
	for _, e := range c.List.RevokedCertificateEntries {
		s = append(s, e.SerialNumber.String())
	}
	slices.Sort(s)
	return s
}
