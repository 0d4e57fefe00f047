package report

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/tlseal/tlseal/verify"
)

// Read parses a JSON report (a sealed one too: its seal member is ignored).
func Read(r io.Reader) (*Report, error) {
	var rep Report
	if err := json.NewDecoder(r).Decode(&rep); err != nil {
		return nil, fmt.Errorf("not a tlseal JSON report: %w", err)
	}
	if rep.Tool.Name != ToolName {
		return nil, errors.New("not a tlseal JSON report (tool.name)")
	}
	return &rep, nil
}

// Merge combines the reports of the shards of one audit into the report a
// single run would have written: the items of all shards in log order, the
// archive findings (reported by shard 0), the summary recounted. The shards
// must come from the same archive at the same checkpoint with the same
// trust anchors.
func Merge(args []string, shards []*Report, now time.Time) (*Report, error) {
	if len(shards) == 0 {
		return nil, errors.New("no report to merge")
	}
	first := shards[0]
	out := &Report{Tool: Tool{Name: ToolName, Version: Version()}, Host: first.Host, Case: first.Case,
		Trust: first.Trust, Items: []*verify.ItemResult{}}
	out.Command = strings.Join(args, " ")
	out.StartedAt = first.StartedAt
	var archive *verify.ArchiveResult
	seen := map[string]bool{}
	for i, s := range shards {
		if s.StartedAt < out.StartedAt {
			out.StartedAt = s.StartedAt
		}
		if !slices.Equal(s.Trust.Anchors, first.Trust.Anchors) {
			return nil, fmt.Errorf("report %d used other trust anchors than report 1", i+1)
		}
		if a := s.Archive; a != nil {
			if archive == nil {
				c := *a
				c.Findings = slices.Clone(a.Findings)
				archive = &c
			} else {
				if a.ChainID != archive.ChainID || !sameCheckpoint(a.Checkpoint, archive.Checkpoint) {
					return nil, fmt.Errorf("report %d is of another archive or checkpoint (chain %s) than report 1 (chain %s)", i+1, a.ChainID, archive.ChainID)
				}
				archive.Findings = append(archive.Findings, a.Findings...)
			}
		}
		for _, it := range s.Items {
			if seen[it.Path] {
				return nil, fmt.Errorf("%s is in more than one report: the shards overlap", it.Path)
			}
			seen[it.Path] = true
			out.Add(it)
			if slices.ContainsFunc(it.Findings, func(f verify.Finding) bool { return f.Code == "log.entryMissingFile" }) {
				out.Summary.Missing++
			}
			if slices.ContainsFunc(it.Findings, func(f verify.Finding) bool { return f.Code == "log.unlistedFile" }) {
				out.Summary.Unlisted++
			}
		}
	}
	// Log order: entries by chain position, then files no entry lists.
	slices.SortStableFunc(out.Items, func(a, b *verify.ItemResult) int {
		return cmp.Compare(seqOf(a), seqOf(b))
	})
	if archive != nil {
		archive.Verdict = verify.Judge(archive.Findings)
		out.Archive = archive
	}
	out.Finish(now)
	return out, nil
}

func seqOf(it *verify.ItemResult) int64 {
	if it.Entry > 0 {
		return it.Entry
	}
	return 1 << 62 // files no entry lists come last
}

func sameCheckpoint(a, b *verify.CheckpointInfo) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
