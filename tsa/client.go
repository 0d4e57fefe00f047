package tsa

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"
)

// MaxResponseSize bounds a TSA's answer.
const MaxResponseSize = 1 << 20

// Defaults of Client.
const (
	DefaultTimeout = 10 * time.Second
	DefaultBackoff = time.Second
)

// Client asks a TSA for tokens over HTTP (RFC 3161 §3.4).
type Client struct {
	URL string
	// HTTP is the client that posts requests; nil means
	// http.DefaultClient.
	HTTP *http.Client
	// Timeout bounds each attempt; 0 means DefaultTimeout.
	Timeout time.Duration
	// Retries is how many more attempts follow an attempt that failed
	// with a network error, a timeout or an HTTP 5xx status. Other
	// failures (an HTTP 4xx status, a refusal, a malformed answer) are not
	// retried.
	Retries int
	// Backoff is the wait before the first retry, doubled before each
	// next one; 0 means DefaultBackoff.
	Backoff time.Duration
}

// Stamp asks the TSA for a token over digest, the SHA-256 of the data to
// stamp. It returns the token once the TSA granted the request and the
// token's message imprint and nonce are the request's; it does not check
// the TSA's signature or certificate (see Token.Verify). The token's Raw
// is the DER TimeStampToken, without the TimeStampResp around it.
func (c *Client) Stamp(ctx context.Context, digest []byte) (*Token, error) {
	if len(digest) != sha256.Size {
		return nil, fmt.Errorf("tsa: Stamp needs a SHA-256 digest, not %d bytes", len(digest))
	}
	req, nonce, err := Request(digest, crypto.SHA256)
	if err != nil {
		return nil, err
	}
	backoff := c.Backoff
	if backoff <= 0 {
		backoff = DefaultBackoff
	}
	var body []byte
	for attempt := 1; ; attempt++ {
		b, retry, perr := c.post(ctx, req)
		if perr == nil {
			body = b
			break
		}
		if !retry || attempt > c.Retries {
			if attempt > 1 {
				perr.Detail += fmt.Sprintf(" (attempt %d of %d)", attempt, c.Retries+1)
			}
			return nil, perr
		}
		select {
		case <-ctx.Done():
			return nil, wrap(ReasonHTTP, ctx.Err(), "gave up on the TSA at %s after %d attempts", c.URL, attempt)
		case <-time.After(backoff):
		}
		backoff *= 2
	}
	tok, err := ParseResponse(body)
	if err != nil {
		return nil, err
	}
	if tok.HashAlgorithm != crypto.SHA256 {
		return nil, errorf(ReasonHashAlgorithm, "the TSA answered a SHA-256 request with a token over a %s digest", hashName(tok.HashOID))
	}
	if !bytes.Equal(tok.HashedMessage, digest) {
		return nil, errorf(ReasonImprintMismatch, "the TSA answered a request for %x with a token for %x", digest, tok.HashedMessage)
	}
	if tok.Nonce == nil || tok.Nonce.Cmp(nonce) != 0 {
		return nil, errorf(ReasonNonce, "the TSA answered a request with the nonce %#x with a token with the nonce %#x: not an answer to this request", nonce, tok.Nonce)
	}
	return tok, nil
}

// post makes one attempt; retry reports whether a failure may pass.
func (c *Client) post(ctx context.Context, query []byte) (body []byte, retry bool, _ *Error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(query))
	if err != nil {
		return nil, false, wrap(ReasonHTTP, err, "cannot make a request to the TSA at %q", c.URL)
	}
	req.Header.Set("Content-Type", "application/timestamp-query")
	req.Header.Set("Accept", "application/timestamp-reply")
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, true, wrap(ReasonHTTP, err, "no answer from the TSA at %s", c.URL)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, MaxResponseSize))
		return nil, resp.StatusCode >= 500, errorf(ReasonHTTP, "the TSA at %s answered HTTP %s", c.URL, resp.Status)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/timestamp-reply" {
		return nil, false, errorf(ReasonHTTP, "the TSA at %s answered with Content-Type %q, not application/timestamp-reply", c.URL, resp.Header.Get("Content-Type"))
	}
	body, err = io.ReadAll(io.LimitReader(resp.Body, MaxResponseSize+1))
	if err != nil {
		return nil, true, wrap(ReasonHTTP, err, "reading the answer of the TSA at %s", c.URL)
	}
	if len(body) > MaxResponseSize {
		return nil, false, errorf(ReasonHTTP, "the TSA at %s answered more than %d bytes", c.URL, MaxResponseSize)
	}
	return body, false, nil
}
