package io.pbgan.demo.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;

import org.junit.Test;

public class PixelsTest {
  // float32 bit patterns and numpy's to_uint8 of each (numpy 1.26, pbgan.plots.to_uint8).
  // The first six land exactly on .5 after x * 127.5 + 127.5 in float32: numpy rounds them
  // to even; Math.round would give 129, 127, 131, 125 for four of them.
  private static final int[] BITS = {
    0, 1006665857, -1140817791, 1015054465, 1019265217, -1128218431, 1065353216, -1082130432,
    1069547520, -1077936128, 1056964608, -1090519040, 1065351538, -1082132110, 998277249,
    -1149206399, 1048576000
  };
  private static final int[] NUMPY = {
    128, 128, 126, 130, 130, 124, 255, 0, 255, 0, 191, 64, 255, 0, 128, 127, 159
  };

  @Test
  public void matchesNumpyRintOnExactHalvesAndClips() {
    for (int i = 0; i < BITS.length; i++) {
      float x = Float.intBitsToFloat(BITS[i]);
      assertEquals("x = " + x, NUMPY[i], Pixels.toUint8(x));
    }
  }

  @Test
  public void halfUpRoundingWouldFailThisVector() {
    float x = Float.intBitsToFloat(1006665857); // scaled to exactly 128.5
    assertEquals(128.5f, x * 127.5f + 127.5f, 0f);
    assertEquals(129, Math.round(x * 127.5f + 127.5f));
    assertEquals(128, Pixels.toUint8(x));
  }

  @Test
  public void nanIsBlack() {
    assertEquals(0, Pixels.toUint8(Float.NaN));
  }

  @Test
  public void argbPacksOpaqueRgbRowMajorPerImage() {
    // two 1x2 images: grey, grey; then white, red
    float[] nhwc = {0, 0, 0, 0, 0, 0, 1, 1, 1, 1, -1, -1};
    assertArrayEquals(new int[] {0xFF808080, 0xFF808080}, Pixels.toArgb(nhwc, 0, 1, 2));
    assertArrayEquals(new int[] {0xFFFFFFFF, 0xFFFF0000}, Pixels.toArgb(nhwc, 1, 1, 2));
  }

  @Test
  public void gridTilesImagesWithBlackPadding() {
    // three 1x1 images (white, grey, black-ish) in 2 columns with 1 pixel of padding
    float[] nhwc = {1, 1, 1, 0, 0, 0, -1, -1, 1};
    int[] g = Pixels.grid(nhwc, 3, 1, 1, 2, 1);
    assertEquals(3, Pixels.gridWidth(1, 2, 1));
    assertEquals(3, Pixels.gridHeight(1, 3, 2, 1));
    int pad = 0xFF000000;
    assertArrayEquals(
        new int[] {0xFFFFFFFF, pad, 0xFF808080, pad, pad, pad, 0xFF0000FF, pad, pad}, g);
  }
}
