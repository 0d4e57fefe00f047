package verify

import (
	"bytes"
	"crypto/x509"
	"time"

	"github.com/tlseal/tlseal/archive"
	"github.com/tlseal/tlseal/timeline"
)

// Finding codes of an offline inclusion proof check (tlseal verify --proof).
const (
	CodeProofInvalid      = "proof.invalid"      // the proof does not parse, or its audit path or checkpoint signature does not verify
	CodeProofLeafMismatch = "proof.leafMismatch" // the proof is of another seal than the file's
	CodeProofKeyUnknown   = "proof.keyUnknown"   // the checkpoint's key is neither the file signer's nor a given checkpoint certificate's
	CodeProofUntrusted    = "proof.untrusted"    // the checkpoint's signer does not chain to a trust anchor
)

// CheckProof checks an inclusion proof (C2SP tlog-proof, as tlseal proof
// writes it) of the sealed file judged in it, offline: the proof's leaf is
// the file's envelope; the audit path leads from it to the checkpoint's
// root; the checkpoint is signed by a key whose certificate is the file's
// signer's or one of checkpointCerts (the archive's checkpoint keys, for a
// checkpoint made after a key rotation); and that certificate chains to a
// trust anchor. The findings are added to it and its verdict judged again.
func CheckProof(it *ItemResult, proof []byte, checkpointCerts []*x509.Certificate, trust *Trust) {
	it.Findings = append(it.Findings, proofFindings(it, proof, checkpointCerts, trust)...)
	it.Verdict = Judge(it.Findings)
}

func proofFindings(it *ItemResult, proofData []byte, checkpointCerts []*x509.Certificate, trust *Trust) []Finding {
	p, err := archive.ParseProof(proofData)
	if err != nil {
		return []Finding{NewFinding(CodeProofInvalid, "%v", err)}
	}
	o := it.Opened
	if o == nil || o.EnvelopeBytes == nil {
		return []Finding{NewFinding(CodeProofLeafMismatch, "the file has no seal for the proof to prove")}
	}
	if p.Extra != nil && !bytes.Equal(p.Extra, o.EnvelopeBytes) {
		return []Finding{NewFinding(CodeProofLeafMismatch, "the proof is of another seal (its leaf is not this file's envelope)")}
	}
	parsed, err := archive.ParseCheckpoint(p.Checkpoint)
	if err != nil {
		return []Finding{NewFinding(CodeProofInvalid, "%v", err)}
	}
	// The checkpoint's key: the file signer's, or a given certificate's.
	var certs []*x509.Certificate
	if o.Envelope != nil {
		if c, err := timeline.ParseCertPEM(o.Envelope.CertPEM); err == nil {
			certs = append(certs, c)
		}
	}
	certs = append(certs, checkpointCerts...)
	var key *x509.Certificate
	for _, c := range certs {
		if h, err := archive.KeyHash(c.PublicKey); err == nil && h == parsed.KeyHash {
			key = c
			break
		}
	}
	if key == nil {
		return []Finding{NewFinding(CodeProofKeyUnknown, "the checkpoint is signed by key %08x, which is neither the file signer's nor a given checkpoint certificate's (--checkpoint-cert, from ARCHIVE/keys/)", parsed.KeyHash)}
	}
	cp, err := archive.VerifyProof(p, parsed.Origin, o.EnvelopeBytes, key.PublicKey)
	if err != nil {
		return []Finding{NewFinding(CodeProofInvalid, "%v", err)}
	}
	var fs []Finding
	if c := o.Envelope.Chain; c != nil && cp.Origin == archive.DefaultOrigin(c.ID) && p.Index != c.Seq-1 {
		fs = append(fs, NewFinding(CodeProofLeafMismatch, "the proof puts the seal at index %d, its chain says seq %d", p.Index, c.Seq))
	}
	if trust == nil || len(trust.Anchors) == 0 {
		return append(fs, NewFinding(CodeProofUntrusted, "no trust anchor is configured (--ca): the checkpoint signer %q cannot be trusted", key.Subject))
	}
	inter := x509.NewCertPool()
	for _, c := range checkpointCerts {
		inter.AddCert(c)
	}
	if chain, err := timeline.ParseChainPEM(o.Envelope.ChainPEM); err == nil {
		for _, c := range chain {
			inter.AddCert(c)
		}
	}
	if _, err := key.Verify(x509.VerifyOptions{Roots: trust.pool, Intermediates: inter, CurrentTime: within(key), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return append(fs, NewFinding(CodeProofUntrusted, "the checkpoint signer %q does not chain to a trust anchor: %v", key.Subject, err))
	}
	return fs
}

// within is a time inside c's validity (now, or its nearest end): a
// checkpoint carries no time, so its key is judged within its period, as
// the archive check does.
func within(c *x509.Certificate) time.Time {
	now := time.Now()
	switch {
	case now.After(c.NotAfter):
		return c.NotAfter
	case now.Before(c.NotBefore):
		return c.NotBefore
	}
	return now
}
