package io.pbgan.demo.core;

import static org.junit.Assert.assertEquals;

import org.junit.Test;

public class LatencyStatsTest {
  // Expected values: numpy.percentile(values, [10, 50, 90]) (linear, numpy's default).
  @Test
  public void matchesNumpyLinearPercentiles() {
    LatencyStats s = LatencyStats.ofMillis(new double[] {5, 1, 4, 2, 3});
    assertEquals(1.4, s.p10Ms, 1e-12);
    assertEquals(3.0, s.medianMs, 1e-12);
    assertEquals(4.6, s.p90Ms, 1e-12);
    LatencyStats even = LatencyStats.ofMillis(new double[] {3, 1, 2, 10});
    assertEquals(1.3, even.p10Ms, 1e-12);
    assertEquals(2.5, even.medianMs, 1e-12);
    assertEquals(7.9, even.p90Ms, 1e-12);
  }

  @Test
  public void oneRunIsEveryPercentile() {
    LatencyStats s = LatencyStats.ofNanos(new long[] {7_000_000L});
    assertEquals(7.0, s.p10Ms, 0);
    assertEquals(7.0, s.medianMs, 0);
    assertEquals(7.0, s.p90Ms, 0);
    assertEquals(1, s.runs);
  }

  @Test
  public void measureTimesEveryRunAfterWarmup() {
    int[] calls = {0};
    LatencyStats s = LatencyStats.measure(() -> calls[0]++, 2, 5);
    assertEquals(7, calls[0]);
    assertEquals(5, s.runs);
  }

  @Test(expected = IllegalArgumentException.class)
  public void noRunsIsAnError() {
    LatencyStats.ofMillis(new double[0]);
  }
}
