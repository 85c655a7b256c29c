package journalreceiver

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// The Python library's own journal, with three rotated archives, is shipped whole, once.
func TestShipsPythonJournalWithArchives(t *testing.T) {
	dir := t.TempDir()
	entries, err := os.ReadDir(filepath.Join("testdata", "journal"))
	require.NoError(t, err)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join("testdata", "journal", e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, e.Name()), data, 0o600))
	}
	sink := new(consumertest.LogsSink)
	cfg := testConfig(filepath.Join(dir, "audit.jsonl"))
	cfg.MaxBatch = 4
	r := startReceiver(t, cfg, sink, componenttest.NewNopHost(), nil)

	require.Eventually(t, func() bool { return len(shippedSeqs(sink)) >= 21 }, waitFor, 5*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	seqs := shippedSeqs(sink)
	assert.Equal(t, seqRange(1, 21), seqs, "every record exactly once, in order")
	assert.Zero(t, r.invalidLines.Load())
}

func TestTornLineNotShippedUntilComplete(t *testing.T) {
	w := newJournalWriter(t)
	w.event(2)
	third := w.line(map[string]any{"event": testEvent(3)})
	w.appendRaw(third[:40]) // a writer is mid-line
	sink := new(consumertest.LogsSink)
	r := startReceiver(t, testConfig(w.path), sink, componenttest.NewNopHost(), nil)

	eventuallySeqs(t, sink, seqRange(1, 2))
	time.Sleep(100 * time.Millisecond) // many polls see the torn line
	assert.Equal(t, seqRange(1, 2), shippedSeqs(sink))

	w.appendRaw(third[40:]) // completed, newline included
	eventuallySeqs(t, sink, seqRange(1, 3))
	assert.Zero(t, r.invalidLines.Load())
}

// A writer that crashed mid-line leaves a torn tail; the next writer cuts it and writes
// the record again. Only the rewritten record is shipped, and nothing is invalid.
func TestTornLineCutAndRewritten(t *testing.T) {
	w := newJournalWriter(t)
	w.event(1)
	sink := new(consumertest.LogsSink)
	r := startReceiver(t, testConfig(w.path), sink, componenttest.NewNopHost(), nil)
	eventuallySeqs(t, sink, seqRange(1, 1))

	w.appendRaw([]byte(`{"event":{"event":"secret.resolved","outcome":"fou`))
	time.Sleep(50 * time.Millisecond)
	info, err := os.Stat(w.path)
	require.NoError(t, err)
	require.NoError(t, os.Truncate(w.path, info.Size()-int64(len(`{"event":{"event":"secret.resolved","outcome":"fou`))))
	w.event(2)

	eventuallySeqs(t, sink, seqRange(1, 3))
	assert.Zero(t, r.invalidLines.Load())
}

func TestFollowsRotationWithoutLossOrDuplicates(t *testing.T) {
	w := newJournalWriter(t)
	w.event(3)
	sink := new(consumertest.LogsSink)
	cfg := testConfig(w.path)
	cfg.MaxBatch = 2
	startReceiver(t, cfg, sink, componenttest.NewNopHost(), nil)
	eventuallySeqs(t, sink, seqRange(1, 3))

	// Records appended just before a rotation are read from the old file's handle.
	w.event(2)
	w.rotate() // checkpoint 6 sealed in the old file; 7 starts the new one
	w.event(2)
	eventuallySeqs(t, sink, seqRange(1, 9))

	// Two rotations between two polls: the middle file is found among the archives.
	for i := 0; i < 5; i++ {
		w.event(1)
		w.rotate()
		w.event(1)
		w.rotate()
		w.event(1)
	}
	eventuallySeqs(t, sink, seqRange(1, w.seq))

	archives, err := filepath.Glob(w.path + ".*")
	require.NoError(t, err)
	assert.Len(t, archives, 11)
}

