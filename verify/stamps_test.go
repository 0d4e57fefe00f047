package verify_test

import (
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tlseal/tlseal/archive"
	"github.com/tlseal/tlseal/internal/samples"
	"github.com/tlseal/tlseal/internal/testpki"
	"github.com/tlseal/tlseal/internal/testtsa"
	"github.com/tlseal/tlseal/revocation"
	"github.com/tlseal/tlseal/tsa"
	"github.com/tlseal/tlseal/verify"
)

func stamperOf(url string) archive.Timestamper {
	c := &tsa.Client{URL: url, Timeout: 5 * time.Second, Backoff: 10 * time.Millisecond}
	return func(ctx context.Context, digest []byte) ([]byte, error) {
		tok, err := c.Stamp(ctx, digest)
		if err != nil {
			return nil, err
		}
		return tok.Raw, nil
	}
}

// TestArchiveCheckpointTimestamps: a timestamped checkpoint gives every
// entry it includes a trusted time ("checkpoint N"), which decides
// revocation as a seal's own token does.
func TestArchiveCheckpointTimestamps(t *testing.T) {
	ca := testpki.CA(t, testpki.Options{})
	leaf := testpki.Leaf(t, ca, testpki.Options{})
	signer := testpki.Signer(t, leaf)
	good := testtsa.Start(t, testtsa.Options{})
	dead := testtsa.Start(t, testtsa.Options{FailFirst: 1 << 30})

	build := func(t *testing.T, ts archive.Timestamper, now func() time.Time) string {
		dir := filepath.Join(t.TempDir(), "archive")
		opts := archive.Options{Signer: signer, Logger: quiet, Timestamper: ts, Now: now, CheckpointInterval: -1}
		w, err := archive.Create(dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		src := t.TempDir()
		for i := 1; i <= 3; i++ {
			p := filepath.Join(src, "e.json")
			os.WriteFile(p, samples.EventJSON(i, time.Now(), "rec.wav"), 0o644)
			if _, err := w.Ingest(p, "e.json"); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	trust := func(revokedAt time.Time) *verify.Trust {
		tr := verify.NewTrust([]*x509.Certificate{ca.Cert})
		tr.TSAAnchors = []*x509.Certificate{good.CACert()}
		if !revokedAt.IsZero() {
			set, err := revocation.ParseCRLs(crlOf(t, ca, leaf.Cert, revokedAt, time.Now().Add(24*time.Hour)), "ca.crl")
			if err != nil {
				t.Fatal(err)
			}
			tr.CRLs = set
		}
		return tr
	}
	stamped := build(t, stamperOf(good.URL), nil)
	unstamped := build(t, nil, nil)
	later := time.Now().Add(time.Minute) // revoked after the checkpoint was stamped
	earlier := time.Now().Add(-time.Hour)

	cases := []struct {
		name      string
		dir       string
		trust     *verify.Trust
		verdict   verify.Verdict
		code      string // a finding that must be present
		source    string // every item's trusted time source
		archiveOK bool
	}{
		{"stamped: trusted time from the checkpoint", stamped, trust(time.Time{}), verify.Passed, "", "checkpoint 3", true},
		{"stamped, revoked after the checkpoint's time", stamped, trust(later), verify.Passed, revocation.CodeCertRevokedAfterTrustedTime, "checkpoint 3", true},
		{"stamped, revoked before the checkpoint's time", stamped, trust(earlier), verify.Failed, revocation.CodeCertRevoked, "checkpoint 3", true},
		{"unstamped, revoked later: no trusted time", unstamped, trust(later), verify.Failed, revocation.CodeCertRevoked, "", true},
		{"stamped, TSA not trusted", stamped, func() *verify.Trust { tr := trust(time.Time{}); tr.TSAAnchors = nil; return tr }(), verify.Indeterminate, verify.CodeTimestampUntrusted, "", false},
		{"stamped, TSA not trusted, revoked later: no trusted time", stamped, func() *verify.Trust { tr := trust(later); tr.TSAAnchors = nil; return tr }(), verify.Failed, revocation.CodeCertRevoked, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, codes, verdict := audit(t, c.dir, c.trust, verify.ArchiveOptions{})
			if verdict != c.verdict {
				t.Errorf("verdict %s, want %s (%v)", verdict, c.verdict, codes)
			}
			if c.code != "" && !slices.Contains(codes, c.code) {
				t.Errorf("findings %v, want %s", codes, c.code)
			}
			for _, it := range res.Items {
				if it.TrustedTimeSource != c.source {
					t.Errorf("%s: trusted time source %q, want %q", it.Path, it.TrustedTimeSource, c.source)
				}
			}
			if c.archiveOK != (res.Verdict == verify.Passed) {
				t.Errorf("archive verdict %s (%v)", res.Verdict, res.Findings)
			}
			if c.source != "" && (len(res.Timestamps) != 1 || res.Timestamps[0].Size != 3) {
				t.Errorf("archive timestamps %+v", res.Timestamps)
			}
		})
	}

	t.Run("a seal signed after the checkpoint that holds it was stamped", func(t *testing.T) {
		dir := build(t, stamperOf(good.URL), func() time.Time { return time.Now().Add(2 * time.Hour) })
		_, codes, verdict := audit(t, dir, trust(time.Time{}), verify.ArchiveOptions{})
		if verdict != verify.Failed || !slices.Contains(codes, verify.CodeTimestampAfterSignedAt) {
			t.Errorf("verdict %s, findings %v: want failed with %s", verdict, codes, verify.CodeTimestampAfterSignedAt)
		}
	})
	t.Run("the TSA failed: the checkpoint is kept without a token", func(t *testing.T) {
		dir := build(t, stamperOf(dead.URL), nil)
		res, codes, _ := audit(t, dir, trust(time.Time{}), verify.ArchiveOptions{})
		if !slices.Contains(codes, verify.CodeTimestampMissing) {
			t.Errorf("findings %v, want %s", codes, verify.CodeTimestampMissing)
		}
		if res.Verdict != verify.Passed { // a warning: the log itself is intact
			t.Errorf("archive verdict %s", res.Verdict)
		}
		for _, it := range res.Items {
			if it.TrustedTime != "" {
				t.Errorf("%s has a trusted time without any token", it.Path)
			}
		}
	})
}
