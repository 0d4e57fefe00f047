package verify

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/tlseal/tlseal/revocation"
	"github.com/tlseal/tlseal/timeline"
	"github.com/tlseal/tlseal/tsa"
)

// Trust is the trust policy: the anchors a signer must chain to. Chain
// building is cached per (certificate, intermediates), since an archive
// holds thousands of seals by the same signer; validity at each seal's
// signedAt is still checked for every seal.
type Trust struct {
	Anchors []*x509.Certificate
	// Sources say where each anchor came from (a file, a certificate store
	// element), for the report; optional, index by index with Anchors.
	Sources []string
	// SignerEKUs are the extended key usages, besides id-kp-documentSigning
	// and anyExtendedKeyUsage, that make a signer certificate acceptable
	// when it has the extension at all (see checkSignerUsage).
	SignerEKUs []asn1.ObjectIdentifier
	// TSAAnchors are the anchors the TSA of a seal's timestamp token
	// (seal format v2) must chain to (--tsa-ca); without them every token
	// is untrusted (timestamp.untrusted, indeterminate).
	TSAAnchors []*x509.Certificate
	TSASources []string // where each TSA anchor came from, as Sources
	// CRLs are the revocation lists the examiner supplied (--crl); nil
	// means revocation is not checked (and reports say so).
	CRLs *revocation.Set
	pool *x509.CertPool

	tsaOnce sync.Once
	tsaPool *x509.CertPool
	// tsaChains remembers the TSA chains built, for an audit's many
	// tokens of one TSA.
	tsaChains tsa.ChainCache
	tsaCerts  tsa.CertCache
	tsaNames  subjectCache

	mu    sync.Mutex
	cache map[[32]byte]chainResult
	certs sync.Map // pemPair → *parsedCerts
}

// parsedCerts is the parse of a seal's certPem and chainPem, shared by
// every seal that carries the same ones.
type parsedCerts struct {
	cert     *x509.Certificate
	info     *SignerInfo
	certErr  error
	chain    []*x509.Certificate
	chainErr error
	chainKey [32]byte // chainKey(cert, chain), computed once here rather than per seal
}

// pemPair keys the parsed certificates: a struct, not a concatenation,
// so that a lookup allocates nothing.
type pemPair struct{ cert, chain string }

// parsed parses (once per distinct pair) a seal's certificates.
func (t *Trust) parsed(certPEM, chainPEM string) *parsedCerts {
	key := pemPair{certPEM, chainPEM}
	if v, ok := t.certs.Load(key); ok {
		return v.(*parsedCerts)
	}
	pc := &parsedCerts{}
	pc.cert, pc.certErr = timeline.ParseCertPEM(certPEM)
	if pc.certErr == nil {
		pc.info = DescribeCert(pc.cert)
	}
	pc.chain, pc.chainErr = timeline.ParseChainPEM(chainPEM)
	if pc.certErr == nil && pc.chainErr == nil {
		pc.chainKey = chainKey(pc.cert, pc.chain)
	}
	v, _ := t.certs.LoadOrStore(key, pc)
	return v.(*parsedCerts)
}

type chainResult struct {
	chain []*x509.Certificate // leaf first, anchor last
	err   error
}

// NewTrust builds a policy from trust anchors (none: every signer is
// untrusted and no item can pass).
func NewTrust(anchors []*x509.Certificate) *Trust {
	t := &Trust{Anchors: anchors, pool: x509.NewCertPool(), cache: map[[32]byte]chainResult{}}
	for _, a := range anchors {
		t.pool.AddCert(a)
	}
	return t
}

// AnchorInfo is how a report names a trust anchor.
type AnchorInfo struct {
	Subject string `json:"subject"`
	SHA256  string `json:"sha256"`
	Source  string `json:"source,omitempty"` // "file PATH" or "certstore FILE @certstore://ID"
}

// AnchorInfos describes the anchors.
func (t *Trust) AnchorInfos() []AnchorInfo {
	out := make([]AnchorInfo, 0, len(t.Anchors))
	for i, a := range t.Anchors {
		info := AnchorInfo{Subject: a.Subject.String(), SHA256: Fingerprint(a)}
		if i < len(t.Sources) {
			info.Source = t.Sources[i]
		}
		out = append(out, info)
	}
	return out
}

// TSAAnchorInfos describes the TSA anchors.
func (t *Trust) TSAAnchorInfos() []AnchorInfo {
	var out []AnchorInfo
	for i, a := range t.TSAAnchors {
		info := AnchorInfo{Subject: a.Subject.String(), SHA256: Fingerprint(a)}
		if i < len(t.TSASources) {
			info.Source = t.TSASources[i]
		}
		out = append(out, info)
	}
	return out
}

