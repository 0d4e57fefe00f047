package archive

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// Source is a file to ingest and the source name it is sealed under.
type Source struct {
	Path string
	Name string
}

// Sources expands command-line arguments into files to ingest: a file is
// named by its base name; a directory is walked (symbolic links are not
// followed, only regular files are taken) and each file is named by its
// path relative to the directory, '/'-separated. Each argument's files are
// in lexical order.
func Sources(args []string) ([]Source, error) {
	var out []Source
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, errorf(ReasonIO, a, err, "")
		}
		if !st.IsDir() {
			out = append(out, Source{Path: a, Name: filepath.Base(a)})
			continue
		}
		var batch []Source
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.Type().IsRegular() {
				return nil
			}
			rel, err := filepath.Rel(a, p)
			if err != nil {
				return err
			}
			batch = append(batch, Source{Path: p, Name: filepath.ToSlash(rel)})
			return nil
		})
		if err != nil {
			return nil, errorf(ReasonIO, a, err, "")
		}
		sort.Slice(batch, func(i, j int) bool { return batch[i].Name < batch[j].Name })
		out = append(out, batch...)
	}
	return out, nil
}
