package archive

import (
	"net"
	"path/filepath"
	"testing"
)

// URLs other than s3:// are refused wherever an archive is opened or
// created; directories, however named, are not. An s3:// location never
// becomes a local directory (named "s3:"), whatever happens to it.
func TestCheckLocation(t *testing.T) {
	for dir, refused := range map[string]bool{
		"s3://bucket/prefix": false, "gs://b": true, "file:///srv/ev": true,
		"/srv/evidence": false, "evidence": false, "./ev": false, "ev/s3:/x": false, "a.b://c": false,
	} {
		err := CheckLocation(dir)
		if (err != nil) != refused || err != nil && ReasonOf(err) != ReasonInvalidArgument {
			t.Errorf("%q: %v", dir, err)
		}
	}
	// An endpoint where nothing listens: the S3 driver fails, and says so.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	t.Setenv("AWS_ENDPOINT_URL_S3", "http://"+addr)
	t.Setenv("AWS_ACCESS_KEY_ID", "nobody")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "nothing")
	signer := newEnv(t).signer
	t.Chdir(t.TempDir())
	old := s3MaxRetries
	s3MaxRetries = 1
	defer func() { s3MaxRetries = old }()
	for _, c := range []struct {
		loc                      string
		create, orCreate, writer Reason
	}{
		{"gs://bucket/prefix", ReasonInvalidArgument, ReasonInvalidArgument, ReasonInvalidArgument},
		// An S3 archive is created with a retention policy only; the
		// store is unreachable.
		{"s3://bucket/prefix", ReasonInvalidArgument, ReasonNotArchive, ReasonIO},
	} {
		if _, err := Create(c.loc, Options{Signer: signer}); ReasonOf(err) != c.create {
			t.Errorf("Create(%s): %v", c.loc, err)
		}
		if _, _, err := OpenOrCreate(c.loc, Options{Signer: signer}); ReasonOf(err) != c.orCreate {
			t.Errorf("OpenOrCreate(%s): %v", c.loc, err)
		}
		if _, err := OpenWriter(c.loc, Options{Signer: signer}); ReasonOf(err) != c.writer {
			t.Errorf("OpenWriter(%s): %v", c.loc, err)
		}
	}
	if _, err := Create("s3://bucket/prefix", Options{Signer: signer, Retention: mustRetention("1d", "governance")}); ReasonOf(err) != ReasonIO {
		t.Errorf("Create of an unreachable S3 archive: %v", err)
	}
	if _, err := OpenReader("gs://bucket/prefix"); ReasonOf(err) != ReasonInvalidArgument {
		t.Errorf("OpenReader: %v", err)
	}
	if _, err := OpenReader("s3://bucket/prefix"); ReasonOf(err) != ReasonIO {
		t.Errorf("OpenReader of an unreachable S3 archive: %v", err)
	}
	if IsArchive("s3://bucket/prefix") {
		t.Errorf("IsArchive of an unreachable S3 archive")
	}
	if m, _ := filepath.Glob("*"); len(m) > 0 {
		t.Errorf("left behind: %v", m)
	}
}
