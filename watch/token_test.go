//go:build cgo

package watch

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlseal/tlseal/internal/softhsm"
	"github.com/tlseal/tlseal/internal/testpki"
	"github.com/tlseal/tlseal/timeline"
	"github.com/tlseal/tlseal/tokenkey"
)

// A token that goes away while files arrive: the watcher stops sealing,
// says so (/healthz and /readyz 503, tlseal_watch_signer_healthy 0, the
// signer error count, the log), keeps every file in its source, retries
// with backoff, and seals them all once the token is back, with the same
// key.
func TestTokenRemovedAndBack(t *testing.T) {
	tk := softhsm.Shared(t)
	tk.GenerateKey(t, "watch-key", "e1", "prime256v1")
	k, err := tokenkey.Open(tk.URI(t, "watch-key"))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	cert := testpki.IssueFor(t, e.ca, k.Signer.Public(), testpki.Options{CN: "watch-key"})
	if e.signer, err = timeline.NewSigner(cert, nil, k.Signer); err != nil {
		t.Fatal(err)
	}
	cfg := e.config()
	cfg.RetryMin, cfg.RetryMax = 50*time.Millisecond, 200*time.Millisecond
	cfg.CheckpointInterval = time.Hour // checkpoints when the token is there (start, stop)
	r := e.start(cfg)
	r.waitReady(t)
	srv := httptest.NewServer(r.w.Handler())
	defer srv.Close()

	want := map[string][]string{}
	write := func(from, to int) { writeEvents(t, e.src, want, from, to) }
	write(0, 20)
	waitFor(t, 30*time.Second, "the first files to be sealed", func() bool { return hasAll(t, cfg.Archive, want) })

	tk.Unplug(t)
	plugged := false
	defer func() {
		if !plugged {
			tk.Replug(t)
		}
	}()
	write(20, 60)
	waitFor(t, 30*time.Second, "the signer to fail a few times", func() bool { return r.w.Stats().Errors[ReasonSigner] >= 3 })
	st := r.w.Stats()
	if st.SignerHealthy {
		t.Error("the token is away but the signer is reported healthy")
	}
	if st.Sealed != 20 {
		t.Errorf("%d files sealed with the token away", st.Sealed-20)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if resp, err := httpGet(srv.URL + path); err != nil || resp.code != 503 || !strings.Contains(resp.body, "signing key") {
			t.Errorf("%s with the token away: %v %+v", path, err, resp)
		}
	}
	if resp, _ := httpGet(srv.URL + "/metrics"); !strings.Contains(resp.body, "tlseal_watch_signer_healthy 0") ||
		!strings.Contains(resp.body, `tlseal_watch_errors_total{reason="signer"}`) {
		t.Errorf("metrics with the token away:\n%s", resp.body)
	}
	// Backoff: a few attempts, not one per file per tick.
	n1 := r.w.Stats().Errors[ReasonSigner]
	time.Sleep(time.Second)
	if n := r.w.Stats().Errors[ReasonSigner] - n1; n > 12 {
		t.Errorf("%d signing attempts in a second with a 200 ms backoff cap", n)
	}
	for i := 20; i < 60; i++ {
		if _, err := os.Stat(filepath.Join(e.src, fmt.Sprintf("e%04d.json", i))); err != nil {
			t.Errorf("a file left its source while the token was away: %v", err)
		}
	}

	tk.Replug(t)
	plugged = true
	write(60, 70)
	waitFor(t, 30*time.Second, "every file to be sealed once the token is back", func() bool { return hasAll(t, cfg.Archive, want) })
	waitFor(t, 5*time.Second, "the signer to be healthy again", func() bool { return r.w.Stats().SignerHealthy })
	if resp, err := httpGet(srv.URL + "/healthz"); err != nil || resp.code != 200 {
		t.Errorf("/healthz with the token back: %v %+v", err, resp)
	}
	r.stop(t)
	for _, msg := range []string{"the signing key did not sign", "the signing key signs again"} {
		if !strings.Contains(e.logs.String(), msg) {
			t.Errorf("the log does not say %q", msg)
		}
	}
	verifyArchive(t, cfg.Archive, want)
}
