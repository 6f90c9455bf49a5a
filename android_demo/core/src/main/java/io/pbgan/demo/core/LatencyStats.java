package io.pbgan.demo.core;

import java.util.Arrays;

/**
 * Median, p10 and p90 of latencies, with numpy's default (linear) percentile as used by
 * {@code pbgan bench}, so numbers from the phone and the workstation mean the same thing.
 */
public final class LatencyStats {
  public final int runs;
  public final double p10Ms;
  public final double medianMs;
  public final double p90Ms;

  private LatencyStats(int runs, double p10, double median, double p90) {
    this.runs = runs;
    this.p10Ms = p10;
    this.medianMs = median;
    this.p90Ms = p90;
  }

  public static LatencyStats ofNanos(long[] nanos) {
    double[] ms = new double[nanos.length];
    for (int i = 0; i < nanos.length; i++) {
      ms[i] = nanos[i] / 1e6;
    }
    return ofMillis(ms);
  }

  public static LatencyStats ofMillis(double[] ms) {
    if (ms.length == 0) {
      throw new IllegalArgumentException("no latencies: run at least once");
    }
    double[] sorted = ms.clone();
    Arrays.sort(sorted);
    return new LatencyStats(
        ms.length, percentile(sorted, 10), percentile(sorted, 50), percentile(sorted, 90));
  }

  /** numpy.percentile(method="linear") of already sorted values. */
  static double percentile(double[] sorted, double q) {
    double pos = q / 100.0 * (sorted.length - 1);
    int lo = (int) Math.floor(pos);
    int hi = Math.min(lo + 1, sorted.length - 1);
    double frac = pos - lo;
    return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
  }

  /** Time {@code runs} calls of {@code body} after {@code warmup} untimed ones. */
  public static LatencyStats measure(Runnable body, int warmup, int runs) {
    for (int i = 0; i < warmup; i++) {
      body.run();
    }
    long[] nanos = new long[runs];
    for (int i = 0; i < runs; i++) {
      long t0 = System.nanoTime();
      body.run();
      nanos[i] = System.nanoTime() - t0;
    }
    return ofNanos(nanos);
  }

  @Override
  public String toString() {
    return String.format(
        java.util.Locale.ROOT,
        "median %.2f ms (p10 %.2f, p90 %.2f) over %d runs",
        medianMs,
        p10Ms,
        p90Ms,
        runs);
  }
}