// Fingerprint is the lowercase hex SHA-256 of a certificate's DER.
func Fingerprint(c *x509.Certificate) string {
	s := sha256.Sum256(c.Raw)
	return hex.EncodeToString(s[:])
}

// OIDDocumentSigning is id-kp-documentSigning (RFC 9336), the extended key
// usage meant for signers of documents such as seals.
var OIDDocumentSigning = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 36}

// checkSignerUsage is the policy on what a signer certificate may be, beyond
// its chain: a recorder's key, not an authority's. A CA certificate
// (basicConstraints CA:TRUE) never signs a seal: a CA key is not a
// recorder, and accepting it would let whoever holds the CA key skip
// issuing a recorder certificate. The key usage, when present, must allow
// digitalSignature. The extended key usage, when present, must include
// id-kp-documentSigning, anyExtendedKeyUsage or one of Trust.SignerEKUs; a
// certificate without the extension is unrestricted (RFC 5280 §4.2.1.12),
// which is what tlseal's own development PKI issues.
func (t *Trust) checkSignerUsage(leaf *x509.Certificate) []Finding {
	var fs []Finding
	if leaf.BasicConstraintsValid && leaf.IsCA {
		fs = append(fs, NewFinding(CodeCertSignerIsCA, "the signer certificate %q is a CA certificate (CA:TRUE): a CA key does not seal evidence", leaf.Subject))
	}
	if leaf.KeyUsage != 0 && leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		fs = append(fs, NewFinding(CodeCertKeyUsage, "the signer certificate %q does not allow digitalSignature", leaf.Subject))
	}
	if len(leaf.ExtKeyUsage) == 0 && len(leaf.UnknownExtKeyUsage) == 0 {
		return fs
	}
	if slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny) {
		return fs
	}
	for _, oid := range leaf.UnknownExtKeyUsage {
		if oid.Equal(OIDDocumentSigning) || slices.ContainsFunc(t.SignerEKUs, oid.Equal) {
			return fs
		}
	}
	for _, u := range leaf.ExtKeyUsage {
		if oid, ok := extKeyUsageOID[u]; ok && slices.ContainsFunc(t.SignerEKUs, oid.Equal) {
			return fs
		}
	}
	return append(fs, NewFinding(CodeCertExtKeyUsage, "the signer certificate %q has an extended key usage without documentSigning (1.3.6.1.5.5.7.3.36) or an accepted one (--signer-eku)", leaf.Subject))
}

// extKeyUsageOID maps the extended key usages Go names to their OIDs, so
// that a configured OID matches them too.
var extKeyUsageOID = map[x509.ExtKeyUsage]asn1.ObjectIdentifier{
	x509.ExtKeyUsageServerAuth:      {1, 3, 6, 1, 5, 5, 7, 3, 1},
	x509.ExtKeyUsageClientAuth:      {1, 3, 6, 1, 5, 5, 7, 3, 2},
	x509.ExtKeyUsageCodeSigning:     {1, 3, 6, 1, 5, 5, 7, 3, 3},
	x509.ExtKeyUsageEmailProtection: {1, 3, 6, 1, 5, 5, 7, 3, 4},
	x509.ExtKeyUsageTimeStamping:    {1, 3, 6, 1, 5, 5, 7, 3, 8},
	x509.ExtKeyUsageOCSPSigning:     {1, 3, 6, 1, 5, 5, 7, 3, 9},
}

// tsaRoots is the pool of TSAAnchors (nil when there are none).
func (t *Trust) tsaRoots() *x509.CertPool {
	t.tsaOnce.Do(func() {
		if len(t.TSAAnchors) == 0 {
			return
		}
		t.tsaPool = x509.NewCertPool()
		for _, a := range t.TSAAnchors {
			t.tsaPool.AddCert(a)
		}
	})
	return t.tsaPool
}

// judgedAt is the time a seal's certificates are judged at: its trusted
// time when it has one, else its own signedAt.
type judgedAt struct {
	at      time.Time
	trusted bool
	source  string // of the trusted time: "seal token", "checkpoint N"
}

func (j judgedAt) String() string {
	const layout = "2006-01-02T15:04:05Z"
	if j.trusted {
		return fmt.Sprintf("the trusted time %s (%s)", j.at.UTC().Format(layout), j.source)
	}
	return fmt.Sprintf("the seal's signedAt %s (no trusted time)", j.at.UTC().Format(layout))
}

