package archive

import (
	"bytes"
	"crypto/elliptic"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlseal/tlseal/internal/samples"
	"github.com/tlseal/tlseal/internal/testpki"
	"github.com/tlseal/tlseal/timeline"
)

// testEnv is a signer with its CA, and a directory of source files.
type testEnv struct {
	t      testing.TB
	ca     *testpki.Cert
	leaf   *testpki.Cert
	signer *timeline.Signer
	src    string
}

func newEnv(t testing.TB) *testEnv {
	t.Helper()
	ca := testpki.CA(t, testpki.Options{})
	leaf := testpki.Leaf(t, ca, testpki.Options{})
	return &testEnv{t: t, ca: ca, leaf: leaf, signer: testpki.Signer(t, leaf), src: t.TempDir()}
}

var sampleStart = time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)

// writeJSON writes event i as name under the source directory.
func (e *testEnv) writeJSON(name string, i int) string {
	e.t.Helper()
	return e.write(name, samples.EventJSON(i, sampleStart.Add(time.Duration(i)*time.Second), "rec.wav"))
}

func (e *testEnv) write(name string, data []byte) string {
	e.t.Helper()
	p := filepath.Join(e.src, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// opts returns writer options with a logger into buf (nil: discard).
func (e *testEnv) opts(buf *logBuffer) Options {
	var w io.Writer = io.Discard
	if buf != nil {
		w = buf
	}
	return Options{Signer: e.signer, Logger: slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})), CheckpointInterval: -1}
}

// logBuffer collects log output safely.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// mustCheck runs Check and fails on any problem other than allowed codes.
func mustCheck(t testing.TB, dir string, opts CheckOptions, allowed ...string) *CheckResult {
	t.Helper()
	res, err := Check(dir, opts)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	for _, p := range res.Problems {
		ok := false
		for _, a := range allowed {
			ok = ok || p.Code == a
		}
		if !ok {
			t.Errorf("Check: unexpected problem %s", p)
		}
	}
	return res
}

func problemCodes(res *CheckResult) string {
	var cs []string
	for _, p := range res.Problems {
		cs = append(cs, p.String())
	}
	return strings.Join(cs, "\n")
}

func eventName(i int) string { return fmt.Sprintf("events/e%05d.json", i) }

func sleepMS(n int) { time.Sleep(time.Duration(n) * time.Millisecond) }

func p384() elliptic.Curve { return elliptic.P384() }
