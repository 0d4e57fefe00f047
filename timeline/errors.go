package timeline

import "fmt"

// Reason says why a file cannot be sealed or opened.
type Reason int

const (
	ReasonNotTimeline   Reason = iota + 1 // neither RIFF nor a JSON object
	ReasonNotJSON                         // starts like JSON but is not valid JSON
	ReasonNotObject                       // valid JSON, but not an object
	ReasonAlreadySealed                   // the file already carries a seal
	ReasonNotRIFF                         // RIFF header damaged or too short
	ReasonTooLarge                        // 4 GiB or more (RF64/BW64)
	ReasonNotSealed                       // no seal where format v1 puts it (extract)
	ReasonIO                              // reading or writing failed
	ReasonSign                            // the signing key did not sign (a token away, an external signer failing)
	ReasonTimestamp                       // no timestamp token could be obtained for the seal (the TSA failed)
)

var reasonText = map[Reason]string{
	ReasonNotTimeline:   "not a timeline file",
	ReasonNotJSON:       "not valid JSON",
	ReasonNotObject:     "not a JSON object",
	ReasonAlreadySealed: "already sealed",
	ReasonNotRIFF:       "not a valid RIFF file",
	ReasonTooLarge:      "too large",
	ReasonNotSealed:     "not sealed",
	ReasonIO:            "I/O error",
	ReasonSign:          "signing failed",
	ReasonTimestamp:     "timestamping failed",
}

// String returns a short description of r.
func (r Reason) String() string {
	if s, ok := reasonText[r]; ok {
		return s
	}
	return fmt.Sprintf("timeline.Reason(%d)", int(r))
}

// Error is a failure to seal or open a file, with a reason a caller can
// switch on and a detail for the user.
type Error struct {
	Reason Reason
	Detail string
	Err    error
}

func (e *Error) Error() string {
	msg := e.Reason.String()
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

func newError(r Reason, err error, format string, args ...any) *Error {
	return &Error{Reason: r, Detail: fmt.Sprintf(format, args...), Err: err}
}
