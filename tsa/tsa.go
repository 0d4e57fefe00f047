// Package tsa obtains and checks RFC 3161 trusted timestamps.
//
// A time-stamp token is a CMS SignedData (RFC 5652) in which a Time
// Stamping Authority signs a TSTInfo: the message imprint (a digest of the
// stamped data), the time genTime, a serial number, the TSA's policy and
// the request's nonce. tlseal stamps the DER ECDSA signature of a seal and
// the signed-note bytes of a checkpoint, always with a SHA-256 imprint; a
// seal carries its token, the DER TimeStampToken (never the whole
// TimeStampResp), in base64 as its tst member.
//
// Request makes a TimeStampReq; Client.Stamp posts it to a TSA and checks
// that the answer is a token for that request; Parse reads a token and
// Token.Verify checks it against the stamped data and the configured TSA
// anchors. Once Verify returns nil, the token's GenTime is the trusted
// time: the stamped data existed then.
//
// A check that fails returns an *Error whose Reason says which.
// ReasonUntrusted (an intact token of a TSA no anchor vouches for) and
// ReasonNoCertificate (a token without its TSA's certificate) say nothing
// against the token: the time is indeterminate. ReasonUnsupported says the
// token uses an algorithm or a critical extension this package does not
// check. Every other Reason says the token does not prove the time of the
// data.
//
// The same check by OpenSSL is
//
//	openssl ts -verify -token_in -in token.der -data stamped.bin -CAfile tsa-ca.pem
//
// except that Verify also requires a SHA-256 imprint, judges the TSA's
// certificates at genTime instead of now, and does not require an ESS
// signing-certificate attribute (it checks one that is present).
package tsa
