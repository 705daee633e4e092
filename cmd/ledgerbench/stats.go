package main

import (
	"math"
	"slices"
	"sync"
	"syscall"
	"time"
)

// latencies collects durations from many goroutines. Every sample is kept
// (a run holds at most a few hundred thousand), so quantiles are exact
// rather than bucketed.
type latencies struct {
	mu      sync.Mutex
	samples []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.samples = append(l.samples, d)
	l.mu.Unlock()
}

// Latency is a latency distribution in milliseconds.
type Latency struct {
	Count  int     `json:"count"`
	MeanMS float64 `json:"mean_ms"`
	P50MS  float64 `json:"p50_ms"`
	P99MS  float64 `json:"p99_ms"`
	P999MS float64 `json:"p999_ms"`
	MaxMS  float64 `json:"max_ms"`
}

// summary sorts the samples and reads the quantiles off them (nearest rank).
func (l *latencies) summary() Latency {
	l.mu.Lock()
	defer l.mu.Unlock()
	return summarize(l.samples)
}

func summarize(samples []time.Duration) Latency {
	if len(samples) == 0 {
		return Latency{}
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return Latency{
		Count:  len(s),
		MeanMS: ms(sum / time.Duration(len(s))),
		P50MS:  ms(quantile(s, 0.50)),
		P99MS:  ms(quantile(s, 0.99)),
		P999MS: ms(quantile(s, 0.999)),
		MaxMS:  ms(s[len(s)-1]),
	}
}

// quantile is the nearest-rank quantile of sorted samples: the smallest
// sample at or above which a share q of the samples lie.
func quantile(sorted []time.Duration, q float64) time.Duration {
	rank := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(rank, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return round3(float64(d) / float64(time.Millisecond)) }

// round3 keeps three decimals: microseconds in a millisecond figure, and
// no false precision in the report.
func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// cpuClock is the CPU time this process (every thread, the collector
// included) has used: on a shared machine, what the load generator itself
// costs is part of the picture.
func cpuClock() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
