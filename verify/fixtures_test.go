package verify_test

import (
	"bytes"
	"crypto/x509"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tlseal/tlseal/internal/testpki"
	"github.com/tlseal/tlseal/riffio"
	"github.com/tlseal/tlseal/timeline"
	"github.com/tlseal/tlseal/verify"
)

// needTool returns the path of a third-party tool. In CI (CI=true) a
// missing tool fails the test: the interop it checks must not be skipped
// silently. Locally it skips.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI (installed by .ci/run)", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

// TestRealWorldWAVFixtures seals every fixture, verifies it, extracts it
// byte for byte, and checks that ffmpeg decodes sealed and original to the
// same audio.
func TestRealWorldWAVFixtures(t *testing.T) {
	files, err := filepath.Glob("../testdata/wav/*.*")
	if err != nil {
		t.Fatal(err)
	}
	var fixtures []string
	for _, f := range files {
		if ext := filepath.Ext(f); ext == ".wav" || ext == ".avi" {
			fixtures = append(fixtures, f)
		}
	}
	if len(fixtures) < 20 {
		t.Fatalf("only %d fixtures found", len(fixtures))
	}
	ca := testpki.CA(t, testpki.Options{})
	signer := testpki.Signer(t, testpki.Leaf(t, ca, testpki.Options{}))
	trust := verify.NewTrust([]*x509.Certificate{ca.Cert})
	dir := t.TempDir()
	issues := map[string]bool{}
	for _, in := range fixtures {
		name := filepath.Base(in)
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(dir, name)
			if _, err := timeline.SealFile(in, out, false, timeline.SealOptions{Name: name, Signer: signer, Time: time.Now()}); err != nil {
				t.Fatal(err)
			}
			res, err := verify.File(out, trust)
			if err != nil {
				t.Fatal(err)
			}
			if res.Verdict != verify.Passed {
				t.Fatalf("verdict %s: %+v", res.Verdict, res.Findings)
			}
			for _, f := range res.Findings {
				issues[f.Code] = true
				t.Logf("%s: %s", f.Code, f.Message)
			}
			got := extract(t, out)
			want, _ := os.ReadFile(in)
			if !bytes.Equal(got, want) {
				t.Fatal("extracted original differs")
			}
			if strings.HasSuffix(name, ".wav") {
				if res.Wave == nil || res.Wave.Channels == 0 {
					t.Errorf("no WAVE descriptor: %+v", res.Wave)
				}
				ffmpeg := needTool(t, "ffmpeg")
				if a, b := decodeMD5(t, ffmpeg, in), decodeMD5(t, ffmpeg, out); a != b {
					t.Errorf("ffmpeg decodes differently: original %s, sealed %s", a, b)
				}
			}
		})
	}
	// A recording cut short: its header and data chunk promise more bytes
	// than the file holds. It is sealed as it is and reported, not repaired.
	t.Run("cut short", func(t *testing.T) {
		full, err := os.ReadFile("../testdata/wav/ffmpeg-mono-s16.wav")
		if err != nil {
			t.Fatal(err)
		}
		in := filepath.Join(dir, "cut-short.wav")
		os.WriteFile(in, full[:2001], 0o644)
		out := in + ".sealed"
		if _, err := timeline.SealFile(in, out, false, timeline.SealOptions{Name: "cut-short.wav", Signer: signer}); err != nil {
			t.Fatal(err)
		}
		res, err := verify.File(out, trust)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range res.Findings {
			got = append(got, f.Code)
		}
		if res.Verdict != verify.Passed || !slices.Contains(got, "riff.truncatedChunk") || !slices.Contains(got, "riff.sizeMismatch") {
			t.Errorf("verdict %s, findings %v", res.Verdict, got)
		}
		if !bytes.Equal(extract(t, out), full[:2001]) {
			t.Error("extracted original differs")
		}
	})
	// The fixtures must cover the layouts riffio claims to handle.
	for _, code := range []string{riffio.CodeSizeMismatch} {
		if !issues[code] {
			t.Errorf("no fixture exercises %s", code)
		}
	}
}

func decodeMD5(t *testing.T, ffmpeg, path string) string {
	t.Helper()
	out, err := exec.Command(ffmpeg, "-v", "error", "-i", path, "-map", "0:a", "-f", "md5", "-").Output()
	if err != nil {
		t.Fatalf("ffmpeg %s: %v", path, err)
	}
	s := strings.TrimSpace(string(out))
	if !strings.HasPrefix(s, "MD5=") {
		t.Fatalf("ffmpeg output %q", s)
	}
	return s
}

// extract reads the original out of a sealed file.
func extract(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	o, err := timeline.Open(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	r, err := o.Original()
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return got
}