func TestRestartResumesAfterCheckpoint(t *testing.T) {
	w := newJournalWriter(t)
	w.event(3)
	w.rotate()
	w.event(2)
	store := newMemStorage()
	cfg := testConfig(w.path)
	cfg.Storage = &storageID

	first := new(consumertest.LogsSink)
	r := startReceiver(t, cfg, first, hostWith(store), nil)
	eventuallySeqs(t, first, seqRange(1, 7))
	stop(t, r)
	ck, ok := store.stored(t)
	require.True(t, ok)
	assert.Equal(t, int64(7), ck.Seq)
	assert.Equal(t, w.prev, ck.Hash)

	// While the collector is down the journal grows and rotates twice.
	w.event(2)
	w.rotate()
	w.event(1)
	w.rotate()
	w.event(2)

	second := new(consumertest.LogsSink)
	r = startReceiver(t, cfg, second, hostWith(store), nil)
	eventuallySeqs(t, second, seqRange(8, w.seq))
	stop(t, r)
	ck, ok = store.stored(t)
	require.True(t, ok)
	assert.Equal(t, w.seq, ck.Seq)

	// Nothing new: a third run ships nothing, whatever start_at says.
	third := new(consumertest.LogsSink)
	r = startReceiver(t, cfg, third, hostWith(store), nil)
	time.Sleep(100 * time.Millisecond)
	assert.Empty(t, shippedSeqs(third))
	stop(t, r)
}

func TestConsumeErrorRetriedWithoutLoss(t *testing.T) {
	w := newJournalWriter(t)
	w.event(5)
	store := newMemStorage()
	next := &failingSink{LogsSink: new(consumertest.LogsSink), failures: 3}
	cfg := testConfig(w.path)
	cfg.Storage = &storageID
	cfg.MaxBatch = 2

	startReceiver(t, cfg, next, hostWith(store), nil)
	require.Eventually(t, func() bool { return next.attemptCount() >= 2 }, waitFor, time.Millisecond)
	if len(shippedSeqs(next.LogsSink)) == 0 {
		_, ok := store.stored(t)
		assert.False(t, ok, "no checkpoint before the pipeline accepted a batch")
	}
	eventuallySeqs(t, next.LogsSink, seqRange(1, 5))
	assert.Equal(t, 3+3, next.attemptCount(), "three refusals, then three batches")
	require.Eventually(t, func() bool { ck, _ := store.stored(t); return ck.Seq == 5 }, waitFor, time.Millisecond)
}

func TestRefusedBatchNeverCheckpointed(t *testing.T) {
	w := newJournalWriter(t)
	w.event(3)
	store := newMemStorage()
	next := &failingSink{LogsSink: new(consumertest.LogsSink), failures: 1 << 30}
	cfg := testConfig(w.path)
	cfg.Storage = &storageID
	r := startReceiver(t, cfg, next, hostWith(store), nil)

	require.Eventually(t, func() bool { return next.attemptCount() >= 3 }, waitFor, time.Millisecond)
	stop(t, r)
	_, ok := store.stored(t)
	assert.False(t, ok)

	// After the restart the same records go out.
	sink := new(consumertest.LogsSink)
	startReceiver(t, cfg, sink, hostWith(store), nil)
	eventuallySeqs(t, sink, seqRange(1, 3))
}

func TestInvalidLineSkippedAndCounted(t *testing.T) {
	w := newJournalWriter(t)
	w.event(1)
	invalidAt := fileSize(t, w.path)
	secret := "not json: hunter2"
	w.appendRaw([]byte(secret + "\n"))
	w.appendRaw([]byte("\n")) // blank lines are not records, nor errors
	w.event(1)
	core, logs := observer.New(zapcore.InfoLevel)
	sink := new(consumertest.LogsSink)
	r := startReceiver(t, testConfig(w.path), sink, componenttest.NewNopHost(), zap.New(core))

	eventuallySeqs(t, sink, seqRange(1, 2))
	time.Sleep(50 * time.Millisecond)
	assert.Equal(t, int64(1), r.invalidLines.Load())
	warnings := logs.FilterMessageSnippet("not a journal record").All()
	require.Len(t, warnings, 1)
	fields := warnings[0].ContextMap()
	assert.Equal(t, "audit.jsonl", fields["file"])
	assert.Equal(t, invalidAt, fields["offset"])
	for _, entry := range logs.All() {
		assert.NotContains(t, entry.Message, "hunter2")
		for _, v := range entry.ContextMap() {
			if s, ok := v.(string); ok {
				assert.NotContains(t, s, "hunter2")
			}
		}
	}

	// The receiver goes on.
	w.event(1)
	eventuallySeqs(t, sink, seqRange(1, 3))
	assert.Equal(t, int64(1), r.invalidLines.Load())
}

