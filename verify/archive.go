package verify

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/tlseal/tlseal/archive"
	"github.com/tlseal/tlseal/timeline"
)

// Shard selects a deterministic part of an archive: entry i (0-based) is
// in shard I of N when i mod N = I. Archive-wide findings and unlisted
// files belong to shard 0, so that merged shard reports equal a single run.
type Shard struct{ I, N int }

// Owns reports whether the shard holds entry index i.
func (s Shard) Owns(i int64) bool { return s.N <= 1 || i%int64(s.N) == int64(s.I) }

// ArchiveOptions tune an archive audit.
type ArchiveOptions struct {
	// Witness is a checkpoint saved by an earlier audit (a signed note);
	// the log must extend it.
	Witness []byte
	Jobs    int
	Shard   Shard
	// Names, when set, limits the file checks to these archive names
	// (paths under files/, '/'-separated) or source names.
	Names map[string]bool
	// OnItem is called for each sealed file as soon as it is judged (from
	// several goroutines), before log findings are added: progress only.
	OnItem func(*ItemResult)
}

// CheckpointInfo is how a report names a checkpoint.
type CheckpointInfo struct {
	Size int64  `json:"size"`
	Root string `json:"root"` // base64, as in the checkpoint
}

// ArchiveResult is the judgement of an archive: the archive-wide findings
// and one item per entry checked (and per file no entry lists).
type ArchiveResult struct {
	Dir        string          `json:"-"`
	ChainID    string          `json:"chainId"`
	Origin     string          `json:"origin"`
	Entries    int64           `json:"entries"`
	Checkpoint *CheckpointInfo `json:"checkpoint,omitempty"`
	Witness    *CheckpointInfo `json:"witness,omitempty"`
	Findings   []Finding       `json:"findings"`
	Verdict    Verdict         `json:"verdict"`

	Items    []*ItemResult `json:"-"`
	Missing  int           `json:"-"` // entries whose file is gone
	Unlisted int           `json:"-"` // files no entry lists
	// CheckpointNote is the signed checkpoint as found (for --update-witness).
	CheckpointNote []byte `json:"-"`
}

// Archive audits an evidence archive: the checkpoint (signature, signer
// trust), the Merkle log recomputed against it and the witness, the chain
// links, and every entry against its sealed file, whose seal is judged like
// any file (digest, signature, signer chain at signedAt). The error is for
// failures to read; everything found is a finding.
func Archive(ctx context.Context, dir string, trust *Trust, opts ArchiveOptions) (*ArchiveResult, error) {
	if trust == nil {
		trust = NewTrust(nil)
	}
	res := &ArchiveResult{Dir: dir, Findings: []Finding{}}
	var mu sync.Mutex
	items := map[int64]*ItemResult{} // by seq
	selected := func(e *archive.Entry) bool {
		if ctx.Err() != nil || !opts.Shard.Owns(e.Index) {
			return false
		}
		return opts.Names == nil || opts.Names[e.ArchiveName] || opts.Names[e.Name]
	}
	copts := archive.CheckOptions{
		Witness:                  opts.Witness,
		Jobs:                     opts.Jobs,
		Select:                   selected,
		SignaturesJudgedByOnFile: true,
		OnFile: func(e *archive.Entry, path string, o *timeline.Opened) {
			it := JudgeOpened(o, "files/"+e.ArchiveName, trust)
			it.Opened, it.Cert, it.Wave = nil, nil, nil // keep items small
			it.Entry = e.Seq
			mu.Lock()
			items[e.Seq] = it
			mu.Unlock()
			if opts.OnItem != nil {
				opts.OnItem(it)
			}
		},
	}
	if len(trust.Anchors) > 0 {
		copts.Roots = trust.pool
	}
	cr, err := archive.Check(dir, copts)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res.ChainID, res.Origin, res.Entries = cr.Metadata.ChainID, cr.Metadata.Origin, cr.Size
	if cp := cr.Checkpoint; cp != nil {
		res.Checkpoint = &CheckpointInfo{Size: cp.Size, Root: base64.StdEncoding.EncodeToString(cp.Root[:])}
		res.CheckpointNote = cp.Note
	}
	if opts.Witness != nil {
		if w, err := archive.ParseCheckpoint(opts.Witness); err == nil {
			res.Witness = &CheckpointInfo{Size: w.Size, Root: base64.StdEncoding.EncodeToString(w.Root[:])}
		}
	}
	if cr.Checkpoint == nil || len(trust.Anchors) == 0 {
		// Without a trust anchor the checkpoint's signer cannot be
		// trusted either.
		if cr.Checkpoint != nil {
			res.Findings = append(res.Findings, NewFinding("log.checkpointUntrusted", "no trust anchor is configured (--ca): the checkpoint signer cannot be trusted"))
		}
	}
	var unlisted []*ItemResult
	for _, p := range cr.Problems {
		switch {
		case p.Seq > 0:
			if !opts.Shard.Owns(p.Seq - 1) {
				continue
			}
			it := items[p.Seq]
			if it == nil {
				if opts.Names != nil && !opts.Names[strings.TrimPrefix(p.Name, "files/")] {
					continue
				}
				it = &ItemResult{Path: p.Name, Entry: p.Seq, Findings: []Finding{}}
				items[p.Seq] = it
			}
			if p.Code == archive.CodeEntryMissingFile {
				res.Missing++
			}
			if !slices.ContainsFunc(it.Findings, func(f Finding) bool { return f.Code == p.Code }) {
				it.Findings = append(it.Findings, NewFinding(p.Code, "%s", p.Detail))
			}
		case p.Code == archive.CodeUnlistedFile:
			if opts.Shard.I != 0 || opts.Names != nil {
				continue
			}
			res.Unlisted++
			unlisted = append(unlisted, &ItemResult{Path: p.Name, Verdict: Failed,
				Findings: []Finding{NewFinding(p.Code, "%s", p.Detail)}})
		default:
			if opts.Shard.I != 0 {
				continue
			}
			msg := p.Detail
			if p.Name != "" {
				msg = p.Name + ": " + msg
			}
			res.Findings = append(res.Findings, NewFinding(p.Code, "%s", msg))
		}
	}
	if opts.Shard.I != 0 {
		res.Findings = []Finding{} // shard 0 reports them
	}
	seqs := make([]int64, 0, len(items))
	for s := range items {
		seqs = append(seqs, s)
	}
	slices.Sort(seqs)
	for _, s := range seqs {
		it := items[s]
		it.Verdict = Judge(it.Findings)
		res.Items = append(res.Items, it)
	}
	slices.SortFunc(unlisted, func(a, b *ItemResult) int { return cmp.Compare(a.Path, b.Path) })
	res.Items = append(res.Items, unlisted...)
	res.Verdict = Judge(res.Findings)
	return res, nil
}

// String summarizes the result in one line.
func (r *ArchiveResult) String() string {
	return fmt.Sprintf("archive %s: chain %s, %d entries, verdict %s", r.Dir, r.ChainID, r.Entries, r.Verdict)
}
