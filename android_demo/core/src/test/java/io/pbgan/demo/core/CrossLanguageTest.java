package io.pbgan.demo.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assume.assumeTrue;

import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import org.junit.Before;
import org.junit.Test;

/**
 * Test vectors written by {@code pbgan android-assets} (folder in system property
 * {@code pbgan.assets}; {@code make android-test} sets it): the Java core must draw exactly
 * the pixels Python draws and apply the converter's parity rule the same way.
 */
public class CrossLanguageTest {
  private ModelInfo info;
  private float[] latents;
  private float[] reference;
  private byte[] pixels;

  @Before
  public void load() throws IOException {
    String folder = System.getProperty("pbgan.assets");
    assumeTrue("pbgan.assets not set (make android-test sets it)", folder != null);
    Path dir = Paths.get(folder);
    try (InputStream in = new FileInputStream(dir.resolve("model.properties").toFile())) {
      info = ModelInfo.read(in);
    }
    latents = LittleEndian.floats(Files.readAllBytes(dir.resolve("latents.bin")));
    reference = LittleEndian.floats(Files.readAllBytes(dir.resolve("reference.bin")));
    pixels = Files.readAllBytes(dir.resolve("reference_pixels.bin"));
    assertEquals(Files.size(dir.resolve("model.tflite")), info.modelBytes);
  }

  @Test
  public void filesHaveTheShapesThePropertiesState() {
    assertEquals(info.latentCount * info.latentSize, latents.length);
    assertEquals(info.latentCount * info.imageFloats(), reference.length);
    assertEquals(reference.length, pixels.length);
  }

  @Test
  public void javaPixelsEqualPbganSamplePixelsExactly() {
    assertArrayEquals(pixels, Pixels.toRgbBytes(reference));
    int[] argb = Pixels.toArgb(reference, info.latentCount - 1, info.height(), info.width());
    int base = (info.latentCount - 1) * info.imageFloats();
    for (int p = 0; p < argb.length; p++) {
      int rgb = ((pixels[base + 3 * p] & 0xFF) << 16)
          | ((pixels[base + 3 * p + 1] & 0xFF) << 8)
          | (pixels[base + 3 * p + 2] & 0xFF);
      assertEquals(0xFF000000 | rgb, argb[p]);
    }
  }

  @Test
  public void selfCheckAcceptsTheReferenceAndFloatRoundingNoise() {
    assertTrue(SelfCheck.check(replay(reference, 0f), info, latents, reference).passed());
    // another CPU sums in another order: ~1e-6 everywhere stays within the rule
    Parity noisy = SelfCheck.check(replay(reference, 2e-6f), info, latents, reference);
    assertTrue(noisy.toString(), noisy.passed());
    assertEquals(0, noisy.mismatches);
  }

  @Test
  public void selfCheckRejectsAPerturbedOutput() {
    float[] wrong = reference.clone();
    // a wrong tap or sign convention changes most values; here every 20th (5%) by 0.01
    for (int i = 0; i < wrong.length; i += 20) {
      wrong[i] += 0.01f;
    }
    Parity p = SelfCheck.check(replay(wrong, 0f), info, latents, reference);
    assertFalse(p.toString(), p.passed());
    assertEquals(0.01f, p.maxAbsError, 1e-4f);
    // and one image swapped for another (wrong latent order) fails too
    float[] swapped = reference.clone();
    int size = info.imageFloats();
    System.arraycopy(reference, size, swapped, 0, size);
    assertFalse(Parity.compare(swapped, reference, info).passed());
  }

  /** A stand-in generator that answers each shipped latent with the given output, + noise. */
  private Generator replay(float[] outputs, float noise) {
    int size = info.imageFloats();
    int[] next = {0};
    return latent -> {
      int i = next[0]++;
      int z = latent.length;
      float[] expected = java.util.Arrays.copyOfRange(latents, i * z, (i + 1) * z);
      assertArrayEquals(expected, latent, 0f); // latents arrive in order, unchanged
      float[] out = java.util.Arrays.copyOfRange(outputs, i * size, (i + 1) * size);
      for (int k = 0; k < out.length; k++) {
        out[k] += (k % 2 == 0 ? noise : -noise);
      }
      return out;
    };
  }
}
