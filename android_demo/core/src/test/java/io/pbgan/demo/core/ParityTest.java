package io.pbgan.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import org.junit.Test;

public class ParityTest {
  private static float[] filled(int n, float v) {
    float[] a = new float[n];
    java.util.Arrays.fill(a, v);
    return a;
  }

  @Test
  public void atTheAllowedFractionPassesOneMoreFails() {
    float[] ref = filled(200, 0.25f);
    float[] out = ref.clone();
    out[0] += 0.5f;
    out[1] -= 0.5f; // 2 of 200 = 1%: allowed
    Parity p = Parity.compare(out, ref, 1e-3, 0.01);
    assertTrue(p.toString(), p.passed());
    assertEquals(2, p.mismatches);
    assertEquals(0.5f, p.maxAbsError, 1e-6f);
    out[2] += 0.5f; // 1.5%
    assertFalse(Parity.compare(out, ref, 1e-3, 0.01).passed());
  }

  @Test
  public void differencesWithinToleranceAreNotMismatches() {
    float[] ref = filled(10, 0f);
    float[] out = filled(10, 0.0009f);
    Parity p = Parity.compare(out, ref, 1e-3, 0.0);
    assertTrue(p.passed());
    assertEquals(0, p.mismatches);
    assertFalse(Parity.compare(filled(10, 0.0011f), ref, 1e-3, 0.0).passed());
  }

  @Test
  public void nanCountsAsMismatchAndIsReported() {
    float[] ref = filled(4, 0f);
    float[] out = filled(4, 0f);
    out[3] = Float.NaN;
    Parity p = Parity.compare(out, ref, 1e-3, 0.0);
    assertFalse(p.passed());
    assertTrue(Float.isNaN(p.maxAbsError));
  }

  @Test(expected = IllegalArgumentException.class)
  public void lengthsMustMatch() {
    Parity.compare(new float[3], new float[4], 1e-3, 0.01);
  }

  @Test
  public void emptyOutputNeverPasses() {
    assertFalse(Parity.compare(new float[0], new float[0], 1e-3, 0.01).passed());
  }

  @Test
  public void comparesInFloat32LikeNumpy() {
    // numpy: np.array([np.float32(1e-3)]) > 1e-3 is False (the scalar becomes float32);
    // a double comparison would call 0.0010000000474974513 > 0.001 a mismatch.
    Parity p = Parity.compare(new float[] {1e-3f}, new float[] {0f}, 1e-3, 0.0);
    assertEquals(0, p.mismatches);
    assertTrue(p.passed());
  }
}
