package tsa

import (
	"crypto"
	"crypto/rand"
	"encoding/asn1"
	"fmt"
	"math/big"
	"strings"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Request returns a DER TimeStampReq (RFC 3161 §2.4.1) for digest, made
// with h (SHA-1, SHA-256, SHA-384 or SHA-512): version 1, a random 64-bit
// nonce, which it also returns, and certReq TRUE, so that the TSA embeds
// its certificate in the token.
func Request(digest []byte, h crypto.Hash) (der []byte, nonce *big.Int, err error) {
	oid := hashOID(h)
	if oid == nil {
		return nil, nil, fmt.Errorf("tsa: cannot request a token over a %v digest", h)
	}
	if len(digest) != h.Size() {
		return nil, nil, fmt.Errorf("tsa: a %v digest has %d bytes, not %d", h, h.Size(), len(digest))
	}
	nonce, err = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, nil, err
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(1)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // messageImprint
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(oid)
				b.AddASN1NULL()
			})
			b.AddASN1OctetString(digest)
		})
		b.AddASN1BigInt(nonce)
		b.AddASN1Boolean(true) // certReq
	})
	der, err = b.Bytes()
	return der, nonce, err
}

// PKIStatus values (RFC 3161 §2.4.2).
var statusNames = []string{"granted", "grantedWithMods", "rejection", "waiting", "revocationWarning", "revocationNotification"}

// PKIFailureInfo bits (RFC 3161 §2.4.2).
var failureNames = map[int]string{
	0:  "badAlg (unrecognized or unsupported algorithm)",
	2:  "badRequest (transaction not permitted or supported)",
	5:  "badDataFormat (the data submitted has the wrong format)",
	14: "timeNotAvailable (the TSA's time source is not available)",
	15: "unacceptedPolicy (the requested TSA policy is not supported)",
	16: "unacceptedExtension (the requested extension is not supported)",
	17: "addInfoNotAvailable (the additional information requested is not available)",
	25: "systemFailure (the request cannot be handled due to system failure)",
}

// ParseResponse parses a DER TimeStampResp (RFC 3161 §2.4.2) and returns
// its token. A PKIStatus other than granted or grantedWithMods is an error
// of ReasonStatus that names the status, the failure information and the
// TSA's text; a granted response without a token is malformed.
func ParseResponse(der []byte) (*Token, error) {
	s := cryptobyte.String(der)
	var resp, info cryptobyte.String
	if !s.ReadASN1(&resp, cbasn1.SEQUENCE) {
		return nil, malformed("the TSA's answer is not a DER TimeStampResp")
	}
	if !s.Empty() {
		return nil, malformed("%d bytes follow the TSA's TimeStampResp", len(s))
	}
	var status int64
	if !resp.ReadASN1(&info, cbasn1.SEQUENCE) || !info.ReadASN1Int64WithTag(&status, cbasn1.INTEGER) {
		return nil, malformed("the TSA's TimeStampResp has no PKIStatusInfo")
	}
	var texts []string
	if info.PeekASN1Tag(cbasn1.SEQUENCE) {
		var seq cryptobyte.String
		if !info.ReadASN1(&seq, cbasn1.SEQUENCE) {
			return nil, malformed("the TSA's statusString is malformed")
		}
		for !seq.Empty() {
			var text cryptobyte.String
			if !seq.ReadASN1(&text, cbasn1.UTF8String) {
				return nil, malformed("the TSA's statusString is malformed")
			}
			texts = append(texts, fmt.Sprintf("%q", string(text)))
		}
	}
	var fails []string
	if info.PeekASN1Tag(cbasn1.BIT_STRING) {
		var bits asn1.BitString
		if !info.ReadASN1BitString(&bits) {
			return nil, malformed("the TSA's failInfo is malformed")
		}
		for i := range bits.BitLength {
			if bits.At(i) == 1 {
				name := failureNames[i]
				if name == "" {
					name = fmt.Sprintf("failure bit %d", i)
				}
				fails = append(fails, name)
			}
		}
	}
	if !info.Empty() {
		return nil, malformed("the TSA's PKIStatusInfo is malformed")
	}
	if status != 0 && status != 1 {
		name := fmt.Sprintf("unknown status %d", status)
		if status >= 0 && status < int64(len(statusNames)) {
			name = fmt.Sprintf("%s (%d)", statusNames[status], status)
		}
		detail := "the TSA answered " + name
		if len(fails) > 0 {
			detail += "; failure: " + strings.Join(fails, ", ")
		}
		if len(texts) > 0 {
			detail += "; text: " + strings.Join(texts, " ")
		}
		return nil, errorf(ReasonStatus, "%s", detail)
	}
	if resp.Empty() {
		return nil, malformed("the TSA granted the request but sent no token")
	}
	var tok cryptobyte.String
	if !resp.ReadASN1Element(&tok, cbasn1.SEQUENCE) || !resp.Empty() {
		return nil, malformed("the TSA's TimeStampResp holds something other than one token after its status")
	}
	return Parse(tok)
}
