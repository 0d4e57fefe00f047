package revocation_test

import (
	"bytes"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlseal/tlseal/revocation"
)

// pki is what TestOpenSSL checks: CAs, signers and CRLs made by openssl.
type pki struct {
	dir string
	// ca is the CA; caOtherSKID the same key and name with another subject
	// key identifier; forger a second CA with the same name and another
	// key; noCRLSign a CA whose keyUsage lacks cRLSign.
	ca, caOtherSKID, forger, noCRLSign *x509.Certificate
	// Signers of ca: revoked (keyCompromise, no invalidity date),
	// compromised (-crl_compromise: invalidity date 2025-01-01T12:00Z),
	// valid, held (certificateHold), withCDP (a CRL distribution point
	// http://example.test/a.crl); noCRLSignSigner of noCRLSign.
	revoked, compromised, valid, held, withCDP, noCRLSignSigner *x509.Certificate
	// revokedFrom and revokedTo bracket the revocation date of revoked.
	revokedFrom, revokedTo time.Time
	crl                    map[string]string // CRL files by short name
}

var invalidityDate = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

func makePKI(t *testing.T) *pki {
	t.Helper()
	opensslBin(t)
	dir := t.TempDir()
	p := &pki{dir: dir, crl: map[string]string{}}
	const subject = "/CN=tlseal CRL test CA/O=tlseal tests"

	a := newCA(t, filepath.Join(dir, "a"), subject, caOptions{})
	p.ca = a.cert()
	p.revoked = a.issue("revoked", "revoked signer", "signer_ext")
	p.compromised = a.issue("compromised", "compromised signer", "signer_ext")
	p.valid = a.issue("valid", "valid signer", "signer_ext")
	p.held = a.issue("held", "held signer", "signer_ext")
	p.withCDP = a.issue("cdp", "signer with a CRL distribution point", "signer_cdp_ext")
	p.crl["empty"] = a.gencrl("empty.pem")

	p.revokedFrom = time.Now().Add(-time.Second).Truncate(time.Second)
	a.revoke("revoked", "-crl_reason", "keyCompromise")
	p.revokedTo = time.Now().Add(time.Second)
	a.revoke("compromised", "-crl_compromise", opensslTime(invalidityDate))
	a.revoke("held", "-crl_hold", "holdInstructionReject")

	p.crl["current"] = a.gencrl("current.pem")
	p.crl["current.der"] = a.der("current.pem")
	p.crl["expired"] = a.gencrl("expired.pem", "-crl_lastupdate", "20200101000000Z", "-crl_nextupdate", "20200201000000Z")
	now := time.Now()
	p.crl["future"] = a.gencrl("future.pem", "-crl_lastupdate", opensslTime(now.Add(48*time.Hour)), "-crl_nextupdate", opensslTime(now.Add(9*24*time.Hour)))
	p.crl["hourly"] = a.gencrl("hourly.pem", "-crlhours", "1")
	for _, ext := range []string{"delta", "critical", "indirect", "partial", "idpa", "idpb", "onlyca"} {
		p.crl[ext] = a.gencrl(ext+".pem", "-crlexts", ext+"_ext")
	}
	// Two CRLs in one PEM file: the one before the revocations, then the
	// current one.
	two := filepath.Join(dir, "two.pem")
	writeFile(t, two, append(readFile(t, p.crl["empty"]), readFile(t, p.crl["current"])...))
	p.crl["two"] = two
	// The hold is lifted: a newer CRL no longer lists it.
	a.unrevoke(p.held.SerialNumber.Text(16))
	p.crl["released"] = a.gencrl("released.pem")

	// The same key and name with another subject key identifier.
	openssl(t, a.dir, "req", "-new", "-x509", "-config", "openssl.cnf", "-extensions", "ca_otherskid_ext",
		"-key", "ca.key", "-subj", subject, "-days", "30", "-out", "ca-otherskid.pem")
	p.caOtherSKID = readCert(t, a.path("ca-otherskid.pem"))

	// A forger's CA with the same name: its CRLs list nothing.
	f := newCA(t, filepath.Join(dir, "forger"), subject, caOptions{})
	p.forger = f.cert()
	p.crl["forged"] = f.gencrl("forged.pem", "-crlexts", "noaki_ext")
	p.crl["forged-aki"] = f.gencrl("forged-aki.pem")

	n := newCA(t, filepath.Join(dir, "nocrlsign"), "/CN=tlseal CA without cRLSign", caOptions{ext: "ca_nocrlsign_ext"})
	p.noCRLSign = n.cert()
	p.noCRLSignSigner = n.issue("signer", "signer of a CA without cRLSign", "signer_ext")
	p.crl["nocrlsign"] = n.gencrl("nocrlsign.pem")

	v1 := newCA(t, filepath.Join(dir, "v1"), "/CN=tlseal v1 CRL CA", caOptions{v1: true})
	p.crl["v1"] = v1.gencrl("v1.pem")

	// Edited copies of the current CRL (DER): the revoked serial changed (an
	// attempt to hide the revocation), the last signature byte flipped,
	// truncated, trailing bytes, the outer length damaged.
	der := readFile(t, p.crl["current.der"])
	serial := p.revoked.SerialNumber.Bytes()
	needle := append([]byte{0x02, byte(len(serial))}, serial...)
	if bytes.Count(der, needle) != 1 {
		t.Fatalf("the revoked serial %x is not in the CRL exactly once", serial)
	}
	hidden := bytes.Replace(der, needle, append(needle[:len(needle)-1:len(needle)-1], serial[len(serial)-1]^0x7f), 1)
	p.crl["hidden"] = p.write(t, "hidden.der", hidden)
	flipped := append([]byte(nil), der...)
	flipped[len(flipped)-1] ^= 0x01
	p.crl["sigflip"] = p.write(t, "sigflip.der", flipped)
	p.crl["truncated"] = p.write(t, "truncated.der", der[:len(der)-10])
	p.crl["trailing"] = p.write(t, "trailing.der", append(append([]byte(nil), der...), 0, 0))
	damaged := append([]byte(nil), der...)
	damaged[2]++ // 30 82 LL LL or 30 81 LL: the length
	p.crl["badlength"] = p.write(t, "badlength.der", damaged)
	// Not CRLs.
	p.crl["cert"] = a.path("ca.pem")
	openssl(t, a.dir, "x509", "-in", "ca.pem", "-outform", "DER", "-out", "ca.der")
	p.crl["cert.der"] = a.path("ca.der")
	p.crl["text"] = p.write(t, "notes.txt", []byte("this is not a CRL\n"))
	p.crl["emptyfile"] = p.write(t, "empty.crl", nil)
	pemTruncated := readFile(t, p.crl["two"])
	p.crl["pemtruncated"] = p.write(t, "pemtruncated.pem", pemTruncated[:len(pemTruncated)-40])
	return p
}

