package metrics

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestEveryMetricIsInTheSREGuide: the table of metrics in docs/sre-guide.md lists every metric
// the operator registers, and nothing it does not.
func TestEveryMetricIsInTheSREGuide(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "sre-guide.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(selfserve_[a-z_]+)`").FindAllStringSubmatch(string(data), -1) {
		documented[m[1]] = true
	}
	registered := map[string]bool{}
	for _, c := range all {
		ch := make(chan *prometheus.Desc, 10)
		c.Describe(ch)
		close(ch)
		for d := range ch {
			name := regexp.MustCompile(`fqName: "([^"]+)"`).FindStringSubmatch(d.String())[1]
			registered[name] = true
		}
	}
	for name := range registered {
		if !documented[name] {
			t.Errorf("%s is registered but not in docs/sre-guide.md's table", name)
		}
	}
	for name := range documented {
		if !registered[name] {
			t.Errorf("docs/sre-guide.md lists %s, which the operator does not register", name)
		}
	}
	if len(registered) < 7 {
		t.Errorf("only %v registered", strings.Join(keys(registered), ", "))
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
