package main

import (
	"errors"

	"github.com/tlseal/tlseal/archive"
	"github.com/tlseal/tlseal/certstore"
	"github.com/tlseal/tlseal/verify"
)

// Hints for the common failures, in one place: reportExit prints the hint
// on a line of its own after the error (age's errorWithHint).
const (
	hintArchiveLocked  = "another tlseal process (a watcher or an ingest) is writing to this archive: stop it or let it finish; readers (audit, verify, proof) need no lock"
	hintNotArchive     = "an evidence archive is a directory with archive.json, made by 'tlseal ingest' or 'tlseal watch'; to check loose sealed files use 'tlseal verify'"
	hintWrongPassword  = "the password comes from --password-hex, --password-file, $" + passwordEnv + " or the config file, in that order: check which one is set"
	hintKeyNotAccepted = "a new checkpoint key is introduced by the key before it: add --rotate-from-cert OLD.pem --rotate-from-key OLD.key (or @certstore://OLD-ID); see docs/operations.md, Key rotation"
	hintStoreLocked    = "another tlseal command is changing this certificate store: retry when it has finished"
	hintNoAnchor       = "no trust anchor is configured, so nothing can pass: give --ca ca.pem (or @certstore://ID), or tag the CA in the store with -cadefault"
	hintUntrusted      = "a signer does not chain to the configured trust anchors: check that --ca names the CA that issued the recorder's certificate ('tlseal inspect FILE' shows the signer and its issuer)"
)

// hintFor returns the hint for err, or "".
func hintFor(err error) string {
	var v *verdictError
	if errors.As(err, &v) {
		return v.hint
	}
	switch archive.ReasonOf(err) {
	case archive.ReasonLocked:
		return hintArchiveLocked
	case archive.ReasonNotArchive:
		return hintNotArchive
	case archive.ReasonKeyNotAccepted:
		return hintKeyNotAccepted
	}
	switch certstore.ReasonOf(err) {
	case certstore.ReasonWrongPassword:
		return hintWrongPassword
	case certstore.ReasonLocked:
		return hintStoreLocked
	}
	return ""
}

// trustHint is the hint for a run whose verdict may come from the trust
// configuration rather than the evidence: no anchor at all, or a signer
// (of a file or of the checkpoint) outside the anchors.
func trustHint(trust *verify.Trust, v verify.Verdict, untrustedSeen bool) string {
	if v != verify.Indeterminate {
		return ""
	}
	if trust == nil || len(trust.Anchors) == 0 {
		return hintNoAnchor
	}
	if untrustedSeen {
		return hintUntrusted
	}
	return ""
}

// untrusted reports whether findings say a signer is not trusted.
func untrusted(fs []verify.Finding) bool {
	for _, f := range fs {
		if f.Code == verify.CodeCertUntrusted || f.Code == archive.CodeCheckpointUntrusted || f.Code == verify.CodeProofUntrusted {
			return true
		}
	}
	return false
}
