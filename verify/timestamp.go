package verify

import (
	"crypto/sha256"
	"crypto/x509"
	"sync"
	"time"

	"github.com/tlseal/tlseal/archive"
	"github.com/tlseal/tlseal/timeline"
	"github.com/tlseal/tlseal/tsa"
)

// Finding codes of a seal's timestamp token (seal format v2).
const (
	CodeTimestampInvalid         = "timestamp.invalid"
	CodeTimestampImprintMismatch = "timestamp.imprintMismatch"
	CodeTimestampUntrusted       = "timestamp.untrusted"
	CodeTimestampAfterSignedAt   = "timestamp.afterSignedAt"
	CodeTimestampMissing         = "timestamp.missing"
)

// TimestampInfo is how a report shows a seal's timestamp token.
type TimestampInfo struct {
	TSA      string `json:"tsa"`                // the TSA certificate's subject ("" when the token carries none)
	GenTime  string `json:"genTime"`            // RFC 3339, as the token says (trusted only without timestamp.* findings)
	Accuracy string `json:"accuracy,omitempty"` // e.g. "1s"
	Serial   string `json:"serial"`             // hex
	Policy   string `json:"policy"`             // dotted OID
}

// Trusted-time sources, as reports name them.
const (
	SourceSealToken = "seal token"
)

// existedBy lowers a seal's trusted time to that of the earliest
// timestamped checkpoint that includes it (seal format v2, "checkpoint
// timestamps"), when that is earlier than what it has. A seal that says it
// was signed after the checkpoint holding it was stamped is failed.
func existedBy(e *timeline.Envelope, when judgedAt, s *archive.Stamp) ([]Finding, judgedAt) {
	if s == nil || when.trusted && !s.GenTime.Before(when.at) {
		return nil, when
	}
	if latest := s.GenTime.Add(s.Accuracy); e.SignedAt.After(latest) {
		return []Finding{NewFinding(CodeTimestampAfterSignedAt, "the seal says it was signed at %s, after %s, which includes it, was timestamped at %s (accuracy %v)",
			e.SignedAt.Format(timeline.TimeLayout), s.Source(), s.GenTime.UTC().Format(time.RFC3339Nano), s.Accuracy)}, when
	}
	return nil, judgedAt{at: s.GenTime, trusted: true, source: s.Source()}
}

// checkToken judges a version-2 seal's token: the TSA's signature over
// the SHA-256 of the seal's DER signature, its chain to a TSA anchor, and
// signedAt no later than genTime plus the token's accuracy. It returns the
// findings and, when the token holds, the trusted time.
func (t *Trust) checkToken(res *ItemResult, e *timeline.Envelope) ([]Finding, judgedAt) {
	when := judgedAt{at: e.SignedAt}
	der := e.Token()
	tok, err := tsa.ParseCached(der, &t.tsaCerts)
	if err != nil {
		return []Finding{NewFinding(CodeTimestampInvalid, "the seal's timestamp token does not parse: %v", err)}, when
	}
	res.Timestamp = describeToken(tok, &t.tsaNames)
	sig, err := e.SignatureDER()
	if err != nil {
		return nil, when // reported as signature.encoding
	}
	sum := sha256.Sum256(sig)
	err = tok.Verify(tsa.VerifyOptions{Digest: sum[:], Roots: t.tsaRoots(), Chains: &t.tsaChains})
	switch tsa.ReasonOf(err) {
	case tsa.ReasonUnknown:
		if err != nil {
			return []Finding{NewFinding(CodeTimestampInvalid, "the seal's timestamp token: %v", err)}, when
		}
	case tsa.ReasonImprintMismatch:
		return []Finding{NewFinding(CodeTimestampImprintMismatch, "the timestamp token is not over this seal's signature: %v", err)}, when
	case tsa.ReasonUntrusted, tsa.ReasonNoCertificate:
		return []Finding{NewFinding(CodeTimestampUntrusted, "the timestamp cannot be trusted: %v", err)}, when
	default:
		return []Finding{NewFinding(CodeTimestampInvalid, "the seal's timestamp token: %v", err)}, when
	}
	// signedAt has millisecond precision; genTime may have less.
	if latest := tok.GenTime.Add(tok.Accuracy); e.SignedAt.After(latest) {
		return []Finding{NewFinding(CodeTimestampAfterSignedAt, "the seal says it was signed at %s, after the TSA's time %s (accuracy %v): a seal cannot be signed after its signature was timestamped",
			e.SignedAt.Format(timeline.TimeLayout), tok.GenTime.UTC().Format(time.RFC3339Nano), tok.Accuracy)}, when
	}
	return nil, judgedAt{at: tok.GenTime, trusted: true, source: SourceSealToken}
}

// subjectCache keeps the subjects of TSA certificates already seen (at
// most 256, as tsa.CertCache keeps the certificates): an audit's tokens
// share their certificates, and formatting a subject costs as much as the
// rest of a token's description.
type subjectCache struct {
	mu sync.Mutex
	m  map[*x509.Certificate]string
}

func (c *subjectCache) subject(cert *x509.Certificate) string {
	if c == nil {
		return cert.Subject.String()
	}
	c.mu.Lock()
	name, ok := c.m[cert]
	c.mu.Unlock()
	if ok {
		return name
	}
	name = cert.Subject.String()
	c.mu.Lock()
	if c.m == nil {
		c.m = map[*x509.Certificate]string{}
	}
	if len(c.m) < 256 {
		c.m[cert] = name
	}
	c.mu.Unlock()
	return name
}

// describeToken fills a report's view of tok; names may be nil.
func describeToken(tok *tsa.Token, names *subjectCache) *TimestampInfo {
	info := &TimestampInfo{GenTime: tok.GenTime.UTC().Format(time.RFC3339Nano), Policy: tok.Policy.String(), Serial: serialHex(tok.SerialNumber)}
	if tok.Accuracy > 0 {
		info.Accuracy = tok.Accuracy.String()
	}
	if tok.Signer != nil {
		info.TSA = names.subject(tok.Signer)
	} else {
		info.TSA = tok.TSAName
	}
	return info
}
