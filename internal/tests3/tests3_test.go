package tests3

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// The server enforces Object Lock: a locked object version cannot be
// deleted, in compliance mode not even with the governance bypass, and a
// bucket made without Object Lock says so.
func TestServerEnforcesObjectLock(t *testing.T) {
	s := Start(t)
	ctx := context.Background()
	b := s.Bucket(t, true)
	until := time.Now().Add(time.Hour).UTC()
	for _, mode := range []minio.RetentionMode{minio.Compliance, minio.Governance} {
		name := "obj-" + strings.ToLower(string(mode))
		info, err := s.Client.PutObject(ctx, b, name, bytes.NewReader([]byte("x")), 1,
			minio.PutObjectOptions{Mode: mode, RetainUntilDate: until})
		if err != nil {
			t.Fatalf("put %s: %v", mode, err)
		}
		m, got, err := s.Client.GetObjectRetention(ctx, b, name, "")
		if err != nil || m == nil || *m != mode || got == nil {
			t.Fatalf("retention of %s: %v %v %v", name, m, got, err)
		}
		err = s.Client.RemoveObject(ctx, b, name, minio.RemoveObjectOptions{VersionID: info.VersionID})
		if err == nil {
			t.Fatalf("a %s-locked version was deleted", mode)
		}
		err = s.Client.RemoveObject(ctx, b, name, minio.RemoveObjectOptions{VersionID: info.VersionID, GovernanceBypass: true})
		if mode == minio.Compliance && err == nil {
			t.Fatalf("a compliance-locked version was deleted with the governance bypass")
		}
		if mode == minio.Governance && err != nil {
			t.Fatalf("the governance bypass did not delete: %v", err)
		}
	}
	plain := s.Bucket(t, false)
	if lock, _, _, _, err := s.Client.GetObjectLockConfig(ctx, plain); err == nil && lock == "Enabled" {
		t.Fatalf("a bucket made without Object Lock has it")
	}
	// Conditional writes: If-None-Match: * refuses an existing name.
	var opts minio.PutObjectOptions
	opts.SetMatchETagExcept("*")
	if _, err := s.Client.PutObject(ctx, plain, "once", bytes.NewReader([]byte("a")), 1, opts); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client.PutObject(ctx, plain, "once", bytes.NewReader([]byte("b")), 1, opts); err == nil {
		t.Fatalf("If-None-Match: * let an object be overwritten")
	}
}
