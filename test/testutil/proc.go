package testutil

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// procStat reads /proc/<pid>/stat: the command name, and the fields after it (state, ppid, ...;
// fields[0] is the stat file's field 3). ok is false when it cannot be read.
func procStat(pid string) (comm string, fields []string, ok bool) {
	stat, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return "", nil, false
	}
	// Format: pid (comm) state ppid ...; comm may hold spaces and parentheses.
	s := string(stat)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return "", nil, false
	}
	return s[open+1 : end], strings.Fields(s[end+1:]), true
}

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
		comm, fields, ok := procStat(e.Name())
		if !ok || len(fields) < 2 || fields[1] != want || fields[0] == "Z" {
			continue
		}
		children[pid] = comm
	}
	return children, true
}

// Alive reports whether a process exists and is not a zombie.
func Alive(pid int) bool {
	_, fields, ok := procStat(strconv.Itoa(pid))
	return ok && len(fields) > 0 && fields[0] != "Z"
}

// ProcCPU is the CPU time (user and system) a process has used so far, from /proc/<pid>/stat
// in USER_HZ ticks (100 a second on Linux); 0 when it cannot be read.
func ProcCPU(pid int) time.Duration {
	// utime and stime are the stat file's fields 14 and 15.
	_, fields, ok := procStat(strconv.Itoa(pid))
	if !ok || len(fields) < 13 {
		return 0
	}
	user, err1 := strconv.ParseInt(fields[11], 10, 64)
	system, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(user+system) * (time.Second / 100)
}
