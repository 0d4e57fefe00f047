package archive

import (
	"path/filepath"
	"testing"
)

// URLs are refused wherever an archive is opened or created; directories,
// however named, are not.
func TestCheckLocation(t *testing.T) {
	for dir, refused := range map[string]bool{
		"s3://bucket/prefix": true, "gs://b": true, "file:///srv/ev": true,
		"/srv/evidence": false, "evidence": false, "./ev": false, "ev/s3:/x": false, "a.b://c": false,
	} {
		err := CheckLocation(dir)
		if (err != nil) != refused || err != nil && ReasonOf(err) != ReasonInvalidArgument {
			t.Errorf("%q: %v", dir, err)
		}
	}
	signer := newEnv(t).signer
	t.Chdir(t.TempDir())
	if _, err := Create("s3://bucket/prefix", Options{Signer: signer}); ReasonOf(err) != ReasonInvalidArgument {
		t.Errorf("Create: %v", err)
	}
	if _, _, err := OpenOrCreate("s3://bucket/prefix", Options{Signer: signer}); ReasonOf(err) != ReasonInvalidArgument {
		t.Errorf("OpenOrCreate: %v", err)
	}
	if _, err := OpenReader("s3://bucket/prefix"); ReasonOf(err) != ReasonInvalidArgument {
		t.Errorf("OpenReader: %v", err)
	}
	if m, _ := filepath.Glob("*"); len(m) > 0 {
		t.Errorf("left behind: %v", m)
	}
}
