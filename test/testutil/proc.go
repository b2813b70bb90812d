package testutil

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ChildProcesses returns the live (not zombie) children of a process, pid to command name, read
// from /proc. ok is false where /proc is missing.
func ChildProcesses(parent int) (children map[int]string, ok bool) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, false
	}
	children = map[int]string{}
	want := strconv.Itoa(parent)
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Format: pid (comm) state ppid ...; comm may hold spaces and parentheses.
		s := string(stat)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < 0 {
			continue
		}
		fields := strings.Fields(s[end+1:])
		if len(fields) < 2 || fields[1] != want || fields[0] == "Z" {
			continue
		}
		children[pid] = s[open+1 : end]
	}
	return children, true
}

// Alive reports whether a process exists and is not a zombie.
func Alive(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	s := string(stat)
	end := strings.LastIndexByte(s, ')')
	fields := strings.Fields(s[end+1:])
	return len(fields) > 0 && fields[0] != "Z"
}
