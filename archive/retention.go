package archive

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
)

// CodeRetentionMissing is Check's finding about an object of an archive on
// object storage whose Object Lock retention is missing, weaker (governance
// where the policy says compliance) or shorter than the archive's policy
// (retention.json), or about an S3 archive without a policy.
const CodeRetentionMissing = "storage.retentionMissing"

// retentionFile holds an S3 archive's retention policy. It is not part of
// the archive proper (an export to disk does not copy it).
const retentionFile = "retention.json"

// retentionSlack is how much earlier than the policy's end an object's
// retain-until date may be: the writer computes it from its own clock
// before the upload, the store stamps the object's time after it.
const retentionSlack = 24 * time.Hour

// RetentionMode is an S3 Object Lock retention mode.
type RetentionMode string

// The Object Lock modes: compliance (nobody, not even the account's root,
// shortens or removes it) and governance (users with
// s3:BypassGovernanceRetention may).
const (
	Compliance RetentionMode = "COMPLIANCE"
	Governance RetentionMode = "GOVERNANCE"
)

// Retention is an archive's retention policy: every object it writes is
// locked in Mode until its creation plus Period.
type Retention struct {
	Mode   RetentionMode `json:"mode"`
	Period string        `json:"period"` // <n>d or <n>y, as ParseRetention reads it
	years  int
	days   int
}

// ParseRetention reads a retention period, <n>d (days) or <n>y (calendar
// years), and a mode, compliance or governance (any case).
func ParseRetention(period, mode string) (*Retention, error) {
	r := &Retention{Period: period}
	switch strings.ToUpper(mode) {
	case string(Compliance):
		r.Mode = Compliance
	case string(Governance):
		r.Mode = Governance
	default:
		return nil, errorf(ReasonInvalidArgument, "", nil, "retention mode %q: compliance or governance", mode)
	}
	if len(period) < 2 {
		return nil, errorf(ReasonInvalidArgument, "", nil, "retention period %q: <n>d or <n>y, such as 7y", period)
	}
	n, err := strconv.Atoi(period[:len(period)-1])
	if err != nil || n < 1 || n > 100*366 || period[0] == '+' || period[0] == '0' {
		return nil, errorf(ReasonInvalidArgument, "", nil, "retention period %q: <n>d or <n>y, such as 7y", period)
	}
	switch period[len(period)-1] {
	case 'd':
		r.days = n
	case 'y':
		if n > 100 {
			return nil, errorf(ReasonInvalidArgument, "", nil, "retention period %q: at most 100y", period)
		}
		r.years = n
	default:
		return nil, errorf(ReasonInvalidArgument, "", nil, "retention period %q: <n>d or <n>y, such as 7y", period)
	}
	return r, nil
}

// Until is the end of the retention of an object made at t.
func (r *Retention) Until(t time.Time) time.Time {
	return t.UTC().AddDate(r.years, 0, r.days).Truncate(time.Second).Add(time.Second)
}

func (r *Retention) String() string { return r.Period + " " + strings.ToLower(string(r.Mode)) }

func (r *Retention) minioMode() minio.RetentionMode { return minio.RetentionMode(r.Mode) }

func (r *Retention) marshal() []byte {
	b, _ := json.MarshalIndent(struct {
		Mode   RetentionMode `json:"mode"`
		Period string        `json:"period"`
	}{r.Mode, r.Period}, "", "  ")
	return append(b, '\n')
}

func parseRetentionFile(data []byte) (*Retention, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var v struct {
		Mode   string `json:"mode"`
		Period string `json:"period"`
	}
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%s does not parse: %w", retentionFile, err)
	}
	return ParseRetention(v.Period, v.Mode)
}

// loadPolicy reads the archive's retention policy (nil when there is none)
// and from then on judges the retention of every object read.
func (s *s3Store) loadPolicy() (*Retention, error) {
	s.policyOnce.Do(func() {
		// (readObject judges nothing until the policy is set.)
		data, err := s.readObject(retentionFile, 64<<10)
		if errors.Is(err, fs.ErrNotExist) {
			return
		}
		if err != nil {
			s.policyErr = err
			return
		}
		p, err := parseRetentionFile(data)
		s.mu.Lock()
		s.policy, s.policyErr = p, err
		s.mu.Unlock()
	})
	return s.policy, s.policyErr
}

// judgeRetention says what is wrong with an object's retention under the
// policy ("" when nothing is).
func judgeRetention(p *Retention, info minio.ObjectInfo) string {
	mode := RetentionMode(strings.ToUpper(info.Metadata.Get("X-Amz-Object-Lock-Mode")))
	untilText := info.Metadata.Get("X-Amz-Object-Lock-Retain-Until-Date")
	if mode == "" || untilText == "" {
		return fmt.Sprintf("the object has no retention (the archive's policy: %s)", p)
	}
	if p.Mode == Compliance && mode != Compliance {
		return fmt.Sprintf("the object is locked in %s mode, the archive's policy is %s", strings.ToLower(string(mode)), p)
	}
	until, err := time.Parse(time.RFC3339, untilText)
	if err != nil {
		return fmt.Sprintf("the object's retain-until date %q does not parse", untilText)
	}
	made := info.LastModified
	if made.IsZero() {
		return ""
	}
	if want := p.Until(made).Add(-retentionSlack); until.Before(want) {
		return fmt.Sprintf("the object is retained until %s, the archive's policy (%s from %s) until %s",
			until.UTC().Format(time.RFC3339), p, made.UTC().Format(time.RFC3339), p.Until(made).Format(time.RFC3339))
	}
	return ""
}

// noteRetention judges an object read during a check (once a policy is
// loaded).
func (s *s3Store) noteRetention(name string, info minio.ObjectInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.judging || s.policy == nil {
		return
	}
	if msg := judgeRetention(s.policy, info); msg != "" {
		s.ret[name] = msg
	} else {
		delete(s.ret, name)
	}
}
