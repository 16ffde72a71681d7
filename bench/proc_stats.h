// What the benchmarks read about a process and a sample: /proc figures and
// percentiles.
#ifndef KILN_BENCH_PROC_STATS_H_
#define KILN_BENCH_PROC_STATS_H_

#include <sys/types.h>

#include <vector>

namespace kiln {

struct ProcStats {
  double rss_mib = 0;
  double cpu_s = 0;  // user + system
};

// From /proc/<pid>/status and /proc/<pid>/stat; zeros if it is gone.
ProcStats ReadProcStats(pid_t pid);

// The p-quantile (0..1) of `v` by rank; 0 for an empty sample.
double Percentile(std::vector<double> v, double p);

}  // namespace kiln

#endif  // KILN_BENCH_PROC_STATS_H_
