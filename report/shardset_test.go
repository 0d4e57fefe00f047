package report_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tlseal/tlseal/report"
	"github.com/tlseal/tlseal/verify"
)

// audit merge refuses any set of reports that is not every shard of one
// audit exactly once: a merged "passed" must cover the whole archive.
func TestMergeShardSet(t *testing.T) {
	cp := &verify.CheckpointInfo{Size: 9, Root: "cm9vdA=="}
	shard := func(i, n int, chain string, c *verify.CheckpointInfo) *report.Report {
		r := &report.Report{Tool: report.Tool{Name: report.ToolName}, Items: []*verify.ItemResult{},
			Archive: &verify.ArchiveResult{ChainID: chain, Checkpoint: c, Findings: []verify.Finding{}, Verdict: verify.Passed}}
		if n > 0 {
			r.Archive.Shard = &verify.ShardInfo{Index: i, Of: n}
		}
		return r
	}
	other := &verify.CheckpointInfo{Size: 10, Root: "b3RoZXI="}
	for _, c := range []struct {
		name   string
		shards []*report.Report
		want   string // "" : merged
	}{
		{"complete", []*report.Report{shard(0, 3, "a", cp), shard(2, 3, "a", cp), shard(1, 3, "a", cp)}, ""},
		{"one whole audit", []*report.Report{shard(0, 0, "a", cp)}, ""},
		{"two of three", []*report.Report{shard(0, 3, "a", cp), shard(1, 3, "a", cp)}, "shard 2/3 missing"},
		{"one of four", []*report.Report{shard(3, 4, "a", cp)}, "shard 0/4, 1/4, 2/4 missing"},
		{"duplicated", []*report.Report{shard(0, 2, "a", cp), shard(0, 2, "a", cp), shard(1, 2, "a", cp)}, "shard 0/2 is given twice"},
		{"mixed splits", []*report.Report{shard(0, 2, "a", cp), shard(1, 3, "a", cp)}, "is shard 1/3, report 1 of a split into 2"},
		{"mixed checkpoints", []*report.Report{shard(0, 2, "a", cp), shard(1, 2, "a", other)}, "another archive or checkpoint"},
		{"mixed archives", []*report.Report{shard(0, 2, "a", cp), shard(1, 2, "b", cp)}, "another archive or checkpoint"},
		{"a whole audit among shards", []*report.Report{shard(0, 2, "a", cp), shard(0, 0, "a", cp)}, "not a shard report"},
		{"not an archive audit", []*report.Report{{Tool: report.Tool{Name: report.ToolName}}}, "not an archive audit"},
	} {
		rep, err := report.Merge([]string{"merge"}, c.shards, time.Unix(2e9, 0))
		var se *report.ShardSetError
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want == "" && rep.Archive != nil && rep.Archive.Shard != nil:
			t.Errorf("%s: the merged report still names a shard", c.name)
		case c.want != "" && (!errors.As(err, &se) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want a ShardSetError with %q", c.name, err, c.want)
		}
	}
}
