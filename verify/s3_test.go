package verify_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/tlseal/tlseal/archive"
	"github.com/tlseal/tlseal/internal/samples"
	"github.com/tlseal/tlseal/internal/testpki"
	"github.com/tlseal/tlseal/internal/tests3"
	"github.com/tlseal/tlseal/verify"
)

// The audit of an archive on S3 is the audit of the same archive on disk,
// item by item; and an object without the policy's retention fails its
// item with storage.retentionMissing.
func TestArchiveOnS3(t *testing.T) {
	srv := tests3.Start(t)
	srv.Setenv(t)
	root := testpki.CA(t, testpki.Options{CN: "Evidence Root"})
	s1 := testpki.Signer(t, testpki.Leaf(t, root, testpki.Options{CN: "recorder-1"}))
	trust := verify.NewTrust([]*x509.Certificate{root.Cert})
	now := time.Now()
	dir := filepath.Join(t.TempDir(), "a")
	buildArchive(t, dir, archive.Options{ChainID: "recorder-a"}, batch{s1, map[string][]byte{
		"events/e1.json": samples.EventJSON(1, now, "audio/r1.wav"),
		"events/e2.json": samples.EventJSON(2, now, "audio/r1.wav"),
		"audio/r1.wav":   samples.WAV(8000, 0.5, 440),
	}})
	bucket := srv.Bucket(t, true)
	loc := "s3://" + bucket + "/site-7"
	ret, err := archive.ParseRetention("1d", "governance")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := archive.Import(dir, loc, ret); err != nil {
		t.Fatal(err)
	}
	summary := func(r *verify.ArchiveResult) []string {
		var out []string
		for _, it := range r.Items {
			s := it.Path + " " + string(it.Verdict)
			for _, f := range it.Findings {
				s += " " + f.Code
			}
			out = append(out, s)
		}
		for _, f := range r.Findings {
			out = append(out, "archive "+f.Code)
		}
		return append(out, "verdict "+string(r.Verdict))
	}
	onDisk, err := verify.Archive(context.Background(), dir, trust, verify.ArchiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	onS3, err := verify.Archive(context.Background(), loc, trust, verify.ArchiveOptions{Jobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := summary(onDisk), summary(onS3); !slices.Equal(a, b) || onS3.Verdict != verify.Passed {
		t.Fatalf("disk:\n%q\nS3:\n%q", a, b)
	}
	// A later version of a sealed file without retention (its bytes
	// unchanged: only the storage is at fault).
	data, err := os.ReadFile(filepath.Join(dir, "files", "events", "e2.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Client.PutObject(context.Background(), bucket, "site-7/files/events/e2.json", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := verify.Archive(context.Background(), loc, trust, verify.ArchiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, it := range res.Items {
		for _, f := range it.Findings {
			if f.Code == archive.CodeRetentionMissing {
				found = it.Path == "files/events/e2.json" && it.Verdict == verify.Failed && f.Severity == verify.SevError
			}
		}
	}
	if !found {
		t.Errorf("no failed item with %s:\n%q", archive.CodeRetentionMissing, summary(res))
	}
}
