package testutil

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// MachineLoad describes how busy the machine is, so a benchmark's figure can be judged: the
// 1, 5 and 15 minute load averages against the CPUs ("load 0.52 0.61 0.40 on 2 CPUs").
func MachineLoad() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return fmt.Sprintf("load unknown on %d CPUs", runtime.NumCPU())
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return fmt.Sprintf("load unknown on %d CPUs", runtime.NumCPU())
	}
	return fmt.Sprintf("load %s %s %s on %d CPUs", f[0], f[1], f[2], runtime.NumCPU())
}

// PeakRSS is the most memory a process has held resident (VmHWM), in MiB; 0 when unknown.
// It counts the pages of its executable it has touched too, which the kernel can drop.
func PeakRSS(pid int) float64 { return ProcMemory(pid, "VmHWM") }

// ProcMemory reads one memory field of /proc/<pid>/status (VmHWM, VmRSS, RssAnon, RssFile),
// in MiB; 0 when unknown. RssAnon is what a container's memory limit cannot reclaim.
func ProcMemory(pid int, field string) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kib, _ := strconv.ParseFloat(f[0], 64)
				return kib / 1024
			}
		}
	}
	return 0
}
