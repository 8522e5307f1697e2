// Tests of configuration parsing, hostile input included.

package sdk

import (
	"errors"
	"strings"
	"testing"
)

type conf struct {
	Path  string `json:"path"`
	Count int    `json:"count"`
}

func invalid(t *testing.T, err error, want string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Kind != InvalidConfig {
		t.Fatalf("want an invalid-config error, got %v", err)
	}
	if !strings.Contains(e.Message, want) {
		t.Fatalf("message %q does not contain %q", e.Message, want)
	}
}

func TestEmptyIsDefaults(t *testing.T) {
	c := conf{Path: "/proc"}
	for _, raw := range []string{"", "  ", "{}"} {
		if err := ParseConfig(raw, &c); err != nil || c.Path != "/proc" {
			t.Fatalf("%q: %v %+v", raw, err, c)
		}
	}
	if err := ParseConfig(`{"path": "/x", "count": 2}`, &c); err != nil || c != (conf{"/x", 2}) {
		t.Fatalf("%v %+v", err, c)
	}
}

func TestErrorsNameTheProblem(t *testing.T) {
	var c conf
	invalid(t, ParseConfig(`{"pth": "x"}`, &c), `unknown field "pth"`)
	invalid(t, ParseConfig(`{"count": "three"}`, &c), "field `count` must be int, not JSON string")
	invalid(t, ParseConfig("{\n\"path\": x}", &c), "line 2")
	invalid(t, ParseConfig(`{"path": "a"`, &c), "ends early")
	invalid(t, ParseConfig(`{} {}`, &c), "after the JSON object")
	invalid(t, ParseConfig(`[1]`, &c), "must be sdk.conf")
	invalid(t, ParseConfig("\xff", &c), "not valid JSON")
}

func TestHugeAndDeepInput(t *testing.T) {
	var c conf
	big := `{"path": "` + strings.Repeat("a", 8<<20) + `"}`
	if err := ParseConfig(big, &c); err != nil || len(c.Path) != 8<<20 {
		t.Fatalf("an 8 MiB value: %v", err)
	}
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	var anything any
	invalid(t, ParseConfig(deep, &anything), "")
}
