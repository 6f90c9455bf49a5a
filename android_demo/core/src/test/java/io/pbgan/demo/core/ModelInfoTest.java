package io.pbgan.demo.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import org.junit.Test;

public class ModelInfoTest {
  private static ModelInfo parse(String text) throws Exception {
    return ModelInfo.read(new ByteArrayInputStream(text.getBytes(StandardCharsets.ISO_8859_1)));
  }

  @Test
  public void readsWhatAndroidAssetsWrites() throws Exception {
    ModelInfo info =
        parse(
            "# comment\ninput.shape=1,100\noutput.shape=1,32,32,3\nlatent.size=100\n"
                + "latents.count=16\nsetting=auto\nscheme=xnor\nparity.tolerance=0.001\n"
                + "parity.max_mismatch_fraction=0.01\nmodel.bytes=29828\n"
                + "source=C\\:\\\\runs\\\\a\\=b\n");
    assertArrayEquals(new int[] {1, 32, 32, 3}, info.outputShape);
    assertEquals(100, info.latentSize);
    assertEquals(16, info.latentCount);
    assertEquals(3072, info.imageFloats());
    assertEquals(0.001, info.parityTolerance, 0);
    assertEquals(0.01, info.maxMismatchFraction, 0);
    assertEquals("xnor", info.scheme);
  }

  @Test(expected = IllegalArgumentException.class)
  public void missingParityRuleIsAnError() throws Exception {
    parse("input.shape=1,8\noutput.shape=1,4,4,3\nlatent.size=8\nlatents.count=1\n");
  }
}
