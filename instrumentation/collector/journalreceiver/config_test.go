package journalreceiver

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"
)

func TestFactory(t *testing.T) {
	f := NewFactory()
	assert.Equal(t, "journal", f.Type().String())
	assert.Equal(t, component.StabilityLevelAlpha, f.LogsStability())

	cfg := f.CreateDefaultConfig().(*Config)
	assert.Equal(t, 200*time.Millisecond, cfg.PollInterval)
	assert.Equal(t, 1000, cfg.MaxBatch)
	assert.Equal(t, StartAtBeginning, cfg.StartAt)
	assert.Nil(t, cfg.Storage)
	assert.ErrorContains(t, cfg.Validate(), "path is required")

	cfg.Path = "audit.jsonl"
	require.NoError(t, cfg.Validate())
	rcv, err := f.CreateLogs(context.Background(), receivertest.NewNopSettings(f.Type()), cfg, consumertest.NewNop())
	require.NoError(t, err)
	// Shutdown without Start is allowed.
	require.NoError(t, rcv.Shutdown(context.Background()))
}

func TestConfigValidate(t *testing.T) {
	for name, tc := range map[string]struct {
		edit func(*Config)
		want []string
	}{
		"valid":          {edit: func(*Config) {}},
		"end":            {edit: func(c *Config) { c.StartAt = StartAtEnd }},
		"missing path":   {edit: func(c *Config) { c.Path = "" }, want: []string{"path is required"}},
		"bad start_at":   {edit: func(c *Config) { c.StartAt = "middle" }, want: []string{`start_at must be "beginning" or "end", not "middle"`}},
		"zero poll":      {edit: func(c *Config) { c.PollInterval = 0 }, want: []string{"poll_interval must be positive"}},
		"negative batch": {edit: func(c *Config) { c.MaxBatch = -1 }, want: []string{"max_batch must be positive"}},
		"all at once": {
			edit: func(c *Config) { *c = Config{} },
			want: []string{"path is required", "start_at", "poll_interval", "max_batch"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			cfg.Path = "audit.jsonl"
			tc.edit(cfg)
			err := cfg.Validate()
			if len(tc.want) == 0 {
				assert.NoError(t, err)
				return
			}
			for _, want := range tc.want {
				assert.ErrorContains(t, err, want)
			}
		})
	}
}

func TestConfigUnmarshal(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	conf := confmap.NewFromStringMap(map[string]any{
		"path":          "/var/lib/app/audit.jsonl",
		"storage":       "file_storage/journal",
		"poll_interval": "1s",
		"max_batch":     50,
		"start_at":      "end",
	})
	require.NoError(t, conf.Unmarshal(cfg))
	require.NoError(t, cfg.Validate())
	assert.Equal(t, "/var/lib/app/audit.jsonl", cfg.Path)
	require.NotNil(t, cfg.Storage)
	assert.Equal(t, component.MustNewIDWithName("file_storage", "journal"), *cfg.Storage)
	assert.Equal(t, time.Second, cfg.PollInterval)
	assert.Equal(t, 50, cfg.MaxBatch)
	assert.Equal(t, StartAtEnd, cfg.StartAt)

	// Unknown keys are refused, as for every collector component.
	bad := confmap.NewFromStringMap(map[string]any{"path": "x", "include": []string{"*.log"}})
	assert.Error(t, bad.Unmarshal(createDefaultConfig().(*Config)))
}

func TestStartFailsWithoutUsableStorage(t *testing.T) {
	cfg := testConfig(t.TempDir() + "/audit.jsonl")
	cfg.Storage = &storageID
	set := receivertest.NewNopSettings(componentType)

	rcv, err := NewFactory().CreateLogs(context.Background(), set, cfg, consumertest.NewNop())
	require.NoError(t, err)
	assert.ErrorContains(t, rcv.Start(context.Background(), componenttest.NewNopHost()), "not found")

	rcv, err = NewFactory().CreateLogs(context.Background(), set, cfg, consumertest.NewNop())
	require.NoError(t, err)
	notStorage := testHost{storageID: &struct {
		component.StartFunc
		component.ShutdownFunc
	}{}}
	assert.ErrorContains(t, rcv.Start(context.Background(), notStorage), "is not a storage extension")
}
