// Package verify judges sealed timeline files: it turns what timeline.Open
// found into findings with stable codes, checks signatures and certificate
// chains against a trust policy, and gives each item a three-state verdict.
//
// Every finding code is listed in Codes with its severity and its effect on
// the verdict; docs/findings.md documents the same list (a test keeps the
// two equal).
package verify

import (
	"fmt"
	"slices"
	"sort"

	"github.com/tlseal/tlseal/archive"
	"github.com/tlseal/tlseal/revocation"
	"github.com/tlseal/tlseal/riffio"
	"github.com/tlseal/tlseal/timeline"
)

// Severity of a finding.
type Severity string

const (
	SevError   Severity = "error"
	SevWarning Severity = "warning"
	SevInfo    Severity = "info"
)

// Verdict of an item or a whole run.
type Verdict string

const (
	Passed        Verdict = "passed"
	Failed        Verdict = "failed"
	Indeterminate Verdict = "indeterminate"
	// Skipped is the verdict of an item that is not a timeline file at all
	// (notes.txt in a case folder), when the caller chose to skip such
	// files (Skip): reported, not judged, and no part of a run's verdict.
	Skipped Verdict = "skipped"
)

// Effect is what a finding does to the verdict.
type Effect int

const (
	EffectNone          Effect = iota // recorded, verdict unchanged
	EffectIndeterminate               // the item cannot be judged passed
	EffectFail                        // the item failed
)

// CodeInfo describes one finding code.
type CodeInfo struct {
	Severity Severity
	Effect   Effect
	Summary  string
}

// Finding codes that only the verifier emits: the trust decision about a
// signer. Every other code is defined where it is found (timeline for one
// file's structure and signature, archive for the log, watch for the
// watcher's notes) and registered here under its constant.
const (
	CodeCertUntrusted    = "cert.untrusted"
	CodeCertExpired      = "cert.expired"
	CodeCertNotYetValid  = "cert.notYetValid"
	CodeCertKeyUsage     = "cert.keyUsage"
	CodeCertChainInvalid = "cert.chainInvalid"
	CodeCertSignerIsCA   = "cert.signerIsCA"
	CodeCertExtKeyUsage  = "cert.extKeyUsage"

	// codeWatchIncomplete is watch.CodeIncomplete (verify may not import
	// watch; a test in watch checks that the two are equal).
	codeWatchIncomplete = "watch.incomplete"
)

