package tsa

import (
	"errors"
	"fmt"
)

// Reason says why a token, a response or an exchange with a TSA failed.
type Reason int

const (
	// ReasonUnknown is the Reason of an error that is not an *Error (and of
	// nil).
	ReasonUnknown Reason = iota
	// ReasonMalformed: the token or response is not the DER structure RFC
	// 3161 and RFC 5652 define.
	ReasonMalformed
	// ReasonImprintMismatch: the token stamps other data than the data it
	// is checked against.
	ReasonImprintMismatch
	// ReasonHashAlgorithm: the token's message imprint is not SHA-256.
	ReasonHashAlgorithm
	// ReasonBadSignature: the TSA's CMS signature does not verify, or does
	// not cover this token's TSTInfo.
	ReasonBadSignature
	// ReasonSigningCertificate: the signed ESS signing-certificate
	// attribute names another certificate than the one the signature is
	// checked with.
	ReasonSigningCertificate
	// ReasonUnsupported: the token uses an algorithm or a critical
	// extension this package does not accept.
	ReasonUnsupported
	// ReasonNoCertificate: the token does not carry the certificate its
	// signer identifier names, so it cannot be checked. Like
	// ReasonUntrusted, this says nothing against the token itself.
	ReasonNoCertificate
	// ReasonUntrusted: the token is intact but its TSA certificate does not
	// chain to any configured anchor (an unknown TSA). Callers report this
	// as indeterminate, not as a broken token.
	ReasonUntrusted
	// ReasonEKU: the TSA certificate's extended key usage is not a critical
	// extension holding id-kp-timeStamping alone.
	ReasonEKU
	// ReasonTimeOutsideValidity: genTime lies outside the validity of the
	// TSA certificate (or of a certificate of its chain).
	ReasonTimeOutsideValidity
	// ReasonStatus: the TSA refused the request (PKIStatus other than
	// granted or grantedWithMods).
	ReasonStatus
	// ReasonHTTP: the TSA could not be reached or did not answer with a
	// time-stamp reply.
	ReasonHTTP
	// ReasonNonce: the TSA's token does not carry the request's nonce.
	ReasonNonce
)

var reasonNames = [...]string{
	ReasonUnknown:             "unknown",
	ReasonMalformed:           "malformed",
	ReasonImprintMismatch:     "imprint mismatch",
	ReasonHashAlgorithm:       "imprint hash algorithm",
	ReasonBadSignature:        "bad TSA signature",
	ReasonSigningCertificate:  "signing certificate mismatch",
	ReasonUnsupported:         "unsupported",
	ReasonNoCertificate:       "no TSA certificate",
	ReasonUntrusted:           "untrusted TSA",
	ReasonEKU:                 "TSA extended key usage",
	ReasonTimeOutsideValidity: "time outside TSA validity",
	ReasonStatus:              "TSA refused",
	ReasonHTTP:                "TSA request failed",
	ReasonNonce:               "nonce mismatch",
}

func (r Reason) String() string {
	if r >= 0 && int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("Reason(%d)", int(r))
}

// Error is the error of every function of this package.
type Error struct {
	Reason Reason
	Detail string // what was found, for a forensic examiner
	Err    error  // the underlying error, if any
}

func (e *Error) Error() string {
	s := "tsa: " + e.Reason.String() + ": " + e.Detail
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// ReasonOf returns the Reason of the first *Error in err's chain, or
// ReasonUnknown.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ReasonUnknown
}

func errorf(r Reason, format string, args ...any) *Error {
	return &Error{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

func wrap(r Reason, err error, format string, args ...any) *Error {
	return &Error{Reason: r, Detail: fmt.Sprintf(format, args...), Err: err}
}

func malformed(format string, args ...any) *Error {
	return errorf(ReasonMalformed, format, args...)
}
