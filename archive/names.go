package archive

import (
	"bufio"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
)

// VersionName returns the archive name of version k (k ≥ 1) of a source
// name: the name itself for k = 1, else ".v<k>" inserted before the
// extension of the last element ("events/e1.json" → "events/e1.v2.json",
// "notes" → "notes.v2", ".profile" → ".profile.v2").
func VersionName(name string, k int) string {
	if k <= 1 {
		return name
	}
	dir, base := path.Split(name)
	ext := path.Ext(base)
	if ext == base { // ".profile": a dot file, no extension
		ext = ""
	}
	return dir + strings.TrimSuffix(base, ext) + ".v" + strconv.Itoa(k) + ext
}

// hashSeq pairs a name hash with the seq of an entry.
type hashSeq struct {
	h   uint32
	seq int64
}

// nameIndex finds entries by archive name and by source name without
// reading the log: the short name hashes of log/index, sorted, plus those
// added since. Candidates are confirmed by reading their records.
type nameIndex struct {
	archive, source           []hashSeq
	archiveExtra, sourceExtra map[uint32][]int64
}

// buildNameIndex reads the first n index records.
func buildNameIndex(l *logFiles, n int64) (*nameIndex, error) {
	ni := &nameIndex{
		archive: make([]hashSeq, 0, n), source: make([]hashSeq, 0, n),
		archiveExtra: map[uint32][]int64{}, sourceExtra: map[uint32][]int64{},
	}
	err := scanIndex(l, n, func(x *indexRecord) bool {
		ni.archive = append(ni.archive, hashSeq{x.NameHash, x.Seq})
		ni.source = append(ni.source, hashSeq{x.SrcHash, x.Seq})
		return true
	})
	if err != nil {
		return nil, err
	}
	for _, s := range [][]hashSeq{ni.archive, ni.source} {
		sort.Slice(s, func(i, j int) bool { return s[i].h < s[j].h || s[i].h == s[j].h && s[i].seq < s[j].seq })
	}
	return ni, nil
}

// scanIndex calls fn for each of the first n index records, in order,
// until fn returns false.
func scanIndex(l *logFiles, n int64, fn func(*indexRecord) bool) error {
	const chunk = 4096
	buf := make([]byte, chunk*indexRecordLen)
	for i := int64(0); i < n; {
		m := min(chunk, n-i)
		b := buf[:m*indexRecordLen]
		if _, err := l.index.ReadAt(b, i*indexRecordLen); err != nil && err != io.EOF {
			return errorf(ReasonIO, indexFile, err, "")
		}
		for j := int64(0); j < m; j++ {
			x, err := parseIndexRecord(b[j*indexRecordLen:], i+j)
			if err != nil {
				return corrupt(err, "index record %d", i+j)
			}
			if !fn(x) {
				return nil
			}
		}
		i += m
	}
	return nil
}

func (ni *nameIndex) add(x *indexRecord) {
	ni.archiveExtra[x.NameHash] = append(ni.archiveExtra[x.NameHash], x.Seq)
	ni.sourceExtra[x.SrcHash] = append(ni.sourceExtra[x.SrcHash], x.Seq)
}

// candidates returns the seqs whose archive (or source) name hash is h,
// highest first.
func (ni *nameIndex) candidates(source bool, h uint32) []int64 {
	s, extra := ni.archive, ni.archiveExtra
	if source {
		s, extra = ni.source, ni.sourceExtra
	}
	var out []int64
	i := sort.Search(len(s), func(i int) bool { return s[i].h >= h })
	for ; i < len(s) && s[i].h == h; i++ {
		out = append(out, s[i].seq)
	}
	out = append(out, extra[h]...)
	sort.Slice(out, func(i, j int) bool { return out[i] > out[j] })
	return out
}

// ReadNameList reads a list of entries to select (an audit's --files-from):
// one name a line, an archive name as an audit report shows it
// ("files/events/e1.json"), the same without "files/", or a source name.
// Blank lines and lines starting with "#" are skipped; surrounding white
// space is trimmed. The names come back in the order given, without
// duplicates; a list with no name gives an empty, non-nil slice.
func ReadNameList(r io.Reader) ([]string, error) {
	names := []string{} // never nil: an empty list selects nothing, it is not "no selection"
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name := strings.TrimPrefix(line, filesDir+"/")
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, errorf(ReasonIO, "", err, "reading the name list")
	}
	return names, nil
}