// Codes is the registry of every finding code, keyed by the constants that
// define them (a test checks that every exported Code* constant of timeline,
// archive, verify and watch is registered here and documented in
// docs/findings.md).
var Codes = map[string]CodeInfo{
	timeline.CodeSealMissing:      {SevError, EffectFail, "the file carries no seal"},
	timeline.CodeSealMalformed:    {SevError, EffectFail, "the seal envelope is not a valid v1 envelope"},
	timeline.CodeSealMultiple:     {SevError, EffectFail, "more than one seal"},
	timeline.CodeSealNotLast:      {SevError, EffectFail, "a seal is present but not where v1 puts it (last)"},
	timeline.CodeSealKindMismatch: {SevError, EffectFail, "the envelope's kind differs from the file's"},
	timeline.CodeSealOffset:       {SevError, EffectFail, "the seal chunk does not follow the original's size"},
	timeline.CodeSealNonCanonical: {SevError, EffectFail, "the envelope or its PEM is not exactly the bytes the sealer writes"},
	timeline.CodeNotTimeline:      {SevInfo, EffectNone, "the file is neither RIFF nor a JSON object"},

	timeline.CodeSizeMismatch:   {SevError, EffectFail, "the original's length differs from the seal's size"},
	timeline.CodeDigestMismatch: {SevError, EffectFail, "the original's SHA-256 differs from the seal's"},

	timeline.CodeSignatureInvalid:  {SevError, EffectFail, "the signature does not verify"},
	timeline.CodeSignatureEncoding: {SevError, EffectFail, "sig is not canonical base64 of a strict DER signature (or, from version 2, not low-S)"},
	timeline.CodeSignatureHighS:    {SevWarning, EffectNone, "a version-1 signature is high-S: valid, but its twin (r, n-s) verifies too"},

	timeline.CodeCertMalformed:   {SevError, EffectFail, "certPem or chainPem does not parse"},
	timeline.CodeCertAlgMismatch: {SevError, EffectFail, "alg does not match the certificate's key"},
	CodeCertUntrusted:            {SevWarning, EffectIndeterminate, "the signer does not chain to a configured trust anchor"},
	CodeCertExpired:              {SevError, EffectFail, "a certificate had expired at signedAt"},
	CodeCertNotYetValid:          {SevError, EffectFail, "a certificate was not yet valid at signedAt"},
	CodeCertKeyUsage:             {SevError, EffectFail, "the signer's key usage excludes digitalSignature"},
	CodeCertChainInvalid:         {SevError, EffectFail, "the certificate chain is invalid for another reason"},
	CodeCertSignerIsCA:           {SevError, EffectFail, "the signer certificate is a CA certificate (CA:TRUE): a CA key is not a recorder"},
	CodeCertExtKeyUsage:          {SevError, EffectFail, "the signer's extended key usage excludes document signing (docs/findings.md: EKU policy)"},

	CodeTimestampInvalid:         {SevError, EffectFail, "a timestamp token (of a seal or a checkpoint) is broken: malformed, its TSA signature invalid, its TSA certificate without the sole critical timeStamping EKU, or genTime outside its validity; or a checkpoint token without its note"},
	CodeTimestampImprintMismatch: {SevError, EffectFail, "the timestamp token is not over this seal's signature or this checkpoint's note (a token of another seal or checkpoint)"},
	CodeTimestampUntrusted:       {SevWarning, EffectIndeterminate, "the timestamp token is intact but its TSA does not chain to a TSA anchor (--tsa-ca)"},
	CodeTimestampAfterSignedAt:   {SevError, EffectFail, "signedAt is later than the trusted time (the seal's token, or a timestamped checkpoint that includes it) plus its accuracy"},
	CodeTimestampMissing:         {SevWarning, EffectNone, "a timestamp was asked for and not obtained (the TSA failed): a watched file sealed without its token, or a checkpoint kept without one (tlseal timestamp adds it)"},

	revocation.CodeCertRevoked:                 {SevError, EffectFail, "a certificate of the signer's chain was revoked, and no trusted time shows the seal was made before"},
	revocation.CodeCertRevokedAfterTrustedTime: {SevInfo, EffectNone, "a certificate was revoked after the seal's trusted time: the seal predates the revocation"},
	revocation.CodeCRLMissing:                  {SevInfo, EffectNone, "no supplied CRL covers a certificate's issuer: its revocation was not checked"},
	revocation.CodeCRLInvalid:                  {SevError, EffectIndeterminate, "a supplied CRL of the issuer does not verify or may not be used (forged, damaged, unsupported)"},
	revocation.CodeCRLExpired:                  {SevWarning, EffectIndeterminate, "the issuer's supplied CRLs are past their nextUpdate: they cannot say the certificate is not revoked now"},

	riffio.CodeSizeMismatch:     {SevInfo, EffectNone, "the original's RIFF size field disagrees with its length (preserved)"},
	riffio.CodePlaceholderSize:  {SevWarning, EffectNone, "a size field holds the 0xFFFFFFFF placeholder"},
	riffio.CodeTruncatedChunk:   {SevWarning, EffectNone, "a chunk of the original runs past its end"},
	riffio.CodeMissingPad:       {SevInfo, EffectNone, "an odd-sized chunk of the original has no pad byte"},
	riffio.CodeNonZeroPad:       {SevInfo, EffectNone, "a pad byte of the original is not zero"},
	riffio.CodeInvalidChunkID:   {SevWarning, EffectNone, "the original has bytes that are not a chunk where one should start"},
	riffio.CodeTrailingBytes:    {SevInfo, EffectNone, "the original ends with a few bytes after its last chunk"},
	timeline.CodeRIFFSealedSize: {SevError, EffectFail, "the sealed file's RIFF size field is not its length - 8"},
	timeline.CodeRIFFSealPad:    {SevError, EffectFail, "a pad byte written by sealing is not zero"},
	timeline.CodeRIFFUnreadable: {SevError, EffectFail, "the RIFF header is damaged"},

	timeline.CodeJSONInvalid:      {SevError, EffectFail, "the sealed file is not valid JSON"},
	timeline.CodeJSONSplice:       {SevError, EffectFail, "the seal member is not spliced exactly as v1 writes it"},
	timeline.CodeJSONDuplicateKey: {SevInfo, EffectNone, "a top-level key occurs more than once (preserved)"},

	// Archives (archive.Check and the archive audit).
	archive.CodeCheckpointMissing:   {SevWarning, EffectIndeterminate, "the archive has no checkpoint: its log is not signed"},
	archive.CodeCheckpointInvalid:   {SevError, EffectFail, "the checkpoint does not parse or its signature does not verify"},
	archive.CodeCheckpointUntrusted: {SevWarning, EffectIndeterminate, "the checkpoint signer does not chain to a trust anchor"},
	archive.CodeKeyInvalid:          {SevWarning, EffectIndeterminate, "a checkpoint key file does not parse, is misnamed, or was not introduced by a rotation from the first key"},
	archive.CodeKeysNotPinned:       {SevInfo, EffectNone, "an archive made before checkpoint keys were pinned: any key in keys/ may sign its checkpoints"},
	archive.CodeRootMismatch:        {SevError, EffectFail, "the log's Merkle root differs from the checkpoint's"},
	archive.CodeTruncated:           {SevError, EffectFail, "the log holds fewer entries than the checkpoint covers"},
	archive.CodeTornTail:            {SevWarning, EffectNone, "an unfinished append after the checkpoint (the next writer repairs it)"},
	archive.CodeRecordInvalid:       {SevError, EffectFail, "a log record is damaged or inconsistent"},
	archive.CodeIndexMismatch:       {SevError, EffectFail, "the index or stored hashes disagree with the log"},
	archive.CodeEntryMissingFile:    {SevError, EffectFail, "a log entry's sealed file is missing"},
	archive.CodeEntryMismatch:       {SevError, EffectFail, "a sealed file's envelope differs from its log entry"},
	archive.CodeUnlistedFile:        {SevError, EffectFail, "a file in the archive that no log entry names"},
	archive.CodeQuarantined:         {SevInfo, EffectNone, "a file that crash recovery set aside"},
	archive.CodeInconsistentWitness: {SevError, EffectFail, "the log does not extend a checkpoint witnessed earlier, or the checkpoint is older than it"},
	archive.CodeEntryNotCovered:     {SevWarning, EffectNone, "an entry past the checkpoint: no signed checkpoint vouches for its place in the log yet"},
	archive.CodeChainMissing:        {SevError, EffectFail, "an archived seal has no chain member"},
	archive.CodeChainGap:            {SevError, EffectFail, "chain sequence numbers are not contiguous"},
	archive.CodeChainDuplicate:      {SevError, EffectFail, "a chain sequence number occurs twice"},
	archive.CodeChainPrevMismatch:   {SevError, EffectFail, "a seal's prev is not the hash of the previous envelope"},
	archive.CodeChainIDMismatch:     {SevError, EffectFail, "a seal's chain id is not the archive's"},
	archive.CodeRetentionMissing:    {SevError, EffectFail, "an object of an archive on object storage has no Object Lock retention, a weaker mode or a shorter one than the archive's policy, or the archive has no policy"},

	// Offline inclusion proofs (tlseal verify --proof).
	CodeProofInvalid:      {SevError, EffectFail, "the inclusion proof does not parse, or its audit path or checkpoint signature does not verify"},
	CodeProofLeafMismatch: {SevError, EffectFail, "the inclusion proof is of another seal than the file's"},
	CodeProofKeyUnknown:   {SevWarning, EffectIndeterminate, "the proof's checkpoint key is neither the file signer's nor a given checkpoint certificate's"},
	CodeProofUntrusted:    {SevWarning, EffectIndeterminate, "the proof's checkpoint signer does not chain to a trust anchor"},

	// The watcher (a note recorded with the entry, in its log record).
	codeWatchIncomplete: {SevWarning, EffectNone, "a file never completed and was sealed as it was after the maximum wait"},
}

