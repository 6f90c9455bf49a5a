package io.pbgan.demo.core;

/**
 * The converter's parity rule ({@code pbgan.convert.core.parity_error}): an output passes
 * when at most {@code maxMismatchFraction} of its values differ from the reference by more
 * than {@code tolerance}; the largest difference is reported too.
 *
 * <p>As in numpy, the difference and the comparison are float32 ({@code |a - b| > (float)
 * tolerance}). One deliberate difference: a NaN output counts as a mismatch here, where
 * numpy's {@code nan > tol} is false and would let it through.
 */
public final class Parity {
  public final float maxAbsError;
  public final double mismatchFraction;
  public final long mismatches;
  public final long values;
  public final double tolerance;
  public final double maxMismatchFraction;

  private Parity(
      float maxAbsError, long mismatches, long values, double tolerance, double maxFraction) {
    this.maxAbsError = maxAbsError;
    this.mismatches = mismatches;
    this.values = values;
    this.mismatchFraction = values == 0 ? 0.0 : (double) mismatches / values;
    this.tolerance = tolerance;
    this.maxMismatchFraction = maxFraction;
  }

  public static Parity compare(
      float[] actual, float[] reference, double tolerance, double maxMismatchFraction) {
    if (actual.length != reference.length) {
      throw new IllegalArgumentException(
          actual.length + " output values against " + reference.length + " reference values");
    }
    float tol = (float) tolerance;
    float max = 0f;
    long mismatches = 0;
    for (int i = 0; i < actual.length; i++) {
      float diff = Math.abs(actual[i] - reference[i]);
      if (Float.isNaN(diff) || diff > tol) {
        mismatches++;
      }
      if (Float.isNaN(diff) || diff > max) {
        max = Float.isNaN(max) ? max : diff;
      }
    }
    return new Parity(max, mismatches, actual.length, tolerance, maxMismatchFraction);
  }

  public static Parity compare(float[] actual, float[] reference, ModelInfo info) {
    return compare(actual, reference, info.parityTolerance, info.maxMismatchFraction);
  }

  public boolean passed() {
    return values > 0 && mismatchFraction <= maxMismatchFraction;
  }

  @Override
  public String toString() {
    return String.format(
        java.util.Locale.ROOT,
        "%s: max abs err %.3g, %d of %d values (%.4f%%) differ by more than %s (allowed %.2f%%)",
        passed() ? "PASS" : "FAIL",
        maxAbsError,
        mismatches,
        values,
        100 * mismatchFraction,
        tolerance,
        100 * maxMismatchFraction);
  }
}