func TestStartAtEnd(t *testing.T) {
	w := newJournalWriter(t)
	w.event(2)
	w.rotate()
	w.event(1)
	w.appendRaw([]byte(`{"torn`))
	cfg := testConfig(w.path)
	cfg.StartAt = StartAtEnd
	sink := new(consumertest.LogsSink)
	startReceiver(t, cfg, sink, componenttest.NewNopHost(), nil)

	time.Sleep(50 * time.Millisecond)
	assert.Empty(t, shippedSeqs(sink))
	require.NoError(t, os.Truncate(w.path, fileSize(t, w.path)-int64(len(`{"torn`))))
	w.event(2)
	eventuallySeqs(t, sink, seqRange(6, 7))
}

func TestShutdownStopsPromptly(t *testing.T) {
	w := newJournalWriter(t)
	cfg := testConfig(w.path) // the journal does not exist yet
	cfg.PollInterval = time.Hour
	r := startReceiver(t, cfg, new(consumertest.LogsSink), componenttest.NewNopHost(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	require.NoError(t, r.Shutdown(ctx))
	assert.Less(t, time.Since(start), time.Second)
}

func TestWaitsForTheJournalToAppear(t *testing.T) {
	w := newJournalWriter(t)
	sink := new(consumertest.LogsSink)
	cfg := testConfig(w.path)
	cfg.StartAt = StartAtEnd // the file did not exist: all of it is new
	startReceiver(t, cfg, sink, componenttest.NewNopHost(), nil)
	time.Sleep(30 * time.Millisecond)
	w.event(2)
	eventuallySeqs(t, sink, seqRange(1, 2))
}

func fileSize(t *testing.T, path string) int64 {
	info, err := os.Stat(path)
	require.NoError(t, err)
	return info.Size()
}

// A writer appends (sometimes in two halves, as a slow writer would), checkpoints and
// rotates while the receiver runs; every record arrives once, in order.
func TestConcurrentWriterRotations(t *testing.T) {
	w := newJournalWriter(t)
	store := newMemStorage()
	cfg := testConfig(w.path)
	cfg.Storage = &storageID
	cfg.PollInterval = time.Millisecond
	cfg.MaxBatch = 7
	sink := new(consumertest.LogsSink)
	r := startReceiver(t, cfg, sink, hostWith(store), nil)

	for i := 1; i <= 400; i++ {
		switch {
		case i%53 == 0:
			w.rotate()
		case i%11 == 0:
			line := w.line(map[string]any{"event": testEvent(w.seq + 1)})
			w.appendRaw(line[:len(line)/2])
			time.Sleep(time.Millisecond)
			w.appendRaw(line[len(line)/2:])
		default:
			w.event(1)
		}
		if i == 200 { // a restart in the middle
			stop(t, r)
			r = startReceiver(t, cfg, sink, hostWith(store), nil)
		}
	}
	eventuallySeqs(t, sink, seqRange(1, w.seq))
	assert.Zero(t, r.invalidLines.Load())
}

func TestOverlongLineSkippedWithoutHoldingIt(t *testing.T) {
	w := newJournalWriter(t)
	w.event(1)
	overlongAt := fileSize(t, w.path)
	// Three times the limit, then a newline: read through in chunks, counted, skipped.
	w.appendRaw(append(bytes.Repeat([]byte("x"), 3*maxLineBytes), '\n'))
	w.event(1)
	core, logs := observer.New(zapcore.InfoLevel)
	sink := new(consumertest.LogsSink)
	r := startReceiver(t, testConfig(w.path), sink, componenttest.NewNopHost(), zap.New(core))

	eventuallySeqs(t, sink, seqRange(1, 2))
	assert.Equal(t, int64(1), r.invalidLines.Load())
	warnings := logs.FilterMessageSnippet("not a journal record").All()
	require.Len(t, warnings, 1)
	assert.Equal(t, overlongAt, warnings[0].ContextMap()["offset"])
}

func TestReadLineBounds(t *testing.T) {
	reader := bufio.NewReaderSize(strings.NewReader("short\n"+strings.Repeat("y", 100)+"\nlast"), 16)
	line, skipped, err := readLine(reader, 32)
	require.NoError(t, err)
	assert.Equal(t, "short\n", string(line))
	assert.Zero(t, skipped)
	line, skipped, err = readLine(reader, 32)
	require.NoError(t, err)
	assert.Nil(t, line)
	assert.Equal(t, int64(101), skipped)
	_, _, err = readLine(reader, 32)
	assert.ErrorIs(t, err, io.EOF) // an incomplete last line is not a line
}