// Finding is one fact about an item.
type Finding struct {
	Code     string   `json:"code"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
}

// NewFinding makes a finding of a registered code.
func NewFinding(code, format string, args ...any) Finding {
	info, ok := Codes[code]
	if !ok {
		// An unregistered code is a programming error; keep it visible as
		// an error rather than losing it.
		info = CodeInfo{Severity: SevError, Effect: EffectFail}
	}
	return Finding{Code: code, Severity: info.Severity, Message: fmt.Sprintf(format, args...)}
}

// Judge returns the verdict that a set of findings implies.
func Judge(fs []Finding) Verdict {
	v := Passed
	for _, f := range fs {
		switch effect(f) {
		case EffectFail:
			return Failed
		case EffectIndeterminate:
			v = Indeterminate
		}
	}
	return v
}

// effect is the registry's effect of a finding's code. A code the registry
// does not know (a note a sealer recorded with an archive entry) counts by
// its severity: a warning or information leaves the verdict alone, anything
// else fails, as NewFinding's unregistered codes (errors) do.
func effect(f Finding) Effect {
	if info, ok := Codes[f.Code]; ok {
		return info.Effect
	}
	if f.Severity == SevWarning || f.Severity == SevInfo {
		return EffectNone
	}
	return EffectFail
}

// Combine folds item verdicts into an overall one: failed beats
// indeterminate beats passed; skipped items do not count.
func Combine(vs ...Verdict) Verdict {
	out := Passed
	for _, v := range vs {
		if v == Failed {
			return Failed
		}
		if v == Indeterminate {
			out = Indeterminate
		}
	}
	return out
}

// Skip marks an item that is not a timeline file (neither RIFF nor a JSON
// object: Open found seal.notTimeline) as skipped, and reports whether it
// did. Its findings stay, so the report says why. A timeline file without
// a seal is not skipped: it stays failed.
func Skip(it *ItemResult) bool {
	if !slices.ContainsFunc(it.Findings, func(f Finding) bool { return f.Code == timeline.CodeNotTimeline }) {
		return false
	}
	it.Verdict = Skipped
	return true
}

// Warnings counts the findings of severity warning.
func Warnings(fs []Finding) int {
	n := 0
	for _, f := range fs {
		if f.Severity == SevWarning {
			n++
		}
	}
	return n
}

// SortedCodes lists the registered codes in order.
func SortedCodes() []string {
	cs := make([]string, 0, len(Codes))
	for c := range Codes {
		cs = append(cs, c)
	}
	sort.Strings(cs)
	return cs
}