// checkCert judges the signer certificate of a seal at its trusted time,
// or at signedAt when it has none (docs/findings.md, validity decisions).
func (t *Trust) checkCert(pc *parsedCerts, when judgedAt) []Finding {
	leaf, intermediates := pc.cert, pc.chain
	signedAt := when.at
	fs := t.checkSignerUsage(leaf)
	// chainPem is the signer's claim of the CAs above it: a certificate
	// in it that is no CA makes the chain invalid, not merely unknown (the
	// chain builder would just pass it over).
	for _, c := range intermediates {
		if !c.BasicConstraintsValid || !c.IsCA {
			fs = append(fs, NewFinding(CodeCertChainInvalid, "chainPem holds %q, which is not a CA certificate", c.Subject))
		}
	}
	if len(t.Anchors) == 0 {
		return append(fs, NewFinding(CodeCertUntrusted, "no trust anchor is configured (--ca): the signer %q cannot be trusted", leaf.Subject))
	}
	res := t.chain(pc.chainKey, leaf, intermediates, signedAt)
	if res.err != nil {
		var ua x509.UnknownAuthorityError
		if errors.As(res.err, &ua) {
			return append(fs, NewFinding(CodeCertUntrusted, "the signer %q does not chain to a trust anchor: %v", leaf.Subject, res.err))
		}
		var ci x509.CertificateInvalidError
		if errors.As(res.err, &ci) && ci.Reason == x509.Expired {
			return append(fs, validity(ci.Cert, when)...)
		}
		return append(fs, NewFinding(CodeCertChainInvalid, "the signer %q: %v", leaf.Subject, res.err))
	}
	for _, c := range res.chain {
		fs = append(fs, validity(c, when)...)
	}
	return append(fs, t.checkRevocation(res.chain, when)...)
}

func validity(c *x509.Certificate, when judgedAt) []Finding {
	const layout = "2006-01-02T15:04:05Z"
	at := when.at
	switch {
	case at.Before(c.NotBefore):
		return []Finding{NewFinding(CodeCertNotYetValid, "certificate %q is valid from %s, not yet at %s", c.Subject, c.NotBefore.UTC().Format(layout), when)}
	case at.After(c.NotAfter):
		return []Finding{NewFinding(CodeCertExpired, "certificate %q expired %s, before %s", c.Subject, c.NotAfter.UTC().Format(layout), when)}
	}
	return nil
}

// checkRevocation judges every certificate of a verified chain but its
// anchor against the examiner's CRLs, at the trusted time (docs/findings.md,
// validity decisions). Without CRLs nothing is checked: the report says
// that revocation was not checked.
func (t *Trust) checkRevocation(chain []*x509.Certificate, when judgedAt) []Finding {
	if t.CRLs == nil {
		return nil
	}
	var opts revocation.Options // CRLs must be current now
	if when.trusted {
		opts.TrustedTime = when.at
	}
	var fs []Finding
	for i := 0; i+1 < len(chain); i++ {
		res, err := t.CRLs.Check(chain[i], chain[i+1], opts)
		if err != nil {
			fs = append(fs, NewFinding(revocation.CodeCRLInvalid, "certificate %q: %v", chain[i].Subject, err))
			continue
		}
		for _, r := range res.Rejected {
			fs = append(fs, NewFinding(revocation.CodeCRLInvalid, "CRL %s for issuer %q was not used: %v", r.CRL, chain[i+1].Subject, r.Err))
		}
		if code := res.Status.Code(); code != "" && !(code == revocation.CodeCRLInvalid && len(res.Rejected) > 0) {
			fs = append(fs, NewFinding(code, "certificate %q: %s", chain[i].Subject, res.Detail))
		}
	}
	return fs
}

// chainKey is the key of the chain cache: the SHA-256 of the leaf's and
// the intermediates' DER.
func chainKey(leaf *x509.Certificate, intermediates []*x509.Certificate) [32]byte {
	h := sha256.New()
	h.Write(leaf.Raw)
	for _, c := range intermediates {
		h.Write(c.Raw)
	}
	var key [32]byte
	h.Sum(key[:0])
	return key
}

// chain builds (or recalls, by key: chainKey of leaf and intermediates)
// the chain from leaf to an anchor. Validity
// periods are checked by the caller for each use, so a cached chain found
// at one signedAt serves every other; a build that failed because of an
// expiry is not cached for the same reason.
func (t *Trust) chain(key [32]byte, leaf *x509.Certificate, intermediates []*x509.Certificate, at time.Time) chainResult {
	t.mu.Lock()
	res, ok := t.cache[key]
	t.mu.Unlock()
	if ok {
		return res
	}
	inter := x509.NewCertPool()
	for _, c := range intermediates {
		inter.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         t.pool,
		Intermediates: inter,
		CurrentTime:   at,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err == nil {
		res = chainResult{chain: chains[0]}
	} else {
		res = chainResult{err: err}
		var ci x509.CertificateInvalidError
		if errors.As(err, &ci) && ci.Reason == x509.Expired {
			return res
		}
	}
	t.mu.Lock()
	t.cache[key] = res
	t.mu.Unlock()
	return res
}
