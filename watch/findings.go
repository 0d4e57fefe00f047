package watch

import (
	"fmt"
	"strings"
	"time"

	"github.com/tlseal/tlseal/archive"
)

// CodeIncomplete is the finding recorded for a file sealed as it was after
// MaxWait although it was not structurally complete (a recording cut short,
// a writer that died): the evidence is kept, with a warning.
const CodeIncomplete = "watch.incomplete"

// incompleteNote is the note recorded in the archive entry of a file sealed
// as it was: in the entry's log record, committed with it, so that no crash
// can keep the entry and lose the warning (a journal beside the archive,
// written after the append, could).
func incompleteNote(waited time.Duration, detail string) archive.Note {
	// A note the archive refuses would refuse the evidence with it.
	detail = strings.ToValidUTF8(detail, "\uFFFD")
	if len(detail) > 1024 {
		detail = strings.ToValidUTF8(detail[:1024], "") + "…"
	}
	return archive.Note{Code: CodeIncomplete, Severity: archive.NoteWarning,
		Message: fmt.Sprintf("sealed as it was: unchanged but not structurally complete for %v (%s)", waited.Round(time.Second), detail)}
}
