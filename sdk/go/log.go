// Logging through the host, tagged with the plugin instance.

package sdk

import "fmt"

// Level is the severity of a log line.
type Level uint8

const (
	LevelTrace Level = iota
	LevelDebug
	LevelInfo
	LevelWarn
	LevelError
)

func (l Level) String() string {
	return [...]string{"trace", "debug", "info", "warn", "error"}[min(int(l), 4)]
}

// Log writes message to the host's log; natively, to standard error. An
// error line written during Collect becomes the instance's last collect
// error, even when Collect returns metrics: how an exporter reporting its
// target down tells the operator why.
func Log(level Level, message string) {
	hostLog(level, message)
}

// Logf formats and logs a line.
func Logf(level Level, format string, args ...any) {
	hostLog(level, fmt.Sprintf(format, args...))
}

// InstanceName is the name of the instance this plugin runs as; natively,
// empty.
func InstanceName() string {
	return hostInstanceName()
}
