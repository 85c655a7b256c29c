package journalreceiver // import "github.com/abstractcore/abstractcore-secrets/instrumentation/collector/journalreceiver"

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
)

const (
	// checkpointKey is the storage key of the last shipped record.
	checkpointKey = "journal.checkpoint"
	maxBackoff    = 30 * time.Second
	storeTimeout  = 10 * time.Second
	meterName     = "github.com/abstractcore/abstractcore-secrets/instrumentation/collector/journalreceiver"
)

// checkpoint is the last journal record whose batch the pipeline accepted.
type checkpoint struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

type journalReceiver struct {
	cfg     *Config
	set     receiver.Settings
	next    consumer.Logs
	obsrecv *receiverhelper.ObsReport

	invalidLines   atomic.Int64
	invalidCounter metric.Int64Counter
	metricAttrs    metric.MeasurementOption

	// lastWriter: the resource of the last event shipped, given to the checkpoints after it.
	lastWriter resourceKey

	client storage.Client // nil: the checkpoint is kept in memory only
	memory checkpoint     // the checkpoint of an earlier run of this instance
	hasMem bool

	cancel context.CancelFunc
	done   chan struct{}
}

func newJournalReceiver(set receiver.Settings, cfg *Config, next consumer.Logs) (*journalReceiver, error) {
	obsrecv, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID:             set.ID,
		Transport:              "file",
		ReceiverCreateSettings: set,
	})
	if err != nil {
		return nil, err
	}
	counter, err := set.MeterProvider.Meter(meterName).Int64Counter(
		"otelcol_receiver_journal_invalid_lines",
		metric.WithDescription("Complete journal lines that are not journal records (skipped)."),
		metric.WithUnit("{lines}"),
	)
	if err != nil {
		return nil, err
	}
	return &journalReceiver{
		cfg:            cfg,
		set:            set,
		next:           next,
		obsrecv:        obsrecv,
		invalidCounter: counter,
		metricAttrs:    metric.WithAttributes(attribute.String("receiver", set.ID.String())),
	}, nil
}

// Start loads the checkpoint and starts tailing in the background.
func (r *journalReceiver) Start(ctx context.Context, host component.Host) error {
	ck, has := r.memory, r.hasMem
	if r.cfg.Storage != nil {
		client, err := storageClient(ctx, host, *r.cfg.Storage, r.set.ID)
		if err != nil {
			return err
		}
		ck, has, err = loadCheckpoint(ctx, client)
		if err != nil {
			_ = client.Close(ctx)
			return err
		}
		r.client = client
	}
	if has {
		r.set.Logger.Info("journal receiver: resuming after the checkpoint", zap.Int64("seq", ck.Seq))
	}
	t := newTailer(r.cfg.Path, r.set.Logger, ck, has, r.cfg.StartAt == StartAtEnd, r.countInvalid)
	runCtx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan struct{})
	go r.run(runCtx, t)
	return nil
}

// Shutdown stops tailing and waits for it, at most until ctx's deadline.
func (r *journalReceiver) Shutdown(ctx context.Context) error {
	if r.cancel == nil {
		return nil // never started
	}
	r.cancel()
	select {
	case <-r.done:
	case <-ctx.Done():
		return fmt.Errorf("journal receiver: stopping: %w", ctx.Err())
	}
	r.cancel = nil
	if r.client == nil {
		return nil
	}
	err := r.client.Close(ctx)
	r.client = nil
	return err
}

// run ships batches until ctx is done. A batch the pipeline refuses is retried, with
// backoff, until it is accepted; only then does the checkpoint move past it.
func (r *journalReceiver) run(ctx context.Context, t *tailer) {
	defer close(r.done)
	defer t.close()
	timer := time.NewTimer(0)
	defer timer.Stop()
	var (
		pending   []record
		unsaved   *checkpoint // accepted by the pipeline, not yet in storage
		saveError bool
		backoff   = r.cfg.PollInterval
	)
	flush := func() {
		if unsaved == nil {
			return
		}
		if err := r.save(*unsaved); err != nil {
			if !saveError {
				r.set.Logger.Warn("journal receiver: cannot store the checkpoint; a restart now would ship records again",
					zap.Int64("seq", unsaved.Seq), zap.Error(err))
			}
			saveError = true
			return
		}
		unsaved, saveError = nil, false
	}
	defer flush()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		flush()
		wait := r.cfg.PollInterval
		if len(pending) == 0 {
			pending = t.read(r.cfg.MaxBatch)
		}
		if len(pending) > 0 {
			if err := r.ship(ctx, pending); err != nil {
				if ctx.Err() != nil {
					return
				}
				r.set.Logger.Warn("journal receiver: the pipeline refused a batch; it will be sent again",
					zap.Int64("first_seq", pending[0].seq), zap.Int64("last_seq", pending[len(pending)-1].seq),
					zap.Int("records", len(pending)), zap.Duration("retry_in", backoff), zap.Error(err))
				wait, backoff = backoff, min(2*backoff, maxBackoff)
			} else {
				last := pending[len(pending)-1]
				ck := checkpoint{Seq: last.seq, Hash: last.hash}
				r.memory, r.hasMem = ck, true
				if r.client != nil {
					unsaved = &ck
					flush()
				}
				if len(pending) == r.cfg.MaxBatch {
					wait = 0 // more may be waiting
				}
				pending, backoff = nil, r.cfg.PollInterval
			}
		}
		timer.Reset(wait)
	}
}

func (r *journalReceiver) ship(ctx context.Context, records []record) error {
	// Retried batches are attributed the same way: lastWriter moves only on success.
	last := attributeToWriter(records, r.lastWriter)
	ld := buildLogs(records, pcommon.NewTimestampFromTime(time.Now()))
	opCtx := r.obsrecv.StartLogsOp(ctx)
	err := r.next.ConsumeLogs(opCtx, ld)
	r.obsrecv.EndLogsOp(opCtx, "journal", len(records), err)
	if err == nil {
		r.lastWriter = last
	}
	return err
}

func (r *journalReceiver) save(ck checkpoint) error {
	value, err := json.Marshal(ck)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	return r.client.Set(ctx, checkpointKey, value)
}

func (r *journalReceiver) countInvalid() int64 {
	r.invalidCounter.Add(context.Background(), 1, r.metricAttrs)
	return r.invalidLines.Add(1)
}

func storageClient(ctx context.Context, host component.Host, id, owner component.ID) (storage.Client, error) {
	ext, ok := host.GetExtensions()[id]
	if !ok {
		return nil, fmt.Errorf("journal receiver: storage extension %q not found; add it under extensions and service.extensions", id)
	}
	se, ok := ext.(storage.Extension)
	if !ok {
		return nil, fmt.Errorf("journal receiver: extension %q is not a storage extension", id)
	}
	client, err := se.GetClient(ctx, component.KindReceiver, owner, "")
	if err != nil {
		return nil, fmt.Errorf("journal receiver: storage extension %q: %w", id, err)
	}
	return client, nil
}

func loadCheckpoint(ctx context.Context, client storage.Client) (checkpoint, bool, error) {
	value, err := client.Get(ctx, checkpointKey)
	if err != nil {
		return checkpoint{}, false, fmt.Errorf("journal receiver: reading the checkpoint: %w", err)
	}
	if value == nil {
		return checkpoint{}, false, nil
	}
	var ck checkpoint
	if err := json.Unmarshal(value, &ck); err != nil {
		return checkpoint{}, false, fmt.Errorf("journal receiver: the stored checkpoint is unreadable "+
			"(remove this receiver's storage to ship again from start_at): %w", err)
	}
	return ck, true, nil
}
