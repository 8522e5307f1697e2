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
	Inner struct {
		On bool `json:"on"`
	} `json:"inner"`
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
	if len(e.Message) > 1200 {
		t.Fatalf("message of %d bytes", len(e.Message))
	}
}

func TestEmptyIsDefaults(t *testing.T) {
	c := conf{Path: "/proc"}
	for _, raw := range []string{"", "  ", "{}", " {}\n"} {
		if err := ParseConfig(raw, &c); err != nil || c.Path != "/proc" {
			t.Fatalf("%q: %v %+v", raw, err, c)
		}
	}
	if err := ParseConfig(`{"path": "/x", "count": 2, "inner": {"on": true}}`, &c); err != nil ||
		c.Path != "/x" || c.Count != 2 || !c.Inner.On {
		t.Fatalf("%v %+v", err, c)
	}
}

func TestErrorsNameTheProblem(t *testing.T) {
	var c conf
	invalid(t, ParseConfig(`{"pth": "x"}`, &c), `unknown field "pth"; the settings are path, count, inner`)
	invalid(t, ParseConfig(`{"count": "three"}`, &c), "field `count` must be int, not JSON string")
	invalid(t, ParseConfig("{\n\"path\": x}", &c),
		"config is not valid JSON: invalid character 'x' looking for beginning of value at line 2 column 9")
	invalid(t, ParseConfig(`{"path": "a"`, &c), "config is not valid JSON: it ends early")
	invalid(t, ParseConfig(`{"path": "a",}`, &c), "config is not valid JSON: invalid character ',' looking for beginning of value at line 1 column 13")
	invalid(t, ParseConfig(`{} {}`, &c), "config is not valid JSON: text after the object at line 1 column 4")
	invalid(t, ParseConfig("not json", &c), "config is not valid JSON: invalid character 'o' in literal null")
	invalid(t, ParseConfig(`[1]`, &c), "the config must be a JSON object")
	invalid(t, ParseConfig(`"x"`, &c), "not a string")
	invalid(t, ParseConfig(`null`, &c), "not null")
	invalid(t, ParseConfig("{\"path\": \"\xff\"}", &c), "config is not valid JSON: the text is not UTF-8 at line 1 column 11")
}

func TestDuplicateKeys(t *testing.T) {
	var c conf
	invalid(t, ParseConfig(`{"path": "a", "path": "b"}`, &c),
		`key "path" appears twice in one object at line 1 column 15`)
	invalid(t, ParseConfig(`{"inner": {"on": true,`+"\n"+`  "on": false}}`, &c),
		`key "on" appears twice in one object at line 2 column 3`)
	// The same key in two objects is fine, and so are equal values in an array.
	var any1 any
	if err := ParseConfig(`{"a": {"x": 1}, "b": {"x": 2}, "c": ["x", "x"], "x": 3}`, &any1); err != nil {
		t.Fatal(err)
	}
}

func TestHugeAndDeepInput(t *testing.T) {
	var c conf
	fits := `{"path": "` + strings.Repeat("a", MaxConfigBytes-12) + `"}`
	if err := ParseConfig(fits, &c); err != nil || len(c.Path) != MaxConfigBytes-12 {
		t.Fatalf("a config of just 1 MiB: %v", err)
	}
	big := `{"path": "` + strings.Repeat("a", 8<<20) + `"}`
	invalid(t, ParseConfig(big, &c), "over the limit of 1 MiB")
	deep := `{"a": ` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`
	var anything any
	invalid(t, ParseConfig(deep, &anything), "nested deeper than 64 levels")
	many := "{" + strings.Repeat(`"k": 1, `, 50000) + `"z": 1}`
	invalid(t, ParseConfig(many, &anything), `key "k" appears twice`)
	huge := `{"` + strings.Repeat("k", 900000) + `": 1}`
	invalid(t, ParseConfig(huge, &c), "unknown field")
}
