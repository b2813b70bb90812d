// Command crd-descriptions rewrites the field descriptions of generated CRDs so that each
// paragraph is one line. controller-gen keeps the line breaks of the Go doc comments, and
// kubectl explain, which wraps text itself, then breaks sentences in odd places. List items
// (lines starting with "-", "*" or "1.") and blank-line paragraph breaks are kept.
//
// Usage: crd-descriptions <file.yaml>...
package main

import (
	"fmt"
	"os"
	"regexp"
	"strings"

	"sigs.k8s.io/yaml"
)

func main() {
	for _, f := range os.Args[1:] {
		if err := rewrite(f); err != nil {
			fmt.Fprintf(os.Stderr, "crd-descriptions: %s: %v\n", f, err)
			os.Exit(1)
		}
	}
}

func rewrite(file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return err
	}
	walk(doc)
	out, err := yaml.Marshal(doc)
	if err != nil {
		return err
	}
	return os.WriteFile(file, append([]byte("---\n"), out...), 0o644)
}

func walk(v any) {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if s, ok := x.(string); ok && k == "description" {
				t[k] = unwrap(s)
				continue
			}
			walk(x)
		}
	case []any:
		for _, x := range t {
			walk(x)
		}
	}
}

var listItem = regexp.MustCompile(`^\s*([-*•]|[0-9]+\.)\s`)

// unwrap joins the lines of each paragraph.
func unwrap(s string) string {
	lines := strings.Split(s, "\n")
	var b strings.Builder
	for i, line := range lines {
		if i > 0 {
			prev := lines[i-1]
			if strings.TrimSpace(line) == "" || strings.TrimSpace(prev) == "" || listItem.MatchString(line) {
				b.WriteString("\n")
			} else {
				b.WriteString(" ")
				line = strings.TrimLeft(line, " ")
			}
		}
		b.WriteString(line)
	}
	return b.String()
}