func (p *pki) write(t *testing.T, name string, data []byte) string {
	path := filepath.Join(p.dir, name)
	writeFile(t, path, data)
	return path
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (p *pki) load(t *testing.T, names ...string) *revocation.Set {
	t.Helper()
	var paths []string
	for _, n := range names {
		path, ok := p.crl[n]
		if !ok {
			t.Fatalf("no CRL %q", n)
		}
		paths = append(paths, path)
	}
	s, err := revocation.Load(paths...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestOpenSSL checks certificates against CRLs made by openssl ca, one
// case for each rule of the package documentation.
func TestOpenSSL(t *testing.T) {
	p := makePKI(t)
	before := p.revokedFrom.Add(-time.Hour) // a trusted time before the revocation
	after := p.revokedTo.Add(time.Hour)     // and one after it
	tests := []struct {
		name         string
		crls         []string
		cert, issuer *x509.Certificate
		opts         revocation.Options
		want         revocation.Status
		wantRejected revocation.Reason // the reason of Rejected[0], if any
		wantSkipped  revocation.Reason
		check        func(*testing.T, revocation.Result)
	}{
		{name: "revoked, trusted time after R", crls: []string{"current"}, cert: p.revoked, opts: revocation.Options{TrustedTime: after},
			want: revocation.Revoked, check: func(t *testing.T, r revocation.Result) {
				if r.RevokedAt.Before(p.revokedFrom) || r.RevokedAt.After(p.revokedTo) {
					t.Errorf("RevokedAt %v, want between %v and %v", r.RevokedAt, p.revokedFrom, p.revokedTo)
				}
				if !r.InvalidityDate.IsZero() || !r.RevocationDate.Equal(r.RevokedAt) || r.Reason != revocation.KeyCompromise {
					t.Errorf("entry: %+v", r)
				}
				if r.CRL == nil || r.CRL.List.Number.Int64() != 2 || !strings.Contains(r.Detail, "not before") {
					t.Errorf("CRL %v, detail %q", r.CRL, r.Detail)
				}
			}},
		{name: "revoked, trusted time before R", crls: []string{"current"}, cert: p.revoked, opts: revocation.Options{TrustedTime: before},
			want: revocation.RevokedAfterTrustedTime, check: detailHas("predates")},
		{name: "revoked, trusted time equal to R", crls: []string{"current"}, cert: p.revoked, want: revocation.Revoked,
			check: func(t *testing.T, r revocation.Result) {
				// Check again at exactly R: not before R is revoked.
				s := p.load(t, "current")
				r2, err := s.Check(p.revoked, p.ca, revocation.Options{TrustedTime: r.RevokedAt})
				if err != nil || r2.Status != revocation.Revoked {
					t.Errorf("at R: %v %v", r2.Status, err)
				}
			}},
		{name: "revoked, no trusted time", crls: []string{"current"}, cert: p.revoked, want: revocation.Revoked, check: detailHas("no trusted time")},
		{name: "revoked, DER", crls: []string{"current.der"}, cert: p.revoked, want: revocation.Revoked},
		{name: "invalidity date is R: trusted time after it", crls: []string{"current"}, cert: p.compromised,
			opts: revocation.Options{TrustedTime: invalidityDate.Add(24 * time.Hour)}, // but before the revocation date
			want: revocation.Revoked, check: func(t *testing.T, r revocation.Result) {
				if !r.RevokedAt.Equal(invalidityDate) || !r.InvalidityDate.Equal(invalidityDate) || !r.RevocationDate.After(invalidityDate) {
					t.Errorf("RevokedAt %v, invalidity %v, revocation %v", r.RevokedAt, r.InvalidityDate, r.RevocationDate)
				}
				if r.Reason != revocation.KeyCompromise || !strings.Contains(r.Detail, "invalidity date") {
					t.Errorf("reason %v, detail %q", r.Reason, r.Detail)
				}
			}},
		{name: "invalidity date is R: trusted time before it", crls: []string{"current"}, cert: p.compromised,
			opts: revocation.Options{TrustedTime: invalidityDate.Add(-time.Second)}, want: revocation.RevokedAfterTrustedTime},
		{name: "certificateHold is a revocation", crls: []string{"current"}, cert: p.held, want: revocation.Revoked,
			check: func(t *testing.T, r revocation.Result) {
				if r.Reason != revocation.CertificateHold {
					t.Errorf("reason %v", r.Reason)
				}
			}},
		{name: "hold lifted by a newer CRL", crls: []string{"current", "released"}, cert: p.held, want: revocation.NotRevoked},
		{name: "not revoked", crls: []string{"current"}, cert: p.valid, want: revocation.NotRevoked,
			check: func(t *testing.T, r revocation.Result) {
				if r.CRL == nil || !strings.Contains(r.Detail, "not revoked by CRL") || len(r.Rejected)+len(r.Skipped) != 0 {
					t.Errorf("%+v", r)
				}
			}},
		{name: "no CRL for the issuer", crls: []string{"current"}, cert: p.noCRLSignSigner, issuer: p.noCRLSign, want: revocation.NoCRL},
		{name: "no CRLs at all", cert: p.valid, want: revocation.NoCRL},
		{name: "expired CRL, not listed", crls: []string{"expired"}, cert: p.valid, want: revocation.CRLExpired, check: detailHas("nextUpdate is before the verification time")},
		{name: "expired CRL still proves a revocation", crls: []string{"expired"}, cert: p.revoked, want: revocation.Revoked},
		{name: "expired CRL, currency not checked", crls: []string{"expired"}, cert: p.valid,
			opts: revocation.Options{Currency: revocation.CurrencyNotChecked}, want: revocation.NotRevoked},
		{name: "expired CRL, current at the trusted time", crls: []string{"expired"}, cert: p.valid,
			opts: revocation.Options{Currency: revocation.CurrentAtTrustedTime, TrustedTime: time.Date(2020, 1, 15, 0, 0, 0, 0, time.UTC)}, want: revocation.NotRevoked},
		{name: "CRL current now, expired at a later verification time", crls: []string{"hourly"}, cert: p.valid,
			opts: revocation.Options{Now: time.Now().Add(2 * time.Hour)}, want: revocation.CRLExpired},
		{name: "expired and current: the current one decides", crls: []string{"expired", "current"}, cert: p.valid, want: revocation.NotRevoked},
		{name: "thisUpdate in the future", crls: []string{"future"}, cert: p.valid, want: revocation.CRLInvalid, wantRejected: revocation.ReasonNotYetValid},
		{name: "thisUpdate in the future, within the clock skew", crls: []string{"future"}, cert: p.valid,
			opts: revocation.Options{ClockSkew: 72 * time.Hour}, want: revocation.NotRevoked},
		{name: "forged: same name, other key", crls: []string{"forged"}, cert: p.revoked, want: revocation.CRLInvalid, wantRejected: revocation.ReasonSignature},
		{name: "forged with an authority key identifier", crls: []string{"forged-aki"}, cert: p.valid, want: revocation.CRLInvalid, wantRejected: revocation.ReasonSignature},
		{name: "forged beside the real one", crls: []string{"forged", "current"}, cert: p.valid, want: revocation.NotRevoked, wantRejected: revocation.ReasonSignature},
		{name: "issuer certificate with another key identifier", crls: []string{"current"}, cert: p.valid, issuer: p.caOtherSKID,
			want: revocation.CRLInvalid, wantRejected: revocation.ReasonAuthorityKeyID},
		{name: "issuer may not sign CRLs", crls: []string{"nocrlsign"}, cert: p.noCRLSignSigner, issuer: p.noCRLSign,
			want: revocation.CRLInvalid, wantRejected: revocation.ReasonIssuer, check: detailHas("keyUsage of issuer")},
		{name: "edited to hide the revocation", crls: []string{"hidden"}, cert: p.revoked, want: revocation.CRLInvalid, wantRejected: revocation.ReasonSignature},
		{name: "signature byte flipped", crls: []string{"sigflip"}, cert: p.valid, want: revocation.CRLInvalid, wantRejected: revocation.ReasonSignature},
		{name: "delta CRL", crls: []string{"delta"}, cert: p.valid, want: revocation.CRLInvalid, wantRejected: revocation.ReasonUnsupported, check: detailHas("delta")},
		{name: "indirect CRL", crls: []string{"indirect"}, cert: p.valid, want: revocation.CRLInvalid, wantRejected: revocation.ReasonUnsupported, check: detailHas("indirect")},
		{name: "partial CRL", crls: []string{"partial"}, cert: p.valid, want: revocation.CRLInvalid, wantRejected: revocation.ReasonUnsupported, check: detailHas("onlySomeReasons")},
		{name: "unknown critical extension", crls: []string{"critical"}, cert: p.revoked, want: revocation.CRLInvalid, wantRejected: revocation.ReasonCriticalExtension},
		{name: "distribution point of the certificate", crls: []string{"idpa"}, cert: p.withCDP, want: revocation.NotRevoked},
		{name: "distribution point of the certificate, revoked", crls: []string{"idpa"}, cert: p.revoked, want: revocation.Revoked},
		{name: "another distribution point", crls: []string{"idpb"}, cert: p.withCDP, want: revocation.NoCRL, wantSkipped: revocation.ReasonOutOfScope,
			check: detailHas("cover other certificates only")},
		{name: "distribution point, certificate without one", crls: []string{"idpb"}, cert: p.valid, want: revocation.NotRevoked},
		{name: "CA certificates only", crls: []string{"onlyca"}, cert: p.valid, want: revocation.NoCRL, wantSkipped: revocation.ReasonOutOfScope},
		{name: "two CRLs in one PEM: revoked in the second", crls: []string{"two"}, cert: p.revoked, want: revocation.Revoked,
			check: func(t *testing.T, r revocation.Result) {
				if r.CRL.Index != 2 || !strings.HasSuffix(r.CRL.String(), "two.pem#2") {
					t.Errorf("decided by %v (index %d)", r.CRL, r.CRL.Index)
				}
			}},
		{name: "two CRLs in one PEM: not revoked, the newer decides", crls: []string{"two"}, cert: p.valid, want: revocation.NotRevoked,
			check: func(t *testing.T, r revocation.Result) {
				if r.CRL.Index != 2 {
					t.Errorf("decided by %v", r.CRL)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := p.load(t, tt.crls...)
			issuer := tt.issuer
			if issuer == nil {
				issuer = p.ca
			}
			r, err := s.Check(tt.cert, issuer, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != tt.want {
				t.Fatalf("status %v, want %v: %s", r.Status, tt.want, r.Detail)
			}
			t.Logf("%s: %s", r.Status.Code(), r.Detail)
			wantReasons(t, "rejected", r.Rejected, tt.wantRejected)
			wantReasons(t, "skipped", r.Skipped, tt.wantSkipped)
			if r.Detail == "" || (r.Status != revocation.NoCRL) != (r.CRL != nil) {
				t.Errorf("detail %q, CRL %v", r.Detail, r.CRL)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func wantReasons(t *testing.T, what string, rs []revocation.Rejection, want revocation.Reason) {
	t.Helper()
	if want == 0 {
		if len(rs) != 0 {
			t.Errorf("%s: %v", what, rs[0].Err)
		}
		return
	}
	if len(rs) != 1 || rs[0].Err.Reason != want {
		t.Errorf("%s %v, want one with %v", what, rs, want)
		return
	}
	if rs[0].CRL == nil || !strings.Contains(rs[0].Err.Error(), rs[0].CRL.String()) {
		t.Errorf("%s: %v does not name its CRL", what, rs[0].Err)
	}
}

func detailHas(s string) func(*testing.T, revocation.Result) {
	return func(t *testing.T, r revocation.Result) {
		t.Helper()
		if !strings.Contains(r.Detail, s) {
			t.Errorf("detail %q lacks %q", r.Detail, s)
		}
	}
}

// TestOpenSSLLoadErrors: files that are not usable CRLs are typed errors
// naming the file.
func TestOpenSSLLoadErrors(t *testing.T) {
	p := makePKI(t)
	tests := []struct {
		crl  string
		want revocation.Reason
		says string
	}{
		{"truncated", revocation.ReasonMalformed, "not a DER CRL"},
		{"trailing", revocation.ReasonMalformed, "trailing data"},
		{"badlength", revocation.ReasonMalformed, ""},
		{"cert", revocation.ReasonNotCRL, `"CERTIFICATE"`},
		{"cert.der", revocation.ReasonNotCRL, "certificate"},
		{"text", revocation.ReasonNotCRL, "neither DER nor PEM"},
		{"emptyfile", revocation.ReasonNotCRL, "empty"},
		{"pemtruncated", revocation.ReasonMalformed, "PEM block 2"},
		{"v1", revocation.ReasonUnsupported, "version 1"},
	}
	for _, tt := range tests {
		t.Run(tt.crl, func(t *testing.T) {
			path := p.crl[tt.crl]
			_, err := revocation.Load(p.crl["current"], path)
			if revocation.ReasonOf(err) != tt.want {
				t.Fatalf("%v, want %v", err, tt.want)
			}
			var e *revocation.Error
			if !errors.As(err, &e) || e.File != path || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.says) {
				t.Errorf("error %q does not name %s or say %q", err, path, tt.says)
			}
		})
	}
	_, err := revocation.Load(filepath.Join(p.dir, "no such file"))
	if revocation.ReasonOf(err) != revocation.ReasonIO {
		t.Errorf("missing file: %v", err)
	}
	_, err = revocation.Load(p.dir)
	if revocation.ReasonOf(err) != revocation.ReasonIO {
		t.Errorf("directory: %v", err)
	}
}

// TestOpenSSLOutput: openssl crl -text writes the text before the PEM
// block; it is ignored. openssl's own verification agrees with ours on
// the current CRL and refuses the forged one.
func TestOpenSSLOutput(t *testing.T) {
	p := makePKI(t)
	a := filepath.Join(p.dir, "a")
	openssl(t, a, "crl", "-in", "current.pem", "-text", "-out", "withtext.pem")
	s, err := revocation.Load(filepath.Join(a, "withtext.pem"))
	if err != nil || s.Len() != 1 {
		t.Fatalf("%v, %d CRLs", err, s.Len())
	}
	r, err := s.Check(p.revoked, p.ca, revocation.Options{})
	if err != nil || r.Status != revocation.Revoked {
		t.Fatalf("%v %v", r.Status, err)
	}
	if out := openssl(t, a, "crl", "-in", "current.pem", "-CAfile", "ca.pem", "-noout", "-verify"); !strings.Contains(out, "verify OK") {
		t.Errorf("openssl: %s", out)
	}
	cmd := []string{"crl", "-in", p.crl["forged"], "-CAfile", "ca.pem", "-noout", "-verify"}
	if out, err := runOpenSSL(a, cmd...); err == nil && strings.Contains(out, "verify OK") {
		t.Errorf("openssl verifies the forged CRL: %s", out)
	}
}
