package tsa

import (
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlseal/tlseal/internal/testtsa"
)

// TestStampFaults: Client.Stamp against TSAs that fail; network errors
// and 5xx are retried (the TSA counts the requests), nothing else is.
func TestStampFaults(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opts     testtsa.Options
		timeout  time.Duration
		retries  int
		want     Reason // ReasonUnknown: a token
		requests int
		detail   string
	}{
		{name: "HTTP 500 retried", opts: testtsa.Options{Fault: testtsa.FaultHTTP500}, retries: 2, want: ReasonHTTP, requests: 3, detail: "HTTP 500 Internal Server Error (attempt 3 of 3)"},
		{name: "HTTP 500, no retries", opts: testtsa.Options{Fault: testtsa.FaultHTTP500}, want: ReasonHTTP, requests: 1, detail: "HTTP 500"},
		{name: "HTTP 400 not retried", opts: testtsa.Options{Fault: testtsa.FaultBadRequest}, retries: 2, want: ReasonHTTP, requests: 1, detail: "HTTP 400"},
		{name: "503 twice then granted", opts: testtsa.Options{FailFirst: 2}, retries: 2, requests: 3},
		{name: "503 beyond the retries", opts: testtsa.Options{FailFirst: 3}, retries: 1, want: ReasonHTTP, requests: 2, detail: "HTTP 503"},
		{name: "garbage", opts: testtsa.Options{Fault: testtsa.FaultGarbage}, retries: 2, want: ReasonMalformed, requests: 1, detail: "not a DER TimeStampResp"},
		{name: "rejection", opts: testtsa.Options{Fault: testtsa.FaultReject}, retries: 2, want: ReasonStatus, requests: 1, detail: "rejection (2); failure: badAlg"},
		{name: "granted without token", opts: testtsa.Options{Fault: testtsa.FaultNoToken}, retries: 2, want: ReasonMalformed, requests: 1, detail: "no token"},
		{name: "other nonce", opts: testtsa.Options{Fault: testtsa.FaultNonce}, want: ReasonNonce, requests: 1, detail: "nonce"},
		{name: "other digest", opts: testtsa.Options{Fault: testtsa.FaultImprint}, want: ReasonImprintMismatch, requests: 1},
		{name: "wrong Content-Type", opts: testtsa.Options{Fault: testtsa.FaultContentType}, retries: 2, want: ReasonHTTP, requests: 1, detail: `"text/plain"`},
		{name: "answer over 1 MiB", opts: testtsa.Options{Fault: testtsa.FaultHuge}, retries: 2, want: ReasonHTTP, requests: 1, detail: "more than 1048576 bytes"},
		{name: "slow TSA", opts: testtsa.Options{Delay: 5 * time.Second}, timeout: 100 * time.Millisecond, retries: 1, want: ReasonHTTP, requests: 2, detail: "deadline exceeded"},
		{name: "bad certificate is not Stamp's business", opts: testtsa.Options{EKU: testtsa.EKUNone}, requests: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := testtsa.Start(t, tc.opts)
			c := &Client{URL: a.URL, Timeout: tc.timeout, Retries: tc.retries, Backoff: time.Millisecond}
			sum := sha256.Sum256(sealSignature(t))
			tok, err := c.Stamp(context.Background(), sum[:])
			if n := a.Requests(); n != tc.requests {
				t.Errorf("%d requests, want %d", n, tc.requests)
			}
			if tc.want == ReasonUnknown {
				if err != nil {
					t.Fatal(err)
				}
				if tok.Nonce == nil || string(tok.HashedMessage) != string(sum[:]) {
					t.Errorf("token fields: %+v", tok)
				}
				return
			}
			if tok != nil {
				t.Errorf("a token with an error")
			}
			wantReason(t, err, tc.want)
			t.Log(err)
			if !strings.Contains(err.Error(), tc.detail) {
				t.Errorf("%v, want %q", err, tc.detail)
			}
			if tc.name == "slow TSA" && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%v is not a context.DeadlineExceeded", err)
			}
		})
	}
}

// TestStampUnreachable: a closed port is a network error, retried.
func TestStampUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String() + "/"
	l.Close()
	c := &Client{URL: url, Retries: 2, Backoff: time.Millisecond}
	_, err = c.Stamp(context.Background(), make([]byte, 32))
	wantReason(t, err, ReasonHTTP)
	if !strings.Contains(err.Error(), "attempt 3 of 3") {
		t.Errorf("%v: not retried", err)
	}
}

// TestStampCanceled: a canceled context ends the backoff.
func TestStampCanceled(t *testing.T) {
	a := testtsa.Start(t, testtsa.Options{Fault: testtsa.FaultHTTP500})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := (&Client{URL: a.URL, Retries: 5, Backoff: time.Hour}).Stamp(ctx, make([]byte, 32))
	wantReason(t, err, ReasonHTTP)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 10*time.Second || a.Requests() != 1 {
		t.Errorf("%v after %v and %d requests", err, time.Since(start), a.Requests())
	}
}

// TestStampRequest: the request is POSTed as RFC 3161 §3.4 says and is a
// TimeStampReq openssl reads: version 1, SHA-256, a nonce, certReq.
func TestStampRequest(t *testing.T) {
	var got *http.Request
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		body, _ = io.ReadAll(r.Body)
		http.Error(w, "no", http.StatusForbidden)
	}))
	defer srv.Close()
	digest := sha256.Sum256([]byte("x"))
	_, err := (&Client{URL: srv.URL}).Stamp(context.Background(), digest[:])
	wantReason(t, err, ReasonHTTP)
	if got.Method != http.MethodPost || got.Header.Get("Content-Type") != "application/timestamp-query" {
		t.Errorf("%s with Content-Type %q", got.Method, got.Header.Get("Content-Type"))
	}
	text := opensslQueryText(t, body)
	for _, want := range []string{"Version: 1", "Hash Algorithm: sha256", "Certificate required: yes", "Nonce: 0x", "2d 71 16 42 b7 26 b0 44"} {
		if !strings.Contains(text, want) {
			t.Errorf("openssl ts -query -text does not say %q:\n%s", want, text)
		}
	}
}

func opensslQueryText(t *testing.T, query []byte) string {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	f := filepath.Join(t.TempDir(), "q.tsq")
	if err := os.WriteFile(f, query, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "ts", "-query", "-in", f, "-text").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl ts -query -text: %v\n%s", err, out)
	}
	return string(out)
}

// TestRequest: digests of other hashes, and wrong arguments.
func TestRequest(t *testing.T) {
	seen := map[string]bool{}
	for range 20 {
		_, nonce, err := Request(make([]byte, 32), crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if nonce.Sign() < 0 || nonce.BitLen() > 64 || seen[nonce.String()] {
			t.Fatalf("nonce %v", nonce)
		}
		seen[nonce.String()] = true
	}
	q, _, err := Request(make([]byte, 64), crypto.SHA512)
	if err != nil {
		t.Fatal(err)
	}
	if text := opensslQueryText(t, q); !strings.Contains(text, "Hash Algorithm: sha512") {
		t.Errorf("%s", text)
	}
	if _, _, err := Request(make([]byte, 31), crypto.SHA256); err == nil {
		t.Error("a 31-byte SHA-256 digest is accepted")
	}
	if _, _, err := Request(make([]byte, 28), crypto.SHA224); err == nil {
		t.Error("SHA-224 is accepted")
	}
	if _, err := (&Client{URL: "http://127.0.0.1:1"}).Stamp(context.Background(), make([]byte, 20)); err == nil {
		t.Error("Stamp accepts a 20-byte digest")
	}
}
