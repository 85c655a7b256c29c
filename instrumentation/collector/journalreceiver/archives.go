package journalreceiver // import "github.com/abstractcore/abstractcore-secrets/instrumentation/collector/journalreceiver"

import (
	"cmp"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"go.uber.org/zap"
)

// archiveDigits: a rotated archive is "<name>.<its first seq, zero-padded to 12 digits>".
const archiveDigits = 12

// planArchives lists the rotated archives that may hold records after max(seen, last)
// and before liveFirst (the first seq of the journal file), oldest first.
func (t *tailer) planArchives(liveFirst int64) []string {
	entries, err := os.ReadDir(t.dir)
	if err != nil {
		t.logger.Warn("journal receiver: cannot list the rotated archives", zap.String("file", t.base), zap.Error(err))
		return nil
	}
	type archive struct {
		first int64
		path  string
	}
	var all []archive
	for _, entry := range entries {
		digits, ok := strings.CutPrefix(entry.Name(), t.base+".")
		if !ok || entry.IsDir() || len(digits) < archiveDigits || strings.Trim(digits, "0123456789") != "" {
			continue
		}
		first, err := strconv.ParseInt(digits, 10, 64)
		if err != nil || first >= liveFirst {
			continue // the journal itself (linked mid-rotation), or newer than it
		}
		all = append(all, archive{first: first, path: filepath.Join(t.dir, entry.Name())})
	}
	slices.SortFunc(all, func(a, b archive) int { return cmp.Compare(a.first, b.first) })
	after := max(t.seen, t.last)
	var plan []string
	for i, a := range all {
		next := liveFirst // the first seq after this archive's records
		if i+1 < len(all) {
			next = all[i+1].first
		}
		if next-1 > after {
			plan = append(plan, a.path)
		}
	}
	return plan
}
