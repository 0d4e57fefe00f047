package verify

import (
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/tlseal/tlseal/archive"
	"github.com/tlseal/tlseal/internal/readonly"
	"github.com/tlseal/tlseal/riffio"
	"github.com/tlseal/tlseal/timeline"
)

// SignerInfo identifies the certificate that sealed an item.
type SignerInfo struct {
	Subject   string `json:"subject"`
	Issuer    string `json:"issuer"`
	Serial    string `json:"serial"`
	SHA256    string `json:"sha256"`
	NotBefore string `json:"notBefore"`
	NotAfter  string `json:"notAfter"`
}

// DescribeCert makes a SignerInfo.
func DescribeCert(c *x509.Certificate) *SignerInfo {
	const layout = "2006-01-02T15:04:05Z"
	return &SignerInfo{
		Subject:   c.Subject.String(),
		Issuer:    c.Issuer.String(),
		Serial:    serialHex(c.SerialNumber),
		SHA256:    Fingerprint(c),
		NotBefore: c.NotBefore.UTC().Format(layout),
		NotAfter:  c.NotAfter.UTC().Format(layout),
	}
}

func serialHex(n *big.Int) string {
	if n == nil {
		return ""
	}
	return fmt.Sprintf("%x", n)
}

// ItemResult is the judgement of one file.
type ItemResult struct {
	Path     string          `json:"path"`
	Kind     timeline.Kind   `json:"kind,omitempty"`
	Verdict  Verdict         `json:"verdict"`
	Size     int64           `json:"size"`             // the original's size, as sealed
	SHA256   string          `json:"sha256,omitempty"` // the original's digest, as sealed
	SignedAt string          `json:"signedAt,omitempty"`
	Name     string          `json:"name,omitempty"` // the name recorded in the seal
	Signer   *SignerInfo     `json:"signer,omitempty"`
	Chain    *timeline.Chain `json:"chain,omitempty"`
	// TrustedTime is when the seal provably existed (RFC 3339), and
	// TrustedTimeSource what says so ("seal token"); both empty when the
	// seal has no trusted time and its certificates were judged at
	// signedAt.
	TrustedTime       string `json:"trustedTime,omitempty"`
	TrustedTimeSource string `json:"trustedTimeSource,omitempty"`
	// Timestamp is the seal's RFC 3161 token (version 2), as it reads.
	Timestamp *TimestampInfo `json:"timestamp,omitempty"`
	// Entry is the item's position in an archive's log (seq, from 1); 0
	// for loose files and for archive files that no entry lists.
	Entry int64 `json:"entry,omitempty"`
	// Measured is the original as extracted from the file (size, SHA-256),
	// beside what the seal says (Size, SHA256): they differ for a tampered
	// file. Nil when no original could be extracted.
	Measured *Measured `json:"measured,omitempty"`
	Findings []Finding `json:"findings"`

	// Not part of reports; kept for inspect and the archive checks.
	Opened *timeline.Opened  `json:"-"`
	Cert   *x509.Certificate `json:"-"`
	Wave   *riffio.WaveInfo  `json:"-"`
}

// Measured is what verification measured of an original.
type Measured struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// File verifies the file at path.
func File(path string, trust *Trust) (*ItemResult, error) {
	f, err := readonly.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	return Reader(f, st.Size(), path, trust)
}

// Reader verifies a sealed file given as a ReaderAt of size bytes. The
// error is for failures to read; everything about the file itself is a
// finding.
func Reader(r io.ReaderAt, size int64, path string, trust *Trust) (*ItemResult, error) {
	o, err := timeline.Open(r, size)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return JudgeOpened(o, path, trust), nil
}

// JudgeOpened judges one opened file: its structural problems become findings,
// then the signature and the signer are checked against the trust policy.
func JudgeOpened(o *timeline.Opened, path string, trust *Trust) *ItemResult {
	return judgeOpened(o, path, trust, nil)
}

// judgeOpened is JudgeOpened for an archive entry that existed by a
// checkpoint timestamp (nil: none).
func judgeOpened(o *timeline.Opened, path string, trust *Trust, stamp *archive.Stamp) *ItemResult {
	res := &ItemResult{Path: path, Kind: o.Kind, Opened: o, Wave: o.Wave, Findings: []Finding{}}
	for _, p := range o.Problems {
		res.Findings = append(res.Findings, NewFinding(p.Code, "%s", p.Detail))
	}
	if o.HasOriginal {
		res.Measured = &Measured{Size: o.OriginalSize, SHA256: hex.EncodeToString(o.OriginalSHA256[:])}
	}
	if e := o.Envelope; e != nil {
		res.Size, res.SHA256, res.Name, res.Chain = e.Size, e.SHA256, e.Name, e.Chain
		res.SignedAt = e.SignedAt.Format(timeline.TimeLayout)
		res.Findings = append(res.Findings, checkSignature(res, e, trust, stamp)...)
	}
	res.Verdict = Judge(res.Findings)
	return res
}

// checkSignature verifies the envelope's signature and judges its signer.
func checkSignature(res *ItemResult, e *timeline.Envelope, trust *Trust, stamp *archive.Stamp) []Finding {
	if trust == nil {
		trust = NewTrust(nil)
	}
	pc := trust.parsed(e.CertPEM, e.ChainPEM)
	if pc.certErr != nil {
		return []Finding{NewFinding(timeline.CodeCertMalformed, "certPem: %v", pc.certErr)}
	}
	res.Cert, res.Signer = pc.cert, pc.info
	var fs []Finding
	highS, err := timeline.VerifySignatureHighS(e, pc.cert)
	if err != nil {
		code := timeline.SignatureCode(err)
		fs = append(fs, NewFinding(code, "%v", err))
		// A certificate that cannot check the signature cannot be judged
		// either; a bad signature still gets its signer judged.
		if code != timeline.CodeSignatureInvalid && code != timeline.CodeSignatureEncoding {
			return fs
		}
	}
	if len(fs) == 0 && highS {
		fs = append(fs, NewFinding(timeline.CodeSignatureHighS, "the signature is high-S (s > n/2): its low-S twin (r, n-s) verifies too; tlseal now signs low-S only"))
	}
	if pc.chainErr != nil {
		return append(fs, NewFinding(timeline.CodeCertMalformed, "chainPem: %v", pc.chainErr))
	}
	when := judgedAt{at: e.SignedAt}
	if e.TST != "" {
		var tfs []Finding
		tfs, when = trust.checkToken(res, e)
		fs = append(fs, tfs...)
	}
	sfs, when := existedBy(e, when, stamp)
	fs = append(fs, sfs...)
	if when.trusted {
		res.TrustedTime, res.TrustedTimeSource = when.at.UTC().Format(time.RFC3339Nano), when.source
	}
	return append(fs, trust.checkCert(pc, when)...)
}
