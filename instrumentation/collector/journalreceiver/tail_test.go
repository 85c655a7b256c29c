package journalreceiver

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

// A torn tail is buffered, then cut and rewritten by the next writer before the
// buffer is refilled: the joined bytes are not taken for a line.
func TestNextLineRereadsAfterRewrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	require.NoError(t, os.WriteFile(path, []byte("line1\nABCDEFGHIJ"), 0o600))
	jf, err := openJournalFile(path)
	require.NoError(t, err)
	defer jf.f.Close()
	jf.bufSize = 16 // the whole file, torn tail included, in one buffer

	line, at, err := jf.nextLine()
	require.NoError(t, err)
	assert.Equal(t, "line1", string(line))
	assert.Equal(t, int64(0), at)

	require.NoError(t, os.Truncate(path, 6))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.WriteString("XY\nQRSTUVWXYZ\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())

	var lines []string
	for {
		line, _, err := jf.nextLine()
		if errors.Is(err, errChanged) {
			continue
		}
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		lines = append(lines, string(line))
	}
	assert.Equal(t, []string{"XY", "QRSTUVWXYZ"}, lines)
}

func TestPlanArchives(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{
		"audit.jsonl.000000000001", "audit.jsonl.000000000010", "audit.jsonl.000000000020",
		"audit.jsonl.000000000030", // the journal itself, linked mid-rotation
		"audit.jsonl.1", ".audit.jsonl.next", "audit.jsonl.00000000002x", "other.jsonl.000000000005",
	} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), nil, 0o600))
	}
	tl := newTailer(filepath.Join(dir, "audit.jsonl"), zap.NewNop(), checkpoint{}, false, false, nil)
	names := func(paths []string) []string {
		var out []string
		for _, p := range paths {
			out = append(out, filepath.Base(p)[len("audit.jsonl."):])
		}
		return out
	}
	for _, tc := range []struct {
		after, liveFirst int64
		want             []string
	}{
		{0, 30, []string{"000000000001", "000000000010", "000000000020"}},
		{9, 30, []string{"000000000010", "000000000020"}},
		{8, 30, []string{"000000000001", "000000000010", "000000000020"}},
		{19, 30, []string{"000000000020"}},
		{29, 30, nil},
		{25, unknownSeq, []string{"000000000020", "000000000030"}},
	} {
		tl.last = tc.after
		assert.Equal(t, tc.want, names(tl.planArchives(tc.liveFirst)), fmt.Sprintf("after %d, journal from %d", tc.after, tc.liveFirst))
	}
}

// An archive is sealed: an incomplete last line there will never complete.
func TestSealedTornTailCounted(t *testing.T) {
	w := newJournalWriter(t)
	w.event(2)
	w.appendRaw([]byte(`{"event":{"ev`))
	archive := w.path + ".000000000001"
	require.NoError(t, os.Rename(w.path, archive))
	w.first = 0
	w.event(1)

	invalid := int64(0)
	tl := newTailer(w.path, zap.NewNop(), checkpoint{}, false, false, func() int64 { invalid++; return invalid })
	defer tl.close()
	var seqs []int64
	for _, rec := range tl.read(100) {
		seqs = append(seqs, rec.seq)
	}
	assert.Equal(t, []int64{1, 2, 3}, seqs)
	assert.Equal(t, int64(1), invalid)
	assert.Empty(t, tl.read(100))
	assert.Equal(t, int64(1), invalid, "counted once")
}
