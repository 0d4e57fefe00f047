package watch

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tlseal/tlseal/archive"
	"github.com/tlseal/tlseal/internal/testtsa"
	"github.com/tlseal/tlseal/tsa"
)

func tsaConfig(cfg *Config, url string, perFile bool) {
	c := &tsa.Client{URL: url, Timeout: 2 * time.Second, Retries: 1, Backoff: 20 * time.Millisecond}
	cfg.Timestamper = func(ctx context.Context, digest []byte) ([]byte, error) {
		tok, err := c.Stamp(ctx, digest)
		if err != nil {
			return nil, err
		}
		return tok.Raw, nil
	}
	if perFile {
		cfg.SealTimestamp = func(sig []byte) ([]byte, error) {
			sum := sha256.Sum256(sig)
			return cfg.Timestamper(context.Background(), sum[:])
		}
	}
}

// The watcher with a TSA: tokens on checkpoints and seals; with a dead
// TSA every file is still sealed and archived at once, each entry noted
// timestamp.missing, the failures counted and logged.
func TestWatchTimestamps(t *testing.T) {
	good := testtsa.Start(t, testtsa.Options{})
	dead := testtsa.Start(t, testtsa.Options{FailFirst: 1 << 30})
	for _, tc := range []struct {
		name string
		url  string
		ok   bool
	}{{"a good TSA", good.URL, true}, {"a dead TSA", dead.URL, false}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			cfg := e.config()
			cfg.CheckpointEvery, cfg.CheckpointInterval = 5, time.Hour
			tsaConfig(&cfg, tc.url, true)
			r := e.start(cfg)
			r.waitReady(t)
			srv := httptest.NewServer(r.w.Handler())
			defer srv.Close()
			want := map[string][]string{}
			start := time.Now()
			writeEvents(t, e.src, want, 0, 12)
			waitFor(t, 30*time.Second, "every file to be sealed", func() bool { return hasAll(t, cfg.Archive, want) })
			t.Logf("12 files sealed in %v", time.Since(start))
			r.settle(t)
			resp, err := httpGet(srv.URL + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			r.stop(t)
			st := r.w.Stats()
			res, err := archive.Check(cfg.Archive, archive.CheckOptions{TSARoots: good.CAPool(), Select: func(en *archive.Entry) bool {
				missing := len(en.Notes) == 1 && en.Notes[0].Code == archive.CodeTimestampMissing
				if tc.ok != (en.Envelope.TST != "") || tc.ok == missing {
					t.Errorf("entry %d: token %t, notes %+v", en.Seq, en.Envelope.TST != "", en.Notes)
				}
				return false
			}})
			if err != nil {
				t.Fatal(err)
			}
			if tc.ok {
				if st.Timestamps[tsKindSeal] != 12 || st.Timestamps[tsKindCheckpoint] == 0 || st.TimestampFailures[tsKindSeal] != 0 {
					t.Errorf("stats %v %v", st.Timestamps, st.TimestampFailures)
				}
				if len(res.Stamps) == 0 || res.Stamps[len(res.Stamps)-1].Size != 12 {
					t.Errorf("checkpoint stamps %+v", res.Stamps)
				}
				for _, p := range res.Problems {
					t.Errorf("problem %s", p)
				}
				if !strings.Contains(resp.body, `tlseal_watch_timestamps_total{kind="seal"} 12`) {
					t.Errorf("metrics:\n%s", resp.body)
				}
				return
			}
			if st.TimestampFailures[tsKindSeal] != 12 || st.TimestampFailures[tsKindCheckpoint] == 0 {
				t.Errorf("failures %v", st.TimestampFailures)
			}
			// One request (and its retry) per backoff period, not per file.
			if n := dead.Requests(); n > 8 {
				t.Errorf("%d requests to a dead TSA", n)
			}
			if !res.Has(archive.CodeTimestampMissing) || len(res.Stamps) != 0 {
				t.Errorf("problems %v, stamps %+v", res.Problems, res.Stamps)
			}
			if !strings.Contains(resp.body, fmt.Sprintf(`tlseal_watch_timestamp_failures_total{kind="seal"} %d`, 12)) {
				t.Errorf("metrics:\n%s", resp.body)
			}
			for _, msg := range []string{"sealed without its timestamp token", "checkpoint timestamp failed"} {
				if !strings.Contains(e.logs.String(), msg) {
					t.Errorf("the log does not say %q", msg)
				}
			}
		})
	}
}
